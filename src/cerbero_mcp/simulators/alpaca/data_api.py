"""Alpaca market data (data.alpaca.markets): stocks v2, crypto v1beta3 (us), options v1beta1.

Numbers are JSON numbers. Multi-symbol answers are keyed by symbol; bars page with `limit`
(default 1000, at most 10000, counted over all symbols) and an opaque `next_page_token`, `null`
on the last page. `start` defaults to the start of the current New York day, `end` to now. On the
Basic plan the SIP feed is 15 minutes delayed: without `end` a SIP bars query ends 15 minutes ago,
an explicit later `end` (and any SIP snapshot or latest quote/trade) is 403
`{"message": "subscription does not permit querying recent SIP data"}`. The option chain
(`/v1beta1/options/snapshots/{underlying}`) filters by type, strike and expiration, `limit`
default 100, at most 1000, and pages by contract symbol. The crypto order book
(`/v1beta3/crypto/us/latest/orderbooks`) is `{orderbooks: {SYM: {t, b: [{p, s}], a: [{p, s}]}}}`, 20 levels a
side. Option quote and trade condition codes `c` are one OPRA character (a string); stocks' are lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cerbero_mcp.simulators.alpaca import hours
from cerbero_mcp.simulators.alpaca.market import AlpacaMarket, Asset, parse_timeframe
from cerbero_mcp.simulators.alpaca.wire import (
    AlpacaError,
    Params,
    bad_request,
    invalid,
    make_token,
    parse_time,
    read_token,
)

SIP_DELAY_S = 15 * 60
SIP_DENIED = "subscription does not permit querying recent SIP data"
BARS_DEFAULT, BARS_MAX = 1000, 10_000
CHAIN_DEFAULT, CHAIN_MAX = 100, 1000

DataHandler = Callable[[AlpacaMarket, Params, float, dict[str, str]], Any]


def _feed(p: Params) -> str:
    feed = p.choice("feed", ("iex", "sip", "otc", "boats", "delayed_sip"), "iex")
    assert feed is not None
    return feed


def _stock(m: AlpacaMarket, symbol: str) -> Asset:
    a = m.assets.get(symbol)
    if a is None or a.asset_class != "us_equity":
        raise invalid(f"invalid symbol: {symbol}")
    return a


def _recent_sip(p: Params, feed: str) -> None:
    if feed == "sip":
        raise AlpacaError(403, SIP_DENIED)


def _symbols(p: Params) -> list[str]:
    syms = p.symbols()
    if not syms:
        raise bad_request("symbols is required")
    return syms


def stock_snapshots(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v2/stocks/snapshots and /v2/stocks/{symbol}/snapshot."""
    feed = _feed(p)
    _recent_sip(p, feed)
    if "symbol" in path:
        a = _stock(m, path["symbol"])
        return {"symbol": a.symbol, **m.snapshot(a, now, feed)}
    # unknown symbols are left out of a multi-symbol answer, as Alpaca does
    return {s: m.snapshot(m.assets[s], now, feed) for s in _symbols(p) if s in m.stock_defs}


def stock_latest(kind: str) -> DataHandler:
    """GET /v2/stocks/{quotes,trades}/latest and /v2/stocks/{symbol}/{quotes,trades}/latest."""

    def handler(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
        feed = _feed(p)
        _recent_sip(p, feed)
        fn = m.latest_quote if kind == "quotes" else m.latest_trade
        if "symbol" in path:
            a = _stock(m, path["symbol"])
            return {"symbol": a.symbol, kind[:-1]: fn(a, now, feed)}
        return {kind: {s: fn(_stock(m, s), now, feed) for s in _symbols(p)}}

    return handler


def _window(p: Params, now: float, feed: str) -> tuple[float, float]:
    start_s, end_s = p.opt("start"), p.opt("end")
    start = parse_time(start_s, "start") if start_s else hours.midnight(hours.ny_date(now))
    if end_s:
        end = parse_time(end_s, "end")
        if feed == "sip" and end > now - SIP_DELAY_S:
            raise AlpacaError(403, SIP_DENIED)
    else:
        end = now - SIP_DELAY_S if feed == "sip" else now
    if end < start:
        raise invalid("end should not be before start")
    return start, end


def _paged_bars(
    m: AlpacaMarket, assets: list[Asset], p: Params, now: float, feed: str
) -> tuple[dict[str, list[Any]], str | None]:
    tf = p.opt("timeframe")
    if tf is None:
        raise bad_request("timeframe is required")
    parse_timeframe(tf)
    start, end = _window(p, now, feed)
    limit = p.integer("limit", BARS_DEFAULT, 1, BARS_MAX)
    desc = p.choice("sort", ("asc", "desc"), "asc") == "desc"
    token = p.opt("page_token")
    after: tuple[str, str] | None = None
    if token is not None:
        sym, _, t = read_token(token).partition("|")
        after = (sym, t)
    out: dict[str, list[Any]] = {}
    n = 0
    for a in sorted(assets, key=lambda x: x.symbol):
        if after is not None and a.symbol < after[0]:
            continue
        rows = m.bars(a, tf, start, end, now)
        if desc:
            rows.reverse()
        if after is not None and a.symbol == after[0]:
            rows = [r for r in rows if (r["t"] < after[1] if desc else r["t"] > after[1])]
        for r in rows:
            if n == limit:
                return out, make_token(out_last(out))
            out.setdefault(a.symbol, []).append(r)
            n += 1
    return out, None


def out_last(out: dict[str, list[Any]]) -> str:
    """Return `symbol|time` of the last bar emitted (the page may end on an earlier symbol's last bar)."""
    last_sym = list(out)[-1]
    return f"{last_sym}|{out[last_sym][-1]['t']}"


def stock_bars(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v2/stocks/bars and /v2/stocks/{symbol}/bars."""
    feed = _feed(p)
    if "symbol" in path:
        a = _stock(m, path["symbol"])
        bars, token = _paged_bars(m, [a], p, now, feed)
        return {"bars": bars.get(a.symbol, []), "symbol": a.symbol, "next_page_token": token}
    bars, token = _paged_bars(m, [_stock(m, s) for s in _symbols(p)], p, now, feed)
    return {"bars": bars, "next_page_token": token}


def _crypto(m: AlpacaMarket, symbol: str) -> Asset:
    a = m.assets.get(symbol)
    if a is None or a.asset_class != "crypto":
        raise invalid(f"invalid symbol: {symbol}")
    return a


def crypto_snapshots(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v1beta3/crypto/us/snapshots."""
    return {"snapshots": {s: m.snapshot(_crypto(m, s), now, "crypto") for s in _symbols(p)}}


def crypto_latest(kind: str) -> DataHandler:
    """GET /v1beta3/crypto/us/latest/{quotes,trades}."""

    def handler(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
        fn = m.latest_quote if kind == "quotes" else m.latest_trade
        return {kind: {s: fn(_crypto(m, s), now, "crypto") for s in _symbols(p)}}

    return handler


def crypto_bars(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v1beta3/crypto/us/bars."""
    bars, token = _paged_bars(m, [_crypto(m, s) for s in _symbols(p)], p, now, "crypto")
    return {"bars": bars, "next_page_token": token}


def crypto_orderbooks(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v1beta3/crypto/us/latest/orderbooks: `{orderbooks: {SYM: {t, b: [{p, s}], a: [{p, s}]}}}`."""
    return {"orderbooks": {s: m.orderbook(_crypto(m, s), now) for s in _symbols(p)}}


def _option_feed(p: Params) -> str:
    feed = p.choice("feed", ("indicative", "opra"), "indicative")
    assert feed is not None
    return feed


def option_chain(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v1beta1/options/snapshots/{underlying_symbol}: the chain with greeks, paged by symbol."""
    root = path["underlying"]
    if root not in m.stock_defs:
        raise invalid(f"invalid underlying_symbol: {root}")
    feed = _option_feed(p)
    kind = p.choice("type", ("call", "put"))
    gte, lte = p.decimal("strike_price_gte"), p.decimal("strike_price_lte")
    exp = p.opt("expiration_date")
    exp_gte, exp_lte = p.opt("expiration_date_gte"), p.opt("expiration_date_lte")
    root_symbol = p.opt("root_symbol")
    limit = p.integer("limit", CHAIN_DEFAULT, 1, CHAIN_MAX)
    token = p.opt("page_token")
    after = read_token(token) if token is not None else ""
    rows = []
    for a in sorted(m.options(root), key=lambda x: x.symbol):
        day = a.expiry.isoformat() if a.expiry else ""
        if kind and a.option_type != kind:
            continue
        if root_symbol and a.root != root_symbol:
            continue
        if (gte is not None and (a.strike or 0) < gte) or (lte is not None and (a.strike or 0) > lte):
            continue
        if (exp and day != _date(exp)) or (exp_gte and day < _date(exp_gte)) or (exp_lte and day > _date(exp_lte)):
            continue
        if a.symbol <= after or (a.expiry is not None and hours.session(a.expiry)[1] <= now):
            continue
        rows.append(a)
    page = rows[:limit]
    token_out = make_token(page[-1].symbol) if len(rows) > limit else None
    return {"snapshots": {a.symbol: m.option_snapshot(a, now, feed) for a in page}, "next_page_token": token_out}


def option_snapshots(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v1beta1/options/snapshots?symbols=…"""
    feed = _option_feed(p)
    out = {}
    for s in _symbols(p):
        a = m.assets.get(s)
        if a is not None and a.asset_class == "us_option":
            out[s] = m.option_snapshot(a, now, feed)
    return {"snapshots": out, "next_page_token": None}


def option_latest_quotes(m: AlpacaMarket, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v1beta1/options/quotes/latest."""
    feed = _option_feed(p)
    out = {}
    for s in _symbols(p):
        a = m.assets.get(s)
        if a is not None and a.asset_class == "us_option":
            out[s] = m.latest_quote(a, now, feed)
    return {"quotes": out}


def _date(value: str) -> str:
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise invalid(f"invalid date: {value}") from None


ROUTES: list[tuple[re.Pattern[str], DataHandler]] = [
    (re.compile(r"^/v2/stocks/snapshots$"), stock_snapshots),
    (re.compile(r"^/v2/stocks/bars$"), stock_bars),
    (re.compile(r"^/v2/stocks/quotes/latest$"), stock_latest("quotes")),
    (re.compile(r"^/v2/stocks/trades/latest$"), stock_latest("trades")),
    (re.compile(r"^/v2/stocks/(?P<symbol>[^/]+)/snapshot$"), stock_snapshots),
    (re.compile(r"^/v2/stocks/(?P<symbol>[^/]+)/bars$"), stock_bars),
    (re.compile(r"^/v2/stocks/(?P<symbol>[^/]+)/quotes/latest$"), stock_latest("quotes")),
    (re.compile(r"^/v2/stocks/(?P<symbol>[^/]+)/trades/latest$"), stock_latest("trades")),
    (re.compile(r"^/v1beta3/crypto/us/snapshots$"), crypto_snapshots),
    (re.compile(r"^/v1beta3/crypto/us/bars$"), crypto_bars),
    (re.compile(r"^/v1beta3/crypto/us/latest/quotes$"), crypto_latest("quotes")),
    (re.compile(r"^/v1beta3/crypto/us/latest/trades$"), crypto_latest("trades")),
    (re.compile(r"^/v1beta3/crypto/us/latest/orderbooks$"), crypto_orderbooks),
    (re.compile(r"^/v1beta1/options/snapshots$"), option_snapshots),
    (re.compile(r"^/v1beta1/options/snapshots/(?P<underlying>[^/]+)$"), option_chain),
    (re.compile(r"^/v1beta1/options/quotes/latest$"), option_latest_quotes),
]


def route(path: str) -> tuple[DataHandler, dict[str, str]] | None:
    """Return the data handler of a path and its path parameters, or None."""
    for pattern, handler in ROUTES:
        m = pattern.match(path)
        if m is not None:
            return handler, m.groupdict()
    return None
