"""Bybit's tool models (the vocabulary's requests with a `category`, and Bybit's own tools) and its spelling tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.bybit.symbols import Category, quarterly_future, quarterly_option
from cerbero_mcp.exchanges.vocabulary import NonNegativePrice, PositivePrice, PositiveQuantity, Side
from cerbero_mcp.tooling import ToolRequest, ToolResponse

# orderLinkId: "max 36 characters; numbers, letters (upper and lower case), dashes and underscores".
ORDER_LINK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,36}$"
SIDE: dict[str, str] = {"buy": "Buy", "sell": "Sell"}
SIDE_BACK: dict[str, Side] = {"Buy": "buy", "Sell": "sell"}
TIME_IN_FORCE: dict[str, str] = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK"}
TIME_IN_FORCE_BACK: dict[str, v.TimeInForce] = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok", "PostOnly": "gtc"}
ORDER_STATUS: dict[str, v.OrderStatus] = {
    "New": "open",
    "Created": "open",
    "Active": "open",
    "Triggered": "open",
    "PartiallyFilled": "partially_filled",
    "Filled": "filled",
    "Cancelled": "cancelled",
    "PartiallyFilledCanceled": "cancelled",
    "Deactivated": "cancelled",
    "Rejected": "rejected",
    "Untriggered": "untriggered",
}
TRIGGER_BY: dict[str, str] = {"last": "LastPrice", "mark": "MarkPrice", "index": "IndexPrice"}
TriggerBy = Literal["last", "mark", "index"]
# Candle lengths Bybit serves (interval codes, minutes or D); the vocabulary's 12h is Bybit's 720.
KLINE_INTERVAL: dict[str, str] = {
    "1m": "1",
    "3m": "3",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "2h": "120",
    "4h": "240",
    "12h": "720",
    "1d": "D",
}
KLINE_MAX = 1000
BOOK_LIMITS: dict[str, int] = {"spot": 1000, "linear": 1000, "inverse": 1000, "option": 25}
BATCH_MAX: dict[str, int] = {"linear": 20, "inverse": 20, "option": 20, "spot": 10}
OpenInterestInterval = Literal["5min", "15min", "30min", "1h", "4h", "1d"]
CATEGORY_DESCRIPTION = (
    "Bybit category: linear, inverse, spot or option. Optional when the symbol says it "
    "(BTCUSD inverse, BTC-27MAR26 linear, options); required for a symbol listed as both spot and linear (BTCUSDT)."
)


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


def _dated_examples(make: Callable[[date], list[JsonDict]]) -> ConfigDict:
    # Called on every schema generation, so dated symbols follow the clock (a literal expiry goes stale).
    def extra(schema: JsonDict) -> None:
        schema["examples"] = list(make(utcnow().date()))

    return ConfigDict(extra="forbid", json_schema_extra=extra)


def _category() -> Any:
    return Field(None, description=CATEGORY_DESCRIPTION)


# --- the vocabulary's requests, with a category -------------------------------------------------


class BybitTickerRequest(v.InstrumentRequest):
    """One instrument (native symbol) and its category."""

    model_config = _dated_examples(
        lambda today: [
            {"instrument": "BTCUSDT", "category": "linear"},
            {"instrument": "BTCUSDT", "category": "spot"},
            {"instrument": "BTCUSD"},
            {"instrument": quarterly_future(today)},
            {"instrument": quarterly_option(today)},
        ]
    )
    category: Category | None = _category()


class BybitAccountRequest(v.AccountRequest):
    """The unified account (USD totals), or one coin of it."""

    model_config = _examples({}, {"currency": "USDT"})


class BybitPositionsRequest(v.PositionsRequest):
    """Open positions: of one instrument, one settle coin, or every derivatives category."""

    model_config = _examples({}, {"instrument": "BTCUSDT", "category": "linear"}, {"currency": "USDT"})
    category: Category | None = _category()


class BybitOpenOrdersRequest(v.OpenOrdersRequest):
    """Open orders: of one instrument, one settle coin, or every category."""

    model_config = _examples({}, {"instrument": "BTCUSDT", "category": "linear"}, {"currency": "USDT"})
    category: Category | None = _category()


class BybitPlaceOrderRequest(v.PlaceOrderRequest):
    """One order, with Bybit's take-profit and stop-loss attached (filled entries get the exits)."""

    model_config = _examples(
        {
            "instrument": "BTCUSDT",
            "category": "linear",
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": "50000",
            "post_only": True,
            "client_order_id": "demo-limit-1",
        },
        # BTCPERP (the USDC perpetual) needs no category; the take-profit/stop-loss examples use its position.
        {"instrument": "BTCPERP", "side": "buy", "type": "market", "quantity": "0.001"},
        {
            "instrument": "BTCUSDT",
            "category": "linear",
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": "50000",
            "take_profit": "150000",
            "stop_loss": "40000",
            "dry_run": True,
        },
    )
    category: Category | None = _category()
    client_order_id: str | None = Field(
        None,
        max_length=36,
        pattern=ORDER_LINK_ID_PATTERN,
        description="Bybit orderLinkId: 1-36 letters, digits, - and _ (required by Bybit for options: one is made).",
    )
    take_profit: PositivePrice | None = Field(None, description="Take-profit trigger price (Bybit takeProfit).")
    stop_loss: PositivePrice | None = Field(None, description="Stop-loss trigger price (Bybit stopLoss).")
    tp_trigger_by: TriggerBy = Field("last", description="Price that triggers the take-profit.")
    sl_trigger_by: TriggerBy = Field("last", description="Price that triggers the stop-loss.")

    @model_validator(mode="after")
    def _bybit_fields(self) -> Self:
        if self.time_in_force == "day":
            raise ValueError("Bybit has no day orders: use gtc, ioc or fok")
        if self.reduce_only and (self.take_profit is not None or self.stop_loss is not None):
            raise ValueError("Bybit: a reduce-only order cannot carry take_profit or stop_loss")
        return self


class BybitAmendOrderRequest(v.AmendOrderRequest):
    """Change an open order's quantity, price or trigger; `order_id` is Bybit's orderId or your orderLinkId."""

    model_config = _examples(
        {"order_id": "demo-limit-1", "instrument": "BTCUSDT", "category": "linear", "price": "49000"}
    )
    instrument: str | None = Field(None, min_length=1, max_length=64, description="Symbol (saves a search).")
    category: Category | None = _category()


class BybitCancelOrderRequest(v.CancelOrderRequest):
    """Cancel one order; `order_id` is Bybit's orderId or your orderLinkId."""

    model_config = _examples({"order_id": "demo-limit-1", "instrument": "BTCUSDT", "category": "linear"})
    instrument: str | None = Field(None, min_length=1, max_length=64, description="Symbol (saves a search).")
    category: Category | None = _category()


class BybitCancelAllRequest(v.CancelAllRequest):
    """Cancel every open order, or those of one instrument, or of one settle coin."""

    model_config = _examples({"instrument": "BTCUSDT", "category": "linear"}, {"currency": "USDT"})
    category: Category | None = _category()


class BybitClosePositionRequest(v.ClosePositionRequest):
    """Flatten one derivatives position with a reduce-only order."""

    model_config = _examples({"instrument": "BTCUSDT", "category": "linear"})
    category: Category | None = _category()
    client_order_id: str | None = Field(
        None, max_length=36, pattern=ORDER_LINK_ID_PATTERN, description="orderLinkId of the closing order."
    )


# --- instruments ----------------------------------------------------------------------------------


class BybitInstrumentsRequest(ToolRequest):
    """BybitInstruments of one category, optionally of one base coin or one symbol."""

    model_config = _examples(
        {"category": "linear", "base_coin": "BTC", "limit": 50},
        {"category": "option", "base_coin": "BTC", "limit": 20},
        {"category": "spot", "instrument": "BTCUSDT"},
    )
    category: Category
    base_coin: str | None = Field(None, min_length=1, max_length=16, pattern=r"^[A-Z0-9]+$")
    instrument: str | None = Field(None, min_length=1, max_length=64)
    limit: int = Field(200, ge=1, le=1000, description="At most this many instruments (one page).")
    cursor: str | None = Field(None, max_length=512, description="nextPageCursor of the previous page.")


class BybitInstrumentInfo(BaseModel):
    """One Bybit instrument and its trading rules."""

    instrument: str
    category: Category
    status: str | None
    base_coin: str | None
    quote_coin: str | None
    settle_coin: str | None
    contract_type: str | None = Field(None, description="LinearPerpetual, LinearFutures, InversePerpetual, ...")
    tick_size: Decimal | None = Field(description="Price increment, in the quote coin (USD for inverse).")
    qty_step: Decimal | None = Field(
        description="Quantity increment: base coin (spot, linear, options) or USD contracts (inverse)."
    )
    min_order_qty: Decimal | None = Field(description="Smallest order quantity, in the qty_step unit.")
    max_order_qty: Decimal | None = Field(description="Largest (limit) order quantity, in the qty_step unit.")
    min_notional: Decimal | None = Field(None, description="Minimum order value in the quote coin, if any.")
    expiry: datetime | None = None
    option_type: Literal["call", "put"] | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class BybitInstruments(ToolResponse):
    """One page of instruments."""

    category: Category
    instruments: list[BybitInstrumentInfo]
    has_more: bool
    next_cursor: str | None = None


# --- funding, open interest, basis ----------------------------------------------------------------


class BybitFundingRateRequest(ToolRequest):
    """A perpetual's current funding rate, next funding time and funding history."""

    model_config = _examples({"instrument": "BTCUSDT", "category": "linear", "history": 10}, {"instrument": "BTCUSD"})
    instrument: str = Field(min_length=1, max_length=64)
    category: Literal["linear", "inverse"] | None = Field(None, description="linear or inverse (perpetuals only).")
    history: int = Field(10, ge=0, le=200, description="How many past fundings to return (newest last).")
    start: datetime | None = Field(None, description="History at or after (ISO 8601 or epoch ms).")
    end: datetime | None = Field(None, description="History at or before (default: now).")


class BybitFundingPoint(BaseModel):
    """One settled funding."""

    ts: datetime
    rate: Decimal = Field(description="Funding rate of the interval, a fraction (0.0001 = 0.01 %).")


class BybitFundingRate(ToolResponse):
    """Current and past funding of one perpetual."""

    instrument: str
    category: Category
    current_rate: Decimal | None = Field(description="Rate of the running interval, a fraction.")
    next_funding_time: datetime | None
    interval_hours: Decimal | None = Field(None, description="Hours between fundings.")
    annualized: Decimal | None = Field(None, description="current_rate × fundings per year, a fraction.")
    mark: Decimal | None = Field(None, description="Mark price, in the quote coin (USD for inverse).")
    index: Decimal | None = Field(None, description="Index price, in USD.")
    history: list[BybitFundingPoint]


class BybitOpenInterestRequest(ToolRequest):
    """Open interest history of one derivatives contract."""

    model_config = _examples(
        {"instrument": "BTCUSDT", "category": "linear", "interval": "1h", "limit": 24}, {"instrument": "BTCUSD"}
    )
    instrument: str = Field(min_length=1, max_length=64)
    category: Literal["linear", "inverse"] | None = Field(None, description="linear or inverse.")
    interval: OpenInterestInterval = "1h"
    start: datetime | None = None
    end: datetime | None = None
    limit: int = Field(50, ge=1, le=200, description="Points per page (Bybit's maximum is 200).")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page.")


class BybitOpenInterestPoint(BaseModel):
    """Open interest at one time."""

    ts: datetime
    open_interest: Decimal = Field(description="Base coin for linear contracts, USD contracts for inverse.")


class BybitOpenInterest(ToolResponse):
    """Open interest, oldest first, one page."""

    instrument: str
    category: Category
    interval: str
    unit: str
    points: list[BybitOpenInterestPoint]
    has_more: bool
    next_cursor: str | None = None


class BybitBasisRequest(ToolRequest):
    """BybitBasis of a coin's perpetual and dated futures against its spot price."""

    model_config = _examples({"coin": "BTC"}, {"coin": "ETH", "quote": "USDT"})
    coin: str = Field("BTC", min_length=1, max_length=16, pattern=r"^[A-Z0-9]+$")
    quote: Literal["USDT", "USDC"] = Field("USDT", description="Spot pair and perpetual quote coin.")


class BybitBasisPoint(BaseModel):
    """One contract's basis against spot."""

    instrument: str
    kind: Literal["perpetual", "future"]
    expiry: datetime | None
    days_to_expiry: float | None = Field(description="Days until delivery (fractional); None for the perpetual.")
    price: Decimal = Field(description="Contract mark price, in the quote coin (USD).")
    basis: Decimal = Field(description="price - spot, in the quote coin.")
    basis_pct: float = Field(description="basis / spot × 100, in percent.")
    annualized_pct: float | None = Field(
        description="Futures: basis_pct × 365 / days_to_expiry. Perpetual: the funding rate annualised (percent)."
    )


class BybitBasis(ToolResponse):
    """Spot against the perpetual and every listed dated future of a coin."""

    coin: str
    spot_instrument: str
    spot: Decimal = Field(description="Spot mid price (bid/ask mean, else last), in the quote coin.")
    points: list[BybitBasisPoint]


class BybitBasisTermStructure(ToolResponse):
    """Annualised basis across the listed expiries of a coin, nearest first."""

    coin: str
    spot: Decimal = Field(description="Spot mid price (bid/ask mean, else last), in the quote coin.")
    points: list[BybitBasisPoint]
    slope_pct_per_year: float | None = Field(
        None, description="(last - first annualized_pct) / (years between them); None with fewer than 2 expiries."
    )


# --- batch orders and position stops --------------------------------------------------------------


class BybitBatchOrderItem(BybitPlaceOrderRequest):
    """One order of a batch (its category must be the batch's)."""

    model_config = ConfigDict(extra="forbid")


class BybitBatchOrderRequest(ToolRequest):
    """Up to 20 orders (10 on spot) of one category in one request; each passes every gate."""

    model_config = _examples(
        {
            "category": "linear",
            "orders": [
                {
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "type": "limit",
                    "quantity": "0.001",
                    "price": "50000",
                    "client_order_id": "demo-batch-1",
                },
                {
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "type": "limit",
                    "quantity": "0.001",
                    "price": "49000",
                    "client_order_id": "demo-batch-2",
                },
            ],
        }
    )
    category: Category | None = _category()
    orders: list[BybitBatchOrderItem] = Field(min_length=1, max_length=20)
    dry_run: bool = Field(False, description="Run every check and return what would be sent, without sending.")

    @model_validator(mode="after")
    def _one_batch(self) -> Self:
        if any(order.dry_run for order in self.orders):
            raise ValueError("dry_run applies to the whole batch: set it on the batch, not on an order")
        categories = {order.category for order in self.orders if order.category is not None}
        if self.category is not None:
            categories.add(self.category)
        if len(categories) > 1:
            raise ValueError(f"one batch is one category; got {', '.join(sorted(categories))}")
        ids = [order.client_order_id for order in self.orders if order.client_order_id]
        if len(ids) != len(set(ids)):
            raise ValueError("each order of a batch needs its own client_order_id")
        return self

    @property
    def client_order_id(self) -> str | None:
        """Return the batch's idempotency key: its orders' ids joined, when every order has one."""
        ids = [order.client_order_id for order in self.orders]
        return ",".join(i for i in ids if i) if all(ids) else None

    @property
    def reduce_only(self) -> bool:
        """Return whether every order of the batch is reduce-only (the kill switch lets it through)."""
        return all(order.reduce_only for order in self.orders)


class BybitBatchItemError(BaseModel):
    """Why one order of a batch was not placed."""

    code: int | None = Field(description="Bybit's retCode for this order (retExtInfo.list[i].code).")
    message: str


class BybitBatchItemResult(BaseModel):
    """One order of a batch: placed (with its state) or refused (with its error)."""

    index: int = Field(description="Position of the order in the request's orders (0-based).")
    instrument: str
    client_order_id: str | None
    ok: bool
    order: v.Order | None = None
    error: BybitBatchItemError | None = None


class BybitBatchOrderResult(ToolResponse):
    """Per-order results of a batch, and whether it partly failed."""

    category: Category
    placed: int = Field(description="Count of orders Bybit accepted.")
    failed: int = Field(description="Count of orders Bybit refused.")
    partial: bool = Field(description="True when some orders were placed and others refused.")
    results: list[BybitBatchItemResult]
    dry_run: bool = False
    would_send: dict[str, Any] | None = None


class BybitPositionStopRequest(ToolRequest):
    """A take-profit or stop-loss on an open position (Bybit's position trading stop)."""

    instrument: str = Field(min_length=1, max_length=64)
    category: Literal["linear", "inverse"] | None = Field(None, description="linear or inverse.")
    price: NonNegativePrice = Field(description="Trigger price; 0 removes the existing one.")
    quantity: PositiveQuantity | None = Field(
        None, description="Close only this much when triggered (Partial mode); default: the whole position."
    )
    trigger_by: TriggerBy = "last"
    position_idx: Literal[0, 1, 2] = Field(0, description="0 one-way mode; 1 hedge buy side; 2 hedge sell side.")
    client_order_id: str | None = Field(None, max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN)


class BybitTakeProfitRequest(BybitPositionStopRequest):
    """A take-profit on an open position: a long's is above the price, a short's below."""

    model_config = _examples(
        {"instrument": "BTCPERP", "price": "150000"},
        {"instrument": "BTCPERP", "category": "linear", "price": "140000", "quantity": "0.001", "trigger_by": "mark"},
    )


class BybitStopLossRequest(BybitPositionStopRequest):
    """A stop-loss on an open position: a long's is below the price, a short's above."""

    model_config = _examples(
        {"instrument": "BTCPERP", "price": "50000"},
        {"instrument": "BTCPERP", "category": "linear", "price": "60000", "quantity": "0.001", "trigger_by": "mark"},
    )


class BybitPositionStop(ToolResponse):
    """The position's take-profit and stop-loss as Bybit reports them after the change."""

    instrument: str
    category: Category
    take_profit: Decimal | None = Field(description="Take-profit trigger price, in the quote coin; None when unset.")
    stop_loss: Decimal | None = Field(description="Stop-loss trigger price, in the quote coin; None when unset.")
    position: v.Position | None
