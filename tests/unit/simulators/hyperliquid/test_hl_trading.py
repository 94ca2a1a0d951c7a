"""The Hyperliquid simulator's orders: increments, statuses, cancels, modifies, triggers, leverage, dead-man switch."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hl_sim import CLOID, OWNER, T0_MS, Sim, order_wire, trigger_wire

BTC, ETH, SOL, HYPE, PURR, HYPE_SPOT = 0, 1, 2, 3, 10_000, 10_107


async def buy_btc(sim: Sim, sz: str = "0.01") -> dict[str, object]:
    px = str(math.ceil(await sim.mid("BTC") * 1.01))
    (status,) = await sim.place(order_wire(BTC, True, px, sz, tif="Ioc"))
    assert "filled" in status, status
    filled: dict[str, object] = status["filled"]
    return filled


@pytest.mark.parametrize(
    ("asset", "px", "sz", "error"),
    [
        (ETH, "3000.12", "0.01", "Price must be divisible by tick size."),  # 6 significant figures
        (SOL, "100.123", "0.1", "Price must be divisible by tick size."),  # 3 decimals > 6 - szDecimals(2)
        (BTC, "90000.5", "0.001", "Price must be divisible by tick size."),
        (BTC, "90000", "0.000001", "Order has invalid size."),  # szDecimals 5
        (ETH, "3000", "0.00001", "Order has invalid size."),  # szDecimals 4
        (BTC, "90000", "0", "Order has zero size."),
        (BTC, "90000", "-0.001", "Order has invalid size."),
        (BTC, "90000", "0.0001", "Order must have minimum value of $10."),  # $9
        (PURR, "0.1", "50", "Order must have minimum value of 10 USDC."),  # 5 USDC
        (BTC, "0", "0.001", "Order has invalid price."),
        (99, "1", "20", "Order has invalid asset."),
    ],
)
async def test_misaligned_orders_get_the_documented_error(sim: Sim, asset: int, px: str, sz: str, error: str) -> None:
    assert await sim.place(order_wire(asset, True, px, sz)) == [{"error": error}]


async def test_valid_prices_rest(sim: Sim) -> None:
    # 5 significant figures, within 6 - szDecimals decimals; integers always
    statuses = await sim.place(
        order_wire(ETH, True, "3000.1", "0.01"), order_wire(SOL, True, "100.12", "0.1"),
        order_wire(BTC, True, "90000", "0.001"), order_wire(PURR, True, "0.12345", "100"),
    )  # fmt: skip
    assert all("resting" in s for s in statuses), statuses


async def test_statuses_match_the_batch_length_with_errors_in_place(sim: Sim) -> None:
    statuses = await sim.place(
        order_wire(BTC, True, "90000", "0.001"), order_wire(BTC, True, "90000.5", "0.001"),
        order_wire(BTC, True, "90001", "0.001"),
    )  # fmt: skip
    assert len(statuses) == 3
    assert "resting" in statuses[0]
    assert statuses[1] == {"error": "Price must be divisible by tick size."}
    assert statuses[2]["resting"]["oid"] > statuses[0]["resting"]["oid"]


async def test_ioc_fills_with_strings_and_echoes_the_cloid(sim: Sim) -> None:
    px = str(math.ceil(await sim.mid("BTC") * 1.01))
    (status,) = await sim.place(order_wire(BTC, True, px, "0.01", tif="Ioc", cloid=CLOID))
    filled = status["filled"]
    assert filled["totalSz"] == "0.01"
    assert isinstance(filled["avgPx"], str)
    assert filled["cloid"] == CLOID
    state = await sim.info({"type": "clearinghouseState", "user": OWNER})
    (pos,) = state["assetPositions"]
    assert pos["type"] == "oneWay"
    assert pos["position"]["coin"] == "BTC"
    assert pos["position"]["szi"] == "0.01"
    assert pos["position"]["leverage"] == {"type": "cross", "value": 20}


async def test_ioc_that_cannot_match_is_an_error(sim: Sim) -> None:
    px = str(math.floor(await sim.mid("BTC") * 0.9))
    (status,) = await sim.place(order_wire(BTC, True, px, "0.001", tif="Ioc"))
    assert status == {"error": "Order could not immediately match against any resting orders."}


async def test_alo_that_would_cross_names_the_bbo(sim: Sim) -> None:
    px = str(math.ceil(await sim.mid("BTC") * 1.01))
    (status,) = await sim.place(order_wire(BTC, True, px, "0.001", tif="Alo"))
    book = await sim.info({"type": "l2Book", "coin": "BTC"})
    bid, ask = book["levels"][0][0]["px"], book["levels"][1][0]["px"]
    assert status == {"error": f"Post only order would have immediately matched, bbo was {bid}@{ask}"}


async def test_reduce_only_that_would_increase_is_refused(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(BTC, False, "90000", "0.001", reduce_only=True))
    assert status == {"error": "Reduce only order would increase position."}


async def test_spot_sell_without_balance_is_refused(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(PURR, False, "0.5", "100"))
    assert status == {"error": "Insufficient spot balance"}


async def test_too_large_order_has_insufficient_margin(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(BTC, True, "90000", "100"))
    assert status == {"error": "Insufficient margin to place order."}


async def test_open_orders_and_order_status_use_the_venue_shapes(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(BTC, False, "120000", "0.001", cloid=CLOID))
    oid = status["resting"]["oid"]
    assert status["resting"]["cloid"] == CLOID
    (row,) = await sim.info({"type": "openOrders", "user": OWNER})
    assert row == {"coin": "BTC", "side": "A", "limitPx": "120000.0", "sz": "0.001", "oid": oid, "timestamp": T0_MS,
                   "origSz": "0.001", "cloid": CLOID}  # fmt: skip
    by_cloid = await sim.info({"type": "orderStatus", "user": OWNER, "oid": CLOID})
    by_oid = await sim.info({"type": "orderStatus", "user": OWNER, "oid": oid})
    assert by_cloid == by_oid
    assert by_oid["status"] == "order"
    assert by_oid["order"]["status"] == "open"
    assert by_oid["order"]["order"]["orderType"] == "Limit"
    assert by_oid["order"]["order"]["tif"] == "Gtc"
    assert await sim.info({"type": "orderStatus", "user": OWNER, "oid": 1}) == {"status": "unknownOid"}


async def test_duplicate_cloid_is_refused(sim: Sim) -> None:
    await sim.place(order_wire(BTC, True, "90000", "0.001", cloid=CLOID))
    (status,) = await sim.place(order_wire(BTC, True, "90001", "0.001", cloid=CLOID))
    assert "error" in status


async def test_malformed_cloid_is_422(sim: Sim) -> None:
    r = await sim.send(sim.signed({"type": "order", "orders": [order_wire(BTC, True, "90000", "0.001", cloid="0x12")],
                                   "grouping": "na"}))  # fmt: skip
    assert r.status_code == 422


async def test_cancel_answers_success_or_missing_per_element(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(BTC, True, "90000", "0.001"))
    oid = status["resting"]["oid"]
    statuses = await sim.statuses({"type": "cancel", "cancels": [{"a": BTC, "o": oid}, {"a": BTC, "o": oid}]})
    assert statuses == ["success", {"error": "Order was never placed, already canceled, or filled."}]
    assert await sim.info({"type": "openOrders", "user": OWNER}) == []
    done = await sim.info({"type": "orderStatus", "user": OWNER, "oid": oid})
    assert done["order"]["status"] == "canceled"


async def test_cancel_with_the_wrong_asset_is_missing(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(BTC, True, "90000", "0.001"))
    statuses = await sim.statuses({"type": "cancel", "cancels": [{"a": ETH, "o": status["resting"]["oid"]}]})
    assert statuses == [{"error": "Order was never placed, already canceled, or filled."}]


async def test_cancel_by_cloid(sim: Sim) -> None:
    await sim.place(order_wire(BTC, True, "90000", "0.001", cloid=CLOID))
    statuses = await sim.statuses({"type": "cancelByCloid", "cancels": [{"asset": BTC, "cloid": CLOID}]})
    assert statuses == ["success"]


async def test_batch_modify_replaces_with_a_new_oid_and_keeps_the_cloid(sim: Sim) -> None:
    (status,) = await sim.place(order_wire(BTC, True, "90000", "0.001", cloid=CLOID))
    oid = status["resting"]["oid"]
    statuses = await sim.statuses(
        {
            "type": "batchModify",
            "modifies": [{"oid": oid, "order": order_wire(BTC, True, "90100", "0.002", cloid=CLOID)}],
        }
    )
    new_oid = statuses[0]["resting"]["oid"]
    assert new_oid != oid
    (row,) = await sim.info({"type": "openOrders", "user": OWNER})
    assert (row["oid"], row["limitPx"], row["sz"], row["cloid"]) == (new_oid, "90100.0", "0.002", CLOID)


async def test_modify_of_a_missing_order_is_an_action_error(sim: Sim) -> None:
    body = await sim.act({"type": "modify", "oid": 12345, "order": order_wire(BTC, True, "90100", "0.002")})
    assert body == {"status": "err", "response": "Order was never placed, already canceled, or filled."}


async def test_update_leverage_checks_the_max(sim: Sim) -> None:
    ok = await sim.act({"type": "updateLeverage", "asset": BTC, "isCross": False, "leverage": 5})
    assert ok == {"status": "ok", "response": {"type": "default"}}
    too_high = await sim.act({"type": "updateLeverage", "asset": HYPE, "isCross": True, "leverage": 11})
    assert too_high["status"] == "err"
    await buy_btc(sim)
    state = await sim.info({"type": "clearinghouseState", "user": OWNER})
    assert state["assetPositions"][0]["position"]["leverage"]["type"] == "isolated"
    assert state["assetPositions"][0]["position"]["leverage"]["value"] == 5


async def test_stop_loss_trigger_fires_when_the_mark_falls(sim: Sim) -> None:
    await buy_btc(sim)
    mid = await sim.mid("BTC")
    trigger = str(math.floor(mid * 0.999))
    (status,) = await sim.place(trigger_wire(BTC, False, str(math.floor(mid * 0.9)), "0.01", trigger, "sl"))
    oid = status["resting"]["oid"]
    (row,) = await sim.info({"type": "frontendOpenOrders", "user": OWNER})
    assert row["isTrigger"] is True
    assert row["orderType"] == "Stop Market"
    assert row["triggerCondition"] == f"Price below {trigger}"
    assert row["triggerPx"] == f"{trigger}.0"
    for _ in range(24 * 60):
        sim.clock.advance(60)
        if await sim.mid("BTC") < float(trigger):
            break
    else:
        pytest.fail("the path never fell 0.1% in a day")
    done = await sim.info({"type": "orderStatus", "user": OWNER, "oid": oid})
    assert done["order"]["status"] == "filled"
    state = await sim.info({"type": "clearinghouseState", "user": OWNER})
    assert state["assetPositions"] == []


async def test_take_profit_without_a_position_is_refused(sim: Sim) -> None:
    (status,) = await sim.place(trigger_wire(BTC, False, "100000", "0.01", "110000", "tp"))
    assert status == {"error": "Reduce only order would increase position."}


async def test_normal_tpsl_children_wait_for_the_parent_fill(sim: Sim) -> None:
    statuses = await sim.place(
        order_wire(BTC, True, "80000", "0.001"),
        trigger_wire(BTC, False, "70000", "0.001", "75000", "sl"),
        grouping="normalTpsl",
    )
    assert "resting" in statuses[0]
    assert statuses[1] == "waitingForFill"
    assert len(await sim.info({"type": "openOrders", "user": OWNER})) == 1  # the child is not yet live


async def test_normal_tpsl_child_goes_live_when_the_parent_fills(sim: Sim) -> None:
    mid = await sim.mid("BTC")
    parent_px = str(math.floor(mid * 0.9995))
    statuses = await sim.place(
        order_wire(BTC, True, parent_px, "0.001"),
        trigger_wire(BTC, False, str(math.floor(mid * 0.5)), "0.001", str(math.floor(mid * 0.6)), "sl"),
        grouping="normalTpsl",
    )
    parent, child = statuses[0]["resting"]["oid"], None
    for _ in range(24 * 60):
        sim.clock.advance(60)
        if (await sim.info({"type": "orderStatus", "user": OWNER, "oid": parent}))["order"]["status"] == "filled":
            break
    else:
        pytest.fail("the path never fell 0.05% in a day")
    rows = await sim.info({"type": "frontendOpenOrders", "user": OWNER})
    child = [r for r in rows if r["isTrigger"]]
    assert len(child) == 1
    assert child[0]["triggerCondition"].startswith("Price below")


async def test_schedule_cancel_needs_five_seconds_and_cancels_everything(sim: Sim) -> None:
    too_soon = await sim.act({"type": "scheduleCancel", "time": T0_MS + 4_000})
    assert too_soon["status"] == "err"
    await sim.place(order_wire(BTC, True, "90000", "0.001"), order_wire(ETH, True, "3000", "0.01"))
    assert (await sim.act({"type": "scheduleCancel", "time": T0_MS + 10_000}))["status"] == "ok"
    sim.clock.advance(9)
    assert len(await sim.info({"type": "openOrders", "user": OWNER})) == 2
    sim.clock.advance(2)
    assert await sim.info({"type": "openOrders", "user": OWNER}) == []


async def test_schedule_cancel_can_require_traded_volume(sim: Sim) -> None:
    sim.venue.trading.schedule_min_volume = Decimal(1_000_000)
    body = await sim.act({"type": "scheduleCancel", "time": T0_MS + 10_000})
    assert body == {
        "status": "err",
        "response": "Cannot set scheduled cancel time until enough volume traded. Required: $1000000. Traded: $0.00.",
    }


async def test_schedule_cancel_can_be_unset(sim: Sim) -> None:
    await sim.place(order_wire(BTC, True, "90000", "0.001"))
    await sim.act({"type": "scheduleCancel", "time": T0_MS + 10_000})
    assert (await sim.act({"type": "scheduleCancel"}))["status"] == "ok"
    sim.clock.advance(20)
    assert len(await sim.info({"type": "openOrders", "user": OWNER})) == 1


async def test_fills_report_direction_and_start_position(sim: Sim) -> None:
    await buy_btc(sim)
    px = str(math.floor(await sim.mid("BTC") * 0.99))
    await sim.place(order_wire(BTC, False, px, "0.01", tif="Ioc", reduce_only=True))
    fills = await sim.info({"type": "userFills", "user": OWNER})
    assert [f["dir"] for f in fills][-1] == "Open Long"
    assert fills[0]["dir"] == "Close Long"
    assert Decimal(fills[0]["startPosition"]) == Decimal("0.01")
    assert fills[0]["side"] == "A"


async def test_spot_pair_trades_by_asset_10000_plus_index(sim: Sim) -> None:
    px = str(round(await sim.mid("@107") * 1.01, 2))
    (status,) = await sim.place(order_wire(HYPE_SPOT, True, px, "1", tif="Ioc"))
    assert "filled" in status, status
    spot = await sim.info({"type": "spotClearinghouseState", "user": OWNER})
    assert {b["coin"] for b in spot["balances"]} == {"USDC", "HYPE"}


async def test_historical_orders_and_fills_by_time(sim: Sim) -> None:
    await buy_btc(sim)
    sim.clock.advance(60)
    (status,) = await sim.place(order_wire(BTC, True, "90000", "0.001"))
    await sim.statuses({"type": "cancel", "cancels": [{"a": BTC, "o": status["resting"]["oid"]}]})
    history = await sim.info({"type": "historicalOrders", "user": OWNER})
    assert [h["status"] for h in history] == ["canceled", "filled"]
    assert history[0]["order"]["oid"] == status["resting"]["oid"]
    assert await sim.info({"type": "userFillsByTime", "user": OWNER, "startTime": T0_MS + 1}) == []
    (fill,) = await sim.info({"type": "userFillsByTime", "user": OWNER, "startTime": T0_MS, "endTime": T0_MS})
    assert fill["dir"] == "Open Long"
