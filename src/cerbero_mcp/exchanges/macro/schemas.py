"""Request and response models of the macro tools (request examples derive their dates from the clock)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.contracts import ToolRequest
from cerbero_mcp.exchanges.providers import Observation, ProviderResponse, Sourced

MAX_TREASURY_RANGE_DAYS = 5 * 366
MAX_BREAKEVEN_RANGE_DAYS = 3 * 366
MAX_CALENDAR_RANGE_DAYS = 31
MAX_COT_RANGE_DAYS = 5 * 366


def _today() -> Date:
    return utcnow().date()


def _ago(days: int) -> str:
    return (_today() - timedelta(days=days)).isoformat()


def _ahead(days: int) -> str:
    return (_today() + timedelta(days=days)).isoformat()


# --- what every macro answer carries ---------------------------------------------------------------


class MacroResponse(ProviderResponse):
    """Base of the macro answers: when the sources were read, and the cache's TTL and age."""

    fetched_at: datetime = Field(default_factory=utcnow, description="When the gateway read the sources (UTC).")
    cache_ttl_s: float = Field(0.0, ge=0, description="Seconds an identical request is answered from the cache.")
    cache_age_s: float = Field(
        0.0, ge=0, description="Seconds since fetched_at: 0 on a fresh answer, more when served from the cache."
    )


class Page(BaseModel):
    """Paging of a bounded list."""

    total: int = Field(ge=0, description="How many items the whole range holds.")
    offset: int = Field(ge=0, description="Index of the first item returned.")
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null on the last page.")


# --- Treasury ------------------------------------------------------------------------------------------


class TreasuryYieldsRequest(ToolRequest):
    """Ask for the US Treasury par yield curve on one date, in a date range, or the latest."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"start": _ago(30), "end": _ago(0), "tenors": ["2Y", "10Y", "30Y"]}]},
    )
    date: Date | None = Field(None, description="One curve date (YYYY-MM-DD); not with start/end.")
    start: Date | None = Field(None, description="First date of a range (default: end minus 30 days).")
    end: Date | None = Field(None, description="Last date of a range (default: today).")
    tenors: list[Annotated[str, Field(min_length=2, max_length=5, pattern=r"^[0-9.]+[WwMmYy]$")]] | None = Field(
        None, max_length=20, description="Only these tenors (e.g. 3M, 2Y, 10Y); default every tenor published."
    )
    limit: int = Field(100, ge=1, le=500, description="Curves per page (newest first), at most 500.")
    offset: int = Field(0, ge=0, le=10_000, description="Curves to skip (paging).")

    @model_validator(mode="after")
    def _one_way(self) -> TreasuryYieldsRequest:
        if self.date is not None and (self.start is not None or self.end is not None):
            raise ValueError("give either date or start/end, not both")
        if self.start and self.end and self.start > self.end:
            raise ValueError("start is after end")
        return self


class TenorYield(Observation):
    """One tenor's par yield (percent) on one date."""

    tenor: str = Field(description="Tenor label as the Treasury names it: 1M, 1.5M, 3M, 2Y, 10Y, 30Y...")
    years: float = Field(description="Tenor length in years.")


class Curve(BaseModel):
    """One business day's par yield curve."""

    date: Date
    yields: list[TenorYield] = Field(description="Tenors published that day, shortest first (missing ones absent).")


class TreasuryYields(MacroResponse):
    """US Treasury daily par yield curves, newest first."""

    curves: list[Curve]
    page: Page


class SlopeRequest(ToolRequest):
    """Ask for the curve slopes (2s10s, 3m10y, 5s30s) with history, percentile and inversion."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"lookback_days": 365 * 5}]})
    lookback_days: int = Field(730, ge=30, le=3650, description="History window for the percentile, at most 3650.")
    history_limit: int = Field(60, ge=0, le=500, description="Most recent history points returned per spread.")


class SpreadPoint(Sourced):
    """A spread on one date, in basis points."""

    date: Date
    value_bp: float


class InversionInfo(BaseModel):
    """The current inversion of a spread."""

    start: Date = Field(description="First date of the current run below zero.")
    observations: int = Field(description="Business days in the run.")
    calendar_days: int = Field(description="Calendar days from start to the latest date, inclusive.")
    started_before_window: bool = Field(description="True when the run reaches back past the lookback window.")


class SpreadStats(BaseModel):
    """One spread: latest value, where it sits in the window, and whether it is inverted."""

    name: str = Field(description="2s10s (10Y-2Y), 3m10y (10Y-3M) or 5s30s (30Y-5Y).")
    latest: SpreadPoint | None
    percentile: float | None = Field(description="Percent of the window at or below the latest value.")
    zscore: float | None
    min_bp: float | None
    max_bp: float | None
    inverted: bool
    inversion: InversionInfo | None
    history: list[SpreadPoint] = Field(description="Most recent values, newest first (history_limit).")


class YieldCurveSlope(MacroResponse):
    """Curve slopes over the lookback window."""

    window_start: Date
    window_end: Date
    spreads: list[SpreadStats]


# --- FRED ----------------------------------------------------------------------------------------------

FredUnits = Literal["lin", "chg", "ch1", "pch", "pc1", "pca", "cch", "cca", "log"]
FredFrequency = Literal[
    "d", "w", "bw", "m", "q", "sa", "a", "wef", "weth", "wew", "wetu", "wem", "wesu", "wesa", "bwew", "bwem"
]


class FredSeriesRequest(ToolRequest):
    """Ask for a FRED series by id."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"series_id": "DGS10", "start": _ago(90)},
                {"series_id": "DGS10", "start": _ago(365), "frequency": "m", "aggregation_method": "avg"},
            ]
        },
    )
    series_id: str = Field(
        min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.]+$", description="FRED series id, e.g. DGS10, CPIAUCSL."
    )
    start: Date | None = Field(None, description="observation_start (YYYY-MM-DD).")
    end: Date | None = Field(None, description="observation_end (YYYY-MM-DD).")
    units: FredUnits = Field("lin", description="FRED units: lin, chg, ch1, pch, pc1, pca, cch, cca, log.")
    frequency: FredFrequency | None = Field(None, description="Aggregate to a lower frequency (d, w, m, q, a...).")
    aggregation_method: Literal["avg", "sum", "eop"] = Field("avg", description="How frequency aggregates.")
    sort_order: Literal["asc", "desc"] = Field("desc", description="desc: newest first.")
    limit: int = Field(100, ge=1, le=1000, description="Observations per page, at most 1000.")
    offset: int = Field(0, ge=0, le=100_000, description="Observations to skip (paging).")

    @model_validator(mode="after")
    def _ordered(self) -> FredSeriesRequest:
        if self.start and self.end and self.start > self.end:
            raise ValueError("start is after end")
        return self


class SeriesPoint(Sourced):
    """One observation; value null where the source has none (FRED's ".")."""

    date: Date
    value: float | None


class FredSeries(MacroResponse):
    """A FRED series page."""

    series_id: str
    title: str
    units: str = Field(description="The series' own units (FRED's title for them).")
    units_transform: str = Field(description="The transformation asked (lin = none).")
    frequency: str
    last_updated: str
    points: list[SeriesPoint]
    page: Page


class BreakevenRequest(ToolRequest):
    """Ask for the 5Y, 10Y and 5Y5Y forward breakeven inflation rates with history."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"start": _ago(365 * 2)}]})
    start: Date | None = Field(None, description="First date (default: one year before end).")
    end: Date | None = Field(None, description="Last date (default: today).")
    history_limit: int = Field(60, ge=0, le=1000, description="Most recent points returned per series.")


class BreakevenSeries(BaseModel):
    """One breakeven series."""

    series_id: str = Field(description="T5YIE, T10YIE or T5YIFR.")
    name: str
    latest: SeriesPoint | None
    change_bp: float | None = Field(description="Latest minus the first value of the window, in basis points.")
    history: list[SeriesPoint] = Field(description="Newest first.")


class BreakevenInflation(MacroResponse):
    """Market-implied inflation expectations from FRED."""

    start: Date
    end: Date
    series: list[BreakevenSeries]


# --- quotes --------------------------------------------------------------------------------------------

EquityFuture = Literal["ES", "NQ", "YM", "RTY"]
Asset = Literal["US2Y", "US10Y", "US30Y", "DOLLAR", "GOLD", "WTI", "VIX", "BTC"]
EQUITY_FUTURES: tuple[EquityFuture, ...] = ("ES", "NQ", "YM", "RTY")
ASSETS: tuple[Asset, ...] = ("US2Y", "US10Y", "US30Y", "DOLLAR", "GOLD", "WTI", "VIX", "BTC")


class EquityFuturesRequest(ToolRequest):
    """Ask for the US equity index futures (through their index ETF proxies)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"contracts": ["ES", "NQ"]}]})
    contracts: list[EquityFuture] = Field(
        default_factory=lambda: list(EQUITY_FUTURES), min_length=1, max_length=4, description="ES, NQ, YM, RTY."
    )


class AssetPricesRequest(ToolRequest):
    """Ask for rates, dollar, gold, oil, VIX and BTC."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assets": ["US2Y", "US10Y"]}, {}]})
    assets: list[Asset] = Field(
        default_factory=lambda: list(ASSETS),
        min_length=1,
        max_length=8,
        description="US2Y, US10Y, US30Y (Treasury), DOLLAR, WTI, VIX, BTC (FRED), GOLD (Finnhub GLD).",
    )


class Quote(Observation):
    """The latest value of an instrument, its change, and how late it is."""

    instrument: str = Field(description="What was asked: ES, US10Y, GOLD...")
    symbol: str = Field(description="What the source was asked for: SPY, DGS10, BC_10YEAR...")
    proxy: bool = Field(description="True when the symbol stands in for the instrument (an ETF for a future).")
    change: float | None = Field(description="Change from the previous close or observation, in the value's unit.")
    change_pct: float | None = Field(description="Change in percent.")
    previous: float | None = Field(description="The previous close or observation.")
    end_of_day: bool = Field(description="True for a daily close (not intraday).")
    age_s: float = Field(ge=0, description="Seconds between observed_at and the answer.")
    note: str = ""


class Quotes(MacroResponse):
    """Latest values, each with its source and observation time."""

    quotes: list[Quote]


# --- calendar ------------------------------------------------------------------------------------------

Impact = Literal["low", "medium", "high"]


class EconomicCalendarRequest(ToolRequest):
    """Ask for economic releases in a date window."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"start": _ago(0), "end": _ahead(7), "countries": ["US"]}, {"importance": ["high"]}]
        },
    )
    start: Date | None = Field(None, description="First day (default: today).")
    end: Date | None = Field(None, description="Last day (default: start + 7 days); the window is at most 31 days.")
    countries: list[Annotated[str, Field(min_length=2, max_length=3, pattern=r"^[A-Za-z]+$")]] | None = Field(
        None, max_length=30, description="ISO country codes, e.g. US, EU, CN (default: all)."
    )
    importance: list[Impact] | None = Field(None, max_length=3, description="low, medium, high (default: all).")
    limit: int = Field(100, ge=1, le=500, description="Events per page, at most 500.")
    offset: int = Field(0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> EconomicCalendarRequest:
        if self.start and self.end and self.start > self.end:
            raise ValueError("start is after end")
        for code in self.countries or []:
            if not (1 < len(code) <= 3 and code.isalpha()):
                raise ValueError(f"country {code!r} is not an ISO code")
        return self


class CalendarEvent(Sourced):
    """One release: its time (UTC), and actual, estimate and previous in its unit."""

    time: datetime
    country: str
    event: str
    importance: str
    actual: float | None
    estimate: float | None
    previous: float | None
    unit: str
    released: bool = Field(description="True once the release time has passed.")


class EconomicCalendar(MacroResponse):
    """Economic releases, earliest first."""

    start: Date
    end: Date
    events: list[CalendarEvent]
    page: Page


# --- CFTC COT ------------------------------------------------------------------------------------------


class CotRequest(ToolRequest):
    """Ask for one market's Commitments of Traders over a date range."""

    model_config = ConfigDict(extra="forbid")
    market: str = Field(
        min_length=2,
        max_length=60,
        pattern=r"^[A-Za-z0-9_ .&()/,+\-]+$",
        description="A market key (sp500_emini, ust_10y, gold...), a CFTC market code (13874A) or a name part.",
    )
    start: Date | None = Field(None, description="First report date (default: 26 weeks before end).")
    end: Date | None = Field(None, description="Last report date (default: today).")
    limit: int = Field(52, ge=1, le=300, description="Reports per page (newest first), at most 300.")
    offset: int = Field(0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> CotRequest:
        if self.start and self.end and self.start > self.end:
            raise ValueError("start is after end")
        return self


class TffRequest(CotRequest):
    """Ask for a market's Traders in Financial Futures report."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"market": "sp500_emini"}, {"market": "ust_10y", "start": _ago(365)}]},
    )


class DisaggregatedRequest(CotRequest):
    """Ask for a market's Disaggregated report."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"market": "gold"}, {"market": "crude_oil_wti", "start": _ago(365)}]},
    )


class ClassNet(BaseModel):
    """One trader class in one report."""

    trader_class: str
    long: int
    short: int
    spread: int | None
    net: int = Field(description="long - short (contracts).")
    net_change: int | None = Field(description="Change of net from the previous weekly report.")


class CotReport(Sourced):
    """One weekly report (positions as of Tuesday; observed_at is that Tuesday, delay_s until Friday's release)."""

    report_date: Date
    open_interest: int | None
    classes: list[ClassNet]


class CotHistory(MacroResponse):
    """A market's weekly COT reports, newest first."""

    dataset: str = Field(description="The CFTC dataset: tff (gpe5-46if) or disaggregated (72hh-3qpy), futures only.")
    market: str
    code: str
    reports: list[CotReport]
    page: Page


CotMarket = Literal[
    "sp500_emini",
    "nasdaq100_mini",
    "dow_mini",
    "russell2000_emini",
    "ust_2y",
    "ust_10y",
    "ust_bond",
    "euro_fx",
    "japanese_yen",
    "british_pound",
    "vix",
    "bitcoin",
    "gold",
    "silver",
    "crude_oil_wti",
    "natural_gas",
    "copper",
]
DEFAULT_EXTREME_MARKETS: list[CotMarket] = [
    "sp500_emini",
    "nasdaq100_mini",
    "ust_2y",
    "ust_10y",
    "euro_fx",
    "japanese_yen",
    "bitcoin",
    "gold",
    "crude_oil_wti",
]


class ExtremeRequest(ToolRequest):
    """Ask where each trader class's net position sits in its history, across a set of markets."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"markets": ["gold", "sp500_emini"], "lookback_years": 5}]},
    )
    markets: list[CotMarket] = Field(
        default_factory=lambda: list(DEFAULT_EXTREME_MARKETS), min_length=1, max_length=17, description="Market keys."
    )
    lookback_years: int = Field(3, ge=1, le=10, description="History window for percentile and z-score.")
    extreme_percentile: float = Field(
        90.0, ge=50, le=100, description="A net at or above this percentile, or at or below 100 minus it, is extreme."
    )
    extreme_z: float = Field(2.0, gt=0, le=10, description="A |z-score| at or above this is extreme.")


class ClassExtreme(BaseModel):
    """One class of one market: its net now and where it sits in the window."""

    trader_class: str
    net: int
    percentile: float | None
    zscore: float | None
    window_min: int
    window_max: int
    extreme: Literal["high", "low"] | None


class MarketExtremes(Sourced):
    """One market's latest report and each class's position in its history."""

    market: str
    code: str
    dataset: str
    report_date: Date
    weeks: int = Field(description="Reports in the window.")
    classes: list[ClassExtreme]


class ExtremePositioning(MacroResponse):
    """COT positioning extremes across markets."""

    window_start: Date
    markets: list[MarketExtremes]
    extremes: list[str] = Field(description="market.class of every flagged extreme.")
