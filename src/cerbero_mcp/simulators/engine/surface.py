"""Implied-volatility surfaces, listed expiries and strikes, and open interest per strike.

The surface is a parametric smile in log-moneyness k = ln(K/F) with a power-law ATM term
structure (see `SurfaceParams`), scaled over time by a slow deterministic "breathing" factor, so
mark IVs move but stay a pure function of (seed, underlying, t). Prices and greeks come from the
quant library's Black-76 (`cerbero_mcp.common.options`), never from a local copy.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from numpy.typing import ArrayLike

from cerbero_mcp.simulators.engine.instruments import SurfaceParams, Underlying
from cerbero_mcp.simulators.engine.paths import DAY, YEAR, FloatArray, rng_for, seed_int

MIN_YEARS = 1.0 / YEAR  # one second: Black-76 needs T > 0


class VolSurface:
    """The implied-volatility surface of one underlying under one seed."""

    def __init__(self, seed: int, underlying: Underlying) -> None:
        """Seed the breathing phases from (seed, underlying name)."""
        self.params: SurfaceParams = underlying.surface
        self.name = underlying.name
        rng = rng_for(seed, underlying.name, "surface")
        self._phases = rng.uniform(0.0, 2.0 * math.pi, 3)

    def breathing(self, t: ArrayLike) -> FloatArray:
        """Return the surface's level factor at time(s) `t` (1 ± breathing, smooth in time)."""
        x = np.asarray(t, dtype=np.float64)
        p = self._phases
        wave = (
            0.5 * np.sin(2 * math.pi * x / (11 * DAY) + p[0])
            + 0.3 * np.sin(2 * math.pi * x / (2.7 * DAY) + p[1])
            + 0.2 * np.sin(2 * math.pi * x / (0.37 * DAY) + p[2])
        )
        return np.asarray(1.0 + self.params.breathing * wave, dtype=np.float64)

    def atm(self, t: ArrayLike, years: ArrayLike) -> FloatArray:
        """Return the ATM implied vol for time to expiry `years` observed at `t`."""
        p = self.params
        ref = p.ref_days / 365.0
        tt = np.maximum(np.asarray(years, dtype=np.float64), 1.0 / 365.0)
        return np.asarray(p.atm_vol * (tt / ref) ** p.term_slope * self.breathing(t), dtype=np.float64)

    def iv(self, t: ArrayLike, forward: ArrayLike, strike: ArrayLike, years: ArrayLike) -> FloatArray:
        """Return implied vols: atm(T) + skew*s*k + curvature*(s*k)^2, clipped to [min_vol, max_vol]."""
        p = self.params
        tt = np.asarray(years, dtype=np.float64)
        k = np.log(np.asarray(strike, dtype=np.float64) / np.asarray(forward, dtype=np.float64))
        s = np.clip(np.sqrt(p.ref_days / 365.0 / np.maximum(tt, MIN_YEARS)), 0.25, 4.0)
        sk = s * k
        raw = self.atm(t, tt) + p.skew * sk + p.curvature * sk * sk
        return np.asarray(np.clip(raw, p.min_vol, p.max_vol), dtype=np.float64)


def listed_expiries(
    now: float,
    *,
    hour: int = 8,
    dailies: int = 3,
    weeklies: int = 4,
    monthlies: int = 3,
    quarterlies: int = 4,
    weekday: int = 4,
) -> list[float]:
    """Return Deribit-style expiries after `now` (epoch s), ascending and unique.

    Dailies every day, weeklies on `weekday` (4 = Friday), monthlies on the last such weekday of
    the month, quarterlies on the last such weekday of Mar/Jun/Sep/Dec; all at `hour`:00 UTC.
    Equity venues pass e.g. hour=20, dailies=0.
    """
    start = datetime.fromtimestamp(now, UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    if start.timestamp() <= now:
        start += timedelta(days=1)
    out: set[float] = set()
    day = start
    while len(out) < dailies:
        out.add(day.timestamp())
        day += timedelta(days=1)
    day = start + timedelta(days=(weekday - start.weekday()) % 7)
    for _ in range(weeklies):
        out.add(day.timestamp())
        day += timedelta(days=7)
    months: list[tuple[int, int]] = []
    y, m = start.year, start.month
    while len(months) < 24:
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    ends = [(m, _last_weekday(y, m, weekday, hour)) for y, m in months]
    out.update([e for _, e in ends if e > now][:monthlies])
    out.update([e for m, e in ends if m % 3 == 0 and e > now][:quarterlies])
    return sorted(out)


def _last_weekday(year: int, month: int, weekday: int, hour: int) -> float:
    last = calendar.monthrange(year, month)[1]
    d = datetime(year, month, last, hour, tzinfo=UTC)
    d -= timedelta(days=(d.weekday() - weekday) % 7)
    return d.timestamp()


def strike_grid(forward: float, years: float, atm_vol: float, *, width: float = 3.0) -> list[Decimal]:
    """Return listed strikes around `forward`: a 1-2-2.5-5 step, ±`width` standard deviations wide."""
    sd = atm_vol * math.sqrt(max(years, 1.0 / 365.0))
    lo = forward * max(math.exp(-width * sd), 0.2)
    hi = forward * min(math.exp(width * sd), 4.0)
    raw = (hi - lo) / 24.0
    exp10 = 10.0 ** math.floor(math.log10(raw))
    step = next(m * exp10 for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * exp10 >= raw)
    dstep = Decimal(repr(step))
    first = max(math.ceil(lo / step), 1)
    last = math.floor(hi / step)
    return [Decimal(n) * dstep for n in range(first, last + 1)]


def strike_open_interest(
    seed: int, symbol: str, strike: float, forward: float, years: float, is_call: bool, base: float, t: float
) -> float:
    """Return open interest for one option: bell-shaped around the forward, heavier OTM and on round strikes."""
    k = math.log(strike / forward)
    width = max(0.15, 0.6 * math.sqrt(max(years, 0.0)))
    shape = math.exp(-k * k / (2 * width * width))
    otm = (k > 0) == is_call
    roundness = 1.6 if strike % (10 ** max(math.floor(math.log10(strike)) - 1, 0) * 5) == 0 else 1.0
    day = math.floor(t / DAY)
    noise = math.exp(0.5 * _unit_normal(seed, symbol, "oi", day) - 0.125)
    return base * shape * (1.4 if otm else 0.7) * roundness * noise


def _unit_normal(*parts: object) -> float:
    """Return a standard normal deterministic in `parts` (cheap: no Generator)."""
    h = seed_int(*parts)
    u1 = ((h & 0xFFFFFFFFFFFF) + 0.5) / 2.0**48
    u2 = (((h >> 64) & 0xFFFFFFFFFFFF) + 0.5) / 2.0**48
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
