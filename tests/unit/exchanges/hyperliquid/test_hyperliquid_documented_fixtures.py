"""The production parsing on Hyperliquid's documented bodies (tests/fixtures/hyperliquid)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.contracts import Leg
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.hyperliquid import analytics, exposure, market, tools, trading
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient
from cerbero_mcp.exchanges.hyperliquid.signing import cloid_for
from unit.exchanges.hyperliquid.hl_documented import FakeTransport, raw_fixture

Documented = tuple[HyperliquidClient, FakeTransport]


async def test_assets_resolve_perps_spot_pairs_and_at_index(documented: Documented) -> None:
    client, _ = documented
    btc = await client.asset("BTC")
    assert (btc.asset_id, btc.sz_decimals, btc.spot, btc.max_leverage) == (0, 5, False, 50)
    purr = await client.asset("PURR/USDC")
    assert (purr.asset_id, purr.coin, purr.sz_decimals, purr.spot) == (10000, "PURR/USDC", 0, True)
    hfun = await client.asset("HFUN/USDC")
    assert (hfun.asset_id, hfun.coin, hfun.sz_decimals) == (10001, "@1", 2)
    assert (await client.asset("@1")).coin == "@1"
    with pytest.raises(errors.InvalidInputError):
        await client.asset("NOPE")


async def test_ticker_perp_and_spot(ctx: Any) -> None:
    perp = await tools.get_ticker(ctx, s.HyperliquidTickerRequest(instrument="BTC"))
    assert (perp.bid, perp.ask, perp.mark, perp.index) == (
        Decimal("113377.0"),
        Decimal("113397.0"),
        Decimal("67101.0"),
        Decimal("67098.0"),
    )
    assert perp.funding_rate == Decimal("0.0000125")
    assert perp.open_interest == Decimal("688.11")
    spot = await tools.get_ticker(ctx, s.HyperliquidTickerRequest(instrument="PURR/USDC"))
    assert spot.mark == Decimal("0.14")
    assert spot.funding_rate is None


async def test_account_positions_and_spot_balance(ctx: Any) -> None:
    account = await tools.get_account(ctx, s.HyperliquidAccountRequest())
    assert account.equity == Decimal("13109.482328")
    assert account.available == Decimal("13104.514502")
    assert account.initial_margin == Decimal("4.967826")
    assert account.unrealized_pnl == Decimal("-0.0134")
    purr = await tools.get_account(ctx, s.HyperliquidAccountRequest(currency="PURR"))
    assert purr.balance == Decimal("2000")
    positions = await tools.get_positions(ctx, s.HyperliquidPositionsRequest())
    (eth,) = positions.positions
    assert (eth.instrument, eth.side, eth.size, eth.average_price) == (
        "ETH",
        "long",
        Decimal("0.0335"),
        Decimal("2986.3"),
    )
    assert eth.mark_price == Decimal("100.02765") / Decimal("0.0335")
    assert eth.liquidation_price == Decimal("2866.26936529")


async def test_open_orders_map_limits_and_triggers(ctx: Any) -> None:
    orders = (await tools.get_open_orders(ctx, s.HyperliquidOpenOrdersRequest())).orders
    limit, stop = orders
    assert (limit.order_id, limit.side, limit.type, limit.price, limit.quantity, limit.status) == (
        "91490942",
        "sell",
        "limit",
        Decimal("29792.0"),
        Decimal("5.0"),
        "open",
    )
    assert limit.time_in_force == "gtc"
    assert (stop.type, stop.stop_price, stop.status, stop.reduce_only) == (
        "stop_market",
        Decimal("2850.0"),
        "untriggered",
        True,
    )
    assert stop.client_order_id == "0x00000000000000000000000000000001"
    only_eth = await tools.get_open_orders(ctx, s.HyperliquidOpenOrdersRequest(instrument="ETH"))
    assert [o.instrument for o in only_eth.orders] == ["ETH"]


async def test_place_limit_sends_the_cloid_and_reports_the_resting_oid(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    req = s.HyperliquidPlaceOrderRequest(
        instrument="BTC",
        side="buy",
        type="limit",
        quantity=Decimal("0.001"),
        price=Decimal("50000"),
        post_only=True,
        client_order_id="demo-limit-1",
    )
    result = await tools.place_order(ctx, req)
    assert result.order.order_id == "77738308"
    assert result.order.status == "open"
    assert result.order.client_order_id == "demo-limit-1"
    assert result.info["cloid"] == cloid_for("demo-limit-1")
    (sent,) = transport.actions()
    assert sent["action"]["orders"] == [
        {
            "a": 0,
            "b": True,
            "p": "50000",
            "s": "0.001",
            "r": False,
            "t": {"limit": {"tif": "Alo"}},
            "c": cloid_for("demo-limit-1"),
        }
    ]


async def test_market_order_is_an_ioc_within_the_slippage_bound(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    transport.overrides["order"] = (200, raw_fixture("order_filled"))
    req = s.HyperliquidPlaceOrderRequest(instrument="ETH", side="buy", type="market", quantity=Decimal("0.02"))
    result = await tools.place_order(ctx, req)
    assert result.order.status == "filled"
    assert result.order.average_fill_price == Decimal("1891.4")
    assert [(f.trade_id, f.price, f.quantity, f.liquidity) for f in result.fills] == [
        ("118906512037719", Decimal("1891.4"), Decimal("0.02"), "taker")
    ]
    wire = transport.actions()[0]["action"]["orders"][0]
    # mid 3512.45 × 1.05 = 3688.0725 → 5 figures, rounded up: 3688.1
    assert wire["p"] == "3688.1"
    assert wire["t"] == {"limit": {"tif": "Ioc"}}
    assert result.info["market_price_bound"] == Decimal("3688.1")
    assert result.info["slippage"] == Decimal("0.05")


async def test_per_order_error_is_a_definite_refusal(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    transport.overrides["order"] = (200, raw_fixture("order_error"))
    req = s.HyperliquidPlaceOrderRequest(
        instrument="BTC", side="buy", type="limit", quantity=Decimal("0.001"), price=Decimal("50000")
    )
    with pytest.raises(errors.InvalidOrderError) as caught:
        await tools.place_order(ctx, req)
    assert caught.value.definite


async def test_misaligned_price_is_refused_before_sending(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    req = s.HyperliquidPlaceOrderRequest(
        instrument="ETH", side="buy", type="limit", quantity=Decimal("0.01"), price=Decimal("3512.45")
    )
    with pytest.raises(errors.InvalidInputError) as caught:
        await tools.place_order(ctx, req)
    assert caught.value.details["nearest_valid"] == ["3512.4", "3512.5"]
    assert transport.actions() == []


async def test_dry_run_sends_nothing_and_shows_the_action(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    req = s.HyperliquidPlaceOrderRequest(
        instrument="BTC",
        side="sell",
        type="stop_market",
        quantity=Decimal("0.001"),
        stop_price=Decimal("40000"),
        reduce_only=True,
        dry_run=True,
    )
    result = await tools.place_order(ctx, req)
    assert result.dry_run
    assert transport.actions() == []
    assert result.would_send is not None
    wire = result.would_send["body"]["action"]["orders"][0]
    assert wire["t"] == {"trigger": {"isMarket": True, "triggerPx": "40000", "tpsl": "sl"}}
    assert wire["p"] == "38000"
    assert wire["r"] is True


async def test_cancel_by_oid_and_cancel_all_in_one_batch(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    result = await tools.cancel_order(ctx, s.HyperliquidCancelOrderRequest(order_id="1"))
    assert result.order.status == "cancelled"
    assert transport.actions()[-1]["action"] == {"type": "cancel", "cancels": [{"a": 1, "o": 1}]}
    transport.overrides["cancel"] = (
        200,
        b'{"status":"ok","response":{"type":"cancel","data":{"statuses":["success","success"]}}}',
    )
    done = await tools.cancel_all_orders(ctx, s.HyperliquidCancelAllRequest())
    assert done.cancelled == 2
    assert transport.actions()[-1]["action"]["cancels"] == [{"a": 0, "o": 91490942}, {"a": 1, "o": 91490943}]


async def test_cancel_of_an_unknown_order_is_order_not_found(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    transport.overrides["orderStatus"] = (200, raw_fixture("order_status_unknown"))
    with pytest.raises(errors.OrderNotFoundError):
        await tools.cancel_order(ctx, s.HyperliquidCancelOrderRequest(order_id="demo-limit-1"))
    sent = [body for path, body, _ in transport.sent if body.get("type") == "orderStatus"]
    assert sent[-1]["oid"] == cloid_for("demo-limit-1")


async def test_close_position_sends_a_reduce_only_market_order(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    transport.overrides["order"] = (200, raw_fixture("order_filled"))
    result = await tools.close_position(ctx, s.HyperliquidClosePositionRequest(instrument="ETH"))
    assert not result.was_flat
    wire = transport.actions()[-1]["action"]["orders"][0]
    assert (wire["a"], wire["b"], wire["s"], wire["r"]) == (1, False, "0.0335", True)
    flat = await tools.close_position(ctx, s.HyperliquidClosePositionRequest(instrument="BTC"))
    assert flat.was_flat


async def test_funding_rate_current_predicted_and_history(ctx: Any) -> None:
    funding = await analytics.get_funding_rate(ctx, s.HyperliquidFundingRateRequest(instrument="BTC", history=2))
    assert funding.current_rate == Decimal("0.0000125")
    assert funding.predicted_rate == Decimal("0.0000236")
    assert funding.annualized == Decimal("0.0000125") * 8760
    assert [p.rate for p in funding.history] == [Decimal("-0.00022196"), Decimal("0.0000125")]


async def test_leverage_is_checked_against_max_and_isolated_only(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    done = await trading.set_leverage(ctx, s.HyperliquidLeverageRequest(instrument="BTC", leverage=5))
    assert done.leverage == 5
    assert transport.actions()[-1]["action"] == {"type": "updateLeverage", "asset": 0, "isCross": True, "leverage": 5}
    with pytest.raises(errors.InvalidInputError):
        await trading.set_leverage(ctx, s.HyperliquidLeverageRequest(instrument="BTC", leverage=51))
    with pytest.raises(errors.InvalidInputError):
        await trading.set_leverage(ctx, s.HyperliquidLeverageRequest(instrument="HPOS", leverage=2))


async def test_stop_loss_is_a_reduce_only_trigger_on_the_position(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    result = await trading.set_stop_loss(
        ctx, s.HyperliquidStopLossRequest(instrument="ETH", trigger_price=Decimal("2800"))
    )
    assert result.order.status == "untriggered"
    assert result.kind == "sl"
    wire = transport.actions()[-1]["action"]["orders"][0]
    assert wire["r"] is True
    assert wire["b"] is False
    assert wire["s"] == "0.0335"
    assert wire["t"]["trigger"] == {"isMarket": True, "triggerPx": "2800", "tpsl": "sl"}


async def test_schedule_cancel_needs_five_seconds_and_can_be_unset(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    armed = await trading.schedule_cancel(ctx, s.HyperliquidScheduleCancelRequest(in_seconds=60))
    assert armed.scheduled_at is not None
    assert "time" in transport.actions()[-1]["action"]
    await trading.schedule_cancel(ctx, s.HyperliquidScheduleCancelRequest(unset=True))
    assert transport.actions()[-1]["action"] == {"type": "scheduleCancel"}


async def test_book_bars_and_exposure(ctx: Any) -> None:
    book = await market.fetch_book(ctx, "BTC", 1)
    assert book.bids == [v.BookLevel(price=Decimal("113377.0"), size=Decimal("7.6699"))]
    bars = await market.fetch_bars(ctx, v.BarsRequest(instrument="BTC", resolution="15m", limit=10))
    assert [b.close for b in bars.bars] == [Decimal("29258.0"), Decimal("29263.0")]
    leg = Leg(instrument="ETH", side="buy", quantity=Decimal("1"), price=None)
    account = await exposure.book(ctx, [leg])
    assert account.equity == Decimal("13109.482328")
    assert account.positions == {"ETH": Decimal("0.0335")}
    assert account.value("ETH", Decimal("2"), None) == Decimal("7024.90")  # at the mid, 3512.45


async def test_a_listed_token_not_held_is_a_zero_balance_and_an_unlisted_one_is_refused(ctx: Any) -> None:
    hfun = await tools.get_account(ctx, s.HyperliquidAccountRequest(currency="HFUN"))
    assert (hfun.currency, hfun.balance, hfun.available) == ("HFUN", Decimal(0), Decimal(0))
    with pytest.raises(errors.InvalidInputError):
        await tools.get_account(ctx, s.HyperliquidAccountRequest(currency="NOPE"))


async def test_a_trigger_waiting_without_an_oid_is_looked_up_by_its_cloid(documented: Documented, ctx: Any) -> None:
    _, transport = documented
    transport.overrides["order"] = (
        200,
        b'{"status":"ok","response":{"type":"order","data":{"statuses":["waitingForTrigger"]}}}',
    )
    req = s.HyperliquidPlaceOrderRequest(
        instrument="ETH",
        side="sell",
        type="stop_market",
        quantity=Decimal("0.01"),
        stop_price=Decimal("2800"),
        reduce_only=True,
    )
    result = await tools.place_order(ctx, req)
    assert result.order.status == "untriggered"
    assert result.order.order_id == "1"  # order_status.json's oid, found by the cloid the order was sent with
    cloid = transport.actions()[-1]["action"]["orders"][0]["c"]
    lookups = [body for _, body, _ in transport.sent if body.get("type") == "orderStatus"]
    assert lookups[-1]["oid"] == cloid == result.info["cloid"]
