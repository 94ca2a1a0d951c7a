"""The Alpaca simulator's assets (US stocks, OCC options, crypto pairs) and its market-data views.

Stocks AAPL, MSFT, SPY, QQQ, TSLA (fractionable, qty to 9 decimals, prices in cents from $1) and
crypto BTC/USD, ETH/USD walk from reference prices from the start of the UTC day the app was built
on. AAPL and SPY list options (multiplier 100, tick 0.01) on the next four weekly Fridays and the
next three monthly third Fridays (the Thursday before when Friday is a holiday), expiring 16:00
New York, strikes from the shared engine's `strike_grid`; new expiries list as the clock moves
(checked once per New York day). OCC symbols: root + YYMMDD + C/P + strike × 1000 on 8 digits.

Market data (data.alpaca.markets) numbers are JSON numbers; times are RFC 3339 `Z`. Stock trades
and bars exist only in the extended session (04:00–20:00 New York on trading days); daily bars
cover the regular session and are stamped at New York midnight. Option greeks are the engine's
Black-76 (theta per day, vega and rho per 1 % move, as Alpaca quotes them).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.alpaca import hours
from cerbero_mcp.simulators.alpaca.wire import bad_request, data_ts, invalid, num
from cerbero_mcp.simulators.engine import (
    Instrument,
    MarketModel,
    SurfaceParams,
    Underlying,
    strike_grid,
)

DAY = 86_400
YEAR = 365.0 * DAY
MULTIPLIER = 100
WEEKLIES = 4
MONTHLIES = 3
STOCK_LOT = "0.000000001"
CRYPTO_TAKER = Decimal("0.0025")
CRYPTO_MAKER = Decimal("0.0015")
BOOK_DEPTH = 20  # levels a side in a crypto order book answer
_TF = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D|Week|W|Month|M)$")
_OCC = re.compile(r"^([A-Z]{1,6})(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True)
class StockDef:
    """One listed stock."""

    symbol: str
    name: str
    exchange: str
    price: float
    vol: float
    atm_vol: float


@dataclass(frozen=True)
class CryptoDef:
    """One crypto pair and its Alpaca asset terms."""

    symbol: str
    base: str
    price: float
    vol: float
    min_order_size: str
    min_trade_increment: str
    price_increment: str


STOCKS = (
    StockDef("AAPL", "Apple Inc. Common Stock", "NASDAQ", 230.0, 0.28, 0.26),
    StockDef("MSFT", "Microsoft Corporation Common Stock", "NASDAQ", 420.0, 0.25, 0.24),
    StockDef("SPY", "SPDR S&P 500 ETF Trust", "ARCA", 590.0, 0.15, 0.16),
    StockDef("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", 510.0, 0.2, 0.2),
    StockDef("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", 400.0, 0.6, 0.55),
)
OPTION_ROOTS = ("AAPL", "SPY")
CRYPTO = (
    CryptoDef("BTC/USD", "BTC", 100_000.0, 0.55, "0.000019", "0.000000001", "1"),
    CryptoDef("ETH/USD", "ETH", 3_500.0, 0.7, "0.000436", "0.000000001", "0.1"),
)


def asset_id(symbol: str) -> str:
    """Return the stable asset UUID of a symbol."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alpaca-sim:{symbol}"))


def occ_symbol(root: str, expiry: date, kind: str, strike: Decimal) -> str:
    """Return the OCC symbol, e.g. AAPL270115C00200000."""
    return f"{root}{expiry:%y%m%d}{'C' if kind == 'call' else 'P'}{int(strike * 1000):08d}"


def parse_occ(symbol: str) -> tuple[str, date, str, Decimal] | None:
    """Return (root, expiry, call|put, strike) of an OCC symbol, or None."""
    m = _OCC.match(symbol)
    if m is None:
        return None
    try:
        exp = datetime.strptime(m.group(2), "%y%m%d").date()
    except ValueError:
        return None
    return m.group(1), exp, "call" if m.group(3) == "C" else "put", Decimal(m.group(4)) / 1000


def expiry_days(today: date) -> list[date]:
    """Return the listed expiry dates from `today`: weekly Fridays and monthly third Fridays."""
    out: set[date] = set()
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    for i in range(WEEKLIES):
        out.add(friday + timedelta(days=7 * i))
    y, m = today.year, today.month
    n = 0
    while n < MONTHLIES:
        first = date(y, m, 1)
        third = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        if third >= today:
            out.add(third)
            n += 1
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    days = set()
    for d in out:
        while not hours.is_trading_day(d):  # a holiday Friday expires on the trading day before
            d -= timedelta(days=1)
        if d >= today:
            days.add(d)
    return sorted(days)


@dataclass(frozen=True)
class Asset:
    """What Alpaca says about a tradable symbol beyond the engine's contract terms."""

    symbol: str
    asset_class: str  # us_equity | us_option | crypto
    name: str
    exchange: str
    min_order_size: Decimal
    min_trade_increment: Decimal
    price_increment: Decimal
    root: str = ""
    expiry: date | None = None
    option_type: str = ""
    strike: Decimal | None = None

    @property
    def id(self) -> str:
        """Return the asset UUID."""
        return asset_id(self.symbol)


class AlpacaMarket:
    """The assets of one simulator instance over a `MarketModel`, and Alpaca's market-data views."""

    def __init__(self, seed: int, now: float) -> None:
        """List every asset as of `now` (paths start at the reference prices on now's UTC day)."""
        anchor = math.floor(now / DAY) * DAY
        unders = [
            Underlying(s.symbol, s.price, vol=s.vol, anchor=anchor, carry=0.04, rate=0.04, volume=2_000.0,
                       surface=SurfaceParams(atm_vol=s.atm_vol, skew=-0.1, curvature=0.3))
            for s in STOCKS
        ] + [Underlying(c.base, c.price, vol=c.vol, anchor=anchor, volume=2.0) for c in CRYPTO]  # fmt: skip
        self.model = MarketModel(seed, unders)
        self.assets: dict[str, Asset] = {}
        self.stock_defs = {s.symbol: s for s in STOCKS}
        self._listed_day: date | None = None
        for s in STOCKS:
            self.model.add_instrument(Instrument.stock(s.symbol, "0.01", STOCK_LOT, spread_bps=2.0))
            self.assets[s.symbol] = Asset(s.symbol, "us_equity", s.name, s.exchange, Decimal(0), Decimal(STOCK_LOT),
                                          Decimal("0.01"))  # fmt: skip
        for c in CRYPTO:
            self.model.add_instrument(Instrument.spot(c.symbol, c.base, c.price_increment, c.min_trade_increment,
                                                      quote_currency="USD", taker_fee=CRYPTO_TAKER,
                                                      maker_fee=CRYPTO_MAKER, spread_bps=3.0))  # fmt: skip
            self.assets[c.symbol] = Asset(c.symbol, "crypto", f"{c.base} / US Dollar", "CRYPTO",
                                          Decimal(c.min_order_size), Decimal(c.min_trade_increment),
                                          Decimal(c.price_increment))  # fmt: skip
        self.ensure_listed(now)

    def ensure_listed(self, now: float) -> None:
        """List the option expiries due as of `now` (once per New York day)."""
        today = hours.ny_date(now)
        if self._listed_day == today:
            return
        self._listed_day = today
        for root in OPTION_ROOTS:
            s = self.stock_defs[root]
            for exp_day in expiry_days(today):
                expiry = hours.session(exp_day)[1]
                if expiry <= now:
                    continue
                if any(a.root == root and a.expiry == exp_day for a in self.assets.values()):
                    continue
                years = (expiry - now) / YEAR
                fwd = self.model.forward(root, now, expiry)
                for strike in strike_grid(fwd, years, s.atm_vol, width=2.0):
                    for kind in ("call", "put"):
                        sym = occ_symbol(root, exp_day, kind, strike)
                        self.model.add_instrument(Instrument.option(
                            sym, root, expiry, strike, kind, "0.01", "1", contract_size=MULTIPLIER,
                            quote_currency="USD"))  # fmt: skip
                        self.assets[sym] = Asset(sym, "us_option", f"{root} {exp_day:%b %d %Y} {strike} "
                                                 f"{kind.capitalize()}", "OPRA", Decimal(1), Decimal(1),
                                                 Decimal("0.01"), root, exp_day, kind, strike)  # fmt: skip

    def asset(self, symbol: str) -> Asset | None:
        """Return a known asset (crypto also as BTCUSD), or None."""
        a = self.assets.get(symbol)
        if a is None and "/" not in symbol and symbol.endswith("USD"):
            a = self.assets.get(f"{symbol[:-3]}/USD")
        return a

    def options(self, root: str) -> list[Asset]:
        """Return the listed (unexpired) options of `root`, by expiry, type and strike."""
        out = [a for a in self.assets.values() if a.root == root]
        return sorted(out, key=lambda a: (a.expiry or date.min, a.option_type, a.strike or 0))

    # --- quotes and trades ------------------------------------------------------------------------

    def tradable_now(self, a: Asset, t: float) -> bool:
        """Return whether the asset prints trades at `t` (crypto always, stocks in the extended session)."""
        if a.asset_class == "crypto":
            return True
        if a.asset_class == "us_option":
            return hours.is_open(t)
        return hours.is_open(t) or hours.is_extended(t)

    def last_trade_time(self, a: Asset, t: float) -> float:
        """Return the time of the asset's latest trade at or before `t`."""
        if self.tradable_now(a, t):
            return t
        d = hours.ny_date(t)
        while True:
            if hours.is_trading_day(d):
                c = hours.session(d)[1]
                end = c if a.asset_class == "us_option" else hours.at(d, hours.POST_CLOSE)
                if end <= t:
                    return end - 1.0
            d -= timedelta(days=1)

    def latest_quote(self, a: Asset, t: float, feed: str) -> dict[str, Any]:
        """Return the latest quote object {t, ax, ap, as, bx, bp, bs, c, z}."""
        at = self.last_trade_time(a, t)
        book = self.model.book(a.symbol, at, depth=1)
        bid, ask = book.bids()[0] if book.bids() else (Decimal(0), Decimal(0)), book.asks()[0]
        q: dict[str, Any] = {"t": data_ts(at), "bp": float(bid[0]), "ap": float(ask[0])}
        if a.asset_class == "crypto":
            q.update({"bs": num(float(bid[1]), 9), "as": num(float(ask[1]), 9)})
            return q
        sizes = (max(1, int(bid[1])), max(1, int(ask[1])))  # whole shares / contracts
        ex = "V" if feed == "iex" else ("N" if a.asset_class == "us_option" else "Q")
        q.update({"bs": sizes[0], "as": sizes[1], "bx": ex, "ax": ex})
        if a.asset_class == "us_equity":
            q.update({"c": ["R"], "z": "C" if a.exchange == "NASDAQ" else "B"})
        else:
            q["c"] = " "  # an OPRA quote's condition is one character, " " for a regular quote
        return q

    def orderbook(self, a: Asset, t: float) -> dict[str, Any]:
        """Return a crypto pair's latest order book {t, b: [{p, s}], a: [{p, s}]}, best level first."""
        book = self.model.book(a.symbol, t, depth=BOOK_DEPTH)

        def side(levels: list[tuple[Decimal, Decimal]]) -> list[dict[str, float]]:
            return [{"p": float(px), "s": num(float(size), 9)} for px, size in levels]

        return {"t": data_ts(t), "b": side(book.bids()), "a": side(book.asks())}

    def latest_trade(self, a: Asset, t: float, feed: str) -> dict[str, Any]:
        """Return the latest trade object {t, x, p, s, c, i, z}."""
        at = self.last_trade_time(a, t)
        inst = self.model.instrument(a.symbol)
        price = float(inst.round_price(self.model.mid(a.symbol, at)))
        trade_id = int(at * 1000) % 10**12
        if a.asset_class == "crypto":
            return {"t": data_ts(at), "p": price, "s": 0.0105, "tks": "B", "i": trade_id}
        ex = "V" if feed == "iex" else ("N" if a.asset_class == "us_option" else "Q")
        out: dict[str, Any] = {"t": data_ts(at), "x": ex, "p": price, "s": 100 if a.asset_class == "us_equity" else 1}
        if a.asset_class == "us_equity":
            out.update({"c": ["@"], "i": trade_id, "z": "C" if a.exchange == "NASDAQ" else "B"})
        else:
            out["c"] = "I"  # an OPRA trade's condition is one character (I: auto-executed electronic trade)
        return out

    # --- bars ---------------------------------------------------------------------------------------

    def bars(self, a: Asset, timeframe: str, start: float, end: float, now: float) -> list[dict[str, Any]]:
        """Return the bars of `timeframe` starting in [start, end], none after `now`, oldest first."""
        seconds, unit = parse_timeframe(timeframe)
        end = min(end, now)
        if end < start:
            return []
        if unit in ("Day", "Week", "Month"):
            days = self._daily(a, start, end, now)
            if unit == "Day":
                return days
            return _group(days, unit, seconds)
        cs = self.model.candles(a.symbol, start, end + 1, seconds, now=now)
        out = []
        for t0, o, h, lo, c, v in cs.rows():
            if a.asset_class != "crypto" and not self._in_session(a, float(t0), float(t0) + seconds):
                continue
            out.append(_bar(float(t0), o, h, lo, c, v, a))
        return out

    def _in_session(self, a: Asset, t0: float, t1: float) -> bool:
        d = hours.ny_date(t0)
        if not hours.is_trading_day(d):
            return False
        o, c = hours.session(d)
        lo, hi = (
            (o, c) if a.asset_class == "us_option" else (hours.at(d, hours.PRE_OPEN), hours.at(d, hours.POST_CLOSE))
        )
        return t0 < hi and t1 > lo

    def _daily(self, a: Asset, start: float, end: float, now: float) -> list[dict[str, Any]]:
        out = []
        d = hours.ny_date(start)
        last = hours.ny_date(end)
        while d <= last:
            if a.asset_class == "crypto":
                lo, hi = hours.midnight(d), 0.0
                hi = lo + DAY
            elif hours.is_trading_day(d):
                lo, hi = hours.session(d)
            else:
                d += timedelta(days=1)
                continue
            stamp = hours.midnight(d)
            if lo <= now and start <= stamp <= end:
                cs = self.model.candles(a.symbol, lo, min(hi, now), 1800, now=now)
                if len(cs):
                    out.append(_bar(stamp, float(cs.open[0]), float(cs.high.max()), float(cs.low.min()),
                                    float(cs.close[-1]), float(cs.volume.sum()), a))  # fmt: skip
            d += timedelta(days=1)
        return out

    # --- snapshots ----------------------------------------------------------------------------------

    def snapshot(self, a: Asset, t: float, feed: str) -> dict[str, Any]:
        """Return {latestTrade, latestQuote, minuteBar, dailyBar, prevDailyBar}."""
        at = self.last_trade_time(a, t)
        minute = math.floor(at / 60) * 60 - 60  # the latest complete minute
        mbar = self.bars(a, "1Min", minute, minute, t)
        day = hours.ny_date(at)
        if a.asset_class != "crypto":
            while not hours.is_trading_day(day) or hours.session(day)[0] > t:
                day -= timedelta(days=1)
        day0 = hours.midnight(day)
        prev = day - timedelta(days=1) if a.asset_class == "crypto" else hours.previous_trading_day(day)
        prev0 = hours.midnight(prev)
        daily = self._daily(a, day0, day0 + 1, t)
        prev_daily = self._daily(a, prev0, prev0 + 1, t)
        return {
            "latestTrade": self.latest_trade(a, t, feed),
            "latestQuote": self.latest_quote(a, t, feed),
            "minuteBar": mbar[-1] if mbar else None,
            "dailyBar": daily[-1] if daily else None,
            "prevDailyBar": prev_daily[-1] if prev_daily else None,
        }

    def option_snapshot(self, a: Asset, t: float, feed: str) -> dict[str, Any]:
        """Return an option snapshot with greeks and implied volatility."""
        at = self.last_trade_time(a, t)
        snap = self.model.option_snapshot(a.symbol, at)
        out: dict[str, Any] = {
            "latestQuote": self.latest_quote(a, t, feed),
            "latestTrade": self.latest_trade(a, t, feed),
        }
        if snap.years > 0:
            rho = snap.years * (snap.delta * snap.index - snap.mark_price) / 100.0
            out["greeks"] = {"delta": num(snap.delta), "gamma": num(snap.gamma), "rho": num(rho),
                             "theta": num(snap.theta / 365.0), "vega": num(snap.vega / 100.0)}  # fmt: skip
            out["impliedVolatility"] = num(snap.mark_iv)
        return out


def parse_timeframe(tf: str) -> tuple[int, str]:
    """Return (seconds, unit) of a bar timeframe (1Min..59Min, 1Hour..23Hour, 1Day, 1Week, 1/2/3/4/6/12Month)."""
    m = _TF.match(tf or "")
    if m is None:
        raise bad_request(f"invalid timeframe: {tf!r}")
    n, unit = int(m.group(1)), m.group(2)
    unit = {"T": "Min", "H": "Hour", "D": "Day", "W": "Week", "M": "Month"}.get(unit, unit)
    valid = {"Min": range(1, 60), "Hour": range(1, 24), "Day": range(1, 2), "Week": range(1, 2),
             "Month": (1, 2, 3, 4, 6, 12)}[unit]  # fmt: skip
    if n not in valid:
        raise invalid(f"invalid timeframe: {tf}")
    seconds = {"Min": 60, "Hour": 3600, "Day": DAY, "Week": 7 * DAY, "Month": 30 * DAY}[unit] * n
    return seconds, unit


def _bar(t0: float, o: float, h: float, lo: float, c: float, v: float, a: Asset) -> dict[str, Any]:
    places = 9 if a.asset_class == "crypto" else 0
    vol = num(v, places) if places else round(v)
    return {"t": data_ts(t0), "o": num(o), "h": num(h), "l": num(lo), "c": num(c), "v": vol,
            "n": max(1, round(v / 50)) if a.asset_class != "crypto" else max(1, int(v * 10)),
            "vw": num((o + h + lo + c) / 4)}  # fmt: skip


def _group(days: list[dict[str, Any]], unit: str, seconds: int) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for b in days:
        d = datetime.fromisoformat(b["t"].replace("Z", "+00:00")).astimezone(hours.NY).date()
        if unit == "Week":
            key = d - timedelta(days=d.weekday())
        else:
            months = seconds // (30 * DAY)
            key = date(d.year, ((d.month - 1) // months) * months + 1, 1)
        groups.setdefault(key.isoformat(), []).append(b)  # noqa: RUF100
    out = []
    for day_key, rows in groups.items():
        t0 = hours.midnight(date.fromisoformat(day_key))
        out.append({"t": data_ts(t0), "o": rows[0]["o"], "h": max(r["h"] for r in rows), "l": min(r["l"] for r in rows),
                    "c": rows[-1]["c"], "v": sum(r["v"] for r in rows), "n": sum(r["n"] for r in rows),
                    "vw": num(sum(r["vw"] for r in rows) / len(rows))})  # fmt: skip
    return out
