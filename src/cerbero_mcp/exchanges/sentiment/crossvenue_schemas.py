"""Request and response models of the sentiment provider's cross-venue tools (funding, OI, arb, heatmap, pairs)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cerbero_mcp.contracts import ToolRequest
from cerbero_mcp.exchanges.providers import Sourced
from cerbero_mcp.exchanges.sentiment.schemas import SentimentResponse

VenueName = Literal["deribit", "bybit", "hyperliquid"]
VENUES: tuple[VenueName, ...] = ("deribit", "bybit", "hyperliquid")
Coin = Annotated[str, Field(min_length=2, max_length=10, pattern=r"^[A-Z0-9]{2,10}$")]
OiInterval = Literal["5min", "15min", "30min", "1h", "4h", "1d"]
DEFAULT_BUDGET_S = 8.0

_COIN = Field("BTC", description="The coin, upper case (BTC, ETH, SOL): each venue's USD-margined perpetual of it.")
_VENUES = Field(default=list(VENUES), min_length=1, max_length=3, description="Venues to ask (default: all three).")
_BUDGET = Field(
    DEFAULT_BUDGET_S,
    ge=0.2,
    le=30.0,
    description="Seconds each venue is given (default 8): a venue slower than this is reported as timed_out.",
)


# --- what every cross-venue answer carries -------------------------------------------------------


class CrossVenueStatus(BaseModel):
    """How one venue answered: ok, error (its error code and message) or timed_out (past the budget)."""

    venue: VenueName
    status: Literal["ok", "error", "timed_out"]
    instrument: str | None = Field(None, description="The venue's instrument asked for.")
    error_code: str | None = Field(None, description="The common error code when status is error or timed_out.")
    message: str | None = Field(None, description="What went wrong, when it did.")
    note: str | None = Field(None, description="What this venue does not publish (e.g. no open-interest history).")


class CrossVenueResponse(SentimentResponse):
    """Base of the cross-venue answers: each venue's status and the per-venue time budget used."""

    venue_budget_s: float = Field(description="Seconds each venue was given.")
    venues: list[CrossVenueStatus] = Field(description="Every venue asked, with its status (partial answers).")
    method: str = Field(description="How the numbers were computed.")


# --- get_funding_multi_exchange --------------------------------------------------------------------


class FundingMultiRequest(ToolRequest):
    """Ask for a coin's perpetual funding now and over a recent lookback at each venue."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"coin": "BTC"}, {"coin": "ETH", "lookback_hours": 24, "venues": ["bybit", "hyperliquid"]}]
        },
    )
    coin: Coin = _COIN
    lookback_hours: int = Field(72, ge=1, le=480, description="Hours of funding history (at most 480 = 20 days).")
    include_history: bool = Field(True, description="Return each venue's funding points, not only their mean.")
    venues: list[VenueName] = _VENUES
    venue_budget_s: float = _BUDGET


class NormalisedFundingPoint(BaseModel):
    """One funding point: the venue's rate for its period, and restated per 8 hours."""

    ts: datetime
    rate: Decimal = Field(description="The rate for the venue's period (fraction; long pays when positive).")
    interval_hours: Decimal = Field(description="The period the rate is for, in hours.")
    rate_8h: Decimal = Field(description="rate × 8 / interval_hours.")


class VenueFundingNow(Sourced):
    """A venue's current funding, normalised and annualised, and its recent history."""

    venue: VenueName
    instrument: str
    interval_hours: Decimal = Field(description="The venue's funding period for the current rate, in hours.")
    rate: Decimal = Field(description="The current rate for that period (fraction).")
    rate_8h: Decimal = Field(description="The current rate restated per 8 hours.")
    annualised: Decimal = Field(description="rate × periods per year (365 days), a fraction (0.1 = 10%).")
    mark_price: Decimal | None = Field(None, description="The perpetual's mark price (quote currency).")
    history_mean_8h: Decimal | None = Field(None, description="Mean 8-hour rate over the lookback.")
    history_annualised: Decimal | None = Field(None, description="history_mean_8h × 1095 (8-hour periods a year).")
    history_points: int = Field(0, ge=0, description="How many points the lookback held.")
    history: list[NormalisedFundingPoint] = Field(default_factory=list, description="Oldest first.")


class FundingMulti(CrossVenueResponse):
    """A coin's funding at each venue, on the same 8-hour period, annualised."""

    coin: str
    lookback_hours: int = Field(description="Hours of history asked for.")
    normalised_hours: int = Field(8, description="The common period every rate_8h is restated in, in hours.")
    funding: list[VenueFundingNow]


# --- get_oi_history --------------------------------------------------------------------------------


class OiHistoryRequest(ToolRequest):
    """Ask for a coin's open interest per venue and summed, in coin and USD, over a bounded window."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"coin": "BTC"}, {"coin": "ETH", "interval": "4h", "points": 42}]},
    )
    coin: Coin = _COIN
    interval: OiInterval = Field("1h", description="Spacing of the history points.")
    points: int = Field(48, ge=1, le=200, description="History points (the window is points × interval).")
    venues: list[VenueName] = _VENUES
    venue_budget_s: float = _BUDGET


class OiPoint(BaseModel):
    """Open interest at one time."""

    ts: datetime
    oi_coin: Decimal = Field(description="Open interest in the coin.")
    oi_usd: Decimal | None = Field(None, description="oi_coin × the close of the candle at ts; null without one.")


class VenueOpenInterest(Sourced):
    """A venue's open interest now and, where the venue publishes it, its history."""

    venue: VenueName
    instrument: str
    oi_coin: Decimal = Field(description="Open interest in the coin.")
    oi_usd: Decimal = Field(description="Open interest in USD (the venue's value, or oi_coin × mark).")
    mark_price: Decimal = Field(description="The perpetual's mark price (quote currency).")
    history_available: bool
    history: list[OiPoint] = Field(default_factory=list, description="Oldest first; empty when not published.")


class OiHistory(CrossVenueResponse):
    """Open interest of a coin per venue and summed over the venues that answered."""

    coin: str
    interval: OiInterval
    open_interest: list[VenueOpenInterest]
    total_oi_coin: Decimal = Field(description="Sum of the current values of the venues that answered.")
    total_oi_usd: Decimal = Field(description="Sum of the current USD values of the venues that answered.")
    summed_venues: list[VenueName]


# --- get_funding_arb_spread ------------------------------------------------------------------------


class FundingArbRequest(ToolRequest):
    """Ask for every venue pair's annualised funding difference, its legs and its net carry after fees."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"coin": "BTC"}, {"coin": "ETH", "holding_days": 7, "basis": "recent"}]},
    )
    coin: Coin = _COIN
    holding_days: int = Field(30, ge=1, le=365, description="Days the pair is held (fees are paid once in, once out).")
    basis: Literal["current", "recent"] = Field(
        "current", description="Compare the current rates, or the mean over lookback_hours."
    )
    lookback_hours: int = Field(72, ge=1, le=480, description="Hours averaged when basis is recent.")
    venues: list[VenueName] = _VENUES
    venue_budget_s: float = _BUDGET


class VenueFee(BaseModel):
    """The fee assumed at a venue."""

    venue: VenueName
    tier: str
    taker_fee: Decimal = Field(description="Fraction of notional per fill.")


class FundingArbPair(BaseModel):
    """One venue pair: long the lower funding, short the higher, per unit of notional on each leg."""

    long_venue: VenueName
    short_venue: VenueName
    long_instrument: str
    short_instrument: str
    long_annualised: Decimal = Field(description="Annualised funding of the long leg's venue (fraction).")
    short_annualised: Decimal = Field(description="Annualised funding of the short leg's venue (fraction).")
    spread_annualised: Decimal = Field(description="short_annualised − long_annualised (fraction a year).")
    gross_carry: Decimal = Field(description="spread × holding_days / 365.")
    fees: Decimal = Field(description="2 × long taker fee + 2 × short taker fee (entry and exit, both legs).")
    net_carry: Decimal = Field(description="gross_carry − fees, over the holding period.")
    net_annualised: Decimal = Field(description="net_carry × 365 / holding_days.")
    breakeven_days: Decimal | None = Field(None, description="Days for the spread to pay the fees; null if never.")


class FundingArbSpread(CrossVenueResponse):
    """Every venue pair's funding difference with its legs and fees, best net carry first."""

    coin: str
    basis: Literal["current", "recent"]
    holding_days: int = Field(description="Days the pairs are assumed held.")
    fee_assumption: str
    fees: list[VenueFee]
    funding: list[VenueFundingNow]
    pairs: list[FundingArbPair]


# --- get_liquidation_heatmap -----------------------------------------------------------------------


class LiquidationHeatmapRequest(ToolRequest):
    """Ask for estimated liquidation levels of a coin by price band."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"coin": "BTC"}, {"coin": "ETH", "range_pct": 10, "bands": 20, "lookback_hours": 72}]
        },
    )
    coin: Coin = _COIN
    range_pct: float = Field(20.0, ge=1.0, le=50.0, description="Bands cover the reference price ± this percent.")
    bands: int = Field(40, ge=5, le=100, description="Number of price bands.")
    lookback_hours: int = Field(168, ge=24, le=720, description="Hours of 1-hour bars the entries are taken from.")
    venues: list[VenueName] = _VENUES
    venue_budget_s: float = _BUDGET


class LiquidationBand(BaseModel):
    """Estimated USD notional whose liquidation price falls in one band."""

    low: float = Field(description="Lower edge of the band (quote currency).")
    high: float = Field(description="Upper edge of the band (quote currency).")
    long_liquidations_usd: float = Field(description="Longs liquidated if the price falls into the band.")
    short_liquidations_usd: float = Field(description="Shorts liquidated if the price rises into the band.")


class HeatmapVenueInput(Sourced):
    """What one venue contributed to the estimate."""

    venue: VenueName
    instrument: str
    oi_usd: Decimal = Field(description="The venue's open interest in USD.")
    mark_price: Decimal = Field(description="The perpetual's mark price (quote currency).")
    max_leverage: float = Field(description="The venue's maximum leverage for the perpetual (×).")
    maintenance_rate: float = Field(description="Maintenance margin rate assumed: 1 / (2 × max_leverage).")
    leverages: list[int] = Field(description="The leverage buckets (×) the open interest is spread over.")
    bars: int = Field(description="1-hour bars the entries were taken from.")


class LiquidationHeatmap(CrossVenueResponse):
    """Estimated liquidation levels by price band: an estimate, never observed liquidations."""

    coin: str
    kind: Literal["estimate"] = "estimate"
    reference_price: float | None = Field(description="Median of the venues' marks: the bands' centre.")
    inputs: list[HeatmapVenueInput]
    bands: list[LiquidationBand]


# --- get_cointegration_pairs -----------------------------------------------------------------------


class CointegrationRequest(ToolRequest):
    """Ask for Engle–Granger cointegration of every pair in a universe of coins, from one venue's bars."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{}, {"venue": "hyperliquid", "coins": ["BTC", "ETH", "SOL"], "resolution": "4h", "bars": 300}]
        },
    )
    venue: VenueName = Field("hyperliquid", description="The venue whose perpetuals' bars are used.")
    coins: list[Coin] | None = Field(
        None, min_length=2, max_length=12, description="The universe; default: the venue's most traded perpetuals."
    )
    universe_size: int = Field(6, ge=2, le=12, description="How many perpetuals the default universe takes.")
    resolution: Literal["1h", "4h", "1d"] = Field("1h", description="Bar length.")
    bars: int = Field(500, ge=100, le=1000, description="Bars per coin (aligned on common timestamps).")
    alpha: float = Field(0.05, ge=0.001, le=0.2, description="False discovery rate of the Benjamini–Hochberg step.")
    venue_budget_s: float = Field(
        20.0, ge=0.2, le=30.0, description="Seconds the venue is given for every coin's bars (default 20)."
    )


class CointegratedPair(BaseModel):
    """One pair: log y = hedge_ratio · log x + intercept + spread."""

    y: str
    x: str
    p_value: float = Field(description="Engle–Granger MacKinnon p-value (null: no cointegration).")
    p_adjusted: float = Field(description="Benjamini–Hochberg adjusted p-value.")
    significant: bool = Field(description="p_adjusted < alpha.")
    t_stat: float = Field(description="Engle–Granger t-statistic of the spread's unit-root test.")
    hedge_ratio: float = Field(description="OLS slope of log y on log x.")
    intercept: float = Field(description="OLS intercept of log y on log x.")
    half_life_hours: float | None = Field(
        None, description="AR(1) half-life of the spread; null when it does not revert."
    )


class CointegrationPairs(CrossVenueResponse):
    """Every pair of the universe, ranked by adjusted p-value then half-life."""

    venue: VenueName
    coins: list[str]
    skipped: dict[str, str] = Field(default_factory=dict, description="Coins left out, and why.")
    bars_used: int = Field(description="Common bars every coin had (the series length tested).")
    first_bar: datetime | None
    last_bar: datetime | None
    correction: str
    pairs: list[CointegratedPair]
