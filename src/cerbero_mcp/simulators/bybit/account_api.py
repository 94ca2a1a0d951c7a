"""The Bybit simulator's signed endpoints (account, positions, orders, executions), one handler each.

Parameter rules are those of docs/v5/account, position and order pages; a missing or malformed
parameter is 10001, a category the endpoint does not serve 10001 "Illegal category".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.bybit.market import MAKER_FEE, OPTION_FEE, SPOT_FEE, TAKER_FEE
from cerbero_mcp.simulators.bybit.routing import Call, WithExt, category, page
from cerbero_mcp.simulators.bybit.trading import ACCOUNT, Record, Trading
from cerbero_mcp.simulators.bybit.views import account_info_json, execution_json, order_json, position_json, wallet_json
from cerbero_mcp.simulators.bybit.wire import BybitError, Params, ms, param_error, text
from cerbero_mcp.simulators.engine.valuation import dec

BATCH_LIMITS = {"linear": 20, "inverse": 20, "option": 20, "spot": 10}
WEEK_MS = 7 * 86_400_000
CLOSED_KEPT = 500
SEQ_TOP = 10**12


def newest_first(rec: Record) -> str:
    """Return a paging key that sorts orders newest first."""
    return f"{SEQ_TOP - rec.seq:013d}"


# --- account and positions ----------------------------------------------------------------------------


def wallet_balance(c: Call) -> dict[str, Any]:
    """GET /v5/account/wallet-balance (UNIFIED only)."""
    p = c.params
    if p.text("accountType") != "UNIFIED":
        raise param_error("accountType only support UNIFIED.")
    coins = p.opt("coin")
    return wallet_json(c.trading, coins.split(",") if coins else None, c.now)


def account_info(c: Call) -> dict[str, Any]:
    """GET /v5/account/info."""
    return account_info_json(c.venue.created_ms)


def fee_rate(c: Call) -> dict[str, Any]:
    """GET /v5/account/fee-rate (not served by Demo Trading)."""
    p = c.params
    cat = category(p)
    symbol = p.opt("symbol")
    specs = [c.market.spec(cat, symbol)] if symbol is not None else c.market.listed(cat, c.now)
    taker, maker = {"spot": (SPOT_FEE, SPOT_FEE), "option": (OPTION_FEE, OPTION_FEE)}.get(cat, (TAKER_FEE, MAKER_FEE))
    rows = [{"symbol": s.symbol, "baseCoin": s.base if cat == "option" else "", "takerFeeRate": text(taker),
             "makerFeeRate": text(maker)} for s in specs]  # fmt: skip
    return {"category": cat, "list": rows}


def position_list(c: Call) -> dict[str, Any]:
    """GET /v5/position/list."""
    p = c.params
    cat = category(p, ("linear", "inverse", "option"))
    symbol, settle, base = p.opt("symbol"), p.opt("settleCoin"), p.opt("baseCoin")
    if cat == "linear" and symbol is None and settle is None:
        raise param_error("params error: symbol or settleCoin is required")
    limit = p.integer("limit", 20, lo=1, hi=200)
    ex = c.trading.exchange
    snaps = {s.instrument: s for s in ex.positions(ACCOUNT)}
    if symbol is not None:
        spec = c.market.spec(cat, symbol)
        rows = [position_json(c.trading, spec.key, snaps.get(spec.key), c.now)]
    else:
        keys = sorted(k for k in snaps if (s := c.market.by_key[k]).category == cat
                      and (settle is None or s.settle == settle) and (base is None or s.base == base))  # fmt: skip
        rows = [position_json(c.trading, k, snaps[k], c.now) for k in keys]
    chunk, nxt = page(rows, lambda r: str(r["symbol"]), limit, p.opt("cursor"))
    return {"category": cat, "list": chunk, "nextPageCursor": nxt}


def set_leverage(c: Call) -> dict[str, Any]:
    """POST /v5/position/set-leverage."""
    c.trading.set_leverage(category(c.params, ("linear", "inverse")), c.params)
    return {}


def trading_stop(c: Call) -> dict[str, Any]:
    """POST /v5/position/trading-stop."""
    c.trading.trading_stop(category(c.params, ("linear", "inverse", "option")), c.params, c.now)
    return {}


# --- orders -------------------------------------------------------------------------------------------


def _fees(t: Trading, rec: Record) -> Decimal:
    return sum((f.fee for f in t.exchange.fills(ACCOUNT, rec.spec.key) if f.order_id == rec.order_id), Decimal(0))


def create_order(c: Call) -> dict[str, Any]:
    """POST /v5/order/create: an acknowledgement only."""
    rec = c.trading.create(category(c.params), c.params, c.now)
    return {"orderId": rec.order_id, "orderLinkId": rec.link_id}


def create_batch(c: Call) -> WithExt:
    """POST /v5/order/create-batch: every leg on its own, results and codes in two parallel lists."""
    p = c.params
    cat = category(p)
    legs = p.items("request")
    if not legs:
        raise param_error("params error: request is required")
    if len(legs) > BATCH_LIMITS[cat]:
        raise param_error(f"params error: at most {BATCH_LIMITS[cat]} orders per batch for {cat}")
    results, codes = [], []
    for leg in legs:
        try:
            rec = c.trading.create(cat, Params(leg, from_query=False), c.now)
        except BybitError as exc:
            results.append({"category": "", "symbol": "", "orderId": "", "orderLinkId": "", "createAt": ""})
            codes.append({"code": exc.code, "msg": exc.message})
            continue
        results.append({"category": cat, "symbol": rec.spec.symbol, "orderId": rec.order_id,
                        "orderLinkId": rec.link_id, "createAt": str(rec.created_ms)})  # fmt: skip
        codes.append({"code": 0, "msg": "OK"})
    return WithExt({"list": results}, {"list": codes})


def amend_order(c: Call) -> dict[str, Any]:
    """POST /v5/order/amend."""
    rec = c.trading.amend(category(c.params), c.params, c.now)
    return {"orderId": rec.order_id, "orderLinkId": rec.link_id}


def cancel_order(c: Call) -> dict[str, Any]:
    """POST /v5/order/cancel."""
    rec = c.trading.cancel(category(c.params), c.params, c.now)
    return {"orderId": rec.order_id, "orderLinkId": rec.link_id}


def cancel_all(c: Call) -> dict[str, Any]:
    """POST /v5/order/cancel-all."""
    recs = c.trading.cancel_all(category(c.params), c.params, c.now)
    return {"list": [{"orderId": r.order_id, "orderLinkId": r.link_id} for r in recs], "success": "1"}


def _filtered(c: Call, cat: str) -> list[Record]:
    p = c.params
    recs = c.trading.select(cat, p.opt("symbol"), p.opt("baseCoin"), p.opt("settleCoin"))
    order_id, link = p.opt("orderId"), p.opt("orderLinkId")
    if order_id is not None:
        recs = [r for r in recs if r.order_id == order_id]
    elif link is not None:
        recs = [r for r in recs if r.link_id == link]
    flt = p.opt("orderFilter", choices=("Order", "StopOrder", "tpslOrder", "OcoOrder", "BidirectionalTpslOrder"))
    if flt == "Order":
        recs = [r for r in recs if r.trigger_price is None]
    elif flt == "StopOrder":
        recs = [r for r in recs if r.trigger_price is not None]
    elif flt is not None:
        recs = []
    return recs


def realtime(c: Call) -> dict[str, Any]:
    """GET /v5/order/realtime: open orders, or the recent closed ones with openOnly=1; newest first."""
    p = c.params
    cat = category(p)
    if cat == "linear" and not any(p.has(k) for k in ("symbol", "baseCoin", "settleCoin", "orderId", "orderLinkId")):
        raise param_error("params error: symbol, baseCoin or settleCoin is required")
    open_only = p.integer("openOnly", 0, lo=0, hi=2)
    limit = p.integer("limit", 20, lo=1, hi=50)
    recs = _filtered(c, cat)
    if not (p.has("orderId") or p.has("orderLinkId")):
        if open_only == 0:
            recs = [r for r in recs if r.order.is_open]
        else:
            recs = [r for r in recs if not r.order.is_open][:CLOSED_KEPT]
    chunk, nxt = page(recs, newest_first, limit, p.opt("cursor"))
    return {"category": cat, "nextPageCursor": nxt,
            "list": [order_json(r, _fees(c.trading, r)) for r in chunk]}  # fmt: skip


def _window(p: Params, now: float) -> tuple[int, int]:
    start, end = p.integer("startTime", -1), p.integer("endTime", -1)
    if start >= 0 and end >= 0:
        if end - start > WEEK_MS:
            raise param_error("params error: The time range between startTime and endTime cannot exceed 7 days")
        return start, end
    if start >= 0:
        return start, start + WEEK_MS
    end = end if end >= 0 else ms(now)
    return end - WEEK_MS, end


def order_history(c: Call) -> dict[str, Any]:
    """GET /v5/order/history: the last 7 days by default, newest first."""
    p = c.params
    cat = category(p)
    lo, hi = _window(p, c.now)
    status = p.opt("orderStatus")
    limit = p.integer("limit", 20, lo=1, hi=50)
    recs = [r for r in _filtered(c, cat) if lo <= r.created_ms <= hi]
    if status is not None:
        recs = [r for r in recs if order_json(r, Decimal(0))["orderStatus"] == status]
    chunk, nxt = page(recs, newest_first, limit, p.opt("cursor"))
    return {"category": cat, "nextPageCursor": nxt,
            "list": [order_json(r, _fees(c.trading, r)) for r in chunk]}  # fmt: skip


def executions(c: Call) -> dict[str, Any]:
    """GET /v5/execution/list: fills of the last 7 days by default, newest first."""
    p = c.params
    cat = category(p)
    lo, hi = _window(p, c.now)
    limit = p.integer("limit", 50, lo=1, hi=100)
    exec_type = p.opt("execType")
    recs = {r.order_id: r for r in _filtered(c, cat)}
    t = c.trading
    fills = [(n, f) for n, f in enumerate(t.exchange.fills(ACCOUNT)) if f.order_id in recs and lo <= ms(f.time) <= hi]
    if exec_type is not None and exec_type != "Trade":
        fills = []
    fills.reverse()
    chunk, nxt = page(fills, lambda nf: f"{SEQ_TOP - nf[0]:013d}", limit, p.opt("cursor"))
    rows = [execution_json(recs[f.order_id], f, dec(t.market.model.mid(f.instrument, f.time))) for _, f in chunk]
    return {"category": cat, "list": rows, "nextPageCursor": nxt}
