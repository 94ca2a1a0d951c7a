"""Dates for the macro sources: US holidays, business days and New York / Chicago wall times.

Two calendars matter. The bond market (the Treasury curve, FRED's H.15 series) closes on the US
federal holidays, Columbus and Veterans Day included; the stock market (NYSE: equity closes, VIX)
closes on Good Friday but not on Columbus or Veterans Day. Both move a Saturday holiday to the
Friday and a Sunday one to the Monday (except New Year's Day on a Saturday, which is not moved).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
Market = Literal["bond", "stock"]
EPOCH = date(1970, 1, 1)


def epoch_day(d: date) -> int:
    """Return the number of days from 1970-01-01 to `d`."""
    return (d - EPOCH).days


def from_epoch_day(n: int) -> date:
    """Return the date `n` days after 1970-01-01."""
    return EPOCH + timedelta(days=n)


def utc_date(t: float) -> date:
    """Return the UTC date of epoch seconds `t`."""
    return datetime.fromtimestamp(t, UTC).date()


def local_date(t: float, tz: ZoneInfo) -> date:
    """Return the date in `tz` at epoch seconds `t`."""
    return datetime.fromtimestamp(t, tz).date()


def at(d: date, hour: int, minute: int = 0, tz: ZoneInfo = NEW_YORK) -> float:
    """Return epoch seconds of wall time `hour:minute` on `d` in `tz`."""
    return datetime.combine(d, time(hour, minute), tzinfo=tz).timestamp()


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """Return the n-th (1-based; -1 = last) `weekday` (Mon=0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Return Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return date(year, month, day)


def _observed(d: date, *, new_year: bool = False) -> date | None:
    if d.weekday() == 5:
        return None if new_year else d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


@functools.cache
def holidays(year: int, market: Market) -> frozenset[date]:
    """Return the weekday closures of `market` in `year`."""
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 12, 25)]
    if year >= 2022:
        fixed.append(date(year, 6, 19))  # Juneteenth, a federal holiday from 2021 (markets from 2022)
    days: list[date | None] = [_observed(fixed[0], new_year=True), *(_observed(d) for d in fixed[1:])]
    days += [
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
    ]
    if market == "bond":
        days += [_nth_weekday(year, 10, 0, 2), _observed(date(year, 11, 11))]  # Columbus, Veterans Day
    else:
        days.append(_easter(year) - timedelta(days=2))  # Good Friday
    return frozenset(d for d in days if d is not None and d.weekday() < 5)


def is_business_day(d: date, market: Market) -> bool:
    """Return whether `market` is open on `d`."""
    return d.weekday() < 5 and d not in holidays(d.year, market)


def next_business_day(d: date, market: Market) -> date:
    """Return the first business day of `market` strictly after `d`."""
    n = d + timedelta(days=1)
    while not is_business_day(n, market):
        n += timedelta(days=1)
    return n


def previous_business_day(d: date, market: Market) -> date:
    """Return the last business day of `market` strictly before `d`."""
    n = d - timedelta(days=1)
    while not is_business_day(n, market):
        n -= timedelta(days=1)
    return n


def days_between(start: date, end: date) -> list[date]:
    """Return every date from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def weekdays_between(start: date, end: date) -> list[date]:
    """Return the Monday-to-Friday dates from `start` to `end`, both included."""
    return [d for d in days_between(start, end) if d.weekday() < 5]


def month_start(d: date, months: int = 0) -> date:
    """Return the first day of `d`'s month, moved by `months`."""
    k = d.year * 12 + d.month - 1 + months
    return date(k // 12, k % 12 + 1, 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """Return the n-th (1-based; -1 = last) `weekday` (Mon=0) of a month."""
    return _nth_weekday(year, month, weekday, n)
