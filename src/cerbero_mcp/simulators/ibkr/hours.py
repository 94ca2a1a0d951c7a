"""US equity exchange hours for the IBKR simulator, and the views built on them: schedules and bars.

Hours are the real ones in America/New_York (zoneinfo): regular session 09:30–16:00, extended
04:00–20:00, Monday to Friday; exchange holidays are not modelled. The simulated market itself
trades around the clock: hours drive the schedule endpoints, DAY-order expiry (at the session
close), the outside-RTH order question and the RTH filter of historical bars.

Bars (`/iserver/marketdata/history`): `bar` one of BAR_SECONDS; `period` `<n>min|h|d|w|m|y` (`d`
counts trading sessions, `m` is 30 days, `y` 365); at most MAX_BARS, the latest. Intraday bars are
the engine's epoch-aligned candles, kept when they overlap the regular session unless
`outsideRth=true`. Daily bars are the regular session (09:30–16:00) built from 30-minute candles,
stamped at New York midnight; weekly bars group them by ISO week, `1m` bars by calendar month.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np

from cerbero_mcp.simulators.engine import MarketModel


class Contract(Protocol):
    """What the hours need of a contract (market.Contract; a protocol so this module stays below market)."""

    @property
    def conid(self) -> int:
        """Return the contract id."""
        ...

    @property
    def symbol(self) -> str:
        """Return the engine symbol."""
        ...

    @property
    def ticker(self) -> str:
        """Return the ticker."""
        ...

    @property
    def company(self) -> str:
        """Return the company name."""
        ...

    @property
    def exchange(self) -> str:
        """Return the listing exchange."""
        ...


NY = ZoneInfo("America/New_York")
RTH_OPEN, RTH_CLOSE = dtime(9, 30), dtime(16, 0)
EXT_OPEN, EXT_CLOSE = dtime(4, 0), dtime(20, 0)
DAY = 86_400
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MAX_BARS = 1000
BAR_SECONDS = {
    "1min": 60, "2min": 120, "3min": 180, "5min": 300, "10min": 600, "15min": 900, "30min": 1800,
    "1h": 3600, "2h": 7200, "3h": 10800, "4h": 14400, "8h": 28800, "1d": DAY, "1w": 7 * DAY, "1m": 30 * DAY,
}  # fmt: skip
PERIOD_UNITS = {"min": 60, "h": 3600, "d": DAY, "w": 7 * DAY, "m": 30 * DAY, "y": 365 * DAY}
_PERIOD = re.compile(r"(\d+)\s*(min|h|d|w|m|y)", re.IGNORECASE)


class MarketError(Exception):
    """A market-data request IBKR would refuse with HTTP `status` and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400) -> None:
        """Carry the message and status."""
        super().__init__(message)
        self.message = message
        self.status = status


def ny(t: float) -> datetime:
    """Return epoch seconds as New York local time."""
    return datetime.fromtimestamp(t, NY)


def at_ny(day: date, when: dtime) -> float:
    """Return the epoch seconds of a New York wall-clock time on `day`."""
    return datetime.combine(day, when, NY).timestamp()


def is_trading_day(day: date) -> bool:
    """Return whether US equities trade on `day` (Monday–Friday; holidays are not modelled)."""
    return day.weekday() < 5


def is_rth(t: float) -> bool:
    """Return whether `t` is inside the regular session (09:30–16:00 New York, Monday–Friday)."""
    d = ny(t)
    return is_trading_day(d.date()) and RTH_OPEN <= d.time() < RTH_CLOSE


def session_close_after(t: float) -> float:
    """Return the first regular-session close (16:00 New York on a trading day) after `t`: DAY orders end there."""
    day = ny(t).date()
    while True:
        if is_trading_day(day) and at_ny(day, RTH_CLOSE) > t:
            return at_ny(day, RTH_CLOSE)
        day += timedelta(days=1)


def last_session_day(t: float) -> date:
    """Return the latest trading day whose regular session has opened by `t` (today once 09:30 has passed)."""
    day = ny(t).date()
    while not (is_trading_day(day) and at_ny(day, RTH_OPEN) <= t):
        day -= timedelta(days=1)
    return day


def previous_trading_day(day: date) -> date:
    """Return the trading day before `day`."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def third_friday(year: int, month: int) -> date:
    """Return the third Friday of a month (US monthly option expiry)."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def month_code(t: float) -> str:
    """Return IBKR's month code of an expiry, e.g. JAN25."""
    d = ny(t)
    return f"{MONTHS[d.month - 1]}{d.year % 100:02d}"


def history(model: MarketModel, c: Contract, period: str, bar: str, outside_rth: bool, end: float) -> dict[str, Any]:
    """Serve /iserver/marketdata/history: bars up to `end` (RTH only unless `outside_rth`), at most 1000."""
    bar_s = BAR_SECONDS.get(bar.strip().lower())
    if bar_s is None:
        raise MarketError(f"bar {bar!r} not supported: one of {', '.join(BAR_SECONDS)}")
    m = _PERIOD.fullmatch(period.strip())
    if m is None:
        raise MarketError(f"period {period!r} not supported: e.g. 30min, 2h, 5d, 2w, 6m, 1y")
    n, unit = int(m.group(1)), m.group(2).lower()
    if unit == "d":
        day = last_session_day(end)
        for _ in range(n - 1):
            day = previous_trading_day(day)
        start = at_ny(day, EXT_OPEN if outside_rth else RTH_OPEN)
    else:
        start = end - n * PERIOD_UNITS[unit]
    rows = _daily(model, c, start, end, bar_s) if bar_s >= DAY else _intraday(model, c, start, end, bar_s, outside_rth)
    rows = rows[-MAX_BARS:]
    return {
        "serverId": "sim", "symbol": c.ticker, "text": c.company, "priceFactor": 100,
        "startTime": datetime.fromtimestamp(rows[0]["t"] / 1000, UTC).strftime("%Y%m%d-%H:%M:%S") if rows else "",
        "timePeriod": period, "barLength": bar_s, "mdAvailability": "S", "mktDataDelay": 0,
        "outsideRth": outside_rth, "volumeFactor": 1, "priceDisplayRule": 1, "priceDisplayValue": "2",
        "negativeCapable": False, "messageVersion": 2, "data": rows, "points": len(rows), "travelTime": 1,
        "high": _extreme(rows, "h", max), "low": _extreme(rows, "l", min),
    }  # fmt: skip


def _extreme(rows: list[dict[str, Any]], key: str, pick: Callable[..., Any]) -> str:
    """Return IBKR's `high`/`low` summary, `<price × priceFactor>/<volume>/<minutes>`, of the bars.

    IBKR's example ("19293/6942998.04/1440") does not explain the last number: here it is the
    minutes from the first bar to the extreme one.
    """
    if not rows:
        return ""
    row = pick(rows, key=lambda r: r[key])
    return f"{round(row[key] * 100)}/{row.get('v', 0)}/{(row['t'] - rows[0]['t']) // 60_000}"


def _intraday(
    model: MarketModel, c: Contract, start: float, end: float, bar_s: int, outside_rth: bool
) -> list[dict[str, Any]]:
    cs = model.candles(c.symbol, start, end, bar_s, now=end)
    out = []
    for t, o, h, lo, cl, v in cs.rows():
        if not outside_rth and not _overlaps_rth(float(t), float(t) + bar_s):
            continue
        out.append({"t": int(t) * 1000, "o": _px(o), "h": _px(h), "l": _px(lo), "c": _px(cl), "v": v})
    return out


def _daily(model: MarketModel, c: Contract, start: float, end: float, bar_s: int) -> list[dict[str, Any]]:
    """Session bars (09:30–16:00) built from 30-minute candles, grouped by week or month for 1w/1m."""
    cs = model.candles(c.symbol, start, end, 1800, now=end)
    if not len(cs):
        return []
    days: dict[date, list[int]] = {}
    for i, t in enumerate(cs.time.tolist()):
        d = ny(float(t))
        if is_trading_day(d.date()) and RTH_OPEN <= d.time() < RTH_CLOSE:
            key = d.date()
            if bar_s == 7 * DAY:
                key -= timedelta(days=key.weekday())
            elif bar_s > 7 * DAY:
                key = key.replace(day=1)
            days.setdefault(key, []).append(i)
    out = []
    for key, idx in days.items():
        ix = np.asarray(idx)
        out.append({
            "t": int(at_ny(key, dtime(0, 0)) * 1000), "o": _px(cs.open[ix[0]]), "h": _px(cs.high[ix].max()),
            "l": _px(cs.low[ix].min()), "c": _px(cs.close[ix[-1]]), "v": float(cs.volume[ix].sum()),
        })  # fmt: skip
    return out


def schedule(c: Contract, now: float, days: int = 7) -> list[dict[str, Any]]:
    """Serve /trsrv/secdef/schedule: the trading days from today, with extended and regular hours."""
    first = ny(now).date()
    scheds = []
    for i in range(days):
        day = first + timedelta(days=i)
        entry: dict[str, Any] = {"clearingCycleEndTime": "2000", "tradingScheduleDate": day.strftime("%Y%m%d")}
        if is_trading_day(day):
            entry["sessions"] = [{"openingTime": "0400", "closingTime": "2000", "prop": "LIQUID"}]
            entry["tradingTimes"] = [{"openingTime": "0930", "closingTime": "1600", "cancelDayOrders": "Y"}]
        else:
            entry["sessions"], entry["tradingTimes"] = [], []
        scheds.append(entry)
    return [{"id": f"p{c.conid}", "tradeVenueId": "v1", "exchange": c.exchange, "description": c.company,
             "timezone": "America/New_York", "schedules": scheds}]  # fmt: skip


def trading_schedule(c: Contract, now: float, days: int = 7) -> dict[str, Any]:
    """Serve /contract/trading-schedule: per trading day, liquid and extended hours in epoch seconds."""
    first = ny(now).date()
    out: dict[str, Any] = {}
    for i in range(days):
        day = first + timedelta(days=i)
        if is_trading_day(day):
            out[day.strftime("%Y%m%d")] = {
                "liquid_hours": [{"opening": int(at_ny(day, RTH_OPEN)), "closing": int(at_ny(day, RTH_CLOSE))}],
                "extended_hours": [{"opening": int(at_ny(day, EXT_OPEN)), "closing": int(at_ny(day, EXT_CLOSE))}],
            }
    return {"exchange_time_zone": "US/Eastern", "is_open_now": is_rth(now), "schedules": out}


def _overlaps_rth(t0: float, t1: float) -> bool:
    day = ny(t0).date()
    if not is_trading_day(day):
        return False
    return t0 < at_ny(day, RTH_CLOSE) and t1 > at_ny(day, RTH_OPEN)


def _px(x: Any) -> float:
    """Return a bar price on the 0.01 grid without binary noise (226.95, not 226.95000000000002)."""
    return round(float(x), 2)
