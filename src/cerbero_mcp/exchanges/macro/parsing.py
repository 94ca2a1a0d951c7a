"""Parse each source's wire format exactly: the Treasury's Atom/OData XML, FRED's JSON (string values, "." for a gap),
Finnhub's JSON (unix-second times), the CFTC's Socrata rows (all strings, irregular field names).

Pure functions of the body bytes or decoded JSON; the tests run them on the documented fixtures.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cerbero_mcp.common.errors import NotFoundError, UpstreamError

# --- US Treasury daily par yield curve (Atom feed with OData properties) ---------------------------

ATOM_NS = "http://www.w3.org/2005/Atom"
METADATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
DATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices"
# BC_1MONTH, BC_1_5MONTH (added 2025), BC_4MONTH (from late 2022), BC_10YEAR...; BC_30YEARDISPLAY is not a tenor.
_TENOR_FIELD = re.compile(r"^BC_(\d+)(?:_(\d+))?(WEEK|MONTH|YEAR)$")
_UNIT_YEARS = {"WEEK": 7 / 365.25, "MONTH": 1 / 12, "YEAR": 1.0}
_UNIT_LABEL = {"WEEK": "W", "MONTH": "M", "YEAR": "Y"}


@dataclass(frozen=True)
class TenorYield:
    """One tenor of one day's curve: its label (e.g. 10Y), its length in years and the yield in percent."""

    tenor: str
    years: float
    value: float


@dataclass(frozen=True)
class CurveDay:
    """One business day's par yield curve, tenors shortest first (missing tenors are absent)."""

    day: date
    yields: tuple[TenorYield, ...]

    def get(self, tenor: str) -> float | None:
        """Return the yield of `tenor` (e.g. 2Y), or None when the day lacks it."""
        return next((item.value for item in self.yields if item.tenor == tenor), None)


def tenor_of(field: str) -> tuple[str, float] | None:
    """Return (label, years) of a Treasury field name such as BC_1_5MONTH → ("1.5M", 0.125), or None."""
    match = _TENOR_FIELD.match(field)
    if match is None:
        return None
    whole, fraction, unit = match.groups()
    number = float(f"{whole}.{fraction}") if fraction else float(whole)
    label = f"{whole}.{fraction}" if fraction else whole
    return f"{label}{_UNIT_LABEL[unit]}", number * _UNIT_YEARS[unit]


def parse_treasury_feed(body: bytes) -> list[CurveDay]:
    """Parse the daily_treasury_yield_curve Atom feed into curve days, oldest first."""
    # The body is untrusted XML. defusedxml is not a dependency, so refuse any DTD (the feed never has one):
    # with no DTD there are no entity definitions to expand, and the stdlib parser fetches nothing external.
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise UpstreamError("US Treasury: the yield curve feed carries a DTD, which it never does; refused")
    try:
        root = ET.fromstring(body)  # noqa: S314  # DTDs refused above; expat >= 2.4 bounds entity expansion
    except ET.ParseError as exc:
        raise UpstreamError(f"US Treasury: the yield curve feed is not well-formed XML ({exc})") from exc
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise UpstreamError("US Treasury: the answer is not the Atom feed of the yield curve")
    days: dict[date, CurveDay] = {}
    for entry in root.iter(f"{{{ATOM_NS}}}entry"):
        properties = entry.find(f"{{{ATOM_NS}}}content/{{{METADATA_NS}}}properties")
        if properties is None:
            continue
        day = _new_date(properties)
        if day is None:
            continue
        yields = []
        for element in properties:
            namespace, _, name = element.tag[1:].partition("}")
            tenor = tenor_of(name) if namespace == DATA_NS else None
            if tenor is None:
                continue  # an added non-tenor field (Id, BC_30YEARDISPLAY) is ignored
            value = _edm_double(element)
            if value is not None:
                yields.append(TenorYield(tenor[0], tenor[1], value))
        yields.sort(key=lambda item: item.years)
        days[day] = CurveDay(day, tuple(yields))
    return [days[day] for day in sorted(days)]


def _new_date(properties: ET.Element) -> date | None:
    element = properties.find(f"{{{DATA_NS}}}NEW_DATE")
    text = (element.text or "").strip() if element is not None else ""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).date()  # Edm.DateTime "2020-07-01T00:00:00"
    except ValueError as exc:
        raise UpstreamError(f"US Treasury: NEW_DATE {text!r} is not a date") from exc


def _edm_double(element: ET.Element) -> float | None:
    if element.get(f"{{{METADATA_NS}}}null") == "true":
        return None
    text = (element.text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise UpstreamError(f"US Treasury: {element.tag} {text!r} is not an Edm.Double") from exc
    return value if math.isfinite(value) else None


# --- FRED --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FredPoint:
    """One FRED observation: its date and value (None where FRED wrote "." for a missing value)."""

    day: date
    value: float | None


@dataclass(frozen=True)
class FredObservations:
    """One page of fred/series/observations: the points and FRED's count/offset/limit."""

    points: tuple[FredPoint, ...]
    count: int
    offset: int
    limit: int
    units: str


@dataclass(frozen=True)
class FredSeriesInfo:
    """A series' metadata from fred/series."""

    series_id: str
    title: str
    units: str
    frequency: str
    seasonal_adjustment: str
    last_updated: str
    observation_start: str
    observation_end: str


def fred_value(text: Any) -> float | None:
    """Return a FRED value string as a float; "." (FRED's missing value) is None, never 0."""
    if not isinstance(text, str):
        raise UpstreamError(f"FRED: a value is {type(text).__name__}, not the documented string")
    stripped = text.strip()
    if stripped in (".", ""):
        return None
    try:
        value = float(stripped)
    except ValueError as exc:
        raise UpstreamError(f"FRED: value {text!r} is neither a number nor '.'") from exc
    return value if math.isfinite(value) else None


def parse_fred_observations(payload: Any) -> FredObservations:
    """Parse a fred/series/observations JSON body."""
    if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
        raise UpstreamError("FRED: the answer has no observations list")
    points = []
    for item in payload["observations"]:
        if not isinstance(item, dict):
            raise UpstreamError("FRED: an observation is not an object")
        try:
            day = date.fromisoformat(str(item.get("date")))
        except ValueError as exc:
            raise UpstreamError(f"FRED: observation date {item.get('date')!r} is not YYYY-MM-DD") from exc
        points.append(FredPoint(day, fred_value(item.get("value"))))
    return FredObservations(
        points=tuple(points),
        count=_int(payload.get("count"), len(points)),
        offset=_int(payload.get("offset"), 0),
        limit=_int(payload.get("limit"), len(points)),
        units=str(payload.get("units") or "lin"),
    )


def parse_fred_series(payload: Any) -> FredSeriesInfo:
    """Parse a fred/series JSON body (its one `seriess` item)."""
    items = payload.get("seriess") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise NotFoundError("FRED: the answer names no series")
    item = items[0]
    return FredSeriesInfo(
        series_id=str(item.get("id", "")),
        title=str(item.get("title", "")),
        units=str(item.get("units", "")),
        frequency=str(item.get("frequency", "")),
        seasonal_adjustment=str(item.get("seasonal_adjustment", "")),
        last_updated=str(item.get("last_updated", "")),
        observation_start=str(item.get("observation_start", "")),
        observation_end=str(item.get("observation_end", "")),
    )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# --- Finnhub -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinnhubQuote:
    """A /quote answer: last, change, percent change, day range, previous close, and when (unix seconds → UTC)."""

    symbol: str
    last: float
    change: float | None
    change_pct: float | None
    high: float | None
    low: float | None
    open: float | None
    previous_close: float | None
    observed_at: datetime


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_finnhub_quote(symbol: str, payload: Any) -> FinnhubQuote:
    """Parse a Finnhub /quote body; the all-zero answer Finnhub gives an unknown symbol is NOT_FOUND."""
    if not isinstance(payload, dict):
        raise UpstreamError("Finnhub: the quote is not a JSON object")
    last = _number(payload.get("c"))
    seconds = _number(payload.get("t"))
    if not last or not seconds:  # Finnhub answers {"c":0,...,"t":0} for a symbol it does not know
        raise NotFoundError(f"Finnhub has no quote for {symbol}", details={"symbol": symbol})
    return FinnhubQuote(
        symbol=symbol,
        last=last,
        change=_number(payload.get("d")),
        change_pct=_number(payload.get("dp")),
        high=_number(payload.get("h")),
        low=_number(payload.get("l")),
        open=_number(payload.get("o")),
        previous_close=_number(payload.get("pc")),
        observed_at=datetime.fromtimestamp(seconds, UTC),
    )


@dataclass(frozen=True)
class CalendarEvent:
    """One economic release from Finnhub's calendar."""

    time: datetime
    country: str
    event: str
    impact: str
    actual: float | None
    estimate: float | None
    previous: float | None
    unit: str


def parse_finnhub_calendar(payload: Any) -> list[CalendarEvent]:
    """Parse a Finnhub /calendar/economic body; `time` is "YYYY-MM-DD HH:MM:SS", read as UTC."""
    items = payload.get("economicCalendar") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise UpstreamError("Finnhub: the calendar has no economicCalendar list")
    events = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            when = datetime.strptime(str(item.get("time")), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            continue  # an entry without a usable time cannot be placed in a window
        events.append(
            CalendarEvent(
                time=when,
                country=str(item.get("country") or "").upper(),
                event=str(item.get("event") or ""),
                impact=str(item.get("impact") or "").lower(),
                actual=_number(item.get("actual")),
                estimate=_number(item.get("estimate")),
                previous=_number(item.get("prev")),
                unit=str(item.get("unit") or ""),
            )
        )
    events.sort(key=lambda event: (event.time, event.country, event.event))
    return events


# --- CFTC Commitments of Traders (Socrata) ------------------------------------------------------------

# Trader class → (long, short, spread) field names as the public reporting API spells them: the `_all`
# suffix is irregular, and the Disaggregated swap fields have a real double underscore.
TFF_CLASSES: dict[str, tuple[str, str, str | None]] = {
    "dealer": ("dealer_positions_long_all", "dealer_positions_short_all", "dealer_positions_spread_all"),
    "asset_manager": ("asset_mgr_positions_long", "asset_mgr_positions_short", "asset_mgr_positions_spread"),
    "leveraged_funds": ("lev_money_positions_long", "lev_money_positions_short", "lev_money_positions_spread"),
    "other_reportables": ("other_rept_positions_long", "other_rept_positions_short", "other_rept_positions_spread"),
    "nonreportables": ("nonrept_positions_long_all", "nonrept_positions_short_all", None),
}
DISAGGREGATED_CLASSES: dict[str, tuple[str, str, str | None]] = {
    "producer_merchant": ("prod_merc_positions_long", "prod_merc_positions_short", None),
    "swap_dealers": ("swap_positions_long_all", "swap__positions_short_all", "swap__positions_spread_all"),
    "managed_money": ("m_money_positions_long_all", "m_money_positions_short_all", "m_money_positions_spread"),
    "other_reportables": ("other_rept_positions_long", "other_rept_positions_short", "other_rept_positions_spread"),
    "nonreportables": ("nonrept_positions_long_all", "nonrept_positions_short_all", None),
}


@dataclass(frozen=True)
class ClassPosition:
    """One trader class in one report: long, short, spread (contracts) and net = long - short."""

    long: int
    short: int
    spread: int | None

    @property
    def net(self) -> int:
        """Return long minus short."""
        return self.long - self.short


@dataclass(frozen=True)
class CotRow:
    """One weekly report of one market."""

    report_date: date
    market: str
    code: str
    open_interest: int | None
    classes: dict[str, ClassPosition]


def _field(row: dict[str, Any], name: str) -> Any:
    # Tolerate the spellings the dataset has used: with and without `_all`, single or double underscore.
    for candidate in (name, f"{name}_all", name.removesuffix("_all"), name.replace("__", "_")):
        if candidate in row:
            return row[candidate]
    return None


def _count(value: Any) -> int | None:
    if value is None:
        return None
    text = str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError as exc:
            raise UpstreamError(f"CFTC: position {value!r} is not a number") from exc
        return int(number) if math.isfinite(number) and number == int(number) else None


def report_date_of(text: Any) -> date:
    """Return the date of a Socrata floating timestamp such as "2025-08-05T00:00:00.000"."""
    try:
        return datetime.fromisoformat(str(text).strip()).date()
    except ValueError as exc:
        raise UpstreamError(f"CFTC: report date {text!r} is not a timestamp") from exc


def parse_cot_rows(payload: Any, classes: dict[str, tuple[str, str, str | None]]) -> list[CotRow]:
    """Parse Socrata COT rows (every value a string) into reports, oldest first per market."""
    if not isinstance(payload, list):
        raise UpstreamError("CFTC: the answer is not a JSON array of rows")
    rows = []
    for item in payload:
        if not isinstance(item, dict):
            raise UpstreamError("CFTC: a row is not a JSON object")
        positions = {}
        for name, (long_field, short_field, spread_field) in classes.items():
            long, short = _count(_field(item, long_field)), _count(_field(item, short_field))
            if long is None or short is None:
                continue  # a class the row does not carry is left out, never read as zero
            spread = _count(_field(item, spread_field)) if spread_field else None
            positions[name] = ClassPosition(long, short, spread)
        rows.append(
            CotRow(
                report_date=report_date_of(item.get("report_date_as_yyyy_mm_dd")),
                market=str(item.get("market_and_exchange_names") or "").strip(),
                code=str(item.get("cftc_contract_market_code") or "").strip(),
                open_interest=_count(item.get("open_interest_all")),
                classes=positions,
            )
        )
    rows.sort(key=lambda row: (row.code, row.report_date))
    return rows
