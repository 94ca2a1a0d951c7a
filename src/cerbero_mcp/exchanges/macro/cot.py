"""CFTC Commitments of Traders tools: TFF and Disaggregated history per market, and positioning extremes (no key).

Source: the CFTC public reporting API (Socrata), futures-only datasets gpe5-46if (TFF) and 72hh-3qpy
(Disaggregated). Positions are as of Tuesday and released on Friday at 15:30 New York time: each report's
`observed_at` is its Tuesday and `delay_s` the time until that scheduled release.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Literal

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import BadRequestError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.macro import analytics
from cerbero_mcp.exchanges.macro.parsing import DISAGGREGATED_CLASSES, TFF_CLASSES, CotRow, parse_cot_rows
from cerbero_mcp.exchanges.macro.rates import page_of, too_long
from cerbero_mcp.exchanges.macro.schemas import (
    MAX_COT_RANGE_DAYS,
    ClassExtreme,
    ClassNet,
    CotHistory,
    CotReport,
    CotRequest,
    DisaggregatedRequest,
    ExtremePositioning,
    ExtremeRequest,
    MarketExtremes,
    TffRequest,
)
from cerbero_mcp.exchanges.macro.sources import (
    CFTC_SOURCES,
    COT_MARKETS,
    DATASET_IDS,
    Dataset,
    cot_rows,
    day_start,
    market_filter,
    no_market,
    publication_time,
    socrata_time,
)
from cerbero_mcp.exchanges.macro.toolset import client_of, macro_tool

# Reports are weekly (Friday release): six hours keeps a new release from waiting long while a day of
# identical calls costs a handful of upstream requests.
COT_TTL_S = 21600.0
DEFAULT_WEEKS = 26
CLASSES = {"tff": TFF_CLASSES, "disaggregated": DISAGGREGATED_CLASSES}


def _report(row: CotRow, previous: CotRow | None, dataset: Dataset) -> CotReport:
    observed = day_start(row.report_date)
    classes = []
    for name, position in row.classes.items():
        before = previous.classes.get(name) if previous is not None else None
        weekly = previous is not None and (row.report_date - previous.report_date).days <= 7
        classes.append(
            ClassNet(
                trader_class=name,
                long=position.long,
                short=position.short,
                spread=position.spread,
                net=position.net,
                net_change=position.net - before.net if before is not None and weekly else None,
            )
        )
    return CotReport(
        report_date=row.report_date,
        open_interest=row.open_interest,
        classes=classes,
        source=CFTC_SOURCES[dataset],
        observed_at=observed,
        delay_s=(publication_time(row.report_date) - observed).total_seconds(),
    )


async def _history(ctx: ToolContext, req: CotRequest, dataset: Dataset) -> CotHistory:
    client = await client_of(ctx)
    end = req.end or utcnow().date()
    start = req.start or end - timedelta(weeks=DEFAULT_WEEKS)
    if (end - start).days > MAX_COT_RANGE_DAYS:
        raise too_long("start", (end - start).days, MAX_COT_RANGE_DAYS)
    # One week before start, so the first report in the range has its weekly change.
    where = (
        f"{market_filter(req.market, dataset)} AND report_date_as_yyyy_mm_dd between "
        f"'{socrata_time(start - timedelta(days=7))}' and '{socrata_time(end)}'"
    )
    rows = parse_cot_rows(
        await cot_rows(client, dataset, where, order="report_date_as_yyyy_mm_dd DESC"), CLASSES[dataset]
    )
    codes = sorted({row.code for row in rows})
    if not codes:
        known = COT_MARKETS.get(req.market.strip().lower())
        if known is None:
            raise no_market(req.market)
        codes = [known.code]
    if len(codes) > 1:
        names = sorted({f"{row.code}: {row.market}" for row in rows})
        raise BadRequestError(
            f"market {req.market!r} matches {len(codes)} CFTC markets",
            details={"matches": names[:20]},
            suggested_fix="ask again with one of the contract market codes listed",
        )
    reports = [
        _report(row, rows[index - 1] if index else None, dataset)
        for index, row in enumerate(rows)
        if start <= row.report_date <= end
    ]
    newest_first = list(reversed(reports))
    chosen = newest_first[req.offset : req.offset + req.limit]
    known = COT_MARKETS.get(req.market.strip().lower())
    return CotHistory(
        dataset=f"{dataset} ({DATASET_IDS[dataset]})",
        market=rows[-1].market if rows else (known.name if known else req.market),
        code=codes[0],
        reports=chosen,
        page=page_of(len(newest_first), req.offset, len(chosen)),
    )


@macro_tool("get_cot_tff", COT_TTL_S)
async def get_cot_tff(ctx: ToolContext, req: TffRequest) -> CotHistory:
    """Return a market's CFTC Traders in Financial Futures report: long/short/net per class and weekly changes (no key).

    Classes: dealer, asset_manager, leveraged_funds, other_reportables, nonreportables. Ranges at most 1830 days.
    """
    return await _history(ctx, req, "tff")


@macro_tool("get_cot_disaggregated", COT_TTL_S)
async def get_cot_disaggregated(ctx: ToolContext, req: DisaggregatedRequest) -> CotHistory:
    """Return a market's CFTC Disaggregated report: long/short/net per class and weekly changes (no key).

    Classes: producer_merchant, swap_dealers, managed_money, other_reportables, nonreportables.
    """
    return await _history(ctx, req, "disaggregated")


@macro_tool("get_cot_extreme_positioning", COT_TTL_S)
async def get_cot_extreme_positioning(ctx: ToolContext, req: ExtremeRequest) -> ExtremePositioning:
    """Return each trader class's net position as a percentile and z-score over a lookback, flagging extremes (no key).

    One CFTC query per report type covers every market asked; the latest report of each market is compared with
    the reports in the window (default 3 years).
    """
    client = await client_of(ctx)
    start = utcnow().date() - timedelta(days=365 * req.lookback_years)
    by_dataset: dict[Dataset, list[str]] = defaultdict(list)
    for market in dict.fromkeys(req.markets):
        by_dataset[COT_MARKETS[market].dataset].append(market)
    results: list[MarketExtremes] = []
    extremes: list[str] = []
    for dataset, keys in by_dataset.items():
        codes = ",".join(f"'{COT_MARKETS[key].code}'" for key in keys)
        where = f"cftc_contract_market_code in({codes}) AND report_date_as_yyyy_mm_dd >= '{socrata_time(start)}'"
        rows = parse_cot_rows(
            await cot_rows(client, dataset, where, order="report_date_as_yyyy_mm_dd ASC"), CLASSES[dataset]
        )
        per_code: dict[str, list[CotRow]] = defaultdict(list)
        for row in rows:
            per_code[row.code].append(row)
        for key in keys:
            market_rows = per_code.get(COT_MARKETS[key].code, [])
            if not market_rows:
                continue  # no report in the window: nothing to rank
            found = _extremes(key, dataset, market_rows, req)
            results.append(found)
            extremes.extend(f"{key}.{item.trader_class}" for item in found.classes if item.extreme)
    return ExtremePositioning(window_start=start, markets=results, extremes=extremes)


def _extremes(key: str, dataset: Dataset, rows: list[CotRow], req: ExtremeRequest) -> MarketExtremes:
    latest = rows[-1]
    classes = []
    for name in CLASSES[dataset]:
        history = analytics.class_history(rows, name)
        if not history or history[-1].report_date != latest.report_date:
            continue
        nets = [float(point.net) for point in history]
        current = history[-1].net
        percentile = analytics.percentile_rank(nets, current)
        z = analytics.zscore(nets, current)
        flag: Literal["high", "low"] | None = None
        if (percentile is not None and percentile >= req.extreme_percentile) or (z is not None and z >= req.extreme_z):
            flag = "high"
        elif (percentile is not None and percentile <= 100 - req.extreme_percentile) or (
            z is not None and z <= -req.extreme_z
        ):
            flag = "low"
        classes.append(
            ClassExtreme(
                trader_class=name,
                net=current,
                percentile=percentile,
                zscore=z,
                window_min=int(min(nets)),
                window_max=int(max(nets)),
                extreme=flag,
            )
        )
    observed = day_start(latest.report_date)
    return MarketExtremes(
        market=key,
        code=latest.code,
        dataset=dataset,
        report_date=latest.report_date,
        weeks=len(rows),
        classes=classes,
        source=CFTC_SOURCES[dataset],
        observed_at=observed,
        delay_s=(publication_time(latest.report_date) - observed).total_seconds(),
    )
