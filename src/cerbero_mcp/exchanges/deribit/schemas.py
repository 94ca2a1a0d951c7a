"""Deribit's tool models beyond the common vocabulary, and the venue's spelling tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

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
    tick_size: Decimal = Field(
        description=(
            "Minimum price increment, in the instrument's price currency (inverse "
            "options: base coin; inverse futures: USD; linear: USDC)."
        )
    )
    min_trade_amount: Decimal = Field(
        description=(
            "Smallest order amount: USD for inverse futures/perpetuals, base coin for options and linear instruments."
        )
    )
    contract_size: Decimal = Field(
        description=(
            "Size of one contract: USD for inverse futures/perpetuals, base coin for options and linear instruments."
        )
    )
    expiration: datetime | None
    strike: Decimal | None = Field(None, description="Strike price in USD per coin (options only).")
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
    open: float = Field(description="DVOL at the candle's open, vol points (55.0 = 55 %).")
    high: float = Field(description="Highest DVOL of the candle, vol points (55.0 = 55 %).")
    low: float = Field(description="Lowest DVOL of the candle, vol points (55.0 = 55 %).")
    close: float = Field(description="DVOL at the candle's close, vol points (55.0 = 55 %).")


class Dvol(ToolResponse):
    """DVOL (Deribit's implied-volatility index) history and its latest value."""

    currency: OptionsCurrency
    resolution: str
    latest: float | None = Field(description="Latest DVOL close, vol points (55.0 = 55 %); none without data.")
    points: list[DvolPoint]


class IvRankRequest(ToolRequest):
    """IV rank over a lookback."""

    model_config = _examples({"currency": "BTC", "lookback_days": 365})
    currency: OptionsCurrency = "BTC"
    lookback_days: int = Field(365, ge=7, le=730)


class IvRank(ToolResponse):
    """Where today's DVOL sits in its range (rank) and distribution (percentile)."""

    currency: OptionsCurrency
    current: float = Field(description="Latest daily DVOL close, vol points (55.0 = 55 %).")
    low: float = Field(description="Lowest daily DVOL close of the lookback, vol points (55.0 = 55 %).")
    high: float = Field(description="Highest daily DVOL close of the lookback, vol points (55.0 = 55 %).")
    iv_rank: float = Field(description="(current - low) / (high - low) × 100, in percent (0-100).")
    iv_percentile: float = Field(description="Share of daily closes below current × 100, in percent (0-100).")
    lookback_days: int = Field(description="Lookback window, in days.")
    observations: int = Field(description="Count of daily DVOL closes in the lookback.")


class RealizedVolRequest(ToolRequest):
    """Realized volatility of an instrument's candles."""

    model_config = _examples({"instrument": "BTC-PERPETUAL", "resolution": "1d", "window": 30})
    instrument: str = Field("BTC-PERPETUAL", min_length=1, max_length=64)
    resolution: Literal["1h", "1d"] = "1d"
    window: int = Field(30, ge=2, le=1000, description="Candles in the estimate.")
    windows: list[Annotated[int, Field(ge=2, le=1000)]] = Field(
        default_factory=lambda: [7, 14, 30, 60],
        max_length=8,
        description="Windows of the volatility cone, in candles (2-1000 each).",
    )


class RealizedVol(ToolResponse):
    """Annualised realized volatility by four estimators, and the volatility cone."""

    instrument: str
    resolution: str
    window: int = Field(description="Window of the estimates, count of candles.")
    close_to_close: float = Field(description="Close-to-close volatility, annualised, decimal fraction (0.55 = 55 %).")
    parkinson: float = Field(description="Parkinson high-low volatility, annualised, decimal fraction (0.55 = 55 %).")
    garman_klass: float = Field(description="Garman-Klass volatility, annualised, decimal fraction (0.55 = 55 %).")
    yang_zhang: float = Field(description="Yang-Zhang volatility, annualised, decimal fraction (0.55 = 55 %).")
    cone: list[dict[str, float]] = Field(
        description=(
            "Volatility cone, one row per window: `window` in candles; min, q25, median, q75, max, "
            "current are annualised volatilities as decimal fractions (0.55 = 55 %)."
        )
    )
    candles_used: int = Field(description="Count of candles read (epoch-free count, not a time).")


class SurfaceRequest(ToolRequest):
    """Options analytics of a currency, optionally one expiry."""

    model_config = _examples({"currency": "BTC"}, {"currency": "ETH"})
    currency: OptionsCurrency = "BTC"
    expiry: str | None = Field(
        None,
        max_length=16,
        description="Restrict to one expiry (YYYY-MM-DD or Deribit's 25DEC26); default: all / nearest.",
    )


class SurfaceUsed(BaseModel):
    """Which data an analytic used, so it can be checked."""

    instruments: int = Field(description="Count of option instruments used.")
    expiries: list[str]
    underlying_price: float = Field(description="Index price of the currency used as spot, in USD.")
    observed_at: datetime


class TermPoint(BaseModel):
    """ATM implied volatility of one expiry."""

    expiry: str
    days: float = Field(description="Days to expiry (fractional).")
    atm_iv: float = Field(description="At-the-money implied vol, vol points (55.0 = 55 %).")


class TermStructure(ToolResponse):
    """ATM IV by expiry, and whether the curve is in contango or backwardation."""

    currency: OptionsCurrency
    points: list[TermPoint]
    shape: Literal["contango", "backwardation", "flat", "mixed"]
    used: SurfaceUsed


class SkewPoint(BaseModel):
    """Skew numbers of one expiry (vol points)."""

    expiry: str
    days: float = Field(description="Days to expiry (fractional).")
    atm_iv: float = Field(description="At-the-money implied vol, vol points (55.0 = 55 %).")
    call_25d_iv: float = Field(description="Implied vol of the 25-delta call, vol points (55.0 = 55 %).")
    put_25d_iv: float = Field(description="Implied vol of the 25-delta put, vol points (55.0 = 55 %).")
    risk_reversal_25d: float = Field(description="25-delta call IV minus 25-delta put IV, in vol points.")
    butterfly_25d: float = Field(description="Average of the 25-delta wings minus ATM IV, in vol points.")


class Skew25d(ToolResponse):
    """25-delta risk reversal per expiry (negative: puts richer)."""

    currency: OptionsCurrency
    points: list[SkewPoint]
    used: SurfaceUsed


class PutCallRatio(ToolResponse):
    """Put/call ratios by open interest and by 24h volume."""

    currency: OptionsCurrency
    expiry: str | None
    put_open_interest: float = Field(description="Open interest of the puts, in the base coin (BTC or ETH).")
    call_open_interest: float = Field(description="Open interest of the calls, in the base coin (BTC or ETH).")
    by_open_interest: float | None = Field(
        description="Put open interest / call open interest, ratio, dimensionless; none without call open interest."
    )
    put_volume: float = Field(description="24h traded volume of the puts, in the base coin (BTC or ETH).")
    call_volume: float = Field(description="24h traded volume of the calls, in the base coin (BTC or ETH).")
    by_volume: float | None = Field(
        description="Put volume / call volume (24h), ratio, dimensionless; none without call volume."
    )
    used: SurfaceUsed


class GexRequest(SurfaceRequest):
    """Dealer gamma exposure with a stated sign convention."""

    model_config = _examples({"currency": "BTC"})
    dealer_short_calls: bool = Field(True, description="Dealers short calls (and long puts) — the usual convention.")


class GexStrike(BaseModel):
    """GEX of one strike (USD per 1% move)."""

    strike: float = Field(description="Strike price, in USD.")
    call_gex: float = Field(
        description=(
            "Dealer gamma exposure of the strike's calls, USD per 1 % move of the underlying (sign per `convention`)."
        )
    )
    put_gex: float = Field(
        description=(
            "Dealer gamma exposure of the strike's puts, USD per 1 % move of the underlying (sign per `convention`)."
        )
    )
    net_gex: float = Field(
        description=(
            "Calls plus puts dealer gamma exposure, USD per 1 % move of the underlying (positive: dealers long gamma)."
        )
    )


class Gex(ToolResponse):
    """Gamma exposure per strike and in total, USD per 1% move of the underlying."""

    currency: OptionsCurrency
    convention: str
    total_gex: float = Field(
        description="Total dealer gamma exposure, USD per 1 % move of the underlying (positive: dealers long gamma)."
    )
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
    spot: float = Field(description="Index price the grid is centred on, in USD.")
    prices: list[float] = Field(description="Underlying prices of the grid, in USD.")
    total_gex: list[float] = Field(
        description="Total dealer gamma exposure at each grid price, USD per 1 % move of the underlying."
    )
    gamma_flip: float | None = Field(
        description="Price where total dealer gamma changes sign, in USD (none in the grid)."
    )
    used: SurfaceUsed


class VannaCharm(ToolResponse):
    """Open-interest-weighted vanna and charm of the dealer book."""

    currency: OptionsCurrency
    convention: str
    total_vanna: float = Field(
        description=(
            "Dealer vanna: change of the dealers' delta, in the base coin, per 1.00 (100 vol points) change of IV."
        )
    )
    total_charm: float = Field(
        description=(
            "Dealer charm: change of the dealers' delta, in the base coin, per "
            "year of elapsed time (÷ 365 for per day)."
        )
    )
    by_expiry: list[dict[str, float | str]] = Field(
        description=(
            "Per expiry: `expiry` (YYYY-MM-DD), `vanna` (base-coin delta per 1.00 of "
            "IV) and `charm` (base-coin delta per year)."
        )
    )
    used: SurfaceUsed


class OiWeightedSkew(ToolResponse):
    """Skew weighted by open interest: where positioning sits on the smile."""

    currency: OptionsCurrency
    expiry: str | None
    oi_weighted_put_iv: float = Field(description="Open-interest-weighted mean put IV, vol points (55.0 = 55 %).")
    oi_weighted_call_iv: float = Field(description="Open-interest-weighted mean call IV, vol points (55.0 = 55 %).")
    skew: float = Field(description="Weighted put IV minus weighted call IV, in vol points.")
    used: SurfaceUsed


class SmileAsymmetry(ToolResponse):
    """How much steeper the put wing is than the call wing."""

    currency: OptionsCurrency
    expiry: str
    asymmetry: float = Field(description="Fitted put-wing IV minus call-wing IV at log-moneyness ∓0.1, in vol points.")
    put_wing_slope: float = Field(
        description="(Put-wing IV at log-moneyness -0.1 minus ATM IV) / 0.1: vol points per unit of log-moneyness."
    )
    call_wing_slope: float = Field(
        description="(Call-wing IV at log-moneyness +0.1 minus ATM IV) / 0.1: vol points per unit of log-moneyness."
    )
    used: SurfaceUsed


class AtmVsWings(ToolResponse):
    """ATM IV against the 25- and 10-delta wings."""

    currency: OptionsCurrency
    expiry: str
    atm_iv: float = Field(description="At-the-money implied vol, vol points (55.0 = 55 %).")
    wings: dict[str, float] = Field(
        description=(
            "25- and 10-delta call and put IVs and each wing's premium over ATM, all in vol points (55.0 = 55 %)."
        )
    )
    used: SurfaceUsed


class FindByDeltaRequest(ToolRequest):
    """The option whose delta is nearest the target, over the expiries the caller allows."""

    model_config = _examples(
        {"currency": "BTC", "target_delta": 0.25, "kind": "call"},
        {"currency": "BTC", "target_delta": -0.25, "kind": "put", "min_days_to_expiry": 7, "max_days_to_expiry": 45},
    )
    currency: OptionsCurrency = "BTC"
    target_delta: float = Field(ge=-1, le=1, description="Calls in (0, 1], puts in [-1, 0) (sign may be omitted).")
    kind: OptionKind
    expiry: str | None = Field(
        None,
        max_length=16,
        description="Search only this expiry (YYYY-MM-DD or 25DEC26); default: every listed expiry in the window.",
    )
    min_days_to_expiry: float | None = Field(
        None, ge=0, le=3660, description="Search only expiries at least this many days away (default: no minimum)."
    )
    max_days_to_expiry: float | None = Field(
        None, gt=0, le=3660, description="Search only expiries at most this many days away (default: no maximum)."
    )

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        """Refuse a window whose minimum is above its maximum."""
        low, high = self.min_days_to_expiry, self.max_days_to_expiry
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_days_to_expiry ({low:g}) is above max_days_to_expiry ({high:g})")
        return self


class FoundOption(ToolResponse):
    """The option nearest the target delta, how far it is from it, and which expiries were searched."""

    instrument: str
    strike: float = Field(description="Strike price, in USD.")
    expiry: str
    days_to_expiry: float = Field(description="Days to expiry (fractional).")
    kind: OptionKind
    delta: float = Field(description="Black-76 delta w.r.t. the forward, ratio, dimensionless (-1 to 1).")
    mark_iv: float = Field(description="Mark implied vol, vol points (55.0 = 55 %).")
    mark_price: float | None = Field(
        description="Deribit's mark price, in the base coin per option (inverse option premium)."
    )
    target_delta: float = Field(description="Target delta, signed by kind, ratio, dimensionless.")
    delta_error: float = Field(
        description="delta − target_delta: how far the best listed option is from the target, ratio, dimensionless."
    )
    expiries_searched: list[str] = Field(description="The expiries (YYYY-MM-DD) whose options were compared.")
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

    prices: list[float] = Field(description="Underlying prices of the grid, in USD.")
    payoff_at_expiry: list[float] = Field(description="P&L at the first expiry at each grid price, in USD.")
    value_now: list[float] = Field(description="P&L now (Black-76 mark-to-model) at each grid price, in USD.")
    break_evens: list[float] = Field(description="Underlying prices where the P&L at expiry is zero, in USD.")
    max_profit: float | None = Field(description="Largest P&L at expiry, in USD; none when unbounded.")
    max_loss: float | None = Field(description="Smallest (most negative) P&L at expiry, in USD; none when unbounded.")
    net_premium: float = Field(description="Premium paid (positive) or received (negative) for all legs, in USD.")
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
    client_order_id: str | None = Field(None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN)

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
