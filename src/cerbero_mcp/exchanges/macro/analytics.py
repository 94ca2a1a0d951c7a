"""The numbers the macro tools derive: curve spreads, percentile ranks, z-scores, inversion runs, COT nets and changes.

Percentiles come from scipy (`percentileofscore`, kind="weak": the share of the window at or below the
value) and z-scores from numpy, rather than hand-rolled loops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from cerbero_mcp.exchanges.macro.parsing import CotRow, CurveDay

# Curve spreads as (name, long tenor, short tenor): long minus short, in basis points.
SPREADS: tuple[tuple[str, str, str], ...] = (("2s10s", "10Y", "2Y"), ("3m10y", "10Y", "3M"), ("5s30s", "30Y", "5Y"))


def spread_bp(curve: CurveDay, long_tenor: str, short_tenor: str) -> float | None:
    """Return long minus short tenor in basis points (2 decimals), or None when the day lacks either."""
    long, short = curve.get(long_tenor), curve.get(short_tenor)
    if long is None or short is None:
        return None
    return round((long - short) * 100, 2)


def percentile_rank(window: Sequence[float], value: float) -> float | None:
    """Return the percent of `window` at or below `value` (0-100), or None for an empty window."""
    if not window:
        return None
    from scipy import stats  # lazy: scipy.stats takes ~1 s to import, a third of the server's start-up

    return round(float(stats.percentileofscore(np.asarray(window, dtype=float), value, kind="weak")), 2)


def zscore(window: Sequence[float], value: float) -> float | None:
    """Return (value - mean) / sample standard deviation of `window`, or None when it is undefined."""
    if len(window) < 2:
        return None
    data = np.asarray(window, dtype=float)
    deviation = float(np.std(data, ddof=1))
    if not math.isfinite(deviation) or deviation == 0:
        return None
    return round((value - float(np.mean(data))) / deviation, 4)


@dataclass(frozen=True)
class Inversion:
    """The current inversion (the latest values below zero in a row): when it started and how long it is."""

    start: date
    observations: int
    calendar_days: int
    started_before_window: bool


def current_inversion(points: Sequence[tuple[date, float]]) -> Inversion | None:
    """Return the run of negative values that ends at the latest point (points oldest first), or None."""
    run = 0
    for _, value in reversed(points):
        if value >= 0:
            break
        run += 1
    if run == 0:
        return None
    start = points[len(points) - run][0]
    return Inversion(
        start=start,
        observations=run,
        calendar_days=(points[-1][0] - start).days + 1,
        started_before_window=run == len(points),
    )


@dataclass(frozen=True)
class NetPoint:
    """One report's net position of one class, and its change from the previous report (None for the first)."""

    report_date: date
    long: int
    short: int
    net: int
    change: int | None


def class_history(rows: Sequence[CotRow], trader_class: str) -> list[NetPoint]:
    """Return a class's net per report and the week-on-week change of the net (rows of one market, oldest first)."""
    history: list[NetPoint] = []
    previous: int | None = None
    for row in rows:
        position = row.classes.get(trader_class)
        if position is None:
            previous = None  # a gap: the next change would span it, so it is not a weekly change
            continue
        change = None if previous is None else position.net - previous
        history.append(NetPoint(row.report_date, position.long, position.short, position.net, change))
        previous = position.net
    return history
