"""FRED (api.stlouisfed.org): /fred/series/observations and /fred/series, as the FRED API docs describe them.

- `api_key` is required on every call: missing, not 32 lower-case alphanumerics, or not registered
  are each a 400 with FRED's message. `file_type=json` answers JSON; without it the answer (errors
  included) is XML, FRED's default.
- Observations: `observation_start`/`observation_end` (YYYY-MM-DD), `units` (lin, chg, ch1, pch,
  pc1, pca, cch, cca, log), `frequency` (d, w, bw, m, q, sa, a, wef, weth, wew, wetu, wem, wesu,
  wesa, bwew, bwem; never higher than the series' own), `aggregation_method` (avg, sum, eop),
  `limit` (1..100000, default 100000), `offset`, `sort_order` (asc, desc). Values are strings; a
  missing value (a holiday on a business-day series, a day the source skipped) is ".". `count` is
  the number of observations before `limit`/`offset`.
- An unknown series id is 400 "The series does not exist."; ~120 requests a minute per key, then
  429 (`rate_limit` off: no limit).
- An observation appears only once its release time has passed (each series names its rule), so
  nothing dated after the clock's "now" is ever served.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import quoteattr

from cerbero_mcp.simulators.macro.calendar import CHICAGO, NEW_YORK, local_date
from cerbero_mcp.simulators.macro.fred_series import SERIES, Series
from cerbero_mcp.simulators.macro.model import HISTORY_START, MacroModel, q

KEY_HELP = "Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."
UNITS = ("lin", "chg", "ch1", "pch", "pc1", "pca", "cch", "cca", "log")
FREQUENCIES = ("d", "w", "bw", "m", "q", "sa", "a", "wef", "weth", "wew", "wetu", "wem", "wesu", "wesa", "bwew", "bwem")
AGGREGATIONS = ("avg", "sum", "eop")
MAX_LIMIT = 100_000
RATE_LIMIT_PER_MIN = 120
KEY_PATTERN = re.compile(r"[a-z0-9]{32}")
# rank of a frequency: an aggregation may only go to a higher rank than the series' own
RANK = {"D": 0, "W": 1, "BW": 2, "M": 3, "Q": 4, "SA": 5, "A": 6}
PER_YEAR = {"D": 260, "W": 52, "BW": 26, "M": 12, "Q": 4, "SA": 2, "A": 1}


class FredError(Exception):
    """A FRED error answer: HTTP status and FRED's message."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status and message."""
        super().__init__(message)
        self.status = status
        self.message = message


# --- the API --------------------------------------------------------------------------------------


def today_central(now: float) -> date:
    """Return FRED's "today" (its real-time period is dated in US Central time)."""
    return local_date(now, CHICAGO)


def _parse_date(params: dict[str, str], name: str, default: date) -> date:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> date:
    raise FredError(400, f"Bad Request.  Variable {name} is not in the correct format: YYYY-MM-DD.")


def _choice(params: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name, default) or default
    if value not in choices:
        listed = ", ".join(f"'{c}'" for c in choices)
        raise FredError(400, f"Bad Request.  Variable {name} is not one of the values: {listed}.")
    return value


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d+", raw) or not low <= int(raw) <= high:
        raise FredError(400, f"Bad Request.  Variable {name} is not between {low} and {high}.")
    return int(raw)


def series_of(params: dict[str, str]) -> Series:
    """Return the requested series (400 when missing or unknown)."""
    sid = params.get("series_id", "")
    if not sid:
        raise FredError(400, "Bad Request.  Variable series_id is not set.")
    series = SERIES.get(sid.upper())
    if series is None:
        raise FredError(400, "Bad Request.  The series does not exist.")
    return series


def released_dates(series: Series, now: float, since: date | None = None) -> list[date]:
    """Return the dates of every observation of `series` released at `now` (from `since`), oldest first."""
    first = HISTORY_START if series.kind not in ("monthly", "quarterly") else date(2018, 1, 1)
    start = first if since is None else max(first, since)
    return [d for d in series.dates(start, local_date(now, NEW_YORK)) if series.released_at(d) <= now]


def published(
    model: MacroModel, series: Series, now: float, since: date | None = None
) -> list[tuple[date, float | Decimal | None]]:
    """Return every observation of `series` released at `now` (from `since`), oldest first."""
    return [(d, series.value(model, d)) for d in released_dates(series, now, since)]


def _period_key(freq: str, d: date) -> date:
    """Return the date FRED gives the aggregation period containing `d`."""
    if freq in ("m",):
        return d.replace(day=1)
    if freq == "q":
        return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    if freq == "sa":
        return date(d.year, 1 if d.month <= 6 else 7, 1)
    if freq == "a":
        return date(d.year, 1, 1)
    end_day = {"w": 4, "wef": 4, "weth": 3, "wew": 2, "wetu": 1, "wem": 0, "wesu": 6, "wesa": 5}
    if freq in end_day:
        return d + timedelta(days=(end_day[freq] - d.weekday()) % 7)
    # biweekly, ending Wednesday (bw, bwew) or Monday (bwem): two-week blocks counted from 1970-01-07 / -05
    origin = date(1970, 1, 5) if freq == "bwem" else date(1970, 1, 7)
    blocks = math.ceil((d - origin).days / 14)
    return origin + timedelta(days=14 * blocks)


def _aggregate(obs: list[tuple[date, float | Decimal | None]], freq: str, how: str) -> list[tuple[date, float | None]]:
    groups: dict[date, list[float | None]] = {}
    for d, v in obs:
        groups.setdefault(_period_key(freq, d), []).append(None if v is None else float(v))
    out: list[tuple[date, float | None]] = []
    for key, values in groups.items():
        present = [v for v in values if v is not None]
        if how == "eop":
            out.append((key, values[-1] if values[-1] is not None else (present[-1] if present else None)))
        elif not present:
            out.append((key, None))
        else:
            out.append((key, sum(present) if how == "sum" else sum(present) / len(present)))
    return out


def _transform(obs: list[tuple[date, float | None]], units: str, per_year: int) -> list[tuple[date, float | None]]:
    if units == "lin":
        return obs
    values = [v for _, v in obs]
    out: list[tuple[date, float | None]] = []
    by_date = dict(obs)
    for i, (d, v) in enumerate(obs):
        if units in ("ch1", "pc1"):
            prev = by_date.get(_year_ago(d)) if per_year == 260 else (values[i - per_year] if i >= per_year else None)
        else:
            prev = values[i - 1] if i >= 1 else None
        r: float | None = None
        if v is not None and units == "log":
            r = math.log(v) if v > 0 else None
        elif v is not None and prev is not None:
            if units in ("chg", "ch1"):
                r = v - prev
            elif prev > 0 and v > 0:
                ratio = v / prev
                r = {
                    "pch": (ratio - 1) * 100,
                    "pc1": (ratio - 1) * 100,
                    "pca": (ratio**per_year - 1) * 100,
                    "cch": math.log(ratio) * 100,
                    "cca": math.log(ratio) * 100 * per_year,
                }[units]
        out.append((d, r))
    return out


def _year_ago(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _fmt(value: float | Decimal | None, decimals: int) -> str:
    if value is None:
        return "."
    return str(value.quantize(Decimal(1).scaleb(-decimals)) if isinstance(value, Decimal) else q(value, decimals))


def observations(model: MacroModel, params: dict[str, str], now: float) -> dict[str, Any]:
    """Answer /fred/series/observations as a JSON-ready dict (FredError on a bad request)."""
    series = series_of(params)
    start = _parse_date(params, "observation_start", date(1600, 1, 1))
    end = _parse_date(params, "observation_end", date(9999, 12, 31))
    if start > end:
        raise FredError(400, "Bad Request.  Variable observation_start can not be after variable observation_end.")
    units = _choice(params, "units", UNITS, "lin")
    freq = _choice(params, "frequency", ("", *FREQUENCIES), "")
    how = _choice(params, "aggregation_method", AGGREGATIONS, "avg")
    limit = _integer(params, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = _integer(params, "offset", 0, 0, 2**31)
    order = _choice(params, "sort_order", ("asc", "desc"), "asc")
    native = series.frequency[1]
    target = native
    # transforms and aggregations look back at most a year and a period: compute only from there
    margin = timedelta(days=0 if units == "lin" and not freq else 800)
    raw = published(model, series, now, start - margin if start > date(1600, 1, 1) + margin else None)
    rows: list[tuple[date, float | Decimal | None]] | list[tuple[date, float | None]] = raw
    if freq and freq != "d":
        target = {"m": "M", "q": "Q", "sa": "SA", "a": "A"}.get(freq, "BW" if freq.startswith("b") else "W")
    if RANK[target] < RANK[native] or (freq == "d" and native != "D"):
        raise FredError(400, "Bad Request.  The value for variable frequency can not be higher than the native "
                        "frequency of the series.")  # fmt: skip
    if target != native:
        rows = _aggregate(raw, freq, how)
    decimals = series.decimals
    if units != "lin":
        rows = _transform([(d, None if v is None else float(v)) for d, v in rows], units, PER_YEAR[target])
        decimals = series.decimals if units in ("chg", "ch1") else 5
    picked = [(d, v) for d, v in rows if start <= d <= end]
    if order == "desc":
        picked.reverse()
    today = today_central(now).isoformat()
    page = picked[offset : offset + limit]
    return {
        "realtime_start": today,
        "realtime_end": today,
        "observation_start": start.isoformat(),
        "observation_end": end.isoformat(),
        "units": units,
        "output_type": 1,
        "file_type": "json",
        "order_by": "observation_date",
        "sort_order": order,
        "count": len(picked),
        "offset": offset,
        "limit": limit,
        "observations": [
            {"realtime_start": today, "realtime_end": today, "date": d.isoformat(), "value": _fmt(v, decimals)}
            for d, v in page
        ],
    }


def series_info(model: MacroModel, params: dict[str, str], now: float) -> dict[str, Any]:
    """Answer /fred/series as a JSON-ready dict (FredError on a bad request)."""
    series = series_of(params)
    today = today_central(now).isoformat()
    dates = released_dates(series, now)
    first = dates[0].isoformat() if dates else HISTORY_START.isoformat()
    last_d = dates[-1] if dates else HISTORY_START
    updated = datetime.fromtimestamp(series.released_at(last_d), CHICAGO)
    offset = updated.utcoffset() or timedelta()
    frequency, frequency_short = series.frequency
    return {
        "realtime_start": today,
        "realtime_end": today,
        "seriess": [
            {
                "id": series.id,
                "realtime_start": today,
                "realtime_end": today,
                "title": series.title,
                "observation_start": first,
                "observation_end": last_d.isoformat(),
                "frequency": frequency,
                "frequency_short": frequency_short,
                "units": series.units,
                "units_short": series.units_short,
                "seasonal_adjustment": "Seasonally Adjusted" if series.seasonal else "Not Seasonally Adjusted",
                "seasonal_adjustment_short": "SA" if series.seasonal else "NSA",
                "last_updated": updated.strftime("%Y-%m-%d %H:%M:%S") + f"{int(offset.total_seconds() // 3600):+03d}",
                "popularity": 80,
                "notes": f"{series.title} (simulated).",
            }
        ],
    }


def check_key(params: dict[str, str], registered: str) -> str:
    """Return the request's api_key, or raise FRED's 400 for a missing, malformed or unknown key."""
    key = params.get("api_key")
    if not key:
        raise FredError(400, f"Bad Request.  Variable api_key is not set.  {KEY_HELP}")
    if not KEY_PATTERN.fullmatch(key):
        raise FredError(
            400,
            "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric lower-case string.  "
            + KEY_HELP,
        )
    if key != registered:
        raise FredError(400, f"Bad Request.  The value for variable api_key is not registered.  {KEY_HELP}")
    return key


def error_body(error: FredError, as_json: bool) -> tuple[bytes, str]:
    """Return FRED's error body and media type: JSON with file_type=json, XML otherwise."""
    if as_json:
        return json.dumps({"error_code": error.status, "error_message": error.message}).encode(), "application/json"
    xml = (
        f'<?xml version="1.0" encoding="utf-8" ?>\n<error code="{error.status}" message={quoteattr(error.message)}/>\n'
    )
    return xml.encode(), "text/xml; charset=UTF-8"


def observations_xml(payload: dict[str, Any]) -> bytes:
    """Return the XML form of an observations answer (FRED's default file type)."""
    head = " ".join(
        f"{k}={quoteattr(str(payload[k]))}"
        for k in (
            "realtime_start",
            "realtime_end",
            "observation_start",
            "observation_end",
            "units",
            "output_type",
            "file_type",
            "order_by",
            "sort_order",
            "count",
            "offset",
            "limit",
        )
    ).replace('file_type="json"', 'file_type="xml"')
    rows = "".join(
        f"  <observation realtime_start={quoteattr(o['realtime_start'])} realtime_end={quoteattr(o['realtime_end'])} "
        f"date={quoteattr(o['date'])} value={quoteattr(o['value'])}/>\n"
        for o in payload["observations"]
    )
    return f'<?xml version="1.0" encoding="utf-8" ?>\n<observations {head}>\n{rows}</observations>\n'.encode()


def series_xml(payload: dict[str, Any]) -> bytes:
    """Return the XML form of a /fred/series answer."""
    rows = "".join(
        "  <series " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in s.items()) + "/>\n" for s in payload["seriess"]
    )
    head = f"realtime_start={quoteattr(payload['realtime_start'])} realtime_end={quoteattr(payload['realtime_end'])}"
    return f'<?xml version="1.0" encoding="utf-8" ?>\n<seriess {head}>\n{rows}</seriess>\n'.encode()
