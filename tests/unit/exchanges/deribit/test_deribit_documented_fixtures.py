"""Deribit's documented answers (tests/fixtures/deribit) through the production client, tools and mappings.

The bodies are Deribit's own API documentation examples (see the README beside them): a production
parser that disagrees with them is wrong about the real venue, whatever the simulator says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit import analytics, tools
from cerbero_mcp.exchanges.deribit import errors as deribit_errors
from cerbero_mcp.exchanges.deribit import schemas as s
from cerbero_mcp.exchanges.deribit.client import DeribitClient
from cerbero_mcp.exchanges.deribit.mapping import to_order, to_result
from cerbero_mcp.exchanges.deribit.market import fetch_bars, fetch_book
from support.fixtures import FIXTURES, fixture_text, load_fixture, serve_fixtures

VENUE = "deribit"
# Every documented method answer, served at the path the production client calls (`/<scope>/<method>`).
METHOD_FIXTURES = sorted(p.stem for p in (FIXTURES / VENUE).glob("p*_*.json"))


def result(name: str) -> Any:
    """Return the documented `result` of one method's example."""
    return load_fixture(VENUE, name)["result"]


def ms(value: int) -> datetime:
    """Return the UTC instant of epoch milliseconds, computed exactly."""
    return datetime.fromtimestamp(value // 1000, UTC).replace(microsecond=value % 1000 * 1000)


class Ctx:
    """The part of a ToolContext the Deribit tools use."""

    environment = "testnet"

    def __init__(self, client: DeribitClient) -> None:
        self._client = client

    async def client(self) -> DeribitClient:
        return self._client

    def require_credentials(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """Serve every documented method answer as Deribit would, on loopback."""
    routes = {"/" + name.replace("_", "/", 1): (200, fixture_text(VENUE, name)) for name in METHOD_FIXTURES}
    with serve_fixtures(routes) as url:
        yield url


@pytest.fixture
async def ctx(upstream: str) -> AsyncIterator[Any]:
    client = DeribitClient(UpstreamHTTP(VENUE, upstream), "testnet", "documented-id", "documented-secret")
    try:
        yield Ctx(client)
    finally:
        await client.aclose()


def test_every_method_the_brief_names_has_a_documented_fixture() -> None:
    assert set(METHOD_FIXTURES) >= {
        "public_get_instruments",
        "public_get_instrument",
        "public_ticker",
        "public_get_order_book",
        "public_get_tradingview_chart_data",
        "private_buy",
        "private_edit",
        "private_cancel",
        "private_get_open_orders_by_currency",
        "private_get_positions",
        "private_get_account_summary",
        "private_get_order_state",
        "private_create_combo",
    }
    for name in METHOD_FIXTURES:
        body = load_fixture(VENUE, name)
        assert body["jsonrpc"] == "2.0"
        assert "result" in body, name


def test_the_loader_keeps_the_documented_numbers_exact() -> None:
    ticker = result("public_ticker")
    assert ticker["funding_8h"] == Decimal("2.203e-05")
    assert ticker["interest_value"] == Decimal("1.7362511643080387")
    assert ticker["open_interest"] == 502231260
    assert isinstance(ticker["open_interest"], int)


# --- market data ------------------------------------------------------------------------------


async def test_documented_ticker_becomes_the_common_ticker(ctx: Any) -> None:
    ticker = await tools.get_ticker(ctx, v.InstrumentRequest(instrument="BTC-PERPETUAL"))
    assert ticker.instrument == "BTC-PERPETUAL"
    assert (ticker.bid, ticker.ask) == (Decimal("36289.5"), Decimal("36290"))
    assert (ticker.bid_size, ticker.ask_size) == (Decimal("4600"), Decimal("53040"))
    assert (ticker.last, ticker.mark, ticker.index) == (Decimal("36289.5"), Decimal("36288.31"), Decimal("36297.02"))
    assert ticker.volume_24h == Decimal("7831.26548117")
    assert ticker.open_interest == Decimal("502231260")
    assert ticker.funding_rate == Decimal("0.00002203")
    assert ticker.data_timestamp == ms(1623059681955)


async def test_documented_order_book_keeps_levels_and_an_empty_side(ctx: Any) -> None:
    book = await fetch_book(ctx, "BTC-PERPETUAL", 5)
    assert [(level.price, level.size) for level in book.bids] == [
        (Decimal("3955.75"), Decimal("30.0")),
        (Decimal("3940.75"), Decimal("102020.0")),
        (Decimal("3423.0"), Decimal("42840.0")),
    ]
    assert book.asks == []
    assert book.info["change_id"] == 474988
    assert book.info["mark_price"] == Decimal("3931.97")
    assert book.data_timestamp == ms(1550757626706)


async def test_documented_chart_data_becomes_bars(ctx: Any) -> None:
    req = v.BarsRequest(
        instrument="BTC-PERPETUAL",
        resolution="30m",
        start=ms(1554373800000),
        end=ms(1554377400000),
        limit=10,
    )
    bars = await fetch_bars(ctx, req)
    assert [(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars.bars] == [
        (
            ms(1554373800000),
            Decimal("4963.42"),
            Decimal("5185.45"),
            Decimal("4728.94"),
            Decimal("5052.95"),
            Decimal("19.007942601"),
        ),
        (
            ms(1554375600000),
            Decimal("4986.29"),
            Decimal("5250.87"),
            Decimal("4726.6"),
            Decimal("5013.59"),
            Decimal("20.095877981"),
        ),
    ]
    assert bars.has_more is False


async def test_documented_instruments_list_keeps_tick_lot_and_expiry(ctx: Any) -> None:
    listed = await analytics.get_instruments(ctx, s.InstrumentsRequest(currency="BTC", kind="future"))
    by_name = {i.instrument: i for i in listed.instruments}
    assert set(by_name) == {"BTC-29SEP23", "BTC-PERPETUAL"}
    dated = by_name["BTC-29SEP23"]
    assert (dated.kind, dated.tick_size, dated.min_trade_amount, dated.contract_size) == (
        "future",
        Decimal("2.5"),
        Decimal("10"),
        Decimal("10"),
    )
    assert dated.expiration == ms(1695974400000)
    assert dated.settlement_currency == "BTC"
    assert by_name["BTC-PERPETUAL"].tick_size == Decimal("0.5")
    assert by_name["BTC-PERPETUAL"].info["settlement_period"] == "perpetual"


async def test_documented_option_instrument_gives_its_tick_and_lot(ctx: Any) -> None:
    meta = await (await ctx.client()).instrument("BTC-13JAN23-16000-P")
    assert (meta["tick_size"], meta["min_trade_amount"], meta["contract_size"]) == (
        Decimal("0.0005"),
        Decimal("0.1"),
        1,
    )
    assert meta["tick_size_steps"] == [
        {"above_price": 120, "tick_size": Decimal("0.001")},
        {"above_price": 200, "tick_size": Decimal("0.003")},
    ]


async def test_documented_tick_size_steps_refuse_a_price_off_the_step_above_its_threshold(ctx: Any) -> None:
    # Above 120 the documented tick is 0.001: 150.0005 is on the base tick (0.0005) but not on that step.
    req = v.PlaceOrderRequest(
        instrument="BTC-13JAN23-16000-P",
        side="buy",
        type="limit",
        quantity=Decimal("0.1"),
        price=Decimal("150.0005"),
        dry_run=True,
    )
    with pytest.raises(errors.InvalidInputError) as raised:
        await tools.place_order(ctx, req)
    assert raised.value.details["increment"] == "0.001"


# --- account ----------------------------------------------------------------------------------


async def test_documented_account_summary_becomes_the_common_account(ctx: Any) -> None:
    account = await tools.get_account(ctx, v.AccountRequest(currency="BTC"))
    assert account.currency == "BTC"
    assert account.equity == Decimal("302.61869214")
    assert account.balance == Decimal("302.60065765")
    assert account.available == Decimal("301.38059622")
    assert account.initial_margin == Decimal("1.24669592")
    assert account.maintenance_margin == Decimal("0.8857841")
    assert account.unrealized_pnl == Decimal("0.05271555")
    assert account.realized_pnl == Decimal("-0.03258105")


async def test_documented_positions_become_common_positions(ctx: Any) -> None:
    positions = (await tools.get_positions(ctx, v.PositionsRequest(currency="BTC"))).positions
    assert len(positions) == 1
    position = positions[0]
    assert (position.instrument, position.side, position.size) == ("BTC-PERPETUAL", "long", Decimal("50"))
    assert position.average_price == Decimal("7440.18")
    assert position.mark_price == Decimal("7476.65")
    assert position.unrealized_pnl == Decimal("0")
    assert position.realized_pnl == Decimal("-9e-09")
    assert position.liquidation_price == Decimal("1.74")


async def test_documented_open_orders_become_common_orders(ctx: Any) -> None:
    orders = (await tools.get_open_orders(ctx, v.OpenOrdersRequest(currency="BTC"))).orders
    assert len(orders) == 1
    order = orders[0]
    assert (order.order_id, order.instrument, order.side, order.type, order.status) == (
        "146062",
        "BTC-15FEB19-3250-P",
        "buy",
        "limit",
        "open",
    )
    assert (order.price, order.quantity, order.filled_quantity) == (Decimal("0.0028"), Decimal("10"), Decimal("0"))
    assert order.average_fill_price is None  # Deribit reports 0 until something fills
    assert order.client_order_id is None  # an empty label is no label
    assert order.time_in_force == "gtc"
    assert (order.post_only, order.reduce_only) == (False, False)
    assert order.created_at == order.updated_at == ms(1550050597036)


# --- orders -----------------------------------------------------------------------------------


def test_documented_market_buy_becomes_a_filled_order_with_its_fill() -> None:
    placed = to_result(result("private_buy"))
    order = placed.order
    assert (order.order_id, order.client_order_id, order.instrument) == (
        "ETH-584849853",
        "market0000234",
        "ETH-PERPETUAL",
    )
    assert (order.side, order.type, order.status, order.time_in_force) == ("buy", "market", "filled", "gtc")
    assert (order.quantity, order.filled_quantity, order.average_fill_price) == (
        Decimal("40"),
        Decimal("40"),
        Decimal("203.3"),
    )
    assert order.price == Decimal("207.3")  # a market order's price is its documented protection limit
    assert order.created_at == ms(1590483938456)
    assert [(f.trade_id, f.price, f.quantity, f.fee, f.liquidity) for f in placed.fills] == [
        ("ETH-2696083", Decimal("203.3"), Decimal("40"), Decimal("0.00014757"), "taker")
    ]


def test_documented_edit_answer_is_the_amended_open_order() -> None:
    edited = to_result(result("private_edit"))
    order = edited.order
    assert (order.order_id, order.instrument, order.side, order.type, order.status) == (
        "438994",
        "BTC-22FEB19-3500-C",
        "buy",
        "limit",
        "open",
    )
    assert (order.price, order.quantity, order.filled_quantity) == (Decimal("0.1448"), Decimal("4"), Decimal("0"))
    assert order.average_fill_price is None
    assert edited.fills == []
    assert (order.created_at, order.updated_at) == (ms(1550585741277), ms(1550585797677))


def test_documented_cancel_of_a_stop_market_order_keeps_its_trigger() -> None:
    order = to_order(result("private_cancel"))
    assert (order.order_id, order.instrument, order.side, order.type, order.status) == (
        "ETH-SLIS-12",
        "ETH-PERPETUAL",
        "sell",
        "stop_market",
        "untriggered",
    )
    assert order.price is None  # documented as "market_price"
    assert order.stop_price == Decimal("144.73")
    assert order.quantity == Decimal("5")


def test_documented_order_state_of_a_filled_limit_order() -> None:
    order = to_order(result("private_get_order_state"))
    assert (order.order_id, order.side, order.type, order.status) == ("ETH-331562", "sell", "limit", "filled")
    assert (order.price, order.quantity, order.filled_quantity, order.average_fill_price) == (
        Decimal("118.94"),
        Decimal("37"),
        Decimal("37"),
        Decimal("118.94"),
    )


def test_documented_combo_gives_the_combo_name_and_the_leg_ratios() -> None:
    combo = result("private_create_combo")
    req = s.ComboOrderRequest(
        legs=[
            s.ComboLeg(instrument="BTC-29APR22-37500-C", side="buy", quantity=Decimal(2)),
            s.ComboLeg(instrument="BTC-29APR22-37500-P", side="sell", quantity=Decimal(2)),
        ],
        side="buy",
        quantity=Decimal(1),
        type="market",
    )
    assert analytics.combo_amount_and_side(req, combo) == (Decimal(2), "buy")
    assert combo["id"] == "BTC-REV-29APR22-37500"
    # Deribit documents no instrument_name, tick_size or min_trade_amount on the combo: its trading
    # rules have to come from public/get_instrument (issue 13, item 15).
    assert {"instrument_name", "tick_size", "min_trade_amount"}.isdisjoint(combo)


# --- errors -----------------------------------------------------------------------------------


async def test_documented_error_envelope_becomes_the_common_error() -> None:
    routes = {"/public/ticker": (400, fixture_text(VENUE, "error_bad_request"))}
    with serve_fixtures(routes) as url:
        client = DeribitClient(UpstreamHTTP(VENUE, url), "testnet", None, None)
        try:
            with pytest.raises(errors.CerberoError) as raised:
                await client.public_ticker("BTC-PERPETUAL")
        finally:
            await client.aclose()
    assert isinstance(raised.value, errors.InvalidOrderError)
    assert raised.value.details["venue_code"] == 11050


@pytest.mark.parametrize(
    ("name", "expected"),
    [("error_bad_request", errors.InvalidOrderError), ("error_too_many_requests", errors.RateLimitError)],
)
def test_documented_error_codes_map_through_the_table(name: str, expected: type[errors.CerberoError]) -> None:
    error = load_fixture(VENUE, name)["error"]
    mapped = deribit_errors.to_error(int(error["code"]), str(error["message"]), error.get("data"))
    assert type(mapped) is expected
    assert mapped.details["venue_code"] == error["code"]
