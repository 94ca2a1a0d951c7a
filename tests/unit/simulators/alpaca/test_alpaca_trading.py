"""The Alpaca simulator's orders: hours, classes and legs, replace, cancel, errors, positions and activities."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alpaca_sim import T0, Sim

from cerbero_mcp.simulators.alpaca import hours
from cerbero_mcp.simulators.engine import ManualClock

SATURDAY = T0 + 5 * 86_400 - 3_600  # 2026-03-07 09:30 New York: the market is closed


def mid(sim: Sim, symbol: str) -> Decimal:
    return Decimal(repr(round(sim.venue.market.model.mid(symbol, sim.clock.now()), 2)))


async def test_order_answer_is_an_acknowledgement_before_the_fill(sim: Sim) -> None:
    ack = await sim.ok("POST", "/v2/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
                                              "time_in_force": "day"})  # fmt: skip
    assert (ack["status"], ack["filled_qty"], ack["filled_avg_price"], ack["filled_at"]) == ("pending_new", "0", None,
                                                                                             None)  # fmt: skip
    got = await sim.ok("GET", f"/v2/orders/{ack['id']}")
    assert (got["status"], got["filled_qty"]) == ("filled", "1")
    assert got["id"] == ack["id"]


async def test_market_order_in_session_fills_at_once(sim: Sim) -> None:
    o = await sim.order(symbol="AAPL", qty="10", side="buy", type="market", time_in_force="day", client_order_id="m1")
    assert (o["status"], o["filled_qty"], o["client_order_id"]) == ("filled", "10", "m1")
    assert o["order_class"] == ""
    assert o["created_at"].endswith("Z")
    assert Decimal(o["filled_avg_price"]) > 0
    [pos] = await sim.ok("GET", "/v2/positions")
    assert (pos["symbol"], pos["qty"], pos["side"]) == ("AAPL", "10", "long")
    account = await sim.ok("GET", "/v2/account")
    assert Decimal(account["cash"]) == Decimal(100_000) - Decimal(o["filled_avg_price"]) * 10
    assert account["pattern_day_trader"] is False
    assert isinstance(account["daytrade_count"], int)


async def test_order_outside_the_session_is_accepted_then_fills_at_the_open(sim: Sim, clock: ManualClock) -> None:
    clock.set(SATURDAY)
    o = await sim.order(symbol="MSFT", qty="2", side="buy", type="market", time_in_force="day")
    assert (o["status"], o["filled_qty"]) == ("accepted", "0")
    clock.set(hours.next_open(SATURDAY) + 1)
    later = await sim.ok("GET", f"/v2/orders/{o['id']}")
    assert later["status"] == "filled"
    # Monday 9 March 2026 opens at 09:30 EDT (daylight saving began on the 8th) = 13:30Z
    assert later["filled_at"].startswith("2026-03-09T13:30:01")


async def test_extended_hours_needs_a_day_limit_and_works_pre_market(sim: Sim, clock: ManualClock) -> None:
    pre = hours.at(hours.ny_date(T0) + __import__("datetime").timedelta(days=1), hours.dtime(8, 0))
    clock.set(pre)
    code, body = await sim.error("POST", "/v2/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
                                                        "time_in_force": "day", "extended_hours": True})  # fmt: skip
    assert (code, body["code"], body["message"]) == (422, 42210000, "extended hours order must be DAY limit orders")
    price = str(mid(sim, "AAPL") + 5)
    o = await sim.order(symbol="AAPL", qty="1", side="buy", type="limit", limit_price=price, time_in_force="day",
                        extended_hours=True)  # fmt: skip
    assert o["status"] == "filled"
    plain = await sim.order(symbol="AAPL", qty="1", side="buy", type="limit", limit_price=price, time_in_force="day")
    assert plain["status"] == "accepted"


async def test_bracket_legs_are_held_then_one_exit_cancels_the_other(sim: Sim, clock: ManualClock) -> None:
    px = mid(sim, "AAPL")
    o = await sim.order(symbol="AAPL", qty="5", side="buy", type="limit", limit_price=str(px - 20), time_in_force="gtc",
                        order_class="bracket", take_profit={"limit_price": str(px + 40)},
                        stop_loss={"stop_price": str(px - 30)})  # fmt: skip
    assert o["order_class"] == "bracket"
    assert o["status"] == "new"
    assert [leg["status"] for leg in o["legs"]] == ["held", "held"]
    assert {leg["type"] for leg in o["legs"]} == {"limit", "stop"}
    assert {leg["side"] for leg in o["legs"]} == {"sell"}
    # make the entry marketable by replacing it: the legs move to the new order and activate on its fill
    new = await sim.replace(o["id"], limit_price=str(px + 1))
    assert new["replaces"] == o["id"]
    assert new["status"] == "filled"
    assert [leg["status"] for leg in new["legs"]] == ["new", "new"]
    old = await sim.ok("GET", f"/v2/orders/{o['id']}")
    assert (old["status"], old["replaced_by"]) == ("replaced", new["id"])
    tp = next(leg for leg in new["legs"] if leg["type"] == "limit")
    stop = next(leg for leg in new["legs"] if leg["type"] == "stop")
    # a take profit replaced down to the market fills; the stop loss is then canceled
    tp2 = await sim.replace(tp["id"], limit_price=str(px - 10))
    assert tp2["status"] == "filled"
    assert (await sim.ok("GET", f"/v2/orders/{stop['id']}"))["status"] == "canceled"
    assert await sim.ok("GET", "/v2/positions") == []


async def test_bracket_prices_are_checked_against_the_base_price(sim: Sim) -> None:
    px = mid(sim, "AAPL")
    code, body = await sim.error("POST", "/v2/orders", {
        "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": str(px), "time_in_force": "day",
        "order_class": "bracket", "take_profit": {"limit_price": str(px - 1)}, "stop_loss": {"stop_price": str(px - 5)},
    })  # fmt: skip
    assert code == 422
    assert body["message"].startswith("take_profit.limit_price must be >= base_price + 0.01")


async def test_oco_exit_pair_is_active_together(sim: Sim) -> None:
    await sim.order(symbol="SPY", qty="3", side="buy", type="market", time_in_force="day")
    px = mid(sim, "SPY")
    o = await sim.order(symbol="SPY", qty="3", side="sell", type="limit", time_in_force="gtc", order_class="oco",
                        take_profit={"limit_price": str(px + 30)}, stop_loss={"stop_price": str(px - 30)})  # fmt: skip
    assert o["status"] == "new"
    assert o["limit_price"] == str(px + 30)
    [leg] = o["legs"]
    assert (leg["type"], leg["status"]) == ("stop", "new")
    await sim.ok("PATCH", f"/v2/orders/{leg['id']}", {"stop_price": str(px + 5)})  # above the market: triggers
    parent = await sim.ok("GET", f"/v2/orders/{o['id']}")
    assert parent["status"] == "canceled"
    assert await sim.ok("GET", "/v2/positions") == []


async def test_cancel_is_204_and_cancel_all_is_207(sim: Sim) -> None:
    px = mid(sim, "AAPL")
    a = await sim.order(symbol="AAPL", qty="1", side="buy", type="limit", limit_price=str(px - 50), time_in_force="gtc")
    b = await sim.order(symbol="MSFT", qty="1", side="buy", type="limit", limit_price="300", time_in_force="gtc")
    r = await sim.call("DELETE", f"/v2/orders/{a['id']}")
    assert (r.status_code, r.content) == (204, b"")
    code, body = await sim.error("DELETE", f"/v2/orders/{a['id']}")
    assert (code, body["message"]) == (422, 'order is already in "canceled" state')
    r = await sim.call("DELETE", "/v2/orders")
    assert r.status_code == 207
    assert [(x["id"], x["status"], x["body"]["status"]) for x in r.json()] == [(b["id"], 200, "canceled")]


async def test_errors_carry_alpacas_codes(sim: Sim) -> None:
    async def err(**fields: Any) -> tuple[int, int, str]:
        code, body = await sim.error("POST", "/v2/orders", fields)
        return code, body["code"], body["message"]

    base = {"side": "buy", "type": "market", "time_in_force": "day"}
    assert await err(symbol="AAPL", qty="1000", **base) == (403, 40310000, "insufficient buying power")
    assert await err(symbol="AAPL", qty="1", **{**base, "side": "sell"}) == (
        403, 40310000, "insufficient qty available for order (requested: 1, available: 0)")  # fmt: skip
    sub_penny = "invalid limit_price 190.123. sub-penny increment does not fulfill minimum pricing criteria"
    assert await err(symbol="AAPL", qty="1", **{**base, "type": "limit", "limit_price": "190.123"}) == (
        422, 42210000, sub_penny)  # fmt: skip
    assert await err(symbol="AAPL", qty="0.5", **{**base, "time_in_force": "gtc"}) == (
        422, 42210000, "fractional orders must be DAY orders")  # fmt: skip
    assert await err(symbol="AAPL", notional="0.5", **base) == (
        403, 40310000, "cost basis must be >= minimal amount of order 1")  # fmt: skip
    assert await err(symbol="NOPE", qty="1", **base) == (422, 42210000, 'asset "NOPE" not found')
    assert await err(symbol="BTC/USD", qty="0.01", **base) == (422, 42210000, "invalid crypto time_in_force: day")
    await sim.order(symbol="AAPL", qty="1", client_order_id="dup", **base)
    assert await err(symbol="AAPL", qty="1", client_order_id="dup", **base) == (
        422, 42210000, "client_order_id must be unique")  # fmt: skip
    code, body = await sim.error("GET", "/v2/orders/6f1b5a52-0000-4000-8000-000000000000")
    assert (code, body) == (404, {"code": 40410000, "message": "order not found"})
    code, body = await sim.error("GET", "/v2/positions/MSFT")
    assert (code, body["message"]) == (404, "position does not exist")


async def test_notional_and_fractional_orders(sim: Sim) -> None:
    o = await sim.order(symbol="AAPL", notional="500", side="buy", type="market", time_in_force="day")
    assert o["notional"] == "500"
    assert o["status"] == "filled"
    qty = Decimal(o["filled_qty"])
    assert qty != qty.to_integral_value()
    assert abs(qty * Decimal(o["filled_avg_price"]) - 500) < 1


async def test_trailing_stop_follows_the_high_water_mark(sim: Sim, clock: ManualClock) -> None:
    await sim.order(symbol="TSLA", qty="2", side="buy", type="market", time_in_force="day")
    o = await sim.order(symbol="TSLA", qty="2", side="sell", type="trailing_stop", trail_price="0.5",
                        time_in_force="day")  # fmt: skip
    assert o["status"] == "new"
    assert o["trail_price"] == "0.5"
    for _ in range(300):
        clock.advance(60)
        now = await sim.ok("GET", f"/v2/orders/{o['id']}")
        if now["status"] != "new":
            break
    assert now["status"] == "filled"
    # the market sell went off when the mid fell half a dollar under the high water mark
    assert Decimal(now["filled_avg_price"]) <= Decimal(now["hwm"]) - Decimal("0.4")


async def test_close_position_and_close_all_207(sim: Sim) -> None:
    await sim.order(symbol="AAPL", qty="4", side="buy", type="market", time_in_force="day")
    await sim.order(symbol="BTC/USD", qty="0.01", side="buy", type="market", time_in_force="gtc")
    half = await sim.ok("DELETE", "/v2/positions/AAPL", percentage="50")
    assert (half["side"], half["qty"], half["status"]) == ("sell", "2", "pending_new")
    [pos] = [p for p in await sim.ok("GET", "/v2/positions") if p["symbol"] == "AAPL"]
    assert pos["qty"] == "2"
    r = await sim.call("DELETE", "/v2/positions", cancel_orders="true")
    assert r.status_code == 207
    assert sorted((x["symbol"], x["status"]) for x in r.json()) == [("AAPL", 200), ("BTCUSD", 200)]
    assert await sim.ok("GET", "/v2/positions") == []


async def test_orders_listing_and_activities_paging(sim: Sim) -> None:
    for i in range(3):
        await sim.order(symbol="AAPL", qty="1", side="buy", type="market", time_in_force="day", client_order_id=f"a{i}")
    closed = await sim.ok("GET", "/v2/orders", status="closed", direction="asc")
    assert [o["client_order_id"] for o in closed] == ["a0", "a1", "a2"]
    assert await sim.ok("GET", "/v2/orders") == []
    got = (await sim.ok("GET", "/v2/orders:by_client_order_id", client_order_id="a1"))["id"]
    assert got == closed[1]["id"]
    first = await sim.ok("GET", "/v2/account/activities/FILL", page_size="2")
    assert len(first) == 2
    rest = await sim.ok("GET", "/v2/account/activities/FILL", page_size="2", page_token=first[-1]["id"])
    assert len(rest) == 1
    assert {a["id"] for a in first}.isdisjoint({a["id"] for a in rest})
    assert {a["activity_type"] for a in first + rest} == {"FILL"}


async def test_day_order_expires_at_the_close(sim: Sim, clock: ManualClock) -> None:
    o = await sim.order(symbol="AAPL", qty="1", side="buy", type="limit", limit_price="100", time_in_force="day")
    clock.set(hours.next_close(T0) + 60)
    assert (await sim.ok("GET", f"/v2/orders/{o['id']}"))["status"] == "expired"


async def test_options_buy_with_the_multiplier(sim: Sim) -> None:
    chain = await sim.ok("GET", "/v1beta1/options/snapshots/AAPL", type="call", limit="5")
    symbol = next(iter(chain["snapshots"]))
    o = await sim.order(symbol=symbol, qty="1", side="buy", type="market", time_in_force="day")
    assert (o["asset_class"], o["status"]) == ("us_option", "filled")
    [pos] = await sim.ok("GET", "/v2/positions")
    assert Decimal(pos["cost_basis"]) == Decimal(o["filled_avg_price"]) * 100
    code, body = await sim.error("POST", "/v2/orders", {"symbol": symbol, "qty": "1", "side": "buy", "type": "market",
                                                        "time_in_force": "gtc"})  # fmt: skip
    assert (code, body["message"]) == (422, "only day orders are supported for options")


async def test_a_refused_replace_leaves_the_original_working(sim: Sim) -> None:
    o = await sim.order(symbol="AAPL", qty="1", side="buy", type="limit", limit_price="100", time_in_force="gtc")
    code, body = await sim.error("PATCH", f"/v2/orders/{o['id']}", {"qty": "5000"})
    assert (code, body) == (403, {"code": 40310000, "message": "insufficient buying power"})
    again = await sim.ok("GET", f"/v2/orders/{o['id']}")
    assert (again["status"], again["replaced_by"], again["qty"]) == ("new", None, "1")
    assert [x["id"] for x in await sim.ok("GET", "/v2/orders")] == [o["id"]]


async def test_round_trips_in_a_day_count_as_day_trades(sim: Sim) -> None:
    for _ in range(4):
        await sim.order(symbol="MSFT", qty="1", side="buy", type="market", time_in_force="day")
        await sim.order(symbol="MSFT", qty="1", side="sell", type="market", time_in_force="day")
    account = await sim.ok("GET", "/v2/account")
    assert (account["daytrade_count"], account["pattern_day_trader"]) == (4, True)
