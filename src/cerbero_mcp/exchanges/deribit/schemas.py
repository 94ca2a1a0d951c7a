"""Deribit's tool models beyond the common vocabulary, and the venue's spelling tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges.deribit.expiries import expiry_code, next_quarterly
from cerbero_mcp.exchanges.vocabulary import (
    CLIENT_ORDER_ID_PATTERN,
    NonNegativePrice,
    OrderResult,
    PositiveQuantity,
    Price,
    Side,
    TimeInForce,
)
from cerbero_mcp.tooling import ToolRequest, ToolResponse

Currency = Literal["BTC", "ETH", "USDC"]
OptionsCurrency = Literal["BTC", "ETH"]
OptionKind = Literal["call", "put"]

TIME_IN_FORCE: dict[str, str] = {
    "gtc": "good_til_cancelled",
    "ioc": "immediate_or_cancel",
    "fok": "fill_or_kill",
    "day": "good_til_day",
}
TIME_IN_FORCE_BACK: dict[str, TimeInForce] = {v: k for k, v in TIME_IN_FORCE.items()}  # type: ignore[misc]
ORDER_STATE: dict[str, str] = {
    "open": "open",
    "filled": "filled",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "untriggered": "untriggered",
    "triggered": "open",
    "closed": "filled",
}
# Resolutions Deribit serves natively (minutes, or "1D"); others are aggregated from a divisor.
NATIVE_RESOLUTIONS: dict[int, str] = {
    60: "1",
    180: "3",
    300: "5",
    600: "10",
    900: "15",
    1800: "30",
    3600: "60",
    7200: "120",
    10800: "180",
    21600: "360",
    43200: "720",
    86400: "1D",
}
BOOK_DEPTHS = (1, 5, 10, 20, 50, 100, 1000, 10000)


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


def _dated_examples(make: Callable[[date], list[JsonDict]]) -> ConfigDict:
    # Called on every schema generation, so the examples follow the clock (a literal expiry goes stale).
    def extra(schema: JsonDict) -> None:
        schema["examples"] = list(make(utcnow().date()))

    return ConfigDict(extra="forbid", json_schema_extra=extra)


def example_call_spread(today: date) -> list[JsonDict]:
    """Return the legs of a BTC 100k/120k call spread on the first quarterly at least two weeks after `today`."""
    code = expiry_code(next_quarterly(today))
    return [
        {"instrument": f"BTC-{code}-100000-C", "side": "buy", "quantity": "1"},
        {"instrument": f"BTC-{code}-120000-C", "side": "sell", "quantity": "1"},
    ]


class CurrencyRequest(ToolRequest):
    """One Deribit currency."""

    model_config = _examples({"currency": "BTC"})
    currency: Currency = "BTC"


class InstrumentsRequest(CurrencyRequest):
    """List instruments of a currency."""

    model_config = _examples({"currency": "BTC", "kind": "option"}, {"currency": "ETH", "kind": "future"})
    kind: Literal["future", "option", "spot", "future_combo", "option_combo"] | None = None
    expired: bool = False
    limit: int = Field(1000, ge=1, le=5000)


class InstrumentInfo(BaseModel):
    """One Deribit instrument."""

    instrument: str
    kind: str
    base_currency: str
    quote_currency: str
    settlement_currency: str | None
    tick_size: Decimal
    min_trade_amount: Decimal
    contract_size: Decimal
    expiration: datetime | None
    strike: Decimal | None = None
    option_type: OptionKind | None = None
    is_active: bool = True
    info: dict[str, Any] = Field(default_factory=dict)


class Instruments(ToolResponse):
    """Instruments, and whether more exist than returned."""

    currency: Currency
    instruments: list[InstrumentInfo]
    has_more: bool


class DvolRequest(ToolRequest):
    """DVOL history over a window."""

    model_config = _examples({"currency": "BTC", "resolution": "1h", "hours": 24})
    currency: OptionsCurrency = "BTC"
    resolution: Literal["1m", "1h", "12h", "1d"] = "1h"
    hours: int = Field(24, ge=1, le=24 * 366, description="Window length ending now.")


class DvolPoint(BaseModel):
    """One DVOL candle."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float


class Dvol(ToolResponse):
    """DVOL (Deribit's implied-volatility index) history and its latest value."""

    currency: OptionsCurrency
    resolution: str
    latest: float | None
    points: list[DvolPoint]


class IvRankRequest(ToolRequest):
    """IV rank over a lookback."""

    model_config = _examples({"currency": "BTC", "lookback_days": 365})
    currency: OptionsCurrency = "BTC"
    lookback_days: int = Field(365, ge=7, le=730)


class IvRank(ToolResponse):
    """Where today's DVOL sits in its range (rank) and distribution (percentile)."""

    currency: OptionsCurrency
    current: float
    low: float
    high: float
    iv_rank: float = Field(description="(current - low) / (high - low) × 100.")
    iv_percentile: float = Field(description="Share of daily closes below current, × 100.")
    lookback_days: int
    observations: int


class RealizedVolRequest(ToolRequest):
    """Realized volatility of an instrument's candles."""

    model_config = _examples({"instrument": "BTC-PERPETUAL", "resolution": "1d", "window": 30})
    instrument: str = Field("BTC-PERPETUAL", min_length=1, max_length=64)
    resolution: Literal["1h", "1d"] = "1d"
    window: int = Field(30, ge=2, le=1000, description="Candles in the estimate.")
    windows: list[int] = Field(
        default_factory=lambda: [7, 14, 30, 60], max_length=8, description="Windows of the volatility cone."
    )


class RealizedVol(ToolResponse):
    """Annualised realized volatility by four estimators, and the volatility cone."""

    instrument: str
    resolution: str
    window: int
    close_to_close: float
    parkinson: float
    garman_klass: float
    yang_zhang: float
    cone: list[dict[str, float]]
    candles_used: int


class SurfaceRequest(ToolRequest):
    """Options analytics of a currency, optionally one expiry."""

    model_config = _examples({"currency": "BTC"}, {"currency": "ETH"})
    currency: OptionsCurrency = "BTC"
    expiry: str | None = Field(
        None, description="Restrict to one expiry (YYYY-MM-DD or Deribit's 25DEC26); default: all / nearest."
    )


class SurfaceUsed(BaseModel):
    """Which data an analytic used, so it can be checked."""

    instruments: int
    expiries: list[str]
    underlying_price: float
    observed_at: datetime


class TermPoint(BaseModel):
    """ATM implied volatility of one expiry."""

    expiry: str
    days: float
    atm_iv: float


class TermStructure(ToolResponse):
    """ATM IV by expiry, and whether the curve is in contango or backwardation."""

    currency: OptionsCurrency
    points: list[TermPoint]
    shape: Literal["contango", "backwardation", "flat", "mixed"]
    used: SurfaceUsed


class SkewPoint(BaseModel):
    """Skew numbers of one expiry (vol points)."""

    expiry: str
    days: float
    atm_iv: float
    call_25d_iv: float
    put_25d_iv: float
    risk_reversal_25d: float = Field(description="25-delta call IV minus 25-delta put IV.")
    butterfly_25d: float = Field(description="Average of 25-delta wings minus ATM.")


class Skew25d(ToolResponse):
    """25-delta risk reversal per expiry (negative: puts richer)."""

    currency: OptionsCurrency
    points: list[SkewPoint]
    used: SurfaceUsed


class PutCallRatio(ToolResponse):
    """Put/call ratios by open interest and by 24h volume."""

    currency: OptionsCurrency
    expiry: str | None
    put_open_interest: float
    call_open_interest: float
    by_open_interest: float | None
    put_volume: float
    call_volume: float
    by_volume: float | None
    used: SurfaceUsed


class GexRequest(SurfaceRequest):
    """Dealer gamma exposure with a stated sign convention."""

    model_config = _examples({"currency": "BTC"})
    dealer_short_calls: bool = Field(True, description="Dealers short calls (and long puts) — the usual convention.")


class GexStrike(BaseModel):
    """GEX of one strike (USD per 1% move)."""

    strike: float
    call_gex: float
    put_gex: float
    net_gex: float


class Gex(ToolResponse):
    """Gamma exposure per strike and in total, USD per 1% move of the underlying."""

    currency: OptionsCurrency
    convention: str
    total_gex: float
    strikes: list[GexStrike]
    used: SurfaceUsed


class GammaProfileRequest(GexRequest):
    """Dealer gamma across a grid of underlying prices."""

    model_config = _examples({"currency": "BTC", "range_pct": 20, "points": 41})
    range_pct: float = Field(20.0, gt=0, le=80, description="Grid spans spot × (1 ± range_pct/100).")
    points: int = Field(41, ge=5, le=401)


class GammaProfile(ToolResponse):
    """Total dealer gamma at each price of the grid, and the gamma-flip level."""

    currency: OptionsCurrency
    convention: str
    spot: float
    prices: list[float]
    total_gex: list[float]
    gamma_flip: float | None = Field(description="Price where total dealer gamma changes sign (none in the grid).")
    used: SurfaceUsed


class VannaCharm(ToolResponse):
    """Open-interest-weighted vanna and charm of the dealer book."""

    currency: OptionsCurrency
    convention: str
    total_vanna: float
    total_charm: float
    by_expiry: list[dict[str, float | str]]
    used: SurfaceUsed


class OiWeightedSkew(ToolResponse):
    """Skew weighted by open interest: where positioning sits on the smile."""

    currency: OptionsCurrency
    expiry: str | None
    oi_weighted_put_iv: float
    oi_weighted_call_iv: float
    skew: float
    used: SurfaceUsed


class SmileAsymmetry(ToolResponse):
    """How much steeper the put wing is than the call wing."""

    currency: OptionsCurrency
    expiry: str
    asymmetry: float
    put_wing_slope: float
    call_wing_slope: float
    used: SurfaceUsed


class AtmVsWings(ToolResponse):
    """ATM IV against the 25- and 10-delta wings."""

    currency: OptionsCurrency
    expiry: str
    atm_iv: float
    wings: dict[str, float]
    used: SurfaceUsed


class FindByDeltaRequest(ToolRequest):
    """The option of an expiry whose delta is nearest the target."""

    model_config = _examples({"currency": "BTC", "target_delta": 0.25, "kind": "call"})
    currency: OptionsCurrency = "BTC"
    target_delta: float = Field(ge=-1, le=1, description="Calls in (0, 1], puts in [-1, 0) (sign may be omitted).")
    kind: OptionKind
    expiry: str | None = Field(None, description="YYYY-MM-DD or 25DEC26; default: the nearest expiry over 2 days.")


class FoundOption(ToolResponse):
    """The option nearest the target delta."""

    instrument: str
    strike: float
    expiry: str
    kind: OptionKind
    delta: float
    mark_iv: float
    mark_price: float | None
    target_delta: float
    used: SurfaceUsed


class PayoffLeg(BaseModel):
    """One leg of a spread."""

    model_config = ConfigDict(extra="forbid")
    instrument: str = Field(min_length=1, max_length=64)
    side: Side
    quantity: PositiveQuantity
    price: NonNegativePrice | None = Field(None, description="Entry premium per unit in the quote (default: mark).")


class SpreadPayoffRequest(ToolRequest):
    """Payoff of a multi-leg position."""

    model_config = _dated_examples(lambda today: [{"legs": list(example_call_spread(today)), "points": 41}])
    legs: list[PayoffLeg] = Field(min_length=1, max_length=8)
    range_pct: float = Field(40.0, gt=0, le=90)
    points: int = Field(41, ge=5, le=401)


class SpreadPayoff(ToolResponse):
    """Payoff at expiry and now (mark-to-model), break-evens, max profit and loss, in USD."""

    prices: list[float]
    payoff_at_expiry: list[float]
    value_now: list[float]
    break_evens: list[float]
    max_profit: float | None
    max_loss: float | None
    net_premium: float
    legs: list[dict[str, Any]]
    used: SurfaceUsed


class ComboLeg(BaseModel):
    """One leg of a combo order (quantity per combo unit)."""

    model_config = ConfigDict(extra="forbid")
    instrument: str = Field(min_length=1, max_length=64)
    side: Side
    quantity: PositiveQuantity


class ComboOrderRequest(ToolRequest):
    """A multi-leg combo traded as one instrument."""

    model_config = _dated_examples(
        lambda today: [{"legs": list(example_call_spread(today)), "side": "buy", "quantity": "1", "type": "market"}]
    )
    legs: list[ComboLeg] = Field(min_length=2, max_length=4)
    side: Side
    quantity: PositiveQuantity
    type: Literal["market", "limit"] = "market"
    price: Price | None = None  # a combo may be priced at a credit (negative)
    client_order_id: str | None = Field(None, pattern=CLIENT_ORDER_ID_PATTERN)

    @model_validator(mode="after")
    def _price_for_limit(self) -> Self:
        if self.type == "limit" and self.price is None:
            raise ValueError("price is required for a limit combo")
        if self.type == "market" and self.price is not None:
            raise ValueError("price does not apply to a market combo")
        if len({leg.instrument for leg in self.legs}) != len(self.legs):
            raise ValueError("each leg must be a different instrument")
        return self


class ComboOrderResult(OrderResult):
    """The combo instrument and the order on it."""

    combo_instrument: str
