"""The simulated market: mids, candles, order books, funding, open interest and option marks.

Everything here is a pure function of (seed, instrument, t): two calls at the same t agree, any
past window can be rebuilt on demand, and nothing depends on what was asked before (caches only
save time). Prices are floats; `OrderBook` also carries whole ticks and lots so the matching
engine and the venue simulators can turn them into exact Decimals.

How each kind follows its underlying's path S(t) (`paths.PricePath`), with m the minute of t:
spot and stock = S(t); perpetual = S(t)·(1 + premium(m)) with an hourly premium that also drives
funding; dated future = S(t)·exp(carry·T(m)); option = Black-76 on F = S(t)·exp(carry·T(m)) at
the surface IV of minute m (premium in quote currency, or divided by F when quoted in the
underlying). Within a minute only S moves, so every instrument's extremes over a minute are at the
path's vertices and 1-minute candles agree with the mid at every instant. Coarser candles are
aggregated from 1-minute ones (first open, max high, min low, last close, summed lots), so five
1-minute candles equal the 5-minute candle exactly. Many options can be priced at once
(`option_mids`, `option_forwards_and_ivs`, `option_window_ranges`): the same numbers, to the bit,
as one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from cerbero_mcp.common.options import black76_greeks, black76_price
from cerbero_mcp.simulators.engine.instruments import Instrument, InstrumentKind, Underlying
from cerbero_mcp.simulators.engine.paths import LRU, MINUTE, YEAR, FloatArray, PricePath, rng_for, seed_int
from cerbero_mcp.simulators.engine.surface import MIN_YEARS, VolSurface, strike_open_interest

BOOK_MAX_DEPTH = 100
BOOK_GROWTH = 1.03
HOUR = 3600
PREMIUM_MEAN = 0.0001  # perpetual premium over the index: mean and hourly dispersion
PREMIUM_SD = 0.0006
_VOLUME_SHARE = {
    InstrumentKind.SPOT: 1.0,
    InstrumentKind.PERPETUAL: 3.0,
    InstrumentKind.FUTURE: 0.2,
    InstrumentKind.OPTION: 0.01,
    InstrumentKind.STOCK: 1.0,
}


@dataclass(frozen=True, slots=True)
class Candles:
    """OHLCV candles as parallel arrays; `time` is each candle's start (epoch s)."""

    time: np.ndarray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.time)

    def rows(self) -> list[tuple[int, float, float, float, float, float]]:
        """Return the candles as (time, open, high, low, close, volume) tuples."""
        return list(
            zip(
                self.time.tolist(),
                self.open.tolist(),
                self.high.tolist(),
                self.low.tolist(),
                self.close.tolist(),
                self.volume.tolist(),
                strict=True,
            )
        )


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A book snapshot: levels best first as whole ticks and lots of `instrument`."""

    instrument: Instrument
    time: float
    mid: float
    bid_ticks: list[int]
    bid_lots: list[int]
    ask_ticks: list[int]
    ask_lots: list[int]

    def bids(self) -> list[tuple[Decimal, Decimal]]:
        """Return (price, qty) bid levels, best first, as exact Decimals."""
        i = self.instrument
        return [(i.price_of_ticks(p), i.qty_of_lots(q)) for p, q in zip(self.bid_ticks, self.bid_lots, strict=True)]

    def asks(self) -> list[tuple[Decimal, Decimal]]:
        """Return (price, qty) ask levels, best first, as exact Decimals."""
        i = self.instrument
        return [(i.price_of_ticks(p), i.qty_of_lots(q)) for p, q in zip(self.ask_ticks, self.ask_lots, strict=True)]

    @property
    def best_bid(self) -> Decimal | None:
        """Return the best bid price, or None when the bid side is empty."""
        return self.instrument.price_of_ticks(self.bid_ticks[0]) if self.bid_ticks else None

    @property
    def best_ask(self) -> Decimal | None:
        """Return the best ask price, or None when the ask side is empty."""
        return self.instrument.price_of_ticks(self.ask_ticks[0]) if self.ask_ticks else None


@dataclass(frozen=True, slots=True)
class OptionSnapshot:
    """Mark, IV and greeks of one option at one instant.

    Prices (mark, bid, ask) are in the instrument's premium units; greeks are Black-76 in the quote
    currency per unit of underlying (vega/vanna per 1.00 of vol, theta/charm per year).
    """

    symbol: str
    time: float
    index: float
    forward: float
    years: float
    mark_iv: float
    mark_price: float
    bid: float | None
    ask: float | None
    bid_iv: float | None
    ask_iv: float | None
    delta: float
    gamma: float
    vega: float
    theta: float
    vanna: float
    charm: float
    open_interest: float


class MarketModel:
    """Underlyings and instruments under one seed, and everything observable about them at any t."""

    def __init__(
        self, seed: int, underlyings: Iterable[Underlying] = (), instruments: Iterable[Instrument] = ()
    ) -> None:
        """Register `underlyings` then `instruments` under `seed`."""
        self.seed = seed
        self._underlyings: dict[str, Underlying] = {}
        self._paths: dict[str, PricePath] = {}
        self._surfaces: dict[str, VolSurface] = {}
        self._instruments: dict[str, Instrument] = {}
        self._hourly: LRU[tuple[str, int], list[float]] = LRU(256)
        self._book_cache: dict[str, tuple[int, list[int], list[int]]] = {}
        for u in underlyings:
            self.add_underlying(u)
        for inst in instruments:
            self.add_instrument(inst)

    # --- registry -----------------------------------------------------------------------------

    def add_underlying(self, u: Underlying) -> None:
        """Register an underlying (its path is seeded by (seed, name))."""
        self._underlyings[u.name] = u
        self._paths[u.name] = PricePath(self.seed, u.name, u.price, u.vol, u.anchor)
        self._surfaces[u.name] = VolSurface(self.seed, u)

    def add_instrument(self, inst: Instrument) -> None:
        """Register an instrument; its underlying must already exist."""
        if inst.underlying not in self._underlyings:
            raise KeyError(f"{inst.symbol}: unknown underlying {inst.underlying!r}")
        self._instruments[inst.symbol] = inst

    def underlying(self, name: str) -> Underlying:
        """Return a registered underlying (KeyError when unknown)."""
        return self._underlyings[name]

    def instrument(self, symbol: str) -> Instrument:
        """Return a registered instrument (KeyError when unknown)."""
        return self._instruments[symbol]

    def has_instrument(self, symbol: str) -> bool:
        """Return whether `symbol` is registered."""
        return symbol in self._instruments

    def instruments(self, kind: InstrumentKind | None = None, underlying: str | None = None) -> list[Instrument]:
        """Return registered instruments, optionally of one kind and/or underlying."""
        return [
            i
            for i in self._instruments.values()
            if (kind is None or i.kind is kind) and (underlying is None or i.underlying == underlying)
        ]

    def surface(self, underlying: str) -> VolSurface:
        """Return the volatility surface of an underlying."""
        return self._surfaces[underlying]

    # --- prices -------------------------------------------------------------------------------

    def index(self, underlying: str, t: float) -> float:
        """Return the underlying's spot/index price at `t`."""
        return math.exp(self._paths[underlying].log_at(t))

    def forward(self, underlying: str, t: float, expiry: float) -> float:
        """Return the forward price for `expiry` seen at `t`: S·exp(carry·T)."""
        u = self._underlyings[underlying]
        return self.index(underlying, t) * math.exp(u.carry * max(expiry - t, 0.0) / YEAR)

    def mid(self, symbol: str, t: float) -> float:
        """Return the instrument's mid (also its mark) at `t`."""
        inst = self._instruments[symbol]
        s = math.exp(self._paths[inst.underlying].log_at(t))
        m0 = math.floor(t / MINUTE) * MINUTE
        kind = inst.kind
        if kind is InstrumentKind.SPOT or kind is InstrumentKind.STOCK:
            return s
        if kind is InstrumentKind.PERPETUAL:
            return s * (1.0 + self._premium_at(symbol, m0))
        if kind is InstrumentKind.FUTURE:
            assert inst.expiry is not None
            return s * math.exp(self._underlyings[inst.underlying].carry * max(inst.expiry - m0, 0.0) / YEAR)
        return float(self._option_values(inst, np.array([[s]]), np.array([float(m0)]))[0, 0])

    def mark(self, symbol: str, t: float) -> float:
        """Return the mark price (the mid: the simulator has no separate mark)."""
        return self.mid(symbol, t)

    def _vertex_values(self, inst: Instrument, logs: FloatArray, mstart: FloatArray) -> FloatArray:
        s = np.exp(logs)
        kind = inst.kind
        if kind is InstrumentKind.SPOT or kind is InstrumentKind.STOCK:
            return s
        if kind is InstrumentKind.PERPETUAL:
            return np.asarray(s * (1.0 + self._premium(inst.symbol, mstart))[:, None])
        if kind is InstrumentKind.FUTURE:
            assert inst.expiry is not None
            carry = self._underlyings[inst.underlying].carry
            return np.asarray(s * np.exp(carry * np.maximum(inst.expiry - mstart, 0.0) / YEAR)[:, None])
        return self._option_values(inst, s, mstart)

    def _option_values(self, inst: Instrument, s: FloatArray, mstart: FloatArray) -> FloatArray:
        """Price an option at spot values `s` (n, k), with T and IV fixed at each row's minute start."""
        assert inst.expiry is not None
        assert inst.strike is not None
        assert inst.option_kind is not None
        u = self._underlyings[inst.underlying]
        strike = float(inst.strike)
        years = (inst.expiry - mstart) / YEAR
        live = years > MIN_YEARS
        out = np.maximum(s - strike, 0.0) if inst.option_kind == "call" else np.maximum(strike - s, 0.0)
        fwd = s * np.exp(u.carry * np.maximum(years, 0.0))[:, None]
        if live.any():
            f, ty, ms = fwd[live], years[live], mstart[live]
            iv = self._surfaces[inst.underlying].iv(ms, f[:, 0], strike, ty)
            out[live] = black76_price(f, strike, ty[:, None], u.rate, iv[:, None], inst.option_kind)
        if inst.premium_in_underlying:
            out = out / np.where(live[:, None], fwd, s)
        return np.asarray(out, dtype=np.float64)

    def _options_values(
        self, insts: Sequence[Instrument], s: FloatArray, mstart: FloatArray, s_iv: FloatArray | None = None
    ) -> FloatArray:
        """Price options of one underlying at spot values `s` (m, k) together: (n, m, k).

        Each value is the one `_option_values` gives that option (the same arithmetic element for
        element, and numpy's array results do not depend on an array's shape); the IV of minute j
        is taken at the forward of `s_iv[j]` (default: `s[j, 0]`, as `_option_values` does).
        Options of one expiry share T, the forward and the surface's ATM level: computed once.
        """
        u = self._underlyings[insts[0].underlying]
        iv_spot = s[:, 0] if s_iv is None else s_iv
        out = np.empty((len(insts), *s.shape))
        by_expiry: dict[float, list[int]] = {}
        for i, inst in enumerate(insts):
            assert inst.expiry is not None
            by_expiry.setdefault(inst.expiry, []).append(i)
        for expiry, idx in by_expiry.items():
            group = [insts[i] for i in idx]
            strike = np.array([float(inst.strike or 0) for inst in group])[:, None, None]
            calls = np.array([inst.option_kind == "call" for inst in group])[:, None, None]
            years = (expiry - mstart) / YEAR
            live = years > MIN_YEARS
            growth = np.exp(u.carry * np.maximum(years, 0.0))
            fwd = s * growth[:, None]
            if live.all():
                iv = self._surfaces[u.name].iv(mstart, iv_spot * growth, strike[:, :, 0], years)
                values = black76_price(fwd, strike, years[:, None], u.rate, iv[:, :, None], calls)
            else:
                values = np.where(calls, np.maximum(s - strike, 0.0), np.maximum(strike - s, 0.0))
                if live.any():
                    ty = years[live]
                    iv = self._surfaces[u.name].iv(mstart[live], (iv_spot * growth)[live], strike[:, :, 0], ty)
                    values[:, live] = black76_price(fwd[live], strike, ty[:, None], u.rate, iv[:, :, None], calls)
            in_underlying = np.array([inst.premium_in_underlying for inst in group])
            if in_underlying.any():
                values = np.where(in_underlying[:, None, None], values / np.where(live[:, None], fwd, s), values)
            out[idx] = values
        return out

    def _by_underlying(self, symbols: Sequence[str]) -> dict[str, list[int]]:
        """Return the positions in `symbols` of each underlying's options."""
        groups: dict[str, list[int]] = {}
        for i, symbol in enumerate(symbols):
            inst = self._instruments[symbol]
            if inst.kind is not InstrumentKind.OPTION:
                raise ValueError(f"{symbol} is not an option")
            groups.setdefault(inst.underlying, []).append(i)
        return groups

    def option_mids(self, symbols: Sequence[str], t: float) -> list[float]:
        """Return the mids of many options at `t` (each equal to `mid`), priced together per underlying."""
        out = [0.0] * len(symbols)
        m0 = math.floor(t / MINUTE) * MINUTE
        for name, idx in self._by_underlying(symbols).items():
            s = math.exp(self._paths[name].log_at(t))
            insts = [self._instruments[symbols[i]] for i in idx]
            values = self._options_values(insts, np.array([[s]]), np.array([float(m0)]))[:, 0, 0].tolist()
            for i, v in zip(idx, values, strict=True):
                out[i] = v
        return out

    def option_forwards_and_ivs(self, symbols: Sequence[str], t: float) -> list[tuple[float, float]]:
        """Return (forward, mark IV) of many options at `t`, each equal to its `option_snapshot`'s.

        One surface call per expiry over its strikes: T is a scalar there, as in `option_snapshot`
        (numpy's scalar power and its array power may differ in the last bit).
        """
        out = [(0.0, 0.0)] * len(symbols)
        m0 = math.floor(t / MINUTE) * MINUTE
        for name, idx in self._by_underlying(symbols).items():
            u = self._underlyings[name]
            s = self.index(name, t)
            s_open = math.exp(self._paths[name].log_at(m0))
            by_expiry: dict[float, list[int]] = {}
            for i in idx:
                expiry = self._instruments[symbols[i]].expiry
                assert expiry is not None
                by_expiry.setdefault(expiry, []).append(i)
            for expiry, same in by_expiry.items():
                years = (expiry - m0) / YEAR
                fwd = s * math.exp(u.carry * max(years, 0.0))
                if years <= MIN_YEARS:
                    for i in same:
                        out[i] = (fwd, 0.0)
                    continue
                fwd_open = s_open * math.exp(u.carry * years)
                strikes = np.array([float(self._instruments[symbols[i]].strike or 0) for i in same])
                ivs = np.atleast_1d(self._surfaces[name].iv(m0, fwd_open, strikes, years)).tolist()
                for i, iv in zip(same, ivs, strict=True):
                    out[i] = (fwd, iv)
        return out

    def option_minute_opens(self, symbols: Sequence[str], minute: int) -> list[float]:
        """Return each option's mid at the open of epoch minute `minute` (its 1-minute candle's open, unrounded)."""
        out = [0.0] * len(symbols)
        for name, idx in self._by_underlying(symbols).items():
            _, logs, _ = self._paths[name].minutes(minute, minute + 1)
            insts = [self._instruments[symbols[i]] for i in idx]
            values = self._options_values(insts, np.exp(logs)[:, :1], np.array([float(minute) * MINUTE]))
            for i, v in zip(idx, values[:, 0, 0].tolist(), strict=True):
                out[i] = v
        return out

    def option_window_ranges(
        self, symbols: Sequence[str], m0: int, m1: int
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Return (open, lowest mid, highest mid, volume) of each option over minutes [m0, m1) (m1 > m0).

        Equal to the first open, the extremes and the summed volume of `candles(symbol, m0 * 60,
        m1 * 60)`, before the candles round prices to the tick. Within a minute an option's T and IV
        are fixed, so its value moves with the spot one way only: its extremes are at the minute's
        lowest and highest spot. Black-76 (no discounting) rises with the total vol σ√T, and calls
        rise and puts fall with the forward, so a minute whose forward and total vol are both beaten
        by another minute's cannot hold the extreme: only the minutes on that frontier are priced.
        """
        if m1 <= m0:
            raise ValueError("the window needs at least one minute (m1 > m0)")
        n = len(symbols)
        opens = np.array(self.option_minute_opens(symbols, m0))
        low, high, volume = np.empty(n), np.empty(n), np.empty(n)
        mstart = np.arange(m0, m1, dtype=np.float64) * MINUTE
        for name, idx in self._by_underlying(symbols).items():
            u = self._underlyings[name]
            _, logs, vol = self._paths[name].minutes(m0, m1)
            s = np.exp(logs)
            s_lo, s_hi = s.min(axis=1), s.max(axis=1)
            lots: dict[tuple[object, ...], float] = {}
            by_expiry: dict[float, list[int]] = {}
            for i in idx:
                inst = self._instruments[symbols[i]]
                assert inst.expiry is not None
                by_expiry.setdefault(inst.expiry, []).append(i)
                key = (inst.kind, inst.contract_size, inst.lot_size, inst.inverse)
                if key not in lots or inst.inverse:  # the same terms trade the same lots
                    close = self._options_values([inst], s[:, 3:], mstart, s[:, 0])[0, :, 0] if inst.inverse else None
                    lots[key] = float((self._minute_lots(inst, vol, close) * float(inst.lot_size)).sum())
                volume[i] = lots[key]
            for expiry, group in by_expiry.items():
                insts = [self._instruments[symbols[i]] for i in group]
                years = (expiry - mstart) / YEAR
                if u.rate != 0.0 or not (years > MIN_YEARS).all():  # the frontier argument needs both
                    values = self._options_values(insts, np.stack([s_lo, s_hi], axis=1), mstart, s[:, 0])
                    low[group] = np.minimum(values[:, :, 0], values[:, :, 1]).min(axis=1)
                    high[group] = np.maximum(values[:, :, 0], values[:, :, 1]).max(axis=1)
                    continue
                low[group], high[group] = self._frontier_extremes(insts, s, s_lo, s_hi, mstart, years)
        return opens, low, high, volume

    def _frontier_extremes(
        self,
        insts: list[Instrument],
        s: FloatArray,
        s_lo: FloatArray,
        s_hi: FloatArray,
        mstart: FloatArray,
        years: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """Return each option's lowest and highest value over the minutes, pricing only frontier minutes.

        The prices are `_options_values`'s at those minutes (same arithmetic, so the same bits).
        """
        u = self._underlyings[insts[0].underlying]
        strike = np.array([float(inst.strike or 0) for inst in insts])
        calls = np.array([inst.option_kind == "call" for inst in insts])
        in_underlying = np.array([inst.premium_in_underlying for inst in insts])
        growth = np.exp(u.carry * np.maximum(years, 0.0))
        iv = self._surfaces[u.name].iv(mstart, s[:, 0] * growth, strike[:, None], years)
        total_vol = iv * np.sqrt(years)  # only orders the minutes; never priced
        low, high = np.empty(len(insts)), np.empty(len(insts))
        for rows, is_call in ((np.flatnonzero(calls), True), (np.flatnonzero(~calls), False)):
            if not len(rows):
                continue
            for want_high, result in ((False, low), (True, high)):
                # A call's high is at the highest spot, on the frontier of high forward and high total
                # vol; its low at the lowest spot, low forward and low total vol; a put's mirror the forward.
                high_forward = want_high == is_call
                spot = s_hi if high_forward else s_lo
                mask = _frontier(spot * growth, total_vol[rows], high_forward, want_high)
                r, col = np.nonzero(mask)
                row = rows[r]
                fwd = spot[col] * growth[col]
                values = black76_price(fwd, strike[row], years[col], u.rate, iv[row, col], calls[row])
                values = np.where(in_underlying[row], values / fwd, values)
                starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
                result[rows] = (np.maximum if want_high else np.minimum).reduceat(values, starts)
        return low, high

    def _hour_normals(self, symbol: str, day: int) -> list[float]:
        cached = self._hourly.get((symbol, day))
        if cached is None:
            cached = rng_for(self.seed, symbol, "premium", day).standard_normal(24).tolist()
            self._hourly.put((symbol, day), cached)
        return cached

    def _premium_at(self, symbol: str, t: float) -> float:
        """Return the perpetual's premium over the index at `t` (hourly knots, linear in between)."""
        x = t / HOUR
        h = math.floor(x)
        w = x - h
        day, i = divmod(h, 24)
        z = self._hour_normals(symbol, day)
        z1 = z[i + 1] if i < 23 else self._hour_normals(symbol, day + 1)[0]
        return PREMIUM_MEAN + PREMIUM_SD * ((1.0 - w) * z[i] + w * z1)

    def _premium(self, symbol: str, times: FloatArray) -> FloatArray:
        """Vectorised `_premium_at`."""
        if len(times) == 0:
            return np.empty(0)
        x = times / HOUR
        h = np.floor(x).astype(np.int64)
        d0, d1 = int(h.min()) // 24, int(h.max() + 1) // 24
        z = np.array([v for d in range(d0, d1 + 1) for v in self._hour_normals(symbol, d)])
        i = h - d0 * 24
        w = x - h
        return np.asarray(PREMIUM_MEAN + PREMIUM_SD * ((1.0 - w) * z[i] + w * z[i + 1]), dtype=np.float64)

    # --- paths over intervals -----------------------------------------------------------------

    def path_points(self, symbol: str, t0: float, t1: float) -> tuple[FloatArray, FloatArray]:
        """Return the mid path's vertices in (t0, t1) with both endpoints, as (times, values)."""
        inst = self._instruments[symbol]
        m0, m1 = math.floor(t0 / MINUTE), math.floor(t1 / MINUTE) + 1
        times, logs, _ = self._paths[inst.underlying].minutes(m0, m1)
        mstart = np.arange(m0, m1, dtype=np.float64) * MINUTE
        vals = self._vertex_values(inst, logs, mstart)
        tf, vf = times.ravel(), vals.ravel()
        inside = (tf > t0) & (tf < t1)
        pts_t = np.concatenate(([t0], tf[inside], [t1]))
        pts_v = np.concatenate(([self.mid(symbol, t0)], vf[inside], [self.mid(symbol, t1)]))
        return pts_t, pts_v

    def mid_range(self, symbol: str, t0: float, t1: float) -> tuple[float, float]:
        """Return the lowest and highest mid over [t0, t1]."""
        _, v = self.path_points(symbol, t0, t1)
        return float(v.min()), float(v.max())

    def first_cross(
        self,
        symbol: str,
        t0: float,
        t1: float,
        level: float,
        up: bool,
        points: tuple[FloatArray, FloatArray] | None = None,
    ) -> float | None:
        """Return the first time in [t0, t1] the mid is >= `level` (up) or <= `level` (down), else None.

        `points` may pass `path_points(symbol, t0, t1)` when asking about many levels at once.
        """
        pts_t, pts_v = points if points is not None else self.path_points(symbol, t0, t1)
        hit = pts_v >= level if up else pts_v <= level
        if not hit.any():
            return None
        i = int(np.argmax(hit))
        if i == 0:
            return t0
        lo, hi = float(pts_t[i - 1]), float(pts_t[i])
        for _ in range(40):  # the mid is monotone between vertices: bisect to a millisecond
            if hi - lo <= 1e-3:
                break
            mid_t = (lo + hi) / 2.0
            v = self.mid(symbol, mid_t)
            if (v >= level) if up else (v <= level):
                hi = mid_t
            else:
                lo = mid_t
        return hi

    # --- candles ------------------------------------------------------------------------------

    def candles(
        self, symbol: str, start: float, end: float, resolution: int = 60, *, now: float | None = None
    ) -> Candles:
        """Return candles of `resolution` seconds (a multiple of 60) starting in [start, end).

        Candles are aligned to the epoch; the one containing `start` is included. With `now`, nothing
        after `now` is revealed: later candles are dropped and the one in progress is partial.
        """
        if resolution <= 0 or resolution % MINUTE:
            raise ValueError("resolution must be a positive multiple of 60 seconds")
        inst = self._instruments[symbol]
        if now is not None:
            end = min(end, math.floor(now) + 1e-9)
        k0, k1 = math.floor(start / resolution), math.ceil(end / resolution)
        per = resolution // MINUTE
        m0, m1 = k0 * per, k1 * per
        if now is not None:
            m1 = min(m1, math.floor(now / MINUTE) + 1)
        if m1 <= m0:
            empty = np.empty(0)
            return Candles(np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty)
        times, logs, vol = self._paths[inst.underlying].minutes(m0, m1)
        mstart = np.arange(m0, m1, dtype=np.float64) * MINUTE
        vals = self._vertex_values(inst, logs, mstart)
        o, c = vals[:, 0].copy(), vals[:, 3].copy()
        h, lo = vals.max(axis=1), vals.min(axis=1)
        if now is not None and now < m1 * MINUTE:  # the minute in progress: only what happened so far
            seen = times[-1] <= now
            cur = self.mid(symbol, now)
            c[-1] = cur
            h[-1] = max(float(vals[-1][seen].max()), cur)
            lo[-1] = min(float(vals[-1][seen].min()), cur)
            vol = vol.copy()
            vol[-1] *= (now - mstart[-1]) / MINUTE
        tick = float(inst.tick_size)
        o, h, lo, c = (np.round(x / tick) * tick for x in (o, h, lo, c))
        lot = float(inst.lot_size)
        lots = self._minute_lots(inst, vol, vals[:, 3])
        idx = np.arange(0, len(o), per)
        last = np.minimum(idx + per, len(o)) - 1
        return Candles(
            time=(k0 + np.arange(len(idx), dtype=np.int64)) * resolution,
            open=o[idx],
            high=np.maximum.reduceat(h, idx),
            low=np.minimum.reduceat(lo, idx),
            close=c[last],
            volume=np.add.reduceat(lots, idx) * lot,
        )

    def _minute_lots(self, inst: Instrument, vol: FloatArray, close: FloatArray | None) -> np.ndarray:
        """Return whole lots traded in each minute, from the path's volume factors (and closes: inverse only)."""
        u = self._underlyings[inst.underlying]
        units = u.volume * _VOLUME_SHARE[inst.kind] * vol / float(inst.contract_size)
        if inst.inverse:
            assert close is not None
            units = units * close
        return np.round(units / float(inst.lot_size)).astype(np.int64)

    # --- order book ---------------------------------------------------------------------------

    def touch(self, inst: Instrument, mid: float) -> tuple[int, int, int]:
        """Return (best bid ticks, best ask ticks, ticks between levels) around `mid`."""
        tick = float(inst.tick_size)
        center = mid / tick
        spread = max(1, round(center * inst.spread / 1e4))
        bid = math.floor(center - spread / 2.0 + 0.5)
        step = max(1, round(center * inst.level_step / 1e4))
        return bid, bid + spread, step

    def book_lots(self, inst: Instrument, t: float) -> tuple[list[int], list[int]]:
        """Return the lots of each bid and ask level (deterministic per whole second)."""
        bucket = math.floor(t)
        cached = self._book_cache.get(inst.symbol)
        if cached is not None and cached[0] == bucket:
            return cached[1], cached[2]
        u = self._underlyings[inst.underlying]
        unit_value = float(inst.contract_size) * (1.0 if inst.inverse else u.price)
        base = max(inst.depth_notional / unit_value / float(inst.lot_size), 1.0)
        z = rng_for(self.seed, inst.symbol, "book", bucket).standard_normal(2 * BOOK_MAX_DEPTH)
        sizes = base * BOOK_GROWTH ** np.tile(np.arange(BOOK_MAX_DEPTH), 2) * np.exp(0.45 * z - 0.1)
        lots = np.maximum(np.round(sizes), 1).astype(np.int64).tolist()
        bids, asks = lots[:BOOK_MAX_DEPTH], lots[BOOK_MAX_DEPTH:]
        self._book_cache[inst.symbol] = (bucket, bids, asks)
        return bids, asks

    def book(self, symbol: str, t: float, depth: int = 25) -> OrderBook:
        """Return the order book at `t` with up to `depth` levels a side (at most 100)."""
        inst = self._instruments[symbol]
        mid = self.mid(symbol, t)
        bid0, ask0, step = self.touch(inst, mid)
        bl, al = self.book_lots(inst, t)
        n = max(0, min(depth, BOOK_MAX_DEPTH))
        bid_ticks = [p for p in (bid0 - i * step for i in range(n)) if p > 0]
        return OrderBook(
            inst,
            t,
            mid,
            bid_ticks,
            bl[: len(bid_ticks)],
            [ask0 + i * step for i in range(n)],
            al[:n],
        )

    # --- funding and open interest ------------------------------------------------------------

    def funding_rate(self, symbol: str, t: float) -> float:
        """Return the funding rate of the period containing `t` (paid at its end; long pays if > 0)."""
        inst = self._instruments[symbol]
        interval = inst.funding_interval or 8 * HOUR
        p0 = math.floor(t / interval) * interval
        samples = [self._premium_at(symbol, p0 + s) for s in range(0, interval, HOUR)] or [self._premium_at(symbol, p0)]
        rate_8h = sum(samples) / len(samples)  # the period's average premium, capped like the venues do
        return round(min(max(rate_8h, -0.0075), 0.0075) * interval / (8 * HOUR), 10)

    def funding_times(self, symbol: str, t0: float, t1: float) -> list[float]:
        """Return the funding settlement times in (t0, t1]."""
        interval = self._instruments[symbol].funding_interval or 8 * HOUR
        first = math.floor(t0 / interval) + 1
        last = math.floor(t1 / interval)
        return [float(k * interval) for k in range(first, last + 1)]

    def funding_history(self, symbol: str, start: float, end: float) -> list[tuple[float, float]]:
        """Return (settlement time, rate) for settlements in (start, end]."""
        interval = self._instruments[symbol].funding_interval or 8 * HOUR
        return [(ts, self.funding_rate(symbol, ts - interval / 2)) for ts in self.funding_times(symbol, start, end)]

    def open_interest(self, symbol: str, t: float) -> float:
        """Return open interest in the instrument's quantity units at `t`."""
        inst = self._instruments[symbol]
        u = self._underlyings[inst.underlying]
        unit_value = float(inst.contract_size) * (1.0 if inst.inverse else u.price)
        lot = float(inst.lot_size)
        if inst.kind is InstrumentKind.OPTION:
            assert inst.strike is not None
            assert inst.expiry is not None
            fwd = self.forward(inst.underlying, t, inst.expiry)
            base = inst.depth_notional * 40.0 / unit_value
            years = max(inst.expiry - t, 0.0) / YEAR
            is_call = inst.option_kind == "call"
            oi = strike_open_interest(self.seed, symbol, float(inst.strike), fwd, years, is_call, base, t)
        else:
            h = seed_int(self.seed, symbol, "oi")
            p1, p2 = (h & 0xFFFF) / 65536 * 2 * math.pi, ((h >> 16) & 0xFFFF) / 65536 * 2 * math.pi
            slow = math.sin(2 * math.pi * t / (9 * 86400) + p1)
            fast = math.sin(2 * math.pi * t / (31 * HOUR) + p2)
            wave = 0.25 * slow + 0.1 * fast
            oi = inst.depth_notional * 2000.0 / unit_value * math.exp(wave)
        return round(oi / lot) * lot

    # --- options ------------------------------------------------------------------------------

    def option_snapshot(self, symbol: str, t: float) -> OptionSnapshot:
        """Return the option's mark, mark IV, bid/ask (and their IVs), greeks and open interest at `t`."""
        inst = self._instruments[symbol]
        if inst.kind is not InstrumentKind.OPTION:
            raise ValueError(f"{symbol} is not an option")
        assert inst.expiry is not None
        assert inst.strike is not None
        assert inst.option_kind is not None
        u = self._underlyings[inst.underlying]
        s = self.index(inst.underlying, t)
        m0 = math.floor(t / MINUTE) * MINUTE
        years = (inst.expiry - m0) / YEAR
        fwd = s * math.exp(u.carry * max(years, 0.0))
        book = self.book(symbol, t, depth=1)
        mark = book.mid
        bid = float(book.best_bid) if book.best_bid is not None else None
        ask = float(book.best_ask) if book.best_ask is not None else None
        oi = self.open_interest(symbol, t)
        if years <= MIN_YEARS:
            return OptionSnapshot(symbol, t, s, fwd, 0.0, 0.0, mark, bid, ask, None, None, 0, 0, 0, 0, 0, 0, oi)
        fwd_open = math.exp(self._paths[inst.underlying].log_at(m0)) * math.exp(u.carry * years)
        iv = float(self._surfaces[inst.underlying].iv(m0, fwd_open, float(inst.strike), years))
        g = black76_greeks(fwd, float(inst.strike), years, u.rate, iv, inst.option_kind)
        vega = float(g.vega) / (fwd if inst.premium_in_underlying else 1.0)
        bid_iv = max(iv - (mark - bid) / vega, 0.0) if bid is not None and vega > 1e-12 else None
        ask_iv = iv + (ask - mark) / vega if ask is not None and vega > 1e-12 else None
        return OptionSnapshot(
            symbol, t, s, fwd, years, iv, mark, bid, ask, bid_iv, ask_iv,
            float(g.delta), float(g.gamma), float(g.vega), float(g.theta), float(g.vanna), float(g.charm), oi,
        )  # fmt: skip


def _frontier(x: FloatArray, y: FloatArray, high_x: bool, high_y: bool) -> np.ndarray:
    """Return (rows, m) booleans: the minutes no other minute beats in `x` (shared, (m,)) and `y` ((rows, m)).

    A minute is beaten when another is at least as far in the wanted direction of `x` and strictly
    further in `y`; ties are kept. A value rising in both can then be no larger at a beaten minute.
    """
    order = np.argsort(-x if high_x else x, kind="stable")
    ys = y.T[order] if high_y else -y.T[order]  # minutes down the rows: the running best is a fast axis-0 scan
    best_before = np.maximum.accumulate(ys, axis=0)
    keep_sorted = np.empty(ys.shape, dtype=bool)
    keep_sorted[0] = True
    keep_sorted[1:] = ys[1:] >= best_before[:-1]
    keep = np.empty_like(keep_sorted)
    keep[order] = keep_sorted
    return keep.T
