"""The US Treasury's daily par yield curve XML feed (home.treasury.gov, no key).

GET /resource-center/data-chart-center/interest-rates/pages/xml?data=daily_treasury_yield_curve
with `field_tdr_date_value=YYYY` (a calendar year), `field_tdr_date_value_month=YYYYMM` (a month)
or `field_tdr_date_value=all&page=N` (all history, 300 entries a page from page 0, an empty page at
the end). No date filter is the current month. The answer is an Atom feed whose entries carry OData
properties: `d:NEW_DATE` (Edm.DateTime) and one `d:BC_*` element per published tenor (Edm.Double,
percent), plus `d:BC_30YEARDISPLAY`. Entries are business days of the bond market in date order;
a tenor that did not exist yet (BC_2MONTH before 16 Oct 2018, BC_4MONTH before 19 Oct 2022,
BC_1_5MONTH before 18 Feb 2025) is absent, and on a few days one existing tenor is absent too. A
day's curve appears at 18:00 New York time. Any other `data` value, or a period with nothing
published yet, is a feed without entries.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

from cerbero_mcp.simulators.macro.calendar import NEW_YORK, at, days_between, is_business_day, local_date
from cerbero_mcp.simulators.macro.model import HISTORY_START, MacroModel

PATH = "/resource-center/data-chart-center/interest-rates/pages/xml"
DATASET = "daily_treasury_yield_curve"
ATOM = "http://www.w3.org/2005/Atom"
NS_D = "http://schemas.microsoft.com/ado/2007/08/dataservices"
NS_M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
BASE = "https://home.treasury.gov/resource-center/data-chart-center/interest-rates/pages/xml"
PAGE_SIZE = 300
PUBLISH_HOUR_NY = 18
CONTENT_TYPE = "application/xml; charset=utf-8"


def published_through(now: float) -> date:
    """Return the last date whose curve is out at `now`."""
    today = local_date(now, NEW_YORK)
    if now >= at(today, PUBLISH_HOUR_NY):
        return today
    return date.fromordinal(today.toordinal() - 1)


def curve_dates(start: date, end: date, now: float) -> list[date]:
    """Return the published business days in [start, end]."""
    last = min(end, published_through(now))
    first = max(start, HISTORY_START)
    if first > last:
        return []
    return [d for d in days_between(first, last) if is_business_day(d, "bond")]


def _period(params: dict[str, str], now: float) -> list[date]:
    month = params.get("field_tdr_date_value_month")
    year = params.get("field_tdr_date_value")
    if month is not None:
        if not re.fullmatch(r"\d{6}", month) or not 1 <= int(month[4:]) <= 12:
            return []
        y, m = int(month[:4]), int(month[4:])
        end = date(y + (m == 12), m % 12 + 1, 1).toordinal() - 1
        return curve_dates(date(y, m, 1), date.fromordinal(end), now)
    if year is not None:
        if year == "all":
            page = params.get("page", "0")
            n = int(page) if page.isdigit() else 0
            every = curve_dates(HISTORY_START, published_through(now), now)
            return every[n * PAGE_SIZE : (n + 1) * PAGE_SIZE]
        if not re.fullmatch(r"\d{4}", year):
            return []
        return curve_dates(date(int(year), 1, 1), date(int(year), 12, 31), now)
    today = local_date(now, NEW_YORK)
    return curve_dates(today.replace(day=1), today, now)


def _entry(model: MacroModel, d: date, updated: str) -> str:
    curve = model.curve(d)
    index = d.toordinal() - HISTORY_START.toordinal() + 1
    props = [
        f'<d:Id m:type="Edm.Int32">{index}</d:Id>',
        f'<d:NEW_DATE m:type="Edm.DateTime">{d.isoformat()}T00:00:00</d:NEW_DATE>',
    ]
    for field, value in curve.items():
        if value is not None:
            props.append(f'<d:{field} m:type="Edm.Double">{value}</d:{field}>')
    thirty = curve.get("BC_30YEAR")
    if thirty is not None:
        props.append(f'<d:BC_30YEARDISPLAY m:type="Edm.Double">{thirty}</d:BC_30YEARDISPLAY>')
    body = "\n        ".join(props)
    return (
        "  <entry>\n"
        f"    <id>{BASE}/DailyTreasuryYieldCurveRateData({index})</id>\n"
        '    <title type="text"></title>\n'
        f"    <updated>{updated}</updated>\n"
        "    <author><name /></author>\n"
        '    <link rel="edit" title="DailyTreasuryYieldCurveRateDatum" '
        f'href="DailyTreasuryYieldCurveRateData({index})" />\n'
        '    <category term="TreasuryDataWarehouseModel.DailyTreasuryYieldCurveRateDatum" '
        'scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme" />\n'
        '    <content type="application/xml">\n'
        f"      <m:properties>\n        {body}\n      </m:properties>\n"
        "    </content>\n"
        "  </entry>\n"
    )


def feed(model: MacroModel, params: dict[str, str], now: float) -> str:
    """Return the Atom feed answering one request's query parameters at `now`."""
    updated = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    dates = _period(params, now) if params.get("data") == DATASET else []
    entries = "".join(_entry(model, d, updated) for d in dates)
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n'
        f'<feed xml:base="{escape(BASE)}" xmlns="{ATOM}" xmlns:d="{NS_D}" xmlns:m="{NS_M}">\n'
        '  <title type="text">DailyTreasuryYieldCurveRateData</title>\n'
        f"  <id>{BASE}/DailyTreasuryYieldCurveRateData</id>\n"
        f"  <updated>{updated}</updated>\n"
        '  <link rel="self" title="DailyTreasuryYieldCurveRateData" href="DailyTreasuryYieldCurveRateData" />\n'
        f"{entries}"
        "</feed>\n"
    )
