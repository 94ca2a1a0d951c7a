"""Finnhub (finnhub.io/api/v1): /quote and /calendar/economic, as finnhub-python's client describes them.

- Auth: the `token` query parameter or the `X-Finnhub-Token` header. None is 401 "Please use an API
  key.", an unknown one 401 "Invalid API key."; a free-plan key asking for the (premium) economic
  calendar is 403. Errors are `{"error": "..."}`.
- Limits: 60 calls a minute per key (fixed minute windows, `X-Ratelimit-Limit/-Remaining/-Reset`
  on every answer, reset in unix seconds) and 30 a second; over either: 429.
- Quote: `{"c","d","dp","h","l","o","pc","t"}` as JSON numbers, `t` in unix seconds: the last
  price of the current (or last) regular NYSE session, its open/high/low, the previous close. An
  unknown symbol is all zeros with null changes.
- Economic calendar: `from`/`to` (YYYY-MM-DD, inclusive) → `{"economicCalendar": [{"actual",
  "country","estimate","event","impact","prev","time","unit"}]}`, `time` "YYYY-MM-DD HH:MM:SS"
  UTC; `actual` is null until the release time has passed. US releases agree with FRED's series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cerbero_mcp.simulators.engine.paths import rng_for
from cerbero_mcp.simulators.macro.calendar import (
    NEW_YORK,
    at,
    is_business_day,
    local_date,
    month_start,
    nth_weekday,
    previous_business_day,
)
from cerbero_mcp.simulators.macro.fred_series import gdp_release, monthly_release
from cerbero_mcp.simulators.macro.model import MacroModel, fomc_decision_time, fomc_decisions

RATE_LIMIT_PER_MIN = 60
RATE_LIMIT_PER_S = 30
NO_KEY = "Please use an API key."
BAD_KEY = "Invalid API key."
NO_ACCESS = "You don't have access to this resource."
LIMIT_REACHED = "API limit reached. Please try again later. Remaining Limit: 0"

# symbol -> (model level, multiplier): ETFs track their index / commodity at their real ratio
SYMBOLS: dict[str, tuple[str, float]] = {
    "SPY": ("spx", 1 / 10.03),
    "VOO": ("spx", 1 / 10.92),
    "QQQ": ("ndx", 1 / 40.9),
    "DIA": ("djia", 1 / 100.3),
    "IWM": ("rut", 1 / 10.08),
    "GLD": ("gold", 1 / 10.87),
    "SLV": ("silver", 0.93),
    "USO": ("wti", 1.21),
    "UUP": ("broad_usd", 0.2286),
    "TLT": ("tlt", 1.0),
    "IEF": ("ief", 1.0),
    "SHY": ("shy", 1.0),
    "HYG": ("hyg", 1.0),
    "LQD": ("lqd", 1.0),
    "AAPL": ("aapl", 1.0),
    "MSFT": ("msft", 1.0),
    "NVDA": ("nvda", 1.0),
}


class FinnhubError(Exception):
    """A Finnhub error answer."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status and message."""
        super().__init__(message)
        self.status = status
        self.message = message


def _session(now: float) -> tuple[float, float]:
    """Return (open, close) epoch seconds of the NYSE regular session current or last at `now`."""
    today = local_date(now, NEW_YORK)
    d = today if is_business_day(today, "stock") and now >= at(today, 9, 30) else previous_business_day(today, "stock")
    return at(d, 9, 30), at(d, 16, 0)


def quote(model: MacroModel, symbol: str, now: float) -> dict[str, Any]:
    """Answer /quote for `symbol` at `now`."""
    spec = SYMBOLS.get(symbol.upper())
    if spec is None:
        return {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
    name, scale = spec
    level = model.level(name)
    open_t, close_t = _session(now)
    last_t = min(now, close_t)
    prev_close_t = at(previous_business_day(local_date(open_t, NEW_YORK), "stock"), 16, 0)
    minutes = [open_t + 60.0 * i for i in range(int((last_t - open_t) // 60) + 1)] + [last_t]
    path = [level.at(t) * scale for t in minutes]
    c = path[-1]
    pc = level.at(prev_close_t) * scale
    return {
        "c": round(c, 2),
        "d": round(c - pc, 2),
        "dp": round((c / pc - 1) * 100, 4),
        "h": round(max(path), 2),
        "l": round(min(path), 2),
        "o": round(path[0], 2),
        "pc": round(pc, 2),
        "t": int(last_t),
    }


# --- the economic calendar ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Release:
    """One scheduled release: when, what, and its three numbers (actual filled in only once out)."""

    time: float
    country: str
    event: str
    impact: str
    unit: str
    actual: float | None
    estimate: float | None
    prev: float | None


def _estimate(seed: int, event: str, key: object, actual: float, spread: float, digits: int) -> float:
    z = float(rng_for(seed, "estimate", event, key).standard_normal())
    return round(actual + z * spread, digits)


def _months(start: date, end: date) -> Iterator[date]:
    m = month_start(start, -2)
    while m <= month_start(end, 1):
        yield m
        m = month_start(m, 1)


def _us_releases(model: MacroModel, start: date, end: date) -> Iterator[Release]:
    seed = model.seed
    for m in _months(start, end):
        prev_m, prev2, year_ago, year_ago1 = (
            month_start(m, -1),
            month_start(m, -2),
            month_start(m, -12),
            month_start(m, -13),
        )
        cpi = model.monthly("cpi", m), model.monthly("cpi", prev_m), model.monthly("cpi", prev2)
        mom, mom_prev = round((cpi[0] / cpi[1] - 1) * 100, 1), round((cpi[1] / cpi[2] - 1) * 100, 1)
        yoy = round((cpi[0] / model.monthly("cpi", year_ago) - 1) * 100, 1)
        yoy_prev = round((cpi[1] / model.monthly("cpi", year_ago1) - 1) * 100, 1)
        t = monthly_release("CPIAUCSL", m)
        yield Release(t, "US", "CPI MoM", "high", "%", mom, _estimate(seed, "cpi-mom", m, mom, 0.1, 1), mom_prev)
        yield Release(t, "US", "CPI YoY", "high", "%", yoy, _estimate(seed, "cpi-yoy", m, yoy, 0.1, 1), yoy_prev)
        jobs = model.monthly("payems", m), model.monthly("payems", prev_m), model.monthly("payems", prev2)
        nfp, nfp_prev = round(jobs[0] - jobs[1]), round(jobs[1] - jobs[2])
        t = monthly_release("PAYEMS", m)
        yield Release(t, "US", "Non Farm Payrolls", "high", "K", nfp, _estimate(seed, "nfp", m, nfp, 45, 0), nfp_prev)
        ur, ur_prev = round(model.monthly("unrate", m), 1), round(model.monthly("unrate", prev_m), 1)
        yield Release(t, "US", "Unemployment Rate", "high", "%", ur, _estimate(seed, "ur", m, ur, 0.1, 1), ur_prev)
        if m.month in (1, 4, 7, 10):
            q0, q1, q2 = (model.quarterly("gdp", month_start(m, k)) for k in (0, -3, -6))
            g, g_prev = round(((q0 / q1) ** 4 - 1) * 100, 1), round(((q1 / q2) ** 4 - 1) * 100, 1)
            yield Release(gdp_release(m), "US", "GDP Growth Rate QoQ Adv", "high", "%", g,
                          _estimate(seed, "gdp", m, g, 0.4, 1), g_prev)  # fmt: skip
    for year in range(start.year - 1, end.year + 2):
        for d in fomc_decisions(year):
            after = float(model.fed_upper(d + timedelta(days=1)))
            before = float(model.fed_upper(d))
            yield Release(fomc_decision_time(d), "US", "Fed Interest Rate Decision", "high", "%", after, after, before)
    first = start - timedelta(days=(start.weekday() - 3) % 7 + 7)
    for k in range((end - first).days // 7 + 2):
        thursday = first + timedelta(days=7 * k)
        week_end = thursday - timedelta(days=5)
        claims = round(model.weekly("icsa", week_end) / 1000)
        prev = round(model.weekly("icsa", week_end - timedelta(days=7)) / 1000)
        yield Release(at(thursday, 8, 30), "US", "Initial Jobless Claims", "medium", "K", claims,
                      _estimate(seed, "claims", week_end, claims, 8, 0), prev)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Foreign:
    """A non-US release drawn from its own seeded walk (no other source publishes it here)."""

    country: str
    event: str
    impact: str
    unit: str
    level: float
    step: float
    digits: int
    schedule: Callable[[date], float]  # month -> release time


FOREIGN: tuple[Foreign, ...] = (
    Foreign(
        "EU",
        "Inflation Rate YoY Flash",
        "high",
        "%",
        2.2,
        0.2,
        1,
        lambda m: at(nth_weekday(month_start(m, 1).year, month_start(m, 1).month, 1, 1), 5, 0),
    ),
    Foreign(
        "EU",
        "ECB Interest Rate Decision",
        "high",
        "%",
        2.15,
        0.0,
        2,
        lambda m: at(nth_weekday(m.year, m.month, 3, 2), 8, 15),
    ),
    Foreign(
        "GB",
        "Inflation Rate YoY",
        "high",
        "%",
        3.4,
        0.2,
        1,
        lambda m: at(nth_weekday(month_start(m, 1).year, month_start(m, 1).month, 2, 3), 2, 0),
    ),
    Foreign(
        "JP",
        "BoJ Interest Rate Decision",
        "high",
        "%",
        0.5,
        0.0,
        2,
        lambda m: at(nth_weekday(m.year, m.month, 4, 3), 23, 0),
    ),
    Foreign(
        "DE", "Ifo Business Climate", "medium", "", 88.0, 0.8, 1, lambda m: at(nth_weekday(m.year, m.month, 0, 4), 4, 0)
    ),
    Foreign(
        "CN",
        "Caixin Manufacturing PMI",
        "medium",
        "",
        50.4,
        0.7,
        1,
        lambda m: at(nth_weekday(month_start(m, 1).year, month_start(m, 1).month, 0, 1), 21, 45),
    ),
)


def _foreign_value(seed: int, f: Foreign, m: date) -> float:
    # a bounded walk: the sum of a few recent monthly shocks keeps the level near its centre
    total = 0.0
    for k in range(6):
        total += float(rng_for(seed, "foreign", f.event, f.country, month_start(m, -k)).standard_normal())
    return round(f.level + f.step * total / math.sqrt(6), f.digits)


def _foreign_releases(seed: int, start: date, end: date) -> Iterator[Release]:
    for m in _months(start, end):
        for f in FOREIGN:
            actual = _foreign_value(seed, f, m)
            prev = _foreign_value(seed, f, month_start(m, -1))
            yield Release(f.schedule(m), f.country, f.event, f.impact, f.unit, actual,
                          _estimate(seed, f.event, m, actual, f.step / 2 or 0.0, f.digits), prev)  # fmt: skip


def economic_calendar(model: MacroModel, start: date, end: date, now: float) -> dict[str, Any]:
    """Answer /calendar/economic for [start, end] at `now`: releases dated in the window, actuals once out."""
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp() + 86_400
    items = [
        r for r in (*_us_releases(model, start, end), *_foreign_releases(model.seed, start, end)) if lo <= r.time < hi
    ]
    items.sort(key=lambda r: (r.time, r.country, r.event))
    return {
        "economicCalendar": [
            {
                "actual": r.actual if r.time <= now else None,
                "country": r.country,
                "estimate": r.estimate,
                "event": r.event,
                "impact": r.impact,
                "prev": r.prev,
                "time": datetime.fromtimestamp(r.time, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "unit": r.unit,
            }
            for r in items
        ]
    }
