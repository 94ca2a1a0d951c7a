"""The Bybit simulator's account: acknowledgements, increments, ids, batches, paging, positions and TP/SL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bybit_sim import T0_MS, Sim

from cerbero_mcp.simulators.engine import ManualClock

CREATE = "/v5/order/create"


def linear(**kw: Any) -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
            "price": "90000", **kw}  # fmt: skip


def spot(**kw: Any) -> dict[str, Any]:
    return {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
            "price": "90000", **kw}  # fmt: skip


async def order_of(sim: Sim, link: str, category: str = "linear") -> dict[str, Any]:
    body = await sim.ok("/v5/order/realtime", f"category={category}&orderLinkId={link}")
    rows = body["result"]["list"]
    assert len(rows) == 1, rows
    return dict(rows[0])


async def last_price(sim: Sim, symbol: str = "BTCUSDT", category: str = "linear") -> Decimal:
    body = await sim.public("/v5/market/tickers", category=category, symbol=symbol)
    return Decimal(body["result"]["list"][0]["lastPrice"])


async def position(sim: Sim, symbol: str = "BTCUSDT") -> dict[str, Any]:
    body = await sim.ok("/v5/position/list", f"category=linear&symbol={symbol}")
    return dict(body["result"]["list"][0])


async def test_create_acknowledges_and_the_state_is_read_back(sim: Sim) -> None:
    ack = await sim.ok(CREATE, linear(orderType="Market", price=None, orderLinkId="mkt-1"))
    assert set(ack["result"]) == {"orderId", "orderLinkId"}
    assert ack["result"]["orderLinkId"] == "mkt-1"
    row = await order_of(sim, "mkt-1")
    assert (row["orderStatus"], row["cumExecQty"], row["timeInForce"], row["orderId"]) == (
        "Filled", "0.010", "IOC", ack["result"]["orderId"]
    )  # fmt: skip
    fills = (await sim.ok("/v5/execution/list", "category=linear&symbol=BTCUSDT"))["result"]["list"]
    assert [(f["orderLinkId"], f["execQty"], f["isMaker"], f["execType"]) for f in fills] == [
        ("mkt-1", "0.010", False, "Trade")
    ]  # fmt: skip
    pos = await position(sim)
    assert (pos["side"], pos["size"], pos["leverage"]) == ("Buy", "0.010", "10")
    flat = await position(sim, "ETHUSDT")
    assert (flat["side"], flat["size"]) == ("", "0.00")  # a symbol asked for is listed even when flat
    both = (await sim.ok("/v5/position/list", "category=linear&settleCoin=USDT"))["result"]["list"]
    assert [p["symbol"] for p in both] == ["BTCUSDT"]
    assert (await sim.code("/v5/position/list", "category=linear"))[0] == 10001


async def test_limit_orders_rest_amend_and_cancel(sim: Sim) -> None:
    await sim.ok(CREATE, linear(orderLinkId="lim-1"))
    row = await order_of(sim, "lim-1")
    assert (row["orderStatus"], row["price"], row["leavesQty"]) == ("New", "90000.00", "0.010")
    await sim.ok("/v5/order/amend", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "lim-1",
                                     "price": "89000.50", "qty": "0.02"})  # fmt: skip
    row = await order_of(sim, "lim-1")
    assert (row["price"], row["qty"]) == ("89000.50", "0.020")
    amend = {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "lim-1"}
    assert (await sim.code("/v5/order/amend", amend))[0] == 34040
    assert (await sim.code("/v5/order/amend", {**amend, "price": "89000.55"})) == (10001, "Price invalid")
    cancel = {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "lim-1"}
    assert (await sim.ok("/v5/order/cancel", cancel))["result"]["orderLinkId"] == "lim-1"
    assert (await order_of(sim, "lim-1"))["orderStatus"] == "Cancelled"
    assert (await order_of(sim, "lim-1"))["cancelType"] == "CancelByUser"
    assert (await sim.code("/v5/order/cancel", cancel))[0] == 110008
    assert (await sim.code("/v5/order/cancel", {**cancel, "orderLinkId": "nobody"}))[0] == 110001
    assert (await sim.code("/v5/order/amend", {**amend, "qty": "0.03"}))[0] == 110001


async def test_derivative_increments_are_refused_with_bybits_codes(sim: Sim) -> None:
    cases = [
        (linear(price="90000.05"), (10001, "Price invalid")),
        (linear(qty="0.0105"), (10001, "Qty invalid")),
        (linear(qty="0.0001"), (10001, "Qty invalid")),
        (linear(qty="0.001", price="1000"), (110094, "Order notional value below the lower limit")),
        (linear(qty="2000"), None),
        (linear(symbol="BTCUSD", category="inverse", qty="1.5", price="90000"), (10001, "Qty invalid")),
    ]
    for body, expected in cases:
        code, message = await sim.code(CREATE, body)
        if expected is None:
            assert code == 10001
            assert message.startswith("The number of contracts exceeds maximum limit allowed")
        else:
            assert (code, message) == expected, body
    assert (await sim.code(CREATE, linear(qty=0.01)))[0] == 10001  # Bybit types qty as a string
    assert (await sim.code("/v5/order/realtime", "category=linear&symbol=BTCUSDT")) == (0, "OK")


async def test_spot_increments_are_refused_with_spot_codes(sim: Sim) -> None:
    assert await sim.code(CREATE, spot(price="90000.05")) == (170134, "Order price decimal too long")
    assert await sim.code(CREATE, spot(qty="0.0000015")) == (170137, "Order volume decimal too long")
    assert await sim.code(CREATE, spot(qty="0.00001")) == (170140, "Order value exceeded lower limit")
    assert await sim.code(CREATE, spot(qty="100")) == (170381, "Order quantity too large.")
    assert await sim.code(CREATE, spot(side="Sell", qty="0.01", price="200000")) == (170131, "Balance insufficient")


async def test_order_link_ids_are_checked_and_unique(sim: Sim) -> None:
    await sim.ok(CREATE, linear(orderLinkId="same-id"))
    assert await sim.code(CREATE, linear(orderLinkId="same-id")) == (110072, "OrderLinkedID is duplicate")
    assert (await sim.code(CREATE, linear(orderLinkId="x" * 37)))[0] == 10001
    assert (await sim.code(CREATE, linear(orderLinkId="x" * 36)))[0] == 0
    assert (await sim.code(CREATE, linear(orderLinkId="has space")))[0] == 10001
    option = {"category": "option", "symbol": "BTC-27MAR26-100000-C", "side": "Buy", "orderType": "Limit",
              "qty": "0.01", "price": "5"}  # fmt: skip
    code, message = await sim.code(CREATE, option)
    assert code == 10001
    assert "orderLinkId" in message
    assert (await sim.code(CREATE, {**option, "orderLinkId": "opt-1"}))[0] == 0


async def test_post_only_crossing_and_unfillable_fok_end_cancelled(sim: Sim) -> None:
    last = await last_price(sim)
    crossing = str((last * Decimal("1.01")).quantize(Decimal("0.1")))
    ack = await sim.ok(CREATE, linear(price=crossing, timeInForce="PostOnly", orderLinkId="po-1"))
    assert ack["result"]["orderLinkId"] == "po-1"
    row = await order_of(sim, "po-1")
    assert (row["orderStatus"], row["rejectReason"], row["cumExecQty"]) == (
        "Cancelled", "EC_PostOnlyWillTakeLiquidity", "0.000"
    )  # fmt: skip
    resting = str((last * Decimal("0.9")).quantize(Decimal("0.1")))
    await sim.ok(CREATE, linear(price=resting, timeInForce="PostOnly", orderLinkId="po-2"))
    assert (await order_of(sim, "po-2"))["orderStatus"] == "New"
    await sim.ok(CREATE, linear(price=resting, timeInForce="FOK", orderLinkId="fok-1"))
    assert (await order_of(sim, "fok-1"))["orderStatus"] == "Cancelled"
    assert (await sim.code(CREATE, linear(orderLinkId="po-1")))[0] == 110072  # its id stays used


async def test_batch_reports_each_leg_and_a_partial_failure(sim: Sim) -> None:
    await sim.ok(CREATE, linear(orderLinkId="taken"))
    legs = [
        {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "80000",
         "orderLinkId": "b1"},
        {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "80000",
         "orderLinkId": "taken"},
        {"symbol": "ETHUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.1", "price": "3000.001"},
        {"symbol": "ETHUSDT", "side": "Sell", "orderType": "Limit", "qty": "0.1", "price": "9000", "orderLinkId": "b4"},
    ]  # fmt: skip
    body = await sim.ok("/v5/order/create-batch", {"category": "linear", "request": legs})
    results, codes = body["result"]["list"], body["retExtInfo"]["list"]
    assert len(results) == len(codes) == 4
    assert [c["code"] for c in codes] == [0, 110072, 10001, 0]
    assert [r["orderLinkId"] for r in results] == ["b1", "", "", "b4"]
    assert results[0]["symbol"] == "BTCUSDT"
    assert results[0]["createAt"] == str(T0_MS)
    assert results[1]["orderId"] == ""
    assert (await order_of(sim, "b4"))["orderStatus"] == "New"
    too_many = {"category": "linear", "request": [dict(legs[0], orderLinkId=f"m{i}") for i in range(21)]}
    assert (await sim.code("/v5/order/create-batch", too_many))[0] == 10001
    spot_legs = [{"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": "80000"}] * 11
    assert (await sim.code("/v5/order/create-batch", {"category": "spot", "request": spot_legs}))[0] == 10001
    assert (await sim.code("/v5/order/create-batch", {"category": "spot", "request": spot_legs[:10]}))[0] == 0


async def test_open_orders_page_newest_first_with_an_opaque_cursor(sim: Sim) -> None:
    for i in range(7):
        await sim.ok(CREATE, linear(price=str(80000 + i), orderLinkId=f"p{i}"))
    links: list[str] = []
    query = "category=linear&symbol=BTCUSDT&limit=3"
    cursors = []
    while True:
        result = (await sim.ok("/v5/order/realtime", query))["result"]
        links += [o["orderLinkId"] for o in result["list"]]
        if not result["nextPageCursor"]:
            break
        cursors.append(result["nextPageCursor"])
        query = f"category=linear&symbol=BTCUSDT&limit=3&cursor={result['nextPageCursor']}"
    assert links == [f"p{i}" for i in range(6, -1, -1)]
    assert len(cursors) == 2
    assert all(c.startswith("page_args%3D") for c in cursors)
    await sim.ok("/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"})
    assert (await sim.ok("/v5/order/realtime", "category=linear&symbol=BTCUSDT"))["result"]["list"] == []
    closed = (await sim.ok("/v5/order/realtime", "category=linear&symbol=BTCUSDT&openOnly=1&limit=50"))["result"]
    assert len(closed["list"]) == 7
    history = (await sim.ok("/v5/order/history", "category=linear&limit=50"))["result"]["list"]
    assert len(history) == 7
    assert {o["orderStatus"] for o in history} == {"Cancelled"}
    assert (await sim.code("/v5/order/realtime", "category=linear&symbol=BTCUSDT&cursor=garbage"))[0] == 10001


async def test_paging_survives_an_order_leaving_between_pages(sim: Sim) -> None:
    for i in range(6):
        await sim.ok(CREATE, linear(price=str(80000 + i), orderLinkId=f"q{i}"))
    first = (await sim.ok("/v5/order/realtime", "category=linear&symbol=BTCUSDT&limit=3"))["result"]
    assert [o["orderLinkId"] for o in first["list"]] == ["q5", "q4", "q3"]
    await sim.ok("/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "q3"})
    query = f"category=linear&symbol=BTCUSDT&limit=3&cursor={first['nextPageCursor']}"
    second = (await sim.ok("/v5/order/realtime", query))["result"]
    assert [o["orderLinkId"] for o in second["list"]] == ["q2", "q1", "q0"]
    assert second["nextPageCursor"] == ""
    assert (await sim.code("/v5/order/cancel-all", {"category": "linear"}))[0] == 10001


async def test_reduce_only_and_insufficient_margin(sim: Sim) -> None:
    assert (await sim.code(CREATE, linear(side="Sell", orderType="Market", price=None, reduceOnly=True)))[0] == 110017
    await sim.ok(CREATE, linear(orderType="Market", price=None, qty="0.02"))
    await sim.ok(CREATE, linear(side="Sell", orderType="Market", price=None, qty="0.05", reduceOnly=True,
                                orderLinkId="ro"))  # fmt: skip
    assert (await order_of(sim, "ro"))["qty"] == "0.020"  # cut to the position
    assert (await position(sim))["size"] == "0.000"
    assert await sim.code(CREATE, linear(qty="500", price="100000")) == (110007, "Available balance is insufficient")
    await sim.ok(CREATE, linear(orderType="Market", price=None, qty="0.03"))
    close_all = linear(side="Sell", orderType="Market", price=None, qty="0", reduceOnly=True, closeOnTrigger=True)
    await sim.ok(CREATE, close_all)
    assert (await position(sim))["size"] == "0.000"
    assert (await sim.code(CREATE, close_all))[0] == 110017
    assert (await sim.code(CREATE, linear(positionIdx=1)))[0] == 10001  # one-way mode only


async def test_leverage_is_set_once_and_shown(sim: Sim) -> None:
    body = {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "25", "sellLeverage": "25"}
    assert (await sim.ok("/v5/position/set-leverage", body))["result"] == {}
    assert await sim.code("/v5/position/set-leverage", body) == (110043, "Set leverage has not been modified.")
    assert (await sim.code("/v5/position/set-leverage", {**body, "sellLeverage": "20"}))[0] == 10001
    assert (await sim.code("/v5/position/set-leverage", {**body, "buyLeverage": "101", "sellLeverage": "101"}))[0] == (
        10001
    )  # fmt: skip
    assert (await sim.code("/v5/position/set-leverage", {**body, "category": "spot"})) == (10001, "Illegal category")
    assert (await position(sim))["leverage"] == "25"


async def test_take_profit_and_stop_loss_sit_on_the_position_and_fire(sim: Sim, clock: ManualClock) -> None:
    last = await last_price(sim)
    tp, sl = (last * Decimal("1.003")).quantize(Decimal("0.1")), (last * Decimal("0.997")).quantize(Decimal("0.1"))
    bad = linear(orderType="Market", price=None, takeProfit=str(sl))
    assert (await sim.code(CREATE, bad))[0] == 10001  # a Buy's take-profit must be above the price
    await sim.ok(CREATE, linear(orderType="Market", price=None, takeProfit=str(tp), stopLoss=str(sl),
                                orderLinkId="with-tpsl"))  # fmt: skip
    pos = await position(sim)
    assert (pos["takeProfit"], pos["stopLoss"]) == (f"{tp:.2f}", f"{sl:.2f}")
    stop = {"category": "linear", "symbol": "BTCUSDT", "tpslMode": "Full", "positionIdx": 0}
    assert (await sim.code("/v5/position/trading-stop", {**stop, "stopLoss": str(sl)}))[0] == 34040
    await sim.ok("/v5/position/trading-stop", {**stop, "takeProfit": "0"})
    assert (await position(sim))["takeProfit"] == "0"
    await sim.ok("/v5/position/trading-stop", {**stop, "takeProfit": str(tp)})
    venue = sim.venue
    model = venue.market.model
    t0 = clock.now()
    hit_tp = model.first_cross("BTCUSDT", t0, t0 + 86_400, float(tp), True)
    hit_sl = model.first_cross("BTCUSDT", t0, t0 + 86_400, float(sl), False)
    assert hit_tp is not None or hit_sl is not None  # within a day a 0.3 % move happens on this seed
    clock.advance(86_400)
    assert (await position(sim))["size"] == "0.000"
    closing = (await sim.ok("/v5/order/history", "category=linear&symbol=BTCUSDT&limit=50"))["result"]["list"][0]
    first = "TakeProfit" if hit_sl is None or (hit_tp is not None and hit_tp < hit_sl) else "StopLoss"
    assert (closing["stopOrderType"], closing["createType"], closing["reduceOnly"]) == (
        first, f"CreateBy{first}", True
    )  # fmt: skip
    assert await sim.code("/v5/position/trading-stop", {**stop, "takeProfit": str(tp)}) == (
        10001, "can not set tp/sl/ts for zero position"
    )  # fmt: skip


async def test_spot_market_buy_spends_quote_and_the_wallet_shows_coins(sim: Sim) -> None:
    before = (await sim.ok("/v5/account/wallet-balance", "accountType=UNIFIED&coin=BTC,USDT"))["result"]["list"][0]
    coins = {c["coin"]: c for c in before["coin"]}
    assert (coins["BTC"]["walletBalance"], coins["USDT"]["walletBalance"]) == ("2", "100000")
    await sim.ok(CREATE, spot(orderType="Market", price=None, qty="1000", orderLinkId="spot-mkt"))
    row = await order_of(sim, "spot-mkt", "spot")
    assert row["marketUnit"] == "quoteCoin"
    assert row["orderStatus"] == "Filled"
    bought = Decimal(row["cumExecQty"])
    assert Decimal("900") < Decimal(row["cumExecValue"]) <= Decimal("1000")
    after = (await sim.ok("/v5/account/wallet-balance", "accountType=UNIFIED&coin=BTC,USDT"))["result"]["list"][0]
    coins = {c["coin"]: c for c in after["coin"]}
    assert Decimal(coins["BTC"]["walletBalance"]) == 2 + bought
    fee = Decimal(row["cumFeeDetail"]["USDT"])
    assert fee > 0
    assert Decimal(coins["USDT"]["walletBalance"]) == 100000 - Decimal(row["cumExecValue"]) - fee
    assert Decimal(after["totalEquity"]) > 0
    assert after["accountType"] == "UNIFIED"
    assert (await sim.code("/v5/account/wallet-balance", "accountType=CONTRACT"))[0] == 10001


async def test_conditional_orders_wait_and_check_the_direction(sim: Sim) -> None:
    last = await last_price(sim)
    above = str((last * Decimal("1.02")).quantize(Decimal("0.1")))
    below = str((last * Decimal("0.98")).quantize(Decimal("0.1")))
    await sim.ok(CREATE, linear(orderType="Market", price=None, triggerPrice=above, triggerDirection=1,
                                orderLinkId="cond"))  # fmt: skip
    row = await order_of(sim, "cond")
    assert (row["orderStatus"], row["stopOrderType"], row["triggerDirection"]) == ("Untriggered", "Stop", 1)
    code, message = await sim.code(CREATE, linear(orderType="Market", price=None, triggerPrice=below,
                                                  triggerDirection=1))  # fmt: skip
    assert code == 110092
    assert message.startswith("expect Rising")


async def test_options_and_inverse_trade_in_their_own_units(sim: Sim) -> None:
    await sim.ok(CREATE, {"category": "inverse", "symbol": "BTCUSD", "side": "Buy", "orderType": "Market",
                          "qty": "1000", "orderLinkId": "inv"})  # fmt: skip
    row = await order_of(sim, "inv", "inverse")
    assert row["orderStatus"] == "Filled"
    assert Decimal(row["cumExecValue"]) < 1
    pos = (await sim.ok("/v5/position/list", "category=inverse&symbol=BTCUSD"))["result"]["list"][0]
    assert pos["size"] == "1000"
    await sim.ok(CREATE, {"category": "option", "symbol": "BTC-27MAR26-100000-C", "side": "Buy",
                          "orderType": "Market", "qty": "0.1", "orderLinkId": "opt-mkt"})  # fmt: skip
    opt = (await sim.ok("/v5/position/list", "category=option"))["result"]["list"]
    assert [p["symbol"] for p in opt] == ["BTC-27MAR26-100000-C"]
    assert opt[0]["delta"] != ""
    assert opt[0]["leverage"] == ""
