"""US equity market hours as Alpaca serves them: the NYSE calendar, sessions, early closes and the clock.

Regular session 09:30–16:00 New York, early close 13:00 (the day before Independence Day, the day
after Thanksgiving, Christmas Eve), extended hours 04:00–09:30 and close–20:00 (Alpaca's
`session_open`/`session_close`). Holidays follow the NYSE rules: New Year's Day (not observed on
the Friday before when it falls on a Saturday), Martin Luther King Jr. Day, Washington's Birthday,
Good Friday, Memorial Day, Juneteenth (from 2022), Independence Day, Labor Day, Thanksgiving and
Christmas, Saturday holidays observed on the Friday and Sunday ones on the Monday.
Crypto trades around the clock; options only in the regular session.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
OPEN, CLOSE, EARLY_CLOSE = dtime(9, 30), dtime(16, 0), dtime(13, 0)
PRE_OPEN, POST_CLOSE = dtime(4, 0), dtime(20, 0)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Return Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _observed(d: date) -> date:
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


@lru_cache(maxsize=64)
def holidays(year: int) -> frozenset[date]:
    """Return the NYSE full-day holidays of `year`."""
    out = {
        _nth_weekday(year, 1, 0, 3),
        _nth_weekday(year, 2, 0, 3),
        _easter(year) - timedelta(days=2),
        _last_weekday(year, 5, 0),
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),
        _nth_weekday(year, 11, 3, 4),
        _observed(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year's Day is not observed on the Friday before
        out.add(_observed(new_year))
    if year >= 2022:
        out.add(_observed(date(year, 6, 19)))
    return frozenset(out)


@lru_cache(maxsize=64)
def early_closes(year: int) -> frozenset[date]:
    """Return the 13:00 early-close days of `year`."""
    out = {_nth_weekday(year, 11, 3, 4) + timedelta(days=1)}
    july3, dec24 = date(year, 7, 3), date(year, 12, 24)
    if july3.weekday() < 4:  # Independence Day on Tuesday–Friday
        out.add(july3)
    if dec24.weekday() < 4:  # Christmas on Tuesday–Friday
        out.add(dec24)
    return frozenset(d for d in out if is_trading_day(d))


def is_trading_day(d: date) -> bool:
    """Return whether US equities trade on `d`."""
    return d.weekday() < 5 and d not in holidays(d.year)


def close_time(d: date) -> dtime:
    """Return the regular close of a trading day."""
    return EARLY_CLOSE if d in early_closes(d.year) else CLOSE


def at(d: date, when: dtime) -> float:
    """Return the epoch seconds of a New York wall-clock time on `d`."""
    return datetime.combine(d, when, NY).timestamp()


def midnight(d: date) -> float:
    """Return New York midnight at the start of `d` (where Alpaca stamps daily bars)."""
    return at(d, dtime(0, 0))


def ny_date(t: float) -> date:
    """Return the New York date of `t`."""
    return datetime.fromtimestamp(t, NY).date()


def session(d: date) -> tuple[float, float]:
    """Return (open, close) of a trading day's regular session."""
    return at(d, OPEN), at(d, close_time(d))


def is_open(t: float) -> bool:
    """Return whether the regular session is open at `t`."""
    d = ny_date(t)
    if not is_trading_day(d):
        return False
    o, c = session(d)
    return o <= t < c


def is_extended(t: float) -> bool:
    """Return whether `t` is in pre-market (04:00–09:30) or after-hours (close–20:00) of a trading day."""
    d = ny_date(t)
    if not is_trading_day(d):
        return False
    o, c = session(d)
    return at(d, PRE_OPEN) <= t < o or c <= t < at(d, POST_CLOSE)


def next_open(t: float) -> float:
    """Return the first regular-session open after `t`."""
    d = ny_date(t)
    while True:
        if is_trading_day(d) and at(d, OPEN) > t:
            return at(d, OPEN)
        d += timedelta(days=1)


def next_close(t: float) -> float:
    """Return the first regular-session close after `t` (DAY orders end there)."""
    d = ny_date(t)
    while True:
        if is_trading_day(d) and session(d)[1] > t:
            return session(d)[1]
        d += timedelta(days=1)


def next_trading_day(d: date) -> date:
    """Return the trading day after `d`."""
    d += timedelta(days=1)
    while not is_trading_day(d):
        d += timedelta(days=1)
    return d


def previous_trading_day(d: date) -> date:
    """Return the trading day before `d`."""
    d -= timedelta(days=1)
    while not is_trading_day(d):
        d -= timedelta(days=1)
    return d


def last_session_day(t: float) -> date:
    """Return the latest trading day whose session has opened by `t`."""
    d = ny_date(t)
    while not (is_trading_day(d) and at(d, OPEN) <= t):
        d -= timedelta(days=1)
    return d


def ny_text(t: float) -> str:
    """Return `t` as RFC 3339 with the New York offset, as /v2/clock prints it."""
    d = datetime.fromtimestamp(t, NY)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%f") + d.strftime("%z")[:3] + ":" + d.strftime("%z")[3:]


def clock(t: float) -> dict[str, Any]:
    """Serve GET /v2/clock."""
    return {"timestamp": ny_text(t), "is_open": is_open(t), "next_open": ny_text(next_open(t)),
            "next_close": ny_text(next_close(t))}  # fmt: skip


def calendar(start: date, end: date) -> list[dict[str, Any]]:
    """Serve GET /v2/calendar: one entry per trading day in [start, end]; settlement is T+1."""
    out = []
    d = start
    while d <= end:
        if is_trading_day(d):
            close = close_time(d)
            post = dtime(17, 0) if close == EARLY_CLOSE else POST_CLOSE
            out.append({
                "date": d.isoformat(), "open": OPEN.strftime("%H:%M"), "close": close.strftime("%H:%M"),
                "session_open": "0400", "session_close": post.strftime("%H%M"),
                "settlement_date": next_trading_day(d).isoformat(),
            })  # fmt: skip
        d += timedelta(days=1)
    return out


def utc_date(t: float) -> date:
    """Return the UTC date of `t`."""
    return datetime.fromtimestamp(t, UTC).date()
