"""The Bybit simulator's market endpoints (unsigned GETs under /v5/market), one handler each.

Parameter rules (required fields, ranges, defaults) are those of each page of docs/v5/market; a
missing or malformed parameter is 10001, a category the endpoint does not serve 10001 "Illegal category".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.bybit.market import BOOK_LIMITS, INTERVALS, OI_INTERVALS, Spec
from cerbero_mcp.simulators.bybit.quotes import instrument_json, ticker_json
from cerbero_mcp.simulators.bybit.routing import Call, category, page
from cerbero_mcp.simulators.bybit.wire import BybitError, Params, fnum, make_cursor, on_step, param_error, read_cursor


def server_time(c: Call) -> dict[str, Any]:
    """GET /v5/market/time."""
    nanos = round(c.now * 1000) * 1_000_000
    return {"timeSecond": str(int(c.now)), "timeNano": str(nanos)}


def instruments_info(c: Call) -> dict[str, Any]:
    """GET /v5/market/instruments-info."""
    p = c.params
    cat = category(p)
    symbol, base = p.opt("symbol"), p.opt("baseCoin")
    status = p.text("status", "Trading")
    limit = p.integer("limit", 500, lo=1, hi=1000)
    if symbol is not None:
        spec = c.market.specs.get((cat, symbol))
        if spec is None:
            raise BybitError(10001, "params error: symbol invalid",
                             result={"category": "", "list": [], "nextPageCursor": ""})  # fmt: skip
        specs = [spec]
    else:
        specs = c.market.listed(cat, c.now)
        if cat == "option":
            base = base or "BTC"
        if base is not None and cat in ("linear", "inverse"):
            # documented quirk: by baseCoin, linear and inverse both list USDT, USDC and inverse contracts
            specs = [s for k in ("linear", "inverse") for s in c.market.listed(k, c.now) if s.base == base]
            specs.sort(key=lambda s: (s.delivery_ms, s.symbol_id))
        elif base is not None and cat == "option":
            specs = [s for s in specs if s.base == base]
    rows = [instrument_json(c.market, s, c.now) for s in specs]
    rows = [r for r in rows if symbol is not None or r["status"] == status]
    if cat == "spot":
        return {"category": cat, "list": rows}
    chunk, nxt = page(rows, lambda r: f"{int(r['deliveryTime']):015d}.{r['symbolId']:09d}", limit, p.opt("cursor"))
    return {"category": cat, "list": chunk, "nextPageCursor": nxt}


def tickers(c: Call) -> dict[str, Any]:
    """GET /v5/market/tickers."""
    p = c.params
    cat = category(p)
    symbol = p.opt("symbol")
    if symbol is not None:
        specs = [c.market.spec(cat, symbol)]
    else:
        specs = c.market.listed(cat, c.now)
        if cat == "option":
            base = p.opt("baseCoin")
            if base is None:
                raise param_error("params error: symbol or baseCoin is required for option")
            exp = p.opt("expDate")
            specs = [s for s in specs if s.base == base and (exp is None or s.symbol.split("-")[1] == exp)]
    return {"category": cat, "list": [ticker_json(c.market, s, c.now) for s in specs]}


def orderbook(c: Call) -> dict[str, Any]:
    """GET /v5/market/orderbook."""
    p = c.params
    cat = category(p)
    spec = c.market.spec(cat, p.text("symbol"))
    default, most = BOOK_LIMITS[cat]
    depth = p.integer("limit", default, lo=1, hi=most)
    ex = c.trading.exchange
    return c.market.book_json(spec, depth, c.now, lambda key, n: ex.book(key, min(n, 100)))


def _interval(p: Params, calendar: bool = True) -> str:
    interval = p.text("interval")
    if interval not in INTERVALS and not (calendar and interval in ("W", "M")):
        raise param_error("params error: interval invalid")
    return interval


def _range(p: Params) -> tuple[int | None, int | None]:
    start = p.integer("start", -1)
    end = p.integer("end", -1)
    return (start if start >= 0 else None), (end if end >= 0 else None)


def kline(c: Call) -> dict[str, Any]:
    """GET /v5/market/kline: [start, open, high, low, close, volume, turnover], newest first."""
    p = c.params
    cat = category(p, ("spot", "linear", "inverse"), default="linear")
    spec = c.market.spec(cat, p.text("symbol"))
    interval = _interval(p)
    start, end = _range(p)
    limit = p.integer("limit", 200, lo=1, hi=1000)
    inverse = cat == "inverse"
    rows = []
    for t, o, h, lo, cl, vol in c.market.candles(spec.key, interval, start, end, limit, c.now):
        mid = (o + cl) / 2
        turnover = vol / mid if inverse else vol * mid
        rows.append([str(int(t) * 1000), *(_px(spec, x) for x in (o, h, lo, cl)), fnum(vol, 8), fnum(turnover, 8)])
    return {"category": cat, "symbol": spec.symbol, "list": rows}


def _px(spec: Spec, x: float) -> str:
    return on_step(Decimal(round(x / float(spec.tick))) * spec.tick, spec.tick)


def mark_kline(c: Call) -> dict[str, Any]:
    """GET /v5/market/mark-price-kline: [start, open, high, low, close], newest first."""
    p = c.params
    cat = category(p, ("linear", "inverse", "option"), default="linear")
    spec = c.market.spec(cat, p.text("symbol"))
    interval = _interval(p)
    start, end = _range(p)
    limit = p.integer("limit", 200, lo=1, hi=500 if cat == "option" else 1000)
    rows = c.market.candles(spec.key, interval, start, end, limit, c.now)
    return {"category": cat, "symbol": spec.symbol,
            "list": [[str(int(r[0]) * 1000), *(_px(spec, x) for x in r[1:5])] for r in rows]}  # fmt: skip


def index_kline(c: Call) -> dict[str, Any]:
    """GET /v5/market/index-price-kline: the underlying's index (its spot path), newest first."""
    p = c.params
    cat = category(p, ("linear", "inverse"), default="linear")
    spec = c.market.spec(cat, p.text("symbol"))
    interval = _interval(p)
    start, end = _range(p)
    limit = p.integer("limit", 200, lo=1, hi=1000)
    rows = c.market.candles(f"spot:{spec.base}USDT", interval, start, end, limit, c.now)
    return {"category": cat, "symbol": spec.symbol,
            "list": [[str(int(r[0]) * 1000), *(_px(spec, x) for x in r[1:5])] for r in rows]}  # fmt: skip


def funding_history(c: Call) -> dict[str, Any]:
    """GET /v5/market/funding/history: settled rates, newest first."""
    p = c.params
    cat = category(p, ("linear", "inverse"))
    spec = c.market.spec(cat, p.text("symbol"))
    if not spec.perpetual:
        raise param_error("params error: symbol invalid")
    start, end = p.integer("startTime", -1), p.integer("endTime", -1)
    limit = p.integer("limit", 200, lo=1, hi=200)
    rows = c.market.funding_history(spec, start if start >= 0 else None, end if end >= 0 else None, limit, c.now)
    return {"category": cat, "list": rows}


def open_interest(c: Call) -> dict[str, Any]:
    """GET /v5/market/open-interest: one point per interval, newest first, paged by cursor."""
    p = c.params
    cat = category(p, ("linear", "inverse"))
    spec = c.market.spec(cat, p.text("symbol"))
    interval = p.text("intervalTime")
    if interval not in OI_INTERVALS:
        raise param_error("params error: intervalTime invalid")
    start, end = p.integer("startTime", -1), p.integer("endTime", -1)
    limit = p.integer("limit", 50, lo=1, hi=200)
    cursor = p.opt("cursor")
    before = int(read_cursor(cursor, "lasttime")["lasttime"]) if cursor else None
    points = c.market.oi_points(spec, interval, start if start >= 0 else None, end if end >= 0 else None, before,
                                limit + 1, c.now)  # fmt: skip
    more = len(points) > limit
    points = points[:limit]
    rows = []
    for t in points:
        oi = c.market.open_interest(spec, t / 1000)
        rows.append({"openInterest": fnum(oi, 8), "singleOpenInterest": fnum(oi / 2, 8), "timestamp": str(t)})
    nxt = make_cursor(lastid=str(points[-1] // 1000), lasttime=str(points[-1])) if more and points else ""
    return {"symbol": spec.symbol, "category": cat, "list": rows, "nextPageCursor": nxt}
