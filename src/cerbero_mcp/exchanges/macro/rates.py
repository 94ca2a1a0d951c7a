"""Rates tools: the Treasury par yield curve and its slopes (keyless), FRED series and breakevens (FRED key)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.contracts import ToolContext, invalid_input
from cerbero_mcp.exchanges.macro import analytics
from cerbero_mcp.exchanges.macro.parsing import CurveDay
from cerbero_mcp.exchanges.macro.schemas import (
    MAX_BREAKEVEN_RANGE_DAYS,
    MAX_TREASURY_RANGE_DAYS,
    BreakevenInflation,
    BreakevenRequest,
    BreakevenSeries,
    Curve,
    FredSeries,
    FredSeriesRequest,
    InversionInfo,
    Page,
    SeriesPoint,
    SlopeRequest,
    SpreadPoint,
    SpreadStats,
    TenorYield,
    TreasuryYields,
    TreasuryYieldsRequest,
    YieldCurveSlope,
)
from cerbero_mcp.exchanges.macro.sources import (
    TREASURY_SOURCE,
    curve_days,
    day_start,
    fred_info,
    fred_page,
    fred_source,
)
from cerbero_mcp.exchanges.macro.toolset import client_of, macro_tool

# TTLs: the curve and FRED's daily series are published once per business day, so an hour bounds how
# stale an answer can be after a release while a burst of identical calls costs one upstream request.
TREASURY_TTL_S = 3600.0
FRED_TTL_S = 3600.0
BREAKEVENS = (
    ("T5YIE", "5-year breakeven inflation"),
    ("T10YIE", "10-year breakeven inflation"),
    ("T5YIFR", "5-year, 5-year forward inflation expectation"),
)
# The latest curve is found in the last few weeks (holidays and month starts leave gaps).
LATEST_LOOKBACK_DAYS = 14


def too_long(field: str, days: int, maximum: int) -> Exception:
    """Return the INVALID_INPUT of a range longer than `maximum` days, stating the maximum."""
    return invalid_input([{"loc": (field,), "msg": f"the range is {days} days; at most {maximum} days per call"}])


def curve_model(day: CurveDay, tenors: set[str] | None) -> Curve:
    """Return the response model of one curve day, keeping `tenors` only when given."""
    stamp = day_start(day.day)
    yields = [
        TenorYield(
            tenor=item.tenor,
            years=round(item.years, 6),
            value=item.value,
            unit="percent",
            source=TREASURY_SOURCE,
            observed_at=stamp,
        )
        for item in day.yields
        if tenors is None or item.tenor in tenors
    ]
    return Curve(date=day.day, yields=yields)


def page_of(total: int, offset: int, returned: int) -> Page:
    """Return the paging of `returned` items from `offset` out of `total`."""
    following = offset + returned
    return Page(total=total, offset=offset, next_offset=following if following < total else None)


@macro_tool("get_treasury_yields", TREASURY_TTL_S)
async def get_treasury_yields(ctx: ToolContext, req: TreasuryYieldsRequest) -> TreasuryYields:
    """Return the US Treasury daily par yield curve (1M to 30Y) for a date, a range, or the latest (no key).

    Source: the Treasury's daily_treasury_yield_curve feed. Curves are newest first; a tenor the
    Treasury did not publish that day is absent. Ranges are at most 1830 days.
    """
    client = await client_of(ctx)
    today = utcnow().date()
    latest = req.date is None and req.start is None and req.end is None
    if req.date is not None:
        start = end = req.date
    elif latest:
        start, end = today - timedelta(days=LATEST_LOOKBACK_DAYS), today
    else:
        end = req.end or today
        start = req.start or end - timedelta(days=30)
    if (end - start).days > MAX_TREASURY_RANGE_DAYS:
        raise too_long("start", (end - start).days, MAX_TREASURY_RANGE_DAYS)
    days = await curve_days(ctx, client, start, end)
    if latest:
        days = days[-1:]
    tenors = {tenor.upper() for tenor in req.tenors} if req.tenors else None
    newest_first = list(reversed(days))
    chosen = newest_first[req.offset : req.offset + req.limit]
    return TreasuryYields(
        curves=[curve_model(day, tenors) for day in chosen], page=page_of(len(newest_first), req.offset, len(chosen))
    )


@macro_tool("get_yield_curve_slope", TREASURY_TTL_S)
async def get_yield_curve_slope(ctx: ToolContext, req: SlopeRequest) -> YieldCurveSlope:
    """Return the 2s10s, 3m10y and 5s30s Treasury spreads (bp) with history, percentile, z-score and inversion.

    Source: the Treasury par yield curve (no key). The percentile is the share of the lookback window at
    or below the latest value; an inversion is the run of values below zero ending at the latest date.
    """
    client = await client_of(ctx)
    end = utcnow().date()
    start = end - timedelta(days=req.lookback_days)
    days = await curve_days(ctx, client, start, end)
    spreads = []
    for name, long_tenor, short_tenor in analytics.SPREADS:
        points = [
            (day.day, value) for day in days if (value := analytics.spread_bp(day, long_tenor, short_tenor)) is not None
        ]
        spreads.append(_spread_stats(name, points, req.history_limit))
    return YieldCurveSlope(window_start=start, window_end=end, spreads=spreads)


def _spread_stats(name: str, points: list[tuple[date, float]], history_limit: int) -> SpreadStats:
    history = [
        SpreadPoint(date=day, value_bp=value, source=TREASURY_SOURCE, observed_at=day_start(day))
        for day, value in points
    ]
    if not points:
        return SpreadStats(
            name=name,
            latest=None,
            percentile=None,
            zscore=None,
            min_bp=None,
            max_bp=None,
            inverted=False,
            inversion=None,
            history=[],
        )
    values = [value for _, value in points]
    latest = values[-1]
    inversion = analytics.current_inversion(points)
    return SpreadStats(
        name=name,
        latest=history[-1],
        percentile=analytics.percentile_rank(values, latest),
        zscore=analytics.zscore(values, latest),
        min_bp=min(values),
        max_bp=max(values),
        inverted=latest < 0,
        inversion=None if inversion is None else InversionInfo(**inversion.__dict__),
        history=list(reversed(history))[:history_limit],
    )


@macro_tool("get_fred_series", FRED_TTL_S)
async def get_fred_series(ctx: ToolContext, req: FredSeriesRequest) -> FredSeries:
    """Return a FRED series by id with range, units, frequency and paging; missing values are null (needs FRED_API_KEY).

    Source: FRED fred/series and fred/series/observations. Each point is stamped 00:00 UTC of its date.
    """
    client = await client_of(ctx)
    series_id = req.series_id.upper()
    client.fred.secret()  # NOT_CONFIGURED before anything else when the key is missing
    info = await fred_info(ctx, client, series_id)
    params: dict[str, Any] = {
        "series_id": series_id,
        "observation_start": req.start.isoformat() if req.start else None,
        "observation_end": req.end.isoformat() if req.end else None,
        "units": req.units,
        "frequency": req.frequency,
        "aggregation_method": req.aggregation_method if req.frequency else None,
        "sort_order": req.sort_order,
        "limit": req.limit,
        "offset": req.offset,
    }
    observations = await fred_page(client, params)
    source = fred_source(series_id)
    points = [
        SeriesPoint(date=point.day, value=point.value, source=source, observed_at=day_start(point.day))
        for point in observations.points
    ]
    return FredSeries(
        series_id=series_id,
        title=info.title,
        units=info.units,
        units_transform=observations.units,
        frequency=info.frequency,
        last_updated=info.last_updated,
        points=points,
        page=page_of(observations.count, req.offset, len(points)),
    )


@macro_tool("get_breakeven_inflation", FRED_TTL_S)
async def get_breakeven_inflation(ctx: ToolContext, req: BreakevenRequest) -> BreakevenInflation:
    """Return the 5Y, 10Y and 5Y5Y forward breakeven inflation rates (percent) with history (FRED; needs FRED_API_KEY).

    Series: T5YIE, T10YIE, T5YIFR (daily). Ranges are at most 1098 days.
    """
    client = await client_of(ctx)
    client.fred.secret()
    end = req.end or utcnow().date()
    start = req.start or end - timedelta(days=365)
    if start > end:
        raise invalid_input([{"loc": ("start",), "msg": "start is after end"}])
    if (end - start).days > MAX_BREAKEVEN_RANGE_DAYS:
        raise too_long("start", (end - start).days, MAX_BREAKEVEN_RANGE_DAYS)
    series = []
    for series_id, name in BREAKEVENS:
        page = await fred_page(
            client,
            {
                "series_id": series_id,
                "observation_start": start.isoformat(),
                "observation_end": end.isoformat(),
                "sort_order": "asc",
                "limit": 1000,
            },
        )
        source = fred_source(series_id)
        points = [
            SeriesPoint(date=p.day, value=p.value, source=source, observed_at=day_start(p.day))
            for p in page.points
            if p.value is not None
        ]
        change = round((points[-1].value - points[0].value) * 100, 2) if len(points) > 1 else None  # type: ignore[operator]
        series.append(
            BreakevenSeries(
                series_id=series_id,
                name=name,
                latest=points[-1] if points else None,
                change_bp=change,
                history=list(reversed(points))[: req.history_limit],
            )
        )
    return BreakevenInflation(start=start, end=end, series=series)
