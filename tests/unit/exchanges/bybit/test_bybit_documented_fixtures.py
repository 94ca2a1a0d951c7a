"""Bybit's documented answers (tests/fixtures/bybit, copied from bybit-exchange/docs) through the production parsing.

A parser that disagrees with these bodies is wrong about the real venue, whatever the simulator says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.bybit import analytics, tools, trading
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.mapping import to_fill, to_instrument, to_order, to_position
from cerbero_mcp.exchanges.bybit.market import fetch_bars, fetch_book
from support.fixtures import FIXTURES, load_fixture
from unit.exchanges.bybit.bybit_documented import ROUTES, DocumentedClient


def ms(value: int) -> datetime:
    """Return the UTC instant of epoch milliseconds, computed exactly."""
    return datetime.fromtimestamp(value // 1000, UTC).replace(microsecond=value % 1000 * 1000)


def first(name: str) -> dict[str, Any]:
    """Return the first element of a documented `result.list`."""
    row: dict[str, Any] = load_fixture("bybit", name)["result"]["list"][0]
    return row


def test_every_fixture_is_served_and_named_in_the_readme() -> None:
    readme = (FIXTURES / "bybit" / "README.md").read_text()
    stems = {p.stem for p in (FIXTURES / "bybit").glob("*.json")}
    assert stems == set(ROUTES.values())
    for stem in stems:
        assert f"{stem}.json" in readme, stem


def test_documented_order_maps_to_the_vocabulary() -> None:
    order = to_order(first("order_realtime"), "linear")
    assert order.order_id == "fd4300ae-7847-404e-b947-b46980a4d140"
    assert order.client_order_id == "test-000005"
    assert (order.instrument, order.side, order.type, order.status) == ("ETHUSDT", "buy", "limit", "open")
    assert order.price == Decimal("1600.00")
    assert order.quantity == Decimal("0.10")
    assert order.filled_quantity == 0
    assert order.average_fill_price is None
    assert order.stop_price is None  # "0.00" is "no trigger"
    assert order.time_in_force == "gtc"
    assert order.created_at == ms(1684738540559)
    assert order.info["takeProfit"] == Decimal("2500")  # numbers in info are Decimals (one format)
    assert order.info["orderLinkId"] == "test-000005"  # ids stay as sent


def test_documented_inverse_short_position_maps_to_the_vocabulary() -> None:
    position = to_position(first("position_list"), "inverse")
    assert (position.instrument, position.side, position.size) == ("BTCUSD", "short", Decimal("300"))
    assert position.average_price == Decimal("27464.50441675")
    assert position.liquidation_price is None  # "" in the documented body
    assert position.unrealized_pnl == Decimal("-0.00029413")


def test_documented_instruments_give_tick_step_and_minimums() -> None:
    linear = to_instrument(first("instruments_linear"), "linear")
    assert (linear.tick_size, linear.qty_step, linear.min_order_qty) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("0.001"),
    )
    assert linear.min_notional == Decimal("5")
    assert linear.expiry is None
    option = to_instrument(first("instruments_option"), "option")
    assert option.option_type == "put"
    assert option.expiry == ms(1774598400000)
    assert option.tick_size == Decimal("5")
    assert option.qty_step == Decimal("0.01")
    spot = to_instrument(first("instruments_spot"), "spot")
    assert spot.qty_step == Decimal("0.000001")  # spot calls it basePrecision
    assert spot.min_notional == Decimal("5")  # minOrderAmt, in USDT


def test_documented_execution_maps_to_a_fill() -> None:
    fill = to_fill(first("execution_list"))
    assert (fill.price, fill.quantity, fill.fee, fill.liquidity) == (
        Decimal("1190.15"),
        Decimal("0.1"),
        Decimal("0.071409"),
        "taker",
    )


async def test_kline_newest_first_on_the_wire_comes_out_oldest_first(ctx: Any) -> None:
    bars = await fetch_bars(ctx, v.BarsRequest(instrument="BTCUSD", resolution="1h", limit=2))
    assert [b.ts for b in bars.bars] == [ms(1670605200000), ms(1670608800000)]
    assert bars.bars[-1].close == Decimal("17055.5")
    assert bars.bars[-1].volume == Decimal("268611")
    assert bars.has_more is True  # three documented, two asked
    kline_calls = [params for _, path, params in ctx._client.calls if path == "/v5/market/kline"]
    assert kline_calls[0]["interval"] == "60"
    assert kline_calls[0]["category"] == "inverse"


async def test_documented_book_keeps_bids_and_asks(ctx: Any) -> None:
    book = await fetch_book(ctx, "BTCUSD", 5)
    assert book.bids == [v.BookLevel(price=Decimal("65485.47"), size=Decimal("47.081829"))]
    assert book.asks[0].price == Decimal("65557.7")
    assert book.data_timestamp == ms(1716863719031)


async def test_documented_ticker_of_an_inverse_perpetual(ctx: Any) -> None:
    ticker = await tools.get_ticker(ctx, s.BybitTickerRequest(instrument="BTCUSD"))
    assert (ticker.bid, ticker.ask, ticker.mark) == (Decimal("103401.00"), Decimal("109152.80"), Decimal("114898.43"))
    assert ticker.funding_rate == Decimal("0.0001")
    assert ticker.open_interest == Decimal("240113967")


async def test_documented_unified_wallet_is_the_usd_account(ctx: Any) -> None:
    account = await tools.get_account(ctx, s.BybitAccountRequest())
    assert account.currency == "USD"
    assert account.equity == Decimal("3.31216591")
    assert account.available == Decimal("3.00326056")
    btc = await tools.get_account(ctx, s.BybitAccountRequest(currency="BTC"))
    assert btc.currency == "BTC"
    assert btc.equity == 0


async def test_documented_funding_history_and_open_interest(ctx: Any, documented: DocumentedClient) -> None:
    documented.overrides[("/v5/market/tickers", "linear")] = {
        "retCode": 0,
        "result": {"list": [{"symbol": "ETHPERP", "fundingRate": "0.0001", "nextFundingTime": "1672070400000"}]},
    }
    instruments = load_fixture("bybit", "instruments_linear")
    instruments["result"]["list"][0]["symbol"] = "ETHPERP"  # the documented funding history is ETHPERP's
    documented.overrides[("/v5/market/instruments-info", "linear")] = instruments
    funding = await analytics.get_funding_rate(ctx, s.BybitFundingRateRequest(instrument="ETHPERP", history=5))
    assert funding.history == [s.BybitFundingPoint(ts=ms(1672041600000), rate=Decimal("0.0001"))]
    assert funding.interval_hours == Decimal(8)  # fundingInterval 480 minutes from the instrument
    assert funding.annualized == Decimal("0.0001") * 3 * 365
    oi = await analytics.get_open_interest(ctx, s.BybitOpenInterestRequest(instrument="BTCUSD", interval="1d"))
    assert [p.ts for p in oi.points] == sorted(p.ts for p in oi.points)
    assert oi.points[-1].open_interest == Decimal("63910691.00000000")
    assert oi.unit == "USD contracts"
    assert oi.next_cursor == "lastid%3D19408935%26lasttime%3D1780617600"
    assert oi.has_more is True


async def test_documented_batch_answer_gives_one_result_per_order(ctx: Any, documented: DocumentedClient) -> None:
    request = s.BybitBatchOrderRequest(
        category="spot",
        orders=[
            s.BybitBatchOrderItem(
                instrument="BTCUSDT", side="buy", quantity="0.05", price="30000", client_order_id="spot-btc-03"
            ),
            s.BybitBatchOrderItem(
                instrument="BTCUSDT", side="buy", quantity="0.05", price="30000", client_order_id="spot-atom-03"
            ),
        ],
    )
    result = await trading.place_batch_order(ctx, request)
    assert (result.placed, result.failed, result.partial) == (2, 0, False)
    assert [r.client_order_id for r in result.results] == ["spot-btc-03", "spot-atom-03"]
    sent = next(params for _, path, params in documented.calls if path == "/v5/order/create-batch")
    assert sent["category"] == "spot"
    assert [o["qty"] for o in sent["request"]] == [Decimal("0.05")] * 2


async def test_a_batch_with_one_refused_order_is_reported_as_partial(ctx: Any, documented: DocumentedClient) -> None:
    body = load_fixture("bybit", "order_create_batch")
    body["result"]["list"][1] = {"category": "spot", "symbol": "BTCUSDT", "orderId": "", "orderLinkId": "b-2"}
    body["retExtInfo"]["list"][1] = {"code": 170131, "msg": "Insufficient balance."}
    documented.overrides[("/v5/order/create-batch", None)] = body
    request = s.BybitBatchOrderRequest(
        category="spot",
        orders=[
            s.BybitBatchOrderItem(instrument="BTCUSDT", side="buy", quantity="0.05", price="30000"),
            s.BybitBatchOrderItem(instrument="BTCUSDT", side="buy", quantity="0.05", price="30000"),
        ],
    )
    result = await trading.place_batch_order(ctx, request)
    assert (result.placed, result.failed, result.partial) == (1, 1, True)
    assert result.results[1].error == s.BybitBatchItemError(code=170131, message="Insufficient balance.")
    assert result.results[0].ok is True


async def test_book_depth_is_asked_up_to_each_categorys_documented_maximum(ctx: Any) -> None:
    # docs/v5/market/orderbook.mdx: spot, linear and inverse 1-1000 levels; option 1-25.
    await fetch_book(ctx, "BTCUSD", 800)
    await fetch_book(ctx, "BTC-27MAR26-70000-P", 100)
    asked = [params["limit"] for _, path, params in ctx._client.calls if path == "/v5/market/orderbook"]
    assert asked == [800, 25]


def test_every_number_a_bybit_tool_answers_states_its_unit() -> None:
    from cerbero_mcp.exchanges.bybit.tools import TOOLS
    from unit.exchanges.test_response_units import undocumented

    missing = {spec.name: undocumented(spec.response_model)[0] for spec in TOOLS.specs}
    assert {name: fields for name, fields in missing.items() if fields} == {}
