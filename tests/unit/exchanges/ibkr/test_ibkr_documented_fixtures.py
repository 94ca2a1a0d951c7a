"""IBKR's documented answers (tests/fixtures/ibkr) through the production client, tools and mappings.

The bodies come from IBKR's Client Portal Web API documentation and from ibind's recorded IBKR answers
(see the README beside them). Endpoint answers are served on loopback to the real IbkrClient (signed
by a stand-in signer: the signature is not what is tested), so a tool reads them exactly as it would
read IBKR; order rows, positions and snapshot rows also go straight through the mappings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr import mapping, tools
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.market import fetch_bars
from cerbero_mcp.exchanges.ibkr.orders import accepted, ibkr_order
from support.fixtures import fixture_text, load_fixture, serve_fixtures

VENUE = "ibkr"
ACCOUNT = "U1234567"  # the account of IBKR's documentation examples
AAPL = 265598
LIVE = {"open", "partially_filled", "untriggered"}


def ms(value: int) -> datetime:
    """Return the UTC instant of epoch milliseconds, computed exactly."""
    return datetime.fromtimestamp(value // 1000, UTC).replace(microsecond=value % 1000 * 1000)


def answer(name: str, status: int = 200) -> tuple[int, str]:
    return status, fixture_text(VENUE, name)


# Each documented answer at the path (and method) the production client asks for it.
ROUTES: dict[str, tuple[int, str]] = {
    "/iserver/accounts": answer("iserver_accounts"),
    "/portfolio/accounts": answer("portfolio_accounts"),
    f"/portfolio/{ACCOUNT}/summary": answer("portfolio_summary"),
    "/trsrv/stocks": answer("trsrv_stocks"),
    "/iserver/secdef/search": answer("iserver_secdef_search"),
    f"/iserver/contract/{AAPL}/info-and-rules": answer("iserver_contract_info_and_rules"),
    "/iserver/marketdata/snapshot": answer("iserver_marketdata_snapshot"),
    "/iserver/marketdata/history": answer("iserver_marketdata_history"),
    "/iserver/account/trades": answer("iserver_account_trades"),
    "/iserver/account/order/status/1210386759": answer("iserver_account_order_status"),
    f"POST /iserver/account/{ACCOUNT}/orders": answer("iserver_account_orders_question"),
    "POST /iserver/reply/07a13a5a-4a48-44a5-bb25-5ab37b79186c": answer("iserver_reply_confirmed"),
    f"POST /iserver/account/{ACCOUNT}/order/987654": answer("iserver_account_order_modify"),
    f"DELETE /iserver/account/{ACCOUNT}/order/987654": answer("iserver_account_order_cancel"),
}


class DocumentedSigner:
    """Signs nothing: the documented answers are served on loopback, and OAuth is tested elsewhere."""

    async def authorization_header(self, method: str, url: str, query: Any = None) -> str:
        return 'OAuth realm="limited_poa"'

    def invalidate(self) -> None:
        """Nothing to forget."""


class Ctx:
    """The part of a ToolContext the IBKR tools use."""

    environment = "testnet"

    def __init__(self, client: IbkrClient) -> None:
        self._client = client

    async def client(self) -> IbkrClient:
        return self._client

    def require_credentials(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve_fixtures(ROUTES) as url:
        yield url


@pytest.fixture
async def client(upstream: str) -> AsyncIterator[IbkrClient]:
    ibkr = IbkrClient(UpstreamHTTP(VENUE, upstream), "testnet", DocumentedSigner(), account_id=ACCOUNT)  # type: ignore[arg-type]
    # The brokerage session's opening (ssodh/init) is not among the documented answers served here.
    ibkr._brokerage_ready = True
    try:
        yield ibkr
    finally:
        await ibkr.aclose()


@pytest.fixture
def ctx(client: IbkrClient) -> Any:
    return Ctx(client)


# --- contracts ----------------------------------------------------------------------------------


async def test_documented_stock_listings_resolve_aapl_to_its_us_conid(client: IbkrClient) -> None:
    assert await client.conid("AAPL") == AAPL


async def test_documented_search_becomes_contracts(ctx: Any) -> None:
    found = await tools.search_contracts(ctx, s.SearchRequest(query="AAPL"))
    assert [(c.conid, c.symbol, c.description, c.sec_types) for c in found.contracts] == [
        (AAPL, "AAPL", "APPLE INC", ["STK", "OPT"])
    ]


async def test_documented_contract_rules_give_the_price_increment(client: IbkrClient) -> None:
    info = await client.contract_rules(AAPL)
    assert info["rules"]["incrementRules"] == [{"lowerEdge": Decimal("0.0"), "increment": Decimal("0.01")}]
    assert mapping.increment_at(info, Decimal("197.93")) == Decimal("0.01")


# --- market data --------------------------------------------------------------------------------


async def test_documented_snapshot_becomes_the_ticker_with_sizes_in_shares(ctx: Any) -> None:
    ticker = await tools.get_ticker(ctx, s.IbkrInstrumentRequest(instrument="AAPL"))
    assert (ticker.bid, ticker.ask, ticker.last) == (Decimal("168.41"), Decimal("168.42"), Decimal("168.42"))
    # IBKR: fields 88/85 are "the number of contracts or shares ... For US stocks, the number displayed
    # is divided by 100": "1,300" and "600" are 130,000 and 60,000 shares of AAPL.
    assert (ticker.bid_size, ticker.ask_size) == (Decimal(130_000), Decimal(60_000))
    assert ticker.data_timestamp == ms(1712596911593)


async def test_documented_history_becomes_bars(ctx: Any) -> None:
    bars = await fetch_bars(ctx, v.BarsRequest(instrument="AAPL", resolution="1d", limit=10))
    assert [(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars.bars] == [
        (
            ms(1698796800000),
            Decimal("171.05"),
            Decimal("192.93"),
            Decimal("170.12"),
            Decimal("189.37"),
            Decimal("6942998.04"),
        )
    ]


# --- account ------------------------------------------------------------------------------------


async def test_documented_summary_entries_are_read_as_amounts(ctx: Any) -> None:
    account = await tools.get_account(ctx, s.IbkrAccountRequest())
    # IBKR's example is abridged to two entries; they are kept as the tool's raw info.
    assert account.info["accountcode"]["value"] == ACCOUNT
    assert account.info["indianstockhaircut"]["amount"] == Decimal("0.0")


async def test_documented_trades_become_executions(ctx: Any) -> None:
    executions = (await tools.get_activities(ctx, s.ActivitiesRequest(days=1))).executions
    assert len(executions) == 1
    execution = executions[0]
    assert (execution.execution_id, execution.instrument, execution.side) == ("0000e0d5.6576fd38.01.01", "AAPL", "sell")
    assert (execution.quantity, execution.price, execution.commission) == (
        Decimal("5.0"),
        Decimal("192.26"),
        Decimal("1.01"),
    )
    assert execution.client_order_id == "Order123"
    assert execution.time == "20231211-18:00:49"


def test_documented_position_row_becomes_a_position() -> None:
    (row,) = load_fixture(VENUE, "portfolio_positions_page")
    position = mapping.to_position(row)
    assert (position.instrument, position.side, position.size) == ("SPY", "long", Decimal("100.0"))
    assert position.average_price == Decimal("437.43")
    assert position.mark_price == Decimal("454.44000245")
    assert (position.unrealized_pnl, position.realized_pnl) == (Decimal("1701.0"), Decimal("0.0"))
    assert position.info["conid"] == 756733


# --- orders -------------------------------------------------------------------------------------


def test_documented_filled_order_row_becomes_a_filled_order() -> None:
    (row,) = load_fixture(VENUE, "iserver_account_orders")["orders"]
    order = mapping.to_order(row)
    assert (order.order_id, order.client_order_id, order.instrument) == ("1234568790", "Order123", "AAPL")
    assert (order.side, order.type, order.status, order.time_in_force) == ("sell", "market", "filled", "gtc")
    assert (order.quantity, order.filled_quantity, order.average_fill_price) == (
        Decimal("5.0"),
        Decimal("5.0"),
        Decimal("192.26"),
    )
    assert order.price is None


def test_recorded_working_limit_rows_become_working_orders() -> None:
    rows = load_fixture(VENUE, "iserver_account_orders_rows")
    orders = [mapping.to_order(row) for row in rows]
    assert [(o.order_id, o.price) for o in orders] == [
        ("1210386759", Decimal("457.00")),
        ("1210386726", Decimal("457.00")),
        ("1928088808", Decimal("453.00")),
        ("1210387040", Decimal("458.00")),
    ]
    for order in orders:
        assert (order.instrument, order.side, order.type, order.time_in_force) == ("SPY", "buy", "limit", "gtc")
        assert (order.quantity, order.filled_quantity) == (Decimal("1.0"), Decimal("0.0"))
        assert order.status in LIVE
    assert orders[0].client_order_id == "240103-SPY-1-BUY-L@457-bxv8"


async def test_recorded_order_status_becomes_the_order(client: IbkrClient) -> None:
    from cerbero_mcp.exchanges.ibkr import status

    order = await status.order_now(client, "1210386759")
    assert (order.order_id, order.instrument, order.side, order.type) == ("1210386759", "SPY", "buy", "limit")
    assert (order.price, order.quantity, order.filled_quantity) == (Decimal("457.00"), Decimal("1.0"), Decimal("0.0"))
    assert order.time_in_force == "gtc"
    assert order.status in LIVE


async def test_documented_order_question_is_confirmed_and_the_order_accepted(client: IbkrClient) -> None:
    # IBKR's example: "price exceeds the Percentage constraint of 3%" is a precaution to confirm, not a
    # problem with the order; confirming it answers the order acknowledgement (an object, not a list).
    order = ibkr_order(AAPL, "buy", "limit", Decimal(100), price=Decimal(165), tif="day")
    rows = await client.place_orders([order])
    assert rows == [{"order_id": "1234567890", "order_status": "Submitted", "encrypt_message": "1"}]
    (placed,) = accepted(rows, [order], "AAPL")
    assert (placed.order_id, placed.status, placed.price, placed.quantity) == (
        "1234567890",
        "open",
        Decimal(165),
        Decimal(100),
    )


async def test_documented_modify_answer_is_the_acknowledgement(client: IbkrClient) -> None:
    order = ibkr_order(AAPL, "buy", "limit", Decimal(100), price=Decimal(170), tif="day")
    rows = await client.modify_order("987654", order)
    assert rows == [{"order_id": "987654", "order_status": "Submitted", "encrypt_message": "1"}]
    (modified,) = accepted(rows, [order], "AAPL")
    assert (modified.order_id, modified.status, modified.price) == ("987654", "open", Decimal(170))


async def test_documented_cancel_answer_is_returned_as_received(client: IbkrClient) -> None:
    reply = await client.cancel_order("987654")
    assert reply == {"msg": "Request was submitted", "order_id": 987654, "conid": AAPL, "account": "DU123456"}
