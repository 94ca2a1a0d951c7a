"""Reads shared by several macro tools: Treasury curves over a date range, FRED pages and metadata, COT markets.

Each read is kept in the provider's cache under its own key (a year's Treasury feed serves the yields,
the slope and the rates quotes), with a TTL suited to how often the source publishes it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import BadRequestError, NotFoundError, UpstreamError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.macro.client import (
    CFTC,
    DISAGGREGATED_DATASET,
    FRED,
    TFF_DATASET,
    TREASURY,
    MacroClient,
)
from cerbero_mcp.exchanges.macro.parsing import (
    CurveDay,
    FredObservations,
    FredSeriesInfo,
    parse_fred_observations,
    parse_fred_series,
    parse_treasury_feed,
)
from cerbero_mcp.exchanges.providers import Source, cached

# The curve of the current month or year changes every business day; an older period is final.
CURRENT_FEED_TTL_S = 3600.0
PAST_FEED_TTL_S = 86400.0
FRED_INFO_TTL_S = 86400.0
# Up to this span the Treasury is read month by month (small feeds); beyond it, year by year.
MONTHLY_FEEDS_UP_TO_DAYS = 92
SOCRATA_PAGE = 5000
SOCRATA_MAX_PAGES = 4
NEW_YORK = ZoneInfo("America/New_York")

TREASURY_SOURCE = Source(name=TREASURY.name, url=TREASURY.url)
CFTC_SOURCES = {
    "tff": Source(name=CFTC.name, url=f"{CFTC.url}resource/{TFF_DATASET}.json"),
    "disaggregated": Source(name=CFTC.name, url=f"{CFTC.url}resource/{DISAGGREGATED_DATASET}.json"),
}
Dataset = Literal["tff", "disaggregated"]
DATASET_IDS: dict[Dataset, str] = {"tff": TFF_DATASET, "disaggregated": DISAGGREGATED_DATASET}


def day_start(day: date) -> datetime:
    """Return 00:00 UTC of `day` (when a daily observation is stamped)."""
    return datetime.combine(day, time(0), UTC)


def fred_source(series_id: str) -> Source:
    """Return the FRED source of a series (its page on fred.stlouisfed.org)."""
    return Source(name=FRED.name, url=f"{FRED.url}{series_id}")


# --- Treasury ------------------------------------------------------------------------------------------


def _periods(start: date, end: date) -> list[tuple[str, int | None, str | None]]:
    if (end - start).days <= MONTHLY_FEEDS_UP_TO_DAYS:
        months: list[tuple[str, int | None, str | None]] = []
        cursor = date(start.year, start.month, 1)
        while cursor <= end:
            months.append((f"m{cursor:%Y%m}", None, f"{cursor:%Y%m}"))
            cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        return months
    return [(f"y{year}", year, None) for year in range(start.year, end.year + 1)]


async def curve_days(ctx: ToolContext, client: MacroClient, start: date, end: date) -> list[CurveDay]:
    """Return the Treasury curves from `start` to `end`, oldest first (one cached feed per month or year)."""
    today = utcnow().date()

    async def one(key: str, year: int | None, month: str | None) -> list[CurveDay]:
        last_day = date(year, 12, 31) if year is not None else _month_end(month or "")
        ttl = PAST_FEED_TTL_S if last_day < today - timedelta(days=7) else CURRENT_FEED_TTL_S

        async def fetch() -> list[CurveDay]:
            feed = await client.treasury_curve_feed(year=year, month=month)
            # A year's feed is ~400 KB of XML and a 5-year window reads six at once: parsed on the event loop,
            # they stalled it long enough for the other feeds' reads to time out. Parse in a worker thread.
            return await asyncio.to_thread(parse_treasury_feed, feed)

        return await cached(ctx, ("treasury", key), ttl, fetch)

    feeds = await asyncio.gather(*(one(*period) for period in _periods(start, end)))
    # One curve per date, whatever the feeds overlap (a source answering a period with more than it).
    by_day = {day.day: day for feed in feeds for day in feed if start <= day.day <= end}
    return [by_day[day] for day in sorted(by_day)]


def _month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[4:])
    return date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)


# --- FRED ----------------------------------------------------------------------------------------------


async def fred_page(client: MacroClient, params: dict[str, Any]) -> FredObservations:
    """Return one page of a FRED series' observations."""
    return parse_fred_observations(await client.fred_observations(params))


async def fred_info(ctx: ToolContext, client: MacroClient, series_id: str) -> FredSeriesInfo:
    """Return a FRED series' metadata (cached a day: titles and units rarely change)."""

    async def fetch() -> FredSeriesInfo:
        return parse_fred_series(await client.fred_series(series_id))

    return await cached(ctx, ("fred_series", series_id), FRED_INFO_TTL_S, fetch)


# --- CFTC COT markets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CotMarketInfo:
    """A market the COT tools know by key: its CFTC contract market code, report and name."""

    code: str
    dataset: Dataset
    name: str


COT_MARKETS: dict[str, CotMarketInfo] = {
    "sp500_emini": CotMarketInfo("13874A", "tff", "E-MINI S&P 500 - CHICAGO MERCANTILE EXCHANGE"),
    "nasdaq100_mini": CotMarketInfo("209742", "tff", "NASDAQ MINI - CHICAGO MERCANTILE EXCHANGE"),
    "dow_mini": CotMarketInfo("124603", "tff", "DJIA x $5 - CHICAGO BOARD OF TRADE"),
    "russell2000_emini": CotMarketInfo("239742", "tff", "RUSSELL E-MINI - CHICAGO MERCANTILE EXCHANGE"),
    "ust_2y": CotMarketInfo("042601", "tff", "UST 2Y NOTE - CHICAGO BOARD OF TRADE"),
    "ust_10y": CotMarketInfo("043602", "tff", "UST 10Y NOTE - CHICAGO BOARD OF TRADE"),
    "ust_bond": CotMarketInfo("020601", "tff", "UST BOND - CHICAGO BOARD OF TRADE"),
    "euro_fx": CotMarketInfo("099741", "tff", "EURO FX - CHICAGO MERCANTILE EXCHANGE"),
    "japanese_yen": CotMarketInfo("097741", "tff", "JAPANESE YEN - CHICAGO MERCANTILE EXCHANGE"),
    "british_pound": CotMarketInfo("096742", "tff", "BRITISH POUND - CHICAGO MERCANTILE EXCHANGE"),
    "vix": CotMarketInfo("1170E1", "tff", "VIX FUTURES - CBOE FUTURES EXCHANGE"),
    "bitcoin": CotMarketInfo("133741", "tff", "BITCOIN - CHICAGO MERCANTILE EXCHANGE"),
    "gold": CotMarketInfo("088691", "disaggregated", "GOLD - COMMODITY EXCHANGE INC."),
    "silver": CotMarketInfo("084691", "disaggregated", "SILVER - COMMODITY EXCHANGE INC."),
    "crude_oil_wti": CotMarketInfo("067651", "disaggregated", "WTI-PHYSICAL - NEW YORK MERCANTILE EXCHANGE"),
    "natural_gas": CotMarketInfo("023651", "disaggregated", "NAT GAS NYME - NEW YORK MERCANTILE EXCHANGE"),
    "copper": CotMarketInfo("085692", "disaggregated", "COPPER- #1 - COMMODITY EXCHANGE INC."),
}
_CODE_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+")


def socrata_time(day: date) -> str:
    """Return a day as a Socrata floating timestamp literal body ("2025-08-05T00:00:00.000")."""
    return f"{day.isoformat()}T00:00:00.000"


def market_filter(market: str, dataset: Dataset) -> str:
    """Return the SoQL condition selecting `market` (a key, a contract market code or a name fragment)."""
    key = market.strip().lower()
    known = COT_MARKETS.get(key)
    if known is not None:
        if known.dataset != dataset:
            other = "get_cot_tff" if known.dataset == "tff" else "get_cot_disaggregated"
            raise BadRequestError(
                f"{key} is reported in the {known.dataset} report, not {dataset}",
                details={"market": key, "dataset": known.dataset},
                suggested_fix=f"call {other} for {key}",
            )
        return f"cftc_contract_market_code='{known.code}'"
    text = market.strip().upper()
    if len(text) == 6 and set(text) <= _CODE_CHARS and any(ch.isdigit() for ch in text):
        return f"cftc_contract_market_code='{text}'"
    # A fragment of exactly one known market's name is that market: a code query, not a scan of every name.
    named = [info for info in COT_MARKETS.values() if info.dataset == dataset and text in info.name]
    if len(named) == 1:
        return f"cftc_contract_market_code='{named[0].code}'"
    # The request model allows no quote, so the literal cannot be closed early; % and _ are the only wildcards.
    fragment = text.replace("'", "''")
    return f"upper(market_and_exchange_names) like '%{fragment}%'"


def publication_time(report_date: date) -> datetime:
    """Return the scheduled release of a Tuesday report: the Friday after, 15:30 New York time, in UTC."""
    friday = report_date + timedelta(days=(4 - report_date.weekday()) % 7 or 7)
    return datetime.combine(friday, time(15, 30), NEW_YORK).astimezone(UTC)


async def cot_rows(client: MacroClient, dataset: Dataset, where: str, *, order: str) -> list[Any]:
    """Return every row of `dataset` matching `where` (paged by $offset, at most SOCRATA_MAX_PAGES pages)."""
    rows: list[Any] = []
    for page in range(SOCRATA_MAX_PAGES):
        batch = await client.cftc_rows(
            DATASET_IDS[dataset],
            {"$where": where, "$order": order, "$limit": SOCRATA_PAGE, "$offset": page * SOCRATA_PAGE},
        )
        if not isinstance(batch, list):
            raise UpstreamError("CFTC: the answer is not a JSON array of rows")
        rows.extend(batch)
        if len(batch) < SOCRATA_PAGE:
            return rows
    raise BadRequestError(
        f"the CFTC query matches more than {SOCRATA_PAGE * SOCRATA_MAX_PAGES} rows",
        suggested_fix="narrow the market or the date range",
    )


def no_market(market: str) -> NotFoundError:
    """Return the NOT_FOUND of a market that matches no row."""
    return NotFoundError(
        f"CFTC: no report matches market {market!r} in the range",
        details={"market": market, "known": sorted(COT_MARKETS)},
        suggested_fix="use a market key, a CFTC contract market code, or a fragment of the market's name",
    )
