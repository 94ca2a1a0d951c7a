"""The macro world the four sources publish: deterministic levels on the shared engine's price paths.

Every level is a *trend* (log-linear or linear interpolation between knots that follow the real
history since 2018 roughly) times, or plus, a *deviation*: the move of the shared engine's
`PricePath` walk (seeded by the instance seed and the level's name, anchored at 2020-01-01) over a
lookback window, so that years of random walk stay within a realistic band around the trend. A level is a pure
function of (seed, name, time), so two instances with one seed agree at every date whatever
their clocks say; publication times (each source's own module) decide what "now" may show.

The Treasury curve is a Nelson-Siegel curve through the model's short rate and 10-year yield plus
a curvature factor, with a one-basis-point tenor noise; the Fed funds target moves only at FOMC
decisions (eight a year), towards the short rate. FRED's Treasury series, breakevens and the
Finnhub ETF quotes are read from the same levels, so the sources agree with each other.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from cerbero_mcp.simulators.engine.paths import DAY, FloatArray, PricePath, rng_for
from cerbero_mcp.simulators.macro.calendar import (
    at,
    epoch_day,
    from_epoch_day,
    nth_weekday,
)

ANCHOR_T = 1_577_836_800.0  # 2020-01-01T00:00:00Z: the walks' anchor, fixed so history never depends on "now"
HISTORY_START = date(2018, 1, 2)  # first date any source publishes


def _d(text: str) -> date:
    return date.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Trend:
    """A piecewise interpolation through dated knots, flat beyond both ends."""

    days: tuple[int, ...]
    values: tuple[float, ...]
    log: bool

    @classmethod
    def of(cls, knots: Sequence[tuple[str, float]], *, log: bool) -> Trend:
        """Build a trend from ("YYYY-MM-DD", value) knots in date order."""
        days = tuple(epoch_day(_d(k)) for k, _ in knots)
        values = tuple(math.log(v) if log else v for _, v in knots)
        return cls(days, values, log)

    def at(self, day: float) -> float:
        """Return the trend at fractional epoch day `day`."""
        i = bisect.bisect_right(self.days, day)
        if i == 0:
            v = self.values[0]
        elif i == len(self.days):
            v = self.values[-1]
        else:
            d0, d1 = self.days[i - 1], self.days[i]
            w = (day - d0) / (d1 - d0)
            v = self.values[i - 1] + w * (self.values[i] - self.values[i - 1])
        return math.exp(v) if self.log else v


class Level:
    """One published quantity: a trend and a stationary deviation around it.

    The deviation is the walk's move over the last `lookback` days, x(t) - x(t - lookback): it has
    the walk's full local volatility (so closes move every day) yet a stationary spread,
    vol * sqrt(lookback), so years of walk never drift away from the trend. x(t - lookback) is
    interpolated between two day starts, which keeps an intraday read O(1) and continuous.
    """

    def __init__(self, seed: int, name: str, trend: Trend, vol: float, spread: float) -> None:
        """Walk with annualised `vol` (log units for a log trend, points otherwise), `spread` around the trend."""
        self.name = name
        self.trend = trend
        self.lookback = max(1, round((spread / vol) ** 2 * 365))
        self.path = PricePath(seed, name, 1.0, vol, ANCHOR_T)
        self._x: dict[int, float] = {}
        self._times: dict[float, float] = {}
        self._lock = threading.Lock()

    def _x_day(self, day: int) -> float:
        cached = self._x.get(day)
        if cached is None:
            cached = self.path.log_at_day_start(day)
            with self._lock:
                self._x[day] = cached
        return cached

    def _combine(self, day: float, dev: float) -> float:
        base = self.trend.at(day)
        return base * math.exp(dev) if self.trend.log else base + dev

    def at_day_start(self, day: int) -> float:
        """Return the level at 00:00 UTC of epoch day `day` (cheap; used for daily closes)."""
        return self._combine(day, self._x_day(day) - self._x_day(day - self.lookback))

    def at(self, t: float) -> float:
        """Return the level at epoch seconds `t` (intraday precision)."""
        cached = self._times.get(t)
        if cached is None:
            u = t / DAY - self.lookback
            d0 = math.floor(u)
            w = u - d0
            anchor = (1 - w) * self._x_day(d0) + w * self._x_day(d0 + 1)
            cached = self._combine(t / DAY, self.path.log_at(t) - anchor)
            with self._lock:
                if len(self._times) > 50_000:
                    self._times.clear()
                self._times[t] = cached
        return cached

    def close(self, d: date) -> float:
        """Return the level at the end of UTC day `d` (a daily series' value for `d`)."""
        return self.at_day_start(epoch_day(d) + 1)

    def closes(self, dates: Sequence[date]) -> FloatArray:
        """Return `close(d)` for every date at once (vectorised; equal to the scalar reads)."""
        days = np.array([epoch_day(d) + 1 for d in dates], dtype=np.int64)
        dev = self.path.log_at_day_starts(days) - self.path.log_at_day_starts(days - self.lookback)
        base = np.interp(days, self.trend.days, self.trend.values)
        return np.exp(base + dev) if self.trend.log else base + dev


def q(value: float, decimals: int) -> Decimal:
    """Return `value` as a Decimal rounded half-even to `decimals` places."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals))


# --- the Treasury curve --------------------------------------------------------------------------

TENORS: tuple[tuple[str, float, date | None], ...] = (
    # (Treasury field, years, first date the Treasury publishes it)
    ("BC_1MONTH", 1 / 12, None),
    ("BC_1_5MONTH", 1.5 / 12, date(2025, 2, 18)),  # six-week bill point, added in 2025
    ("BC_2MONTH", 2 / 12, date(2018, 10, 16)),
    ("BC_3MONTH", 3 / 12, None),
    ("BC_4MONTH", 4 / 12, date(2022, 10, 19)),  # four-month bill point, added in late 2022
    ("BC_6MONTH", 0.5, None),
    ("BC_1YEAR", 1.0, None),
    ("BC_2YEAR", 2.0, None),
    ("BC_3YEAR", 3.0, None),
    ("BC_5YEAR", 5.0, None),
    ("BC_7YEAR", 7.0, None),
    ("BC_10YEAR", 10.0, None),
    ("BC_20YEAR", 20.0, None),
    ("BC_30YEAR", 30.0, None),
)
NS_LAMBDA = 2.0
GAP_PROBABILITY = 0.01  # share of business days on which one tenor is not published


def _f1(tau: float) -> float:
    x = tau / NS_LAMBDA
    return (1 - math.exp(-x)) / x


def _f2(tau: float) -> float:
    return _f1(tau) - math.exp(-tau / NS_LAMBDA)


# --- FOMC ----------------------------------------------------------------------------------------

FOMC_MONTHS: tuple[tuple[int, int], ...] = ((1, -1), (3, 3), (4, -1), (6, 3), (7, -1), (9, 3), (10, -1), (12, 2))


def fomc_decisions(year: int) -> list[date]:
    """Return the eight FOMC decision days (the meeting's second day, a Wednesday) of `year`."""
    return [nth_weekday(year, month, 2, n) for month, n in FOMC_MONTHS]


def fomc_decision_time(d: date) -> float:
    """Return when the statement of the meeting ending on `d` is published (14:00 New York)."""
    return at(d, 14, 0)


# --- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelSpec:
    """How one level walks: knots, log or linear, volatility and spread around the trend."""

    knots: tuple[tuple[str, float], ...]
    log: bool
    vol: float
    spread: float


# name, log|lin trend, annual vol, spread around the trend | knots "date value" (a line ending in "|" goes on)
LEVEL_TABLE = """
short      lin 0.3 0.25 | 2018-01-01 1.4 | 2019-01-01 2.4 | 2019-12-01 1.55 | 2020-03-20 0.1 | 2022-03-01 0.3 |
    2022-12-15 4.3 | 2023-08-01 5.33 | 2024-09-01 5.3 | 2024-12-20 4.35 | 2025-09-01 4.3 | 2025-12-15 3.65 |
    2026-06-01 3.45
ust10      lin 0.9 0.35 | 2018-01-01 2.45 | 2018-11-01 3.15 | 2019-09-01 1.55 | 2020-01-01 1.9 | 2020-04-01 0.65 |
    2021-03-31 1.7 | 2022-01-01 1.65 | 2022-10-20 4.2 | 2023-04-01 3.45 | 2023-10-20 4.95 | 2024-01-01 3.9 |
    2024-09-15 3.65 | 2025-01-10 4.75 | 2025-10-01 4.1 | 2026-03-01 4.1 | 2026-12-01 4.25
curvature  lin 0.6 0.3 | 2018-01-01 0.2 | 2023-01-01 -0.3 | 2025-01-01 0.1
be5        lin 0.3 0.3 | 2018-01-01 1.9 | 2020-03-19 0.55 | 2021-05-01 2.55 | 2022-03-25 3.55 | 2023-01-01 2.3 |
    2025-01-01 2.45 | 2026-06-01 2.4
be10       lin 0.25 0.25 | 2018-01-01 2 | 2020-03-19 0.9 | 2021-05-01 2.45 | 2022-04-20 3 | 2023-01-01 2.25 |
    2025-01-01 2.35 | 2026-06-01 2.3
hy_oas     log 0.5 0.25 | 2018-01-01 3.5 | 2020-03-23 10.8 | 2021-06-01 3 | 2022-07-05 5.8 | 2024-01-01 3.3 |
    2025-04-08 4.5 | 2025-06-01 3 | 2026-06-01 2.95
spx        log 0.16 0.08 | 2018-01-01 2700 | 2019-01-01 2500 | 2020-02-19 3380 | 2020-03-23 2240 | 2021-01-01 3750 |
    2022-01-03 4790 | 2022-10-12 3580 | 2024-01-01 4770 | 2025-01-01 5880 | 2025-04-08 4980 | 2026-01-01 6850 |
    2027-01-01 7300
ndx        log 0.22 0.1 | 2018-01-01 6400 | 2020-01-01 8800 | 2020-03-23 7000 | 2021-01-01 12900 |
    2022-01-03 16500 | 2022-12-28 10700 | 2024-01-01 16800 | 2025-01-01 21000 | 2025-04-08 17100 |
    2026-01-01 25300 | 2027-01-01 27000
djia       log 0.15 0.08 | 2018-01-01 24800 | 2020-02-12 29500 | 2020-03-23 18600 | 2021-01-01 30600 |
    2022-01-03 36500 | 2022-09-30 28700 | 2024-01-01 37700 | 2025-01-01 42500 | 2025-04-08 37600 |
    2026-01-01 48000 | 2027-01-01 50000
rut        log 0.22 0.1 | 2018-01-01 1540 | 2020-01-01 1670 | 2020-03-18 1000 | 2021-03-15 2350 | 2022-06-16 1650 |
    2024-01-01 2030 | 2025-01-01 2230 | 2025-04-08 1760 | 2026-01-01 2500 | 2027-01-01 2600
vix        log 0.9 0.3 | 2018-01-01 11.5 | 2018-02-06 30 | 2018-04-15 16 | 2020-02-14 14.5 | 2020-03-16 66 |
    2020-06-15 33 | 2021-06-01 18 | 2022-06-15 30 | 2023-06-01 14 | 2024-08-05 26 | 2024-09-15 16 | 2025-04-08 46 |
    2025-06-01 17.5 | 2026-06-01 16.5
gold       log 0.15 0.1 | 2018-01-01 1300 | 2020-08-06 2060 | 2022-09-28 1630 | 2024-01-01 2060 | 2025-01-01 2630 |
    2025-10-20 4300 | 2026-01-01 4350 | 2027-01-01 4500
silver     log 0.28 0.15 | 2018-01-01 17 | 2020-03-18 12 | 2020-08-06 28.5 | 2022-09-01 17.5 | 2024-05-20 31.5 |
    2025-01-01 29 | 2025-10-15 52 | 2026-01-01 70
wti        log 0.4 0.2 | 2018-01-01 60 | 2018-10-03 76 | 2018-12-24 43 | 2020-01-06 63 | 2020-04-21 15 |
    2021-01-01 48 | 2022-03-08 123 | 2022-06-08 122 | 2023-03-17 67 | 2023-09-27 93 | 2025-01-15 80 |
    2025-05-05 57 | 2026-01-01 60
broad_usd  log 0.06 0.05 | 2018-01-01 112 | 2020-03-23 126.5 | 2021-05-25 112.5 | 2022-10-20 128.5 |
    2024-01-01 120 | 2025-01-13 130 | 2025-07-01 120 | 2026-06-01 119.5
eurusd     log 0.07 0.05 | 2018-01-01 1.2 | 2020-03-20 1.07 | 2021-01-06 1.23 | 2022-09-27 0.96 | 2023-07-14 1.122 |
    2024-10-01 1.11 | 2025-01-13 1.025 | 2025-07-01 1.178 | 2026-06-01 1.17
btc        log 0.55 0.25 | 2018-01-01 14000 | 2018-12-15 3300 | 2020-01-01 7200 | 2020-03-13 4900 |
    2021-04-14 63000 | 2021-07-20 30000 | 2021-11-10 67000 | 2022-11-21 15800 | 2024-03-14 72000 |
    2025-01-20 105000 | 2025-10-06 124000 | 2026-01-01 90000 | 2027-01-01 95000
tlt        log 0.14 0.08 | 2018-01-01 125 | 2020-03-09 171 | 2021-01-01 157 | 2022-10-21 92 | 2023-10-19 83 |
    2024-01-01 98 | 2025-01-13 85 | 2026-01-01 88
ief        log 0.06 0.04 | 2018-01-01 104 | 2020-08-04 123 | 2022-10-21 93 | 2024-01-01 96 | 2025-01-13 91 |
    2026-01-01 96
shy        log 0.015 0.01 | 2018-01-01 83.5 | 2020-08-01 86.5 | 2022-10-21 80.5 | 2026-01-01 82.8
hyg        log 0.07 0.05 | 2018-01-01 87 | 2020-03-23 68 | 2021-06-01 88 | 2022-10-01 72 | 2026-01-01 80.5
lqd        log 0.08 0.05 | 2018-01-01 121 | 2020-08-04 138 | 2022-10-21 97 | 2026-01-01 110
aapl       log 0.28 0.15 | 2018-01-01 43 | 2020-01-01 75 | 2021-12-31 178 | 2023-01-03 125 | 2024-12-26 259 |
    2025-04-08 172 | 2026-01-01 265
msft       log 0.25 0.15 | 2018-01-01 86 | 2020-01-01 160 | 2021-11-19 343 | 2022-11-03 214 | 2024-07-05 467 |
    2025-04-08 354 | 2025-07-31 530 | 2026-01-01 485
nvda       log 0.45 0.2 | 2018-01-01 5 | 2021-11-29 33 | 2022-10-13 11 | 2024-06-18 135 | 2025-04-07 97 |
    2025-10-29 207 | 2026-01-01 187
ffr_noise  lin 0.05 0.02 | 2018-01-01 0
cpi        log 0.005 0.008 | 2018-01-15 248 | 2020-01-15 258.7 | 2020-05-15 255.8 | 2021-01-15 262.2 |
    2022-06-15 296.3 | 2023-06-15 304 | 2024-06-15 313 | 2025-06-15 322 | 2026-06-15 330.5 | 2027-06-15 339
unrate     lin 0.4 0.3 | 2018-01-15 4.1 | 2019-12-15 3.6 | 2020-03-15 4.4 | 2020-04-15 14.8 | 2020-12-15 6.7 |
    2022-01-15 4 | 2023-04-15 3.4 | 2024-07-15 4.2 | 2025-08-15 4.3 | 2026-06-15 4.4
payems     log 0.004 0.006 | 2018-01-15 147200 | 2020-02-15 152400 | 2020-04-15 130400 | 2021-12-15 149000 |
    2023-01-15 155000 | 2024-12-15 159000 | 2025-12-15 159600 | 2026-12-15 160400
gdp        log 0.012 0.012 | 2018-02-15 20150 | 2020-02-15 21700 | 2020-05-15 19900 | 2021-02-15 22700 |
    2022-02-15 25000 | 2023-02-15 26800 | 2024-02-15 28600 | 2025-02-15 29900 | 2026-02-15 31500 |
    2027-02-15 33000
icsa       log 0.5 0.15 | 2018-01-01 235000 | 2020-03-14 250000 | 2020-03-28 6e+06 | 2020-05-02 3e+06 |
    2020-09-05 850000 | 2021-06-05 400000 | 2022-01-01 220000 | 2026-06-01 225000
"""


def _parse_levels(table: str) -> dict[str, LevelSpec]:
    joined = re.sub(r"\|\s*\n\s+", "| ", table.strip())
    out: dict[str, LevelSpec] = {}
    for line in joined.splitlines():
        head, *knots = (part.strip() for part in line.split("|"))
        name, kind, vol, spread = head.split()
        points = tuple((k.split()[0], float(k.split()[1])) for k in knots)
        out[name] = LevelSpec(points, kind == "log", float(vol), float(spread))
    return out


LEVELS = _parse_levels(LEVEL_TABLE)


class MacroModel:
    """Every level the macro sources publish, for one seed."""

    def __init__(self, seed: int) -> None:
        """Build the levels of `seed` (lazily evaluated, cached per day)."""
        self.seed = seed
        self.levels = {
            name: Level(seed, name, Trend.of(s.knots, log=s.log), s.vol, s.spread) for name, s in LEVELS.items()
        }
        self._upper: dict[date, float] = {}
        self._curves: dict[date, dict[str, Decimal | None]] = {}
        self._lock = threading.Lock()

    def level(self, name: str) -> Level:
        """Return a level by name (KeyError when unknown)."""
        return self.levels[name]

    # --- the curve ---------------------------------------------------------------------------

    def curve(self, d: date) -> dict[str, Decimal | None]:
        """Return the par yield curve of business day `d`: Treasury field -> percent (None: not published).

        Tenors the Treasury did not publish yet on `d` are left out; on a few days one tenor that
        exists is None (the Treasury leaves it out that day).
        """
        cached = self._curves.get(d)
        if cached is None:
            cached = self._curve(d)
            with self._lock:
                self._curves[d] = cached
        return dict(cached)

    def _curve(self, d: date) -> dict[str, Decimal | None]:
        day = epoch_day(d) + 1
        short = max(self.levels["short"].at_day_start(day), 0.03)
        ten = max(self.levels["ust10"].at_day_start(day), 0.40)
        curv = self.levels["curvature"].at_day_start(day)
        f1_10, f2_10 = _f1(10.0), _f2(10.0)
        level = (ten - short * f1_10 - curv * f2_10) / (1 - f1_10)
        rng = rng_for(self.seed, "curve-noise", day)
        noise = rng.standard_normal(len(TENORS)) * 0.01
        gap = rng.random() < GAP_PROBABILITY
        gap_index = int(rng.integers(0, len(TENORS)))
        out: dict[str, Decimal | None] = {}
        for i, (field, tau, since) in enumerate(TENORS):
            if since is not None and d < since:
                continue
            y = level + (short - level) * _f1(tau) + curv * _f2(tau) + (0.0 if field == "BC_10YEAR" else noise[i])
            out[field] = None if gap and i == gap_index else q(max(y, 0.01), 2)
        return out

    # --- the Fed funds target ----------------------------------------------------------------

    def fed_upper(self, d: date) -> Decimal:
        """Return the upper bound of the Fed funds target range in force on `d`."""
        decisions = [m for y in (d.year - 1, d.year) for m in fomc_decisions(y) if m < d]
        last = decisions[-1]
        cached = self._upper.get(last)
        if cached is None:
            s = self.levels["short"].at_day_start(epoch_day(last))
            cached = max(0.25, round((s + 0.10) * 4) / 4)
            with self._lock:
                self._upper[last] = cached
        return q(cached, 2)

    def effective_ffr(self, d: date) -> Decimal:
        """Return the effective Fed funds rate of `d` (a few basis points under the top of the range)."""
        upper = float(self.fed_upper(d))
        below = 0.17 if upper > 0.25 else 0.17 - 0.08
        return q(upper - below + self.levels["ffr_noise"].close(d), 2)

    # --- monthly and quarterly ----------------------------------------------------------------

    def monthly(self, name: str, month: date) -> float:
        """Return a monthly level for the month starting `month` (sampled mid-month)."""
        return self.levels[name].at_day_start(epoch_day(month) + 14)

    def quarterly(self, name: str, quarter: date) -> float:
        """Return a quarterly level for the quarter starting `quarter` (sampled mid-quarter)."""
        return self.levels[name].at_day_start(epoch_day(quarter + timedelta(days=45)))

    def weekly(self, name: str, week_end: date) -> float:
        """Return a weekly level for the week ending `week_end`."""
        return self.levels[name].close(week_end)


def day_of(t: float) -> date:
    """Return the UTC date of epoch seconds `t`."""
    return from_epoch_day(math.floor(t / DAY))
