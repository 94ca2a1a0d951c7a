"""The common vocabulary: the request and response models every trading venue shares.

Every venue offers these tools with these models (venue-specific fields go in `info`), so a bot
written against one venue reads every other the same way. Prices and quantities are `Decimal`
end to end (JSON numbers or plain ASCII numeric strings in, bounded by `VenueDecimal`; strings
out); times are ISO 8601 UTC out and ISO 8601 or epoch milliseconds in.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from cerbero_mcp.tooling import ToolRequest, ToolResponse

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop_market", "stop_limit"]
TimeInForce = Literal["gtc", "ioc", "fok", "day"]
OrderStatus = Literal["open", "partially_filled", "filled", "cancelled", "rejected", "untriggered"]
PositionSide = Literal["long", "short", "flat"]
Resolution = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "12h", "1d"]
RESOLUTION_SECONDS: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "12h": 43200,
    "1d": 86400,
}
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9_\-:.]{1,64}$"
# An indicator's parameter: a bounded number, a short word or a flag (each indicator validates its own).
IndicatorParam = (
    Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    | Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
    | Annotated[str, Field(max_length=32)]
    | bool
)
Capability = Literal[
    "environment_info",
    "get_ticker",
    "get_orderbook",
    "get_bars",
    "get_account",
    "get_positions",
    "get_open_orders",
    "get_indicators",
    "get_orderbook_imbalance",
    "place_order",
    "amend_order",
    "cancel_order",
    "cancel_all_orders",
    "close_position",
    "post_only",
    "reduce_only",
    "stop_orders",
    "client_order_id",
    "dry_run",
]

# --- prices and quantities a client sends ----------------------------------------------------------

# 1e-18 is the finest unit any traded asset has (an ERC-20 token's 18 decimals; venue ticks and lots
# stop near 1e-8) and 1e18 is far above any real size (meme-coin quantities reach ~1e13 units) or
# price (~1e6 a share or coin); 30 significant digits hold an 18-decimal fraction of a 12-digit
# number. Within them a tick check's `value % step` (step >= 1e-9) keeps its quotient inside the
# default 28-digit decimal context, where "1e400" or 5,000 nines made it raise.
DECIMAL_MAX_DIGITS = 30
DECIMAL_MIN = Decimal("1e-18")
DECIMAL_MAX = Decimal("1e18")
DECIMAL_MAX_CHARS = 64  # the longest spelling without exponent within the bounds is 50 characters
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_DECIMAL_TEXT = re.compile(DECIMAL_PATTERN)
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}
_RULE = (
    "a price or quantity is a JSON number or a numeric string of ASCII digits with optional sign, "
    f"decimal point and exponent, at most {DECIMAL_MAX_DIGITS} significant digits, magnitude between "
    f"1e-18 and 1e18 (or 0)"
)


def _refused(problem: str) -> ValueError:
    return ValueError(f"{problem}; {_RULE}")


def venue_decimal(value: object) -> Decimal:
    """Return a client's number as a bounded Decimal, or raise ValueError naming what is wrong with it."""
    if isinstance(value, bool):
        raise _refused("a boolean is not a number")
    if isinstance(value, int):
        if abs(value) > 10**18:  # before any conversion: a 5,000-digit int is refused, not printed
            raise _refused("magnitude out of range")
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _refused("NaN and Infinity are not accepted")
        number = Decimal(repr(value))  # the shortest repr: 1.1 is 1.1, not its binary expansion
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        if len(value) > DECIMAL_MAX_CHARS:
            raise _refused(f"{len(value)} characters is too long (at most {DECIMAL_MAX_CHARS})")
        if value.lstrip("+-").lower() in _NOT_FINITE:
            raise _refused("NaN and Infinity are not accepted")
        if not _DECIMAL_TEXT.fullmatch(value):
            raise _refused(
                "not a plain decimal number (spaces, underscores, separators and non-ASCII digits are refused)"
            )
        try:
            number = Decimal(value)
        except ArithmeticError:  # an exponent beyond what Decimal can hold ("1e99999999999999999999")
            raise _refused("magnitude out of range") from None
    else:
        raise _refused(f"{type(value).__name__} is not a number")
    if not number.is_finite():
        raise _refused("NaN and Infinity are not accepted")
    if number.is_zero():
        return Decimal(0)  # also drops the exponent of a "0e999"
    if (digits := len(number.as_tuple().digits)) > DECIMAL_MAX_DIGITS:
        raise _refused(f"{digits} significant digits is too many (at most {DECIMAL_MAX_DIGITS})")
    if not DECIMAL_MIN <= number.copy_abs() <= DECIMAL_MAX:  # copy_abs: no context, so no Overflow
        raise _refused("magnitude out of range")
    return number


class _DecimalTextSchema:
    """Document the accepted spelling in the string branch of the request's JSON schema."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Add the pattern and length to the string branch (requests only; output stays a plain string)."""
        json_schema = handler(schema)
        if handler.mode == "validation":
            for branch in json_schema.get("anyOf", []):
                if branch.get("type") == "string":
                    branch.update(pattern=DECIMAL_PATTERN, maxLength=DECIMAL_MAX_CHARS)
                elif branch.get("type") == "number":
                    branch.setdefault("maximum", float(DECIMAL_MAX))
                    if "minimum" not in branch and "exclusiveMinimum" not in branch:
                        branch["minimum"] = -float(DECIMAL_MAX)
        return json_schema


VENUE_DECIMAL = BeforeValidator(venue_decimal)
_TEXT_SCHEMA = _DecimalTextSchema()
VenueDecimal = Annotated[Decimal, VENUE_DECIMAL, _TEXT_SCHEMA]
Price = VenueDecimal
Quantity = VenueDecimal
# A bound goes before the validator, inside the type: as a field's Field(gt=0) pydantic cannot push
# it through the validator and writes a non-standard "gt" into the JSON schema instead.
PositivePrice = Annotated[Decimal, Field(gt=0), VENUE_DECIMAL, _TEXT_SCHEMA]
PositiveQuantity = PositivePrice
NonNegativePrice = Annotated[Decimal, Field(ge=0), VENUE_DECIMAL, _TEXT_SCHEMA]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


# --- requests ---------------------------------------------------------------------------------


class EnvironmentInfoRequest(ToolRequest):
    """No arguments."""

    model_config = _examples({})


class InstrumentRequest(ToolRequest):
    """One instrument, in the venue's native name."""

    model_config = _examples({"instrument": "BTC-PERPETUAL"})
    instrument: str = Field(min_length=1, max_length=64, description="Instrument in the venue's native form.")


class OrderBookRequest(InstrumentRequest):
    """An instrument and how many levels per side."""

    model_config = _examples({"instrument": "BTC-PERPETUAL", "depth": 10})
    depth: int = Field(20, ge=1, le=1000, description="Levels per side (the venue may round up).")


class BarsRequest(InstrumentRequest):
    """Candles of one instrument over a window."""

    model_config = _examples({"instrument": "BTC-PERPETUAL", "resolution": "1h", "limit": 24})
    resolution: Resolution = Field("1h", description="Candle length.")
    start: datetime | None = Field(None, description="First candle at or after (ISO 8601 or epoch ms).")
    end: datetime | None = Field(None, description="Last candle at or before (default: now).")
    limit: int = Field(500, ge=1, le=5000, description="At most this many candles (the most recent).")

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class IndicatorSpecRequest(BaseModel):
    """One indicator and its parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=32, description="Indicator name, e.g. rsi, macd, bollinger.")
    params: dict[Annotated[str, Field(min_length=1, max_length=32)], IndicatorParam] = Field(
        default_factory=dict, max_length=16, description='Its parameters, e.g. {"period": 14}.'
    )


class IndicatorsRequest(InstrumentRequest):
    """Indicators computed on the instrument's candles."""

    model_config = _examples(
        {
            "instrument": "BTC-PERPETUAL",
            "resolution": "1h",
            "indicators": [{"name": "rsi", "params": {"period": 14}}, {"name": "macd"}],
            "points": 5,
        }
    )
    resolution: Resolution = "1h"
    indicators: list[IndicatorSpecRequest] = Field(min_length=1, max_length=20)
    lookback: int = Field(300, ge=10, le=5000, description="Candles fetched to compute from.")
    points: int = Field(1, ge=1, le=500, description="How many of the latest values to return.")


class ImbalanceRequest(InstrumentRequest):
    """Order-book imbalance over the top levels."""

    model_config = _examples({"instrument": "BTC-PERPETUAL", "levels": 10})
    levels: int = Field(10, ge=1, le=100)
    depth_bps: float = Field(25.0, gt=0, le=10_000, description="Also report depth within this many bps of mid.")


class AccountRequest(ToolRequest):
    """Which account currency (venues with several)."""

    model_config = _examples({"currency": "BTC"})
    currency: str | None = Field(None, min_length=1, max_length=16)


class PositionsRequest(ToolRequest):
    """Filter positions by currency or instrument."""

    model_config = _examples({"currency": "BTC"})
    currency: str | None = Field(None, min_length=1, max_length=16)
    instrument: str | None = Field(None, min_length=1, max_length=64)


class OpenOrdersRequest(PositionsRequest):
    """Filter open orders by currency or instrument."""

    model_config = _examples({"currency": "BTC"})
    limit: int = Field(500, ge=1, le=1000)


class PlaceOrderRequest(ToolRequest):
    """One order. Fields that do not apply to the order type are refused, never dropped."""

    model_config = _examples(
        {
            "instrument": "BTC-PERPETUAL",
            "side": "buy",
            "type": "limit",
            "quantity": "10",
            "price": "50000",
            "post_only": True,
            "client_order_id": "demo-limit-1",
        },
        {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "market", "quantity": "10"},
    )
    instrument: str = Field(min_length=1, max_length=64)
    side: Side
    type: OrderType = "limit"
    quantity: PositiveQuantity = Field(description="Size in the venue's native units.")
    price: PositivePrice | None = Field(None, description="Limit price (limit and stop_limit only).")
    stop_price: PositivePrice | None = Field(None, description="Trigger price (stop_market and stop_limit only).")
    time_in_force: TimeInForce = "gtc"
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: str | None = Field(
        None,
        max_length=64,
        pattern=CLIENT_ORDER_ID_PATTERN,
        description="Your id for this order (1-64 safe characters).",
    )
    dry_run: bool = Field(False, description="Run every check and return what would be sent, without sending.")

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> Self:
        limit_like = self.type in ("limit", "stop_limit")
        stop_like = self.type in ("stop_market", "stop_limit")
        if limit_like and self.price is None:
            raise ValueError(f"price is required for {self.type} orders")
        if not limit_like and self.price is not None:
            raise ValueError(f"price does not apply to {self.type} orders")
        if stop_like and self.stop_price is None:
            raise ValueError(f"stop_price is required for {self.type} orders")
        if not stop_like and self.stop_price is not None:
            raise ValueError(f"stop_price does not apply to {self.type} orders")
        if self.post_only and self.type != "limit":
            raise ValueError("post_only applies to limit orders only")
        if self.post_only and self.time_in_force in ("ioc", "fok"):
            raise ValueError("post_only cannot be combined with ioc or fok")
        return self


class AmendOrderRequest(ToolRequest):
    """Change an open order's quantity and/or prices."""

    model_config = _examples({"order_id": "BTC-1", "price": "49500"})
    order_id: str = Field(min_length=1, max_length=64)
    quantity: PositiveQuantity | None = None
    price: PositivePrice | None = None
    stop_price: PositivePrice | None = None
    client_order_id: str | None = Field(
        None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN, description="Idempotency key."
    )

    @model_validator(mode="after")
    def _something_changes(self) -> Self:
        if self.quantity is None and self.price is None and self.stop_price is None:
            raise ValueError("give at least one of quantity, price, stop_price")
        return self


class CancelOrderRequest(ToolRequest):
    """Cancel one order."""

    model_config = _examples({"order_id": "BTC-1"})
    order_id: str = Field(min_length=1, max_length=64)
    client_order_id: str | None = Field(
        None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN, description="Idempotency key."
    )


class CancelAllRequest(ToolRequest):
    """Cancel every open order, optionally of one instrument or currency."""

    model_config = _examples({"currency": "BTC"})
    instrument: str | None = Field(None, min_length=1, max_length=64)
    currency: str | None = Field(None, min_length=1, max_length=16)
    client_order_id: str | None = Field(
        None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN, description="Idempotency key."
    )


class ClosePositionRequest(ToolRequest):
    """Flatten one position with a reduce-only order."""

    model_config = _examples(
        {"instrument": "BTC-PERPETUAL"}, {"instrument": "BTC-PERPETUAL", "type": "limit", "price": "50000"}
    )
    instrument: str = Field(min_length=1, max_length=64)
    type: Literal["market", "limit"] = "market"
    price: PositivePrice | None = None
    client_order_id: str | None = Field(None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN)

    @model_validator(mode="after")
    def _price_for_limit(self) -> Self:
        if self.type == "limit" and self.price is None:
            raise ValueError("price is required to close with a limit order")
        if self.type == "market" and self.price is not None:
            raise ValueError("price does not apply to a market close")
        return self


# --- responses --------------------------------------------------------------------------------


class EnvironmentInfo(ToolResponse):
    """Which environment the token picked, where it goes, and what the venue can do."""

    venue: str
    environment: Literal["testnet", "mainnet"]
    base_url: str
    credentials_configured: bool
    missing_credentials: list[str]
    capabilities: dict[str, bool]
    max_leverage: Decimal | None
    info: dict[str, Any] = Field(default_factory=dict)


class Ticker(ToolResponse):
    """Best bid/ask, last and mark of one instrument."""

    instrument: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal | None
    ask_size: Decimal | None
    last: Decimal | None
    mark: Decimal | None
    index: Decimal | None = None
    volume_24h: Decimal | None = None
    open_interest: Decimal | None = None
    funding_rate: Decimal | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class BookLevel(BaseModel):
    """One price level."""

    price: Decimal
    size: Decimal


class OrderBook(ToolResponse):
    """Bids (best first) and asks (best first)."""

    instrument: str
    bids: list[BookLevel]
    asks: list[BookLevel]
    info: dict[str, Any] = Field(default_factory=dict)


class Bar(BaseModel):
    """One candle."""

    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class Bars(ToolResponse):
    """Candles, oldest first."""

    instrument: str
    resolution: Resolution
    bars: list[Bar]
    has_more: bool = Field(description="True when older candles exist before the first one returned.")


class IndicatorValues(BaseModel):
    """The latest values of one indicator (one list per output, oldest first; null during warm-up)."""

    name: str
    params: dict[str, Any]
    outputs: dict[str, list[float | None]]


class Indicators(ToolResponse):
    """Indicators over the instrument's candles."""

    instrument: str
    resolution: Resolution
    timestamps: list[datetime]
    indicators: list[IndicatorValues]
    available: list[str]


class Imbalance(ToolResponse):
    """Order-book imbalance, microprice and depth around mid."""

    instrument: str
    levels: int
    volume_imbalance: float = Field(description="(bid volume - ask volume) / total over the top levels, in [-1, 1].")
    weighted_imbalance: float = Field(description="The same with levels weighted by closeness to the top.")
    mid: Decimal
    microprice: float
    spread_bps: float
    bid_depth_within_bps: float
    ask_depth_within_bps: float
    depth_bps: float


class Account(ToolResponse):
    """Balances and margin of one account currency."""

    currency: str
    equity: Decimal
    balance: Decimal
    available: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class Position(BaseModel):
    """One open position."""

    instrument: str
    side: PositionSide
    size: Decimal
    average_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None = None
    liquidation_price: Decimal | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class Positions(ToolResponse):
    """Open positions."""

    positions: list[Position]


class Order(BaseModel):
    """One order as the venue knows it."""

    order_id: str
    client_order_id: str | None
    instrument: str
    side: Side
    type: str
    status: OrderStatus
    price: Decimal | None
    stop_price: Decimal | None = None
    quantity: Decimal
    filled_quantity: Decimal
    average_fill_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    post_only: bool = False
    reduce_only: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class Orders(ToolResponse):
    """Open orders."""

    orders: list[Order]
    has_more: bool = False


class Fill(BaseModel):
    """One execution."""

    trade_id: str
    price: Decimal
    quantity: Decimal
    fee: Decimal | None = None
    liquidity: Literal["maker", "taker"] | None = None


class OrderResult(ToolResponse):
    """The order after the call, and what filled immediately."""

    order: Order
    fills: list[Fill] = Field(default_factory=list)
    dry_run: bool = False
    would_send: dict[str, Any] | None = Field(None, description="With dry_run: the exact venue request, unsent.")
    info: dict[str, Any] = Field(default_factory=dict)


class CancelAllResult(ToolResponse):
    """How many orders were cancelled."""

    cancelled: int


class ClosePositionResult(ToolResponse):
    """The closing order, or nothing when already flat."""

    instrument: str
    was_flat: bool
    order: OrderResult | None = None
