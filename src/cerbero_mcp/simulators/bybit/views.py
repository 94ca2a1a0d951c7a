"""How the Bybit simulator shows its account: orders, executions, positions and the unified wallet.

Shapes follow docs/v5/order/open-order.mdx, order-list.mdx, execution.mdx, position/position.mdx,
account/wallet-balance.mdx and account-info.mdx; every number is a string. The unified wallet is
valued in USD with USDT and USDC at 1 and BTC/ETH at their index; spot holdings (the engine keeps
them as positions paid in full from the quote coin) are shown as coin balances, the way Bybit's
unified account has no spot positions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.bybit.trading import ACCOUNT, Record, Trading, market_price
from cerbero_mcp.simulators.bybit.wire import fnum, ms, on_step, text
from cerbero_mcp.simulators.engine import CancelReason, Fill, OrderStatus, PositionSnapshot, Side
from cerbero_mcp.simulators.engine.valuation import dec

ZERO = Decimal(0)
STATUS = {
    OrderStatus.NEW: "New",
    OrderStatus.PARTIALLY_FILLED: "PartiallyFilled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.REJECTED: "Rejected",
    OrderStatus.UNTRIGGERED: "Untriggered",
}
CANCEL_TYPE = {
    CancelReason.USER: "CancelByUser",
    CancelReason.REDUCE_ONLY: "CancelByReduceOnly",
    CancelReason.INSTRUMENT_EXPIRED: "CancelBySettle",
    CancelReason.EXPIRED: "CancelByUser",
    CancelReason.IOC_REMAINDER: "UNKNOWN",
}
COINS = ("USDT", "USDC", "BTC", "ETH")


def side_text(side: Side) -> str:
    """Return Bybit's spelling of a side."""
    return "Buy" if side is Side.BUY else "Sell"


def order_status(rec: Record) -> str:
    """Return Bybit's orderStatus of a record."""
    o = rec.order
    if o.status is OrderStatus.CANCELLED and rec.category == "spot" and o.filled_qty > 0:
        return "PartiallyFilledCanceled"
    if o.status is OrderStatus.CANCELLED and rec.trigger_price is not None and o.triggered_at is None:
        return "Deactivated"
    return STATUS[o.status]


def value_of(rec: Record, qty: Decimal, price: Decimal | None) -> Decimal:
    """Return the quote value of `qty` at `price` (inverse: coin value)."""
    if price is None or price == 0:
        return ZERO
    return qty / price if rec.category == "inverse" else qty * price


def order_json(rec: Record, fees: Decimal) -> dict[str, Any]:
    """Return one order as /v5/order/realtime and /v5/order/history show it."""
    o, spec = rec.order, rec.spec
    status = order_status(rec)
    leaves = o.remaining if o.is_open else ZERO
    avg = o.avg_fill_price
    cum_value = value_of(rec, o.filled_qty, avg)
    fee_coin = spec.settle  # the engine charges every fee in the settle coin (spot: the quote coin)
    qty_step = spec.qty_step

    def px(x: Decimal | None) -> str:
        return on_step(x, spec.tick) if x is not None else "0"

    cancel_type = CANCEL_TYPE.get(o.cancel_reason, "UNKNOWN") if o.cancel_reason is not None else "UNKNOWN"
    out: dict[str, Any] = {
        "orderId": rec.order_id, "orderLinkId": rec.link_id, "blockTradeId": "", "symbol": spec.symbol,
        "price": market_price(rec), "qty": on_step(o.qty, qty_step), "side": side_text(o.side), "isLeverage": "0"
        if rec.category == "spot" else "", "positionIdx": 0, "orderStatus": status, "cancelType": cancel_type,
        "rejectReason": rec.reject_reason, "avgPrice": px(avg) if avg is not None else ("" if rec.category ==
        "spot" else "0"), "leavesQty": on_step(leaves, qty_step), "leavesValue": text(value_of(rec, leaves,
        o.price)), "cumExecQty": on_step(o.filled_qty, qty_step), "cumExecValue": text(cum_value),
        "cumExecFee": text(fees), "timeInForce": rec.tif, "orderType": rec.order_type,
        "stopOrderType": rec.stop_order_type, "orderIv": "", "marketUnit": rec.market_unit,
        "triggerPrice": px(rec.trigger_price), "takeProfit": px(rec.take_profit), "stopLoss": px(rec.stop_loss),
        "tpslMode": "Full" if rec.take_profit is not None or rec.stop_loss is not None else "",
        "ocoTriggerBy": "", "tpLimitPrice": "", "slLimitPrice": "",
        "tpTriggerBy": "LastPrice" if rec.take_profit is not None else "",
        "slTriggerBy": "LastPrice" if rec.stop_loss is not None else "",
        "triggerDirection": rec.trigger_direction,
        "triggerBy": "LastPrice" if rec.trigger_price is not None else "UNKNOWN",
        "lastPriceOnCreated": px(rec.last_price) if rec.category != "spot" else "",
        "basePrice": px(rec.last_price) if rec.category == "spot" else "",
        "reduceOnly": o.reduce_only, "closeOnTrigger": False, "placeType": "", "smpType": "None", "smpGroup": 0,
        "smpOrderId": "", "createdTime": str(rec.created_ms), "updatedTime": str(ms(o.updated_at)),
        "cumFeeDetail": {fee_coin: text(fees)} if fees else {},
    }  # fmt: skip
    if rec.category != "spot":
        out["createType"] = rec.create_type
    return out


def execution_json(rec: Record, fill: Fill, mark: Decimal) -> dict[str, Any]:
    """Return one fill as /v5/execution/list shows it."""
    spec, o = rec.spec, rec.order
    value = value_of(rec, fill.qty, fill.price)
    rate = fill.fee / value if value else ZERO  # both in the settle coin, inverse included
    return {
        "symbol": spec.symbol, "orderType": rec.order_type, "underlyingPrice": "", "orderLinkId": rec.link_id,
        "side": side_text(fill.side), "indexPrice": "", "orderId": o.id, "stopOrderType": rec.stop_order_type,
        "leavesQty": on_step(o.remaining if o.is_open else ZERO, spec.qty_step), "execTime": str(ms(fill.time)),
        "feeCurrency": spec.settle if rec.category != "spot" else "", "isMaker": fill.liquidity == "maker",
        "execFee": text(fill.fee), "feeRate": text(rate.quantize(Decimal("0.000001"))) if value else "0",
        "execId": fill.id, "tradeIv": "", "blockTradeId": "", "markPrice": on_step(mark, spec.tick),
        "execPrice": on_step(fill.price, spec.tick), "markIv": "", "orderQty": on_step(o.qty, spec.qty_step),
        "orderPrice": market_price(rec), "execValue": text(value), "execType": "Trade",
        "execQty": on_step(fill.qty, spec.qty_step), "closedSize": text(fill.qty) if fill.realized_pnl else "0",
        "extraFees": "", "seq": int(fill.time * 1000),
    }  # fmt: skip


def position_json(t: Trading, key: str, snap: PositionSnapshot | None, now: float) -> dict[str, Any]:
    """Return one position as /v5/position/list shows it (a flat one when `snap` is None)."""
    spec = t.market.by_key[key]
    inst = t.market.instrument(spec)
    stops = t.stops.get(key)
    mark = snap.mark_price if snap is not None else dec(t.market.model.mid(key, now))
    lev = t.exchange.account(ACCOUNT).leverage_by_symbol.get(key, Decimal(10))

    def px(x: Decimal | None) -> str:
        return on_step(x, spec.tick) if x is not None else "0"

    size = abs(snap.qty) if snap is not None else ZERO
    side = "" if snap is None else ("Buy" if snap.qty > 0 else "Sell")
    mm = (snap.initial_margin / 2) if snap is not None else ZERO  # a flat 50 % of initial margin as maintenance
    option = spec.category == "option"
    greeks: dict[str, str] = {"delta": "", "gamma": "", "vega": "", "theta": ""}
    if option and snap is not None:
        o = t.market.model.option_snapshot(key, now)
        q = float(snap.qty)
        greeks = {"delta": fnum(o.delta * q, 8), "gamma": fnum(o.gamma * q, 8), "vega": fnum(o.vega * q / 100, 8),
                  "theta": fnum(o.theta * q / 365, 8)}  # fmt: skip
    liq = ""
    if snap is not None and not option and not inst.inverse:
        # isolated-style estimate: the price at which the position's initial margin is lost
        move = snap.initial_margin / size if size else ZERO
        liq_price = snap.avg_price - move if snap.qty > 0 else snap.avg_price + move
        liq = px(inst.round_price(float(liq_price))) if liq_price > 0 else ""
    return {
        "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": spec.symbol, "side": side,
        "size": on_step(size, spec.qty_step), "avgPrice": text(snap.avg_price) if snap is not None else "0",
        "positionValue": text(snap.notional) if snap is not None else "0", "tradeMode": 0, "positionStatus": "Normal",
        "autoAddMargin": 0, "adlRankIndicator": 2 if snap is not None else 0,
        "leverage": "" if option else text(lev), "breakEvenPrice": text(snap.avg_price) if snap is not None and
        not option else "", "positionBalance": text(snap.initial_margin) if snap is not None else "0",
        "markPrice": px(inst.round_price(float(mark))) if not option else text(mark), "liqPrice": liq,
        "bustPrice": "", "positionMM": text(mm), "positionMMByMp": text(mm),
        "positionIM": text(snap.initial_margin) if snap is not None else "0",
        "positionIMByMp": text(snap.initial_margin) if snap is not None else "0", "tpslMode": "Full",
        "takeProfit": px(stops.take_profit) if stops is not None and stops.take_profit is not None else "0",
        "stopLoss": px(stops.stop_loss) if stops is not None and stops.stop_loss is not None else "0",
        "trailingStop": "0", "sessionAvgPrice": "", **greeks,
        "unrealisedPnl": text(snap.unrealized_pnl) if snap is not None else "0",
        "curRealisedPnl": text(snap.realized_pnl) if snap is not None else "0",
        "cumRealisedPnl": "" if option else text(snap.realized_pnl if snap is not None else ZERO),
        "seq": int(now * 1000), "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
        "createdTime": str(t.first_seen.get(key, ms(now))), "updatedTime": str(ms(now)),
    }  # fmt: skip


def usd_price(t: Trading, coin: str, now: float) -> Decimal:
    """Return one unit of `coin` in USD (stablecoins at 1, coins at their index)."""
    if coin in ("USDT", "USDC"):
        return Decimal(1)
    return dec(round(t.market.model.index(coin, now), 8))


def wallet_json(t: Trading, coins: list[str] | None, now: float) -> dict[str, Any]:
    """Return the UNIFIED wallet as /v5/account/wallet-balance shows it."""
    ex = t.exchange
    acct = ex.account(ACCOUNT)
    summaries = {s.currency: s for s in ex.summaries(ACCOUNT)}
    spot_qty: dict[str, Decimal] = {}
    spot_cost: dict[str, Decimal] = {}
    spot_im: dict[str, Decimal] = {}
    spot_upnl: dict[str, Decimal] = {}
    for snap in ex.positions(ACCOUNT):
        spec = t.market.by_key[snap.instrument]
        if spec.category == "spot":
            spot_qty[spec.base] = spot_qty.get(spec.base, ZERO) + snap.qty
            spot_cost[spec.quote] = spot_cost.get(spec.quote, ZERO) + snap.qty * snap.avg_price
            spot_im[spec.quote] = spot_im.get(spec.quote, ZERO) + snap.initial_margin
            spot_upnl[spec.quote] = spot_upnl.get(spec.quote, ZERO) + snap.unrealized_pnl
    rows = []
    totals = dict.fromkeys(("equity", "wallet", "upl", "im", "mm"), ZERO)
    for coin in COINS:
        s = summaries.get(coin)
        cash = acct.balances.get(coin, ZERO)
        wallet = cash - spot_cost.get(coin, ZERO) + spot_qty.get(coin, ZERO)
        upnl = (s.unrealized_pnl - spot_upnl.get(coin, ZERO)) if s is not None else ZERO
        pos_im = (s.initial_margin - spot_im.get(coin, ZERO)) if s is not None else ZERO
        order_im = s.order_margin if s is not None else ZERO
        equity = wallet + upnl
        usd = usd_price(t, coin, now)
        totals["equity"] += equity * usd
        totals["wallet"] += wallet * usd
        totals["upl"] += upnl * usd
        totals["im"] += (pos_im + order_im) * usd
        totals["mm"] += pos_im / 2 * usd
        if (coins is None and wallet == 0 and upnl == 0) or (coins is not None and coin not in coins):
            continue
        rows.append({
            "availableToBorrow": "", "bonus": "0", "accruedInterest": "0", "availableToWithdraw": "",
            "totalOrderIM": text(order_im), "equity": text(equity), "totalPositionMM": text(pos_im / 2),
            "usdValue": text((equity * usd).quantize(Decimal("0.00000001"))), "spotHedgingQty": "0",
            "unrealisedPnl": text(upnl), "collateralSwitch": True, "borrowAmount": "0",
            "totalPositionIM": text(pos_im), "walletBalance": text(wallet),
            "cumRealisedPnl": text(s.realized_pnl) if s is not None else "0", "locked": "0",
            "marginCollateral": True, "coin": coin, "spotBorrow": "0", "free": "",
        })  # fmt: skip
    q = Decimal("0.00000001")
    margin_balance = totals["wallet"] + totals["upl"]
    im_rate = totals["im"] / totals["equity"] if totals["equity"] > 0 else ZERO
    mm_rate = totals["mm"] / totals["equity"] if totals["equity"] > 0 else ZERO
    rate_q = Decimal("0.0001")
    return {
        "list": [{
            "totalEquity": text(totals["equity"].quantize(q)), "accountIMRate": text(im_rate.quantize(rate_q)),
            "accountIMRateByMp": text(im_rate.quantize(rate_q)), "totalMarginBalance": text(margin_balance.quantize(q)),
            "totalInitialMargin": text(totals["im"].quantize(q)),
            "totalInitialMarginByMp": text(totals["im"].quantize(q)), "accountType": "UNIFIED",
            "totalAvailableBalance": text((margin_balance - totals["im"]).quantize(q)),
            "accountMMRate": text(mm_rate.quantize(Decimal("0.0001"))),
            "accountMMRateByMp": text(mm_rate.quantize(Decimal("0.0001"))),
            "totalPerpUPL": text(totals["upl"].quantize(q)), "totalWalletBalance": text(totals["wallet"].quantize(q)),
            "accountLTV": "0", "totalMaintenanceMargin": text(totals["mm"].quantize(q)),
            "totalMaintenanceMarginByMp": text(totals["mm"].quantize(q)), "coin": rows,
        }]
    }  # fmt: skip


def account_info_json(created_ms: int) -> dict[str, Any]:
    """Return /v5/account/info for the simulated unified account."""
    return {
        "marginMode": "REGULAR_MARGIN", "updatedTime": str(created_ms), "unifiedMarginStatus": 6,
        "dcpStatus": "OFF", "timeWindow": 0, "smpGroup": 0, "isMasterTrader": False, "spotHedgingStatus": "OFF",
    }  # fmt: skip
