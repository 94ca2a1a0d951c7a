"""The risk desk's request and response models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cerbero_mcp.contracts import ToolRequest
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.providers import ProviderResponse

VenueName = str


class RateOut(BaseModel):
    """A conversion rate to USD used in the answer, and where it was read."""

    venue: str
    currency: str
    usd: Decimal
    source: str


class AccountOut(BaseModel):
    """One margin account of a venue."""

    currency: str
    equity: Decimal = Field(description="In the account's currency.")
    equity_usd: Decimal
    initial_margin_usd: Decimal
    maintenance_margin_usd: Decimal


class PositionOut(BaseModel):
    """One position valued in USD."""

    venue: str
    instrument: str
    kind: str = Field(description="perpetual, future, option, equity, crypto or spot.")
    underlying: str
    size: Decimal = Field(description="Signed, in the venue's native units.")
    notional_usd: Decimal = Field(description="Signed: negative for a short.")
    delta_usd: Decimal | None = Field(description="Signed delta in USD; null when it cannot be known.")
    delta_source: str = Field(description="venue, linear (delta = notional), quant_library, or why it is unknown.")
    mark_price: Decimal | None = None


class VenuePortfolio(BaseModel):
    """One venue's part of the portfolio, or why it is missing."""

    venue: str
    status: Literal["ok", "error", "timeout", "not_configured"]
    duration_ms: float
    equity_usd: Decimal | None = None
    initial_margin_usd: Decimal | None = None
    maintenance_margin_usd: Decimal | None = None
    gross_notional_usd: Decimal | None = None
    accounts: list[AccountOut] = Field(default_factory=list)
    positions: list[PositionOut] = Field(default_factory=list)
    open_orders: list[v.Order] = Field(default_factory=list)
    error: dict[str, Any] | None = None


class PortfolioRequest(ToolRequest):
    """Read every configured venue of the caller's environment."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"include_orders": False}]})

    include_orders: bool = Field(True, description="Also list each venue's open orders.")


class Portfolio(ProviderResponse):
    """Equity, margin, positions and open orders of every configured venue, in USD."""

    environment: str
    time_budget_s: float = Field(description="Each venue's time budget; venues are read concurrently.")
    complete: bool = Field(description="False when a configured venue failed or timed out (a partial answer).")
    total_equity_usd: Decimal
    total_initial_margin_usd: Decimal
    total_maintenance_margin_usd: Decimal
    gross_notional_usd: Decimal
    venues: list[VenuePortfolio]
    rates: list[RateOut] = Field(description="Every conversion to USD used, with its source.")


class ExposureRequest(ToolRequest):
    """Net exposure per underlying across venues."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"underlying": "BTC"}]})

    underlying: str | None = Field(None, min_length=1, max_length=32, description="Only this underlying (e.g. BTC).")


class UnderlyingOut(BaseModel):
    """Net notional and delta of one underlying across venues."""

    underlying: str
    net_notional_usd: Decimal
    gross_notional_usd: Decimal
    net_delta_usd: Decimal
    delta_complete: bool = Field(description="False when a position's delta is unknown (left out of the sum).")
    venues: list[str]
    positions: list[PositionOut]


class ExposureReport(ProviderResponse):
    """Net notional and net delta per underlying across venues."""

    environment: str
    complete: bool
    underlyings: list[UnderlyingOut]
    venue_status: dict[str, str]
    errors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rates: list[RateOut]


class PreTradeCheckRequest(ToolRequest):
    """A proposed order to check: size it from risk and stop, and run every gate of the write path on it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "venue": "bybit",
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "entry": "60000",
                    "stop": "58500",
                    "risk_percent": "0.5",
                    "params": {"category": "linear"},
                },
                {"venue": "alpaca", "instrument": "AAPL", "side": "buy", "entry": "190", "quantity": "5"},
                {
                    "venue": "deribit",
                    "instrument": "BTC-PERPETUAL",
                    "side": "sell",
                    "entry": "150000",
                    "stop": "153000",
                    "risk_usd": "100",
                },
            ]
        }
    )

    venue: str = Field(min_length=1, max_length=32, description="A served trading venue, e.g. deribit, alpaca.")
    instrument: str = Field(min_length=1, max_length=64)
    side: v.Side
    type: Literal["limit", "market"] = Field("limit", description="limit: at `entry`; market: valued at `entry`.")
    entry: v.PositivePrice = Field(description="Entry price.")
    stop: v.PositivePrice | None = Field(None, description="Stop-loss price (needed to size from risk).")
    quantity: v.PositiveQuantity | None = Field(None, description="Size in venue units (else sized from risk).")
    risk_usd: v.PositivePrice | None = Field(None, description="USD to lose at the stop.")
    risk_percent: v.PositivePrice | None = Field(
        None, description="Percent of the venue's equity to risk (above 0, at most 100)."
    )
    atr_period: int = Field(14, ge=2, le=200)
    atr_resolution: v.Resolution = "1h"
    reduce_only: bool = False
    params: dict[str, Any] = Field(
        default_factory=dict,
        max_length=16,
        description="Extra place_order fields of the venue (e.g. Bybit category); the venue's own request model "
        "validates them.",
    )

    @model_validator(mode="after")
    def _one_size(self) -> Self:
        given = [name for name in ("quantity", "risk_usd", "risk_percent") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of quantity, risk_usd, risk_percent")
        if self.risk_percent is not None and self.risk_percent > 100:
            raise ValueError("risk_percent is a percent of equity: at most 100")
        if given[0] != "quantity" and self.stop is None:
            raise ValueError("sizing from risk needs a stop")
        if self.stop is not None:
            if self.stop == self.entry:
                raise ValueError("stop must differ from entry")
            if (self.side == "buy") != (self.stop < self.entry):
                raise ValueError("the stop of a buy is below entry, of a sell above it")
        return self


class CheckOut(BaseModel):
    """One check of the write path: passed, or the refusal it would answer."""

    check: str
    passed: bool
    code: str | None = None
    status: int | None = None
    message: str | None = None
    details: dict[str, Any] | None = None


class Sizing(BaseModel):
    """How the quantity was reached."""

    entry: Decimal
    stop: Decimal | None
    stop_distance: Decimal | None
    stop_distance_atr: float | None = Field(description="Stop distance in ATRs.")
    equity_usd: Decimal | None
    risk_usd: Decimal | None
    notional_per_unit_usd: Decimal | None
    loss_per_unit_usd: Decimal | None
    quantity: Decimal
    notional_usd: Decimal | None
    method: str


class AtrOut(BaseModel):
    """ATR(n) of the venue's bars."""

    period: int
    resolution: str
    value: float | None
    percent_of_entry: float | None
    bars: int
    error: dict[str, Any] | None = None


class PreTradeReport(ProviderResponse):
    """One pass/fail report: ATR, size, and every check the write path would apply. Nothing was sent."""

    environment: str
    venue: str
    instrument: str
    side: str
    passed: bool
    atr: AtrOut
    sizing: Sizing
    order: dict[str, Any] | None = Field(description="The place_order request the checks ran on.")
    checks: list[CheckOut]
    sent: bool = Field(False, description="Always false: the check never sends anything.")


class PdtRequest(ToolRequest):
    """Where the pattern-day-trader rule stands, and whether a proposed trade would break it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"venue": "alpaca"},
                {"venue": "alpaca", "instrument": "AAPL", "side": "sell"},
                {"venue": "ibkr", "instrument": "AAPL", "side": "sell"},
            ]
        }
    )

    venue: Literal["alpaca", "ibkr"] = "alpaca"
    instrument: str | None = Field(None, min_length=1, max_length=64)
    side: v.Side | None = None

    @model_validator(mode="after")
    def _both(self) -> Self:
        if (self.instrument is None) != (self.side is None):
            raise ValueError("give both instrument and side, or neither")
        return self


class ProposedTrade(BaseModel):
    """The proposed trade against the rule."""

    instrument: str
    side: str
    would_be_day_trade: bool
    day_trades_after: int
    would_break_rule: bool


class PdtReport(ProviderResponse):
    """FINRA 4210 pattern-day-trader status of a venue account."""

    environment: str
    venue: str
    applies: bool = Field(description="True for a margin account (or one not known to be cash) under $25,000.")
    margin_account: bool | None
    equity_usd: Decimal
    equity_threshold_usd: Decimal
    pattern_day_trader: bool | None
    day_trades: int = Field(description="Day trades in the last five business days.")
    max_day_trades: int = Field(description="Day trades allowed in five business days (three).")
    count_source: str
    business_days: list[date]
    calendar_source: str
    day_trade_dates: list[date]
    oldest_rolls_off: date | None = Field(
        description="The business day the oldest counted day trade leaves the window."
    )
    proposed: ProposedTrade | None = None
