"""Alpaca's tool models: the vocabulary's requests with Alpaca's order classes, and Alpaca's own tools."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.vocabulary import PositivePrice, PositiveQuantity
from cerbero_mcp.tooling import ToolRequest, ToolResponse

OrderClass = Literal["simple", "bracket", "oco", "oto"]
AlpacaOrderType = Literal["market", "limit", "stop_market", "stop_limit", "trailing_stop"]
# Alpaca's bar timeframes: [1-59]Min, [1-23]Hour, 1Day — every vocabulary resolution has one.
TIMEFRAME: dict[str, str] = {
    "1m": "1Min",
    "3m": "3Min",
    "5m": "5Min",
    "15m": "15Min",
    "30m": "30Min",
    "1h": "1Hour",
    "2h": "2Hour",
    "4h": "4Hour",
    "12h": "12Hour",
    "1d": "1Day",
}
BARS_PAGE_MAX = 10_000
OPEN_ORDERS_MAX = 500  # GET /v2/orders `limit` maximum
ACTIVITY_TYPES = ("FILL", "TRANS", "MISC", "ACATC", "ACATS", "CSD", "CSW", "DIV", "FEE", "INT", "JNLC", "JNLS")


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


def _dated_examples(make: Callable[[date], list[JsonDict]]) -> ConfigDict:
    # Called on every schema generation, so dates follow the clock (a literal date goes stale).
    def extra(schema: JsonDict) -> None:
        schema["examples"] = list(make(utcnow().date()))

    return ConfigDict(extra="forbid", json_schema_extra=extra)


# --- the vocabulary's requests -------------------------------------------------------------------


class AlpacaTickerRequest(v.InstrumentRequest):
    """One stock (AAPL), crypto pair (BTC/USD) or OCC option symbol."""

    model_config = _examples({"instrument": "AAPL"}, {"instrument": "BTC/USD"})


class AlpacaAccountRequest(v.AccountRequest):
    """The account (USD); no arguments."""

    model_config = _examples({})


class AlpacaPositionsRequest(v.PositionsRequest):
    """Every open position, or one instrument's."""

    model_config = _examples({}, {"instrument": "AAPL"})


class AlpacaOpenOrdersRequest(v.OpenOrdersRequest):
    """Open orders (bracket legs included), optionally of one instrument."""

    model_config = _examples({}, {"instrument": "AAPL", "limit": 50})
    limit: int = Field(OPEN_ORDERS_MAX, ge=1, le=OPEN_ORDERS_MAX, description="At most this many (Alpaca: 500).")


class TakeProfit(BaseModel):
    """A bracket's or OCO's take-profit: a limit order."""

    model_config = ConfigDict(extra="forbid")
    limit_price: PositivePrice


class StopLoss(BaseModel):
    """A bracket's or OCO's stop-loss: a stop (or stop-limit with limit_price)."""

    model_config = ConfigDict(extra="forbid")
    stop_price: PositivePrice
    limit_price: PositivePrice | None = None


class AlpacaPlaceOrderRequest(v.PlaceOrderRequest):
    """One order: simple, bracket (entry + take-profit + stop-loss), OCO (exit pair) or OTO (entry + one exit)."""

    model_config = _examples(
        {
            "instrument": "AAPL",
            "side": "buy",
            "type": "limit",
            "quantity": "1",
            "price": "100",
            "time_in_force": "gtc",
            "client_order_id": "demo-limit-1",
        },
        {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "time_in_force": "day"},
        {"instrument": "AAPL", "side": "buy", "type": "market", "notional": "50", "time_in_force": "day"},
        {
            "instrument": "AAPL",
            "side": "buy",
            "type": "limit",
            "quantity": "1",
            "price": "100",
            "time_in_force": "gtc",
            "order_class": "bracket",
            "take_profit": {"limit_price": "400"},
            "stop_loss": {"stop_price": "90"},
            "dry_run": True,
        },
        {
            "instrument": "BTC/USD",
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": "10000",
            "time_in_force": "gtc",
            "dry_run": True,
        },
        {
            "instrument": "AAPL",
            "side": "sell",
            "type": "trailing_stop",
            "quantity": "1",
            "trail_percent": "5",
            "time_in_force": "day",
            "dry_run": True,
        },
    )
    type: AlpacaOrderType = "limit"  # type: ignore[assignment]
    quantity: PositiveQuantity | None = Field(  # type: ignore[assignment]
        None, description="Shares, contracts or coins (fractional shares where the asset is fractionable)."
    )
    notional: PositivePrice | None = Field(
        None, description="Dollar amount instead of quantity (market day orders on fractionable stocks; crypto)."
    )
    time_in_force: v.TimeInForce = Field(
        "day", description="Alpaca: stocks day/gtc/ioc/fok; options day; crypto gtc/ioc."
    )
    order_class: OrderClass = "simple"
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None
    trail_price: PositivePrice | None = Field(None, description="Trailing distance in dollars (trailing_stop).")
    trail_percent: PositivePrice | None = Field(None, description="Trailing distance in percent (trailing_stop).")
    extended_hours: bool = Field(False, description="Allow filling in pre/after-market (limit day orders only).")
    client_order_id: str | None = Field(
        None,
        max_length=48,
        pattern=v.CLIENT_ORDER_ID_PATTERN,
        description="Alpaca client_order_id (unique, at most 48 characters): look the order up by it.",
    )

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> Self:
        limit_like = self.type in ("limit", "stop_limit")
        stop_like = self.type in ("stop_market", "stop_limit")
        oco = self.order_class == "oco"
        if (self.quantity is None) == (self.notional is None):
            raise ValueError("give exactly one of quantity and notional")
        if limit_like and self.price is None and not oco:
            raise ValueError(f"price is required for {self.type} orders")
        if not limit_like and self.price is not None:
            raise ValueError(f"price does not apply to {self.type} orders")
        if oco and self.price is not None:
            raise ValueError("an OCO order's prices are take_profit.limit_price and stop_loss.stop_price, not price")
        if stop_like and self.stop_price is None:
            raise ValueError(f"stop_price is required for {self.type} orders")
        if not stop_like and self.stop_price is not None:
            raise ValueError(f"stop_price does not apply to {self.type} orders")
        trailing = self.trail_price is not None or self.trail_percent is not None
        if self.type == "trailing_stop" and (self.trail_price is None) == (self.trail_percent is None):
            raise ValueError("a trailing_stop order takes exactly one of trail_price and trail_percent")
        if self.type != "trailing_stop" and trailing:
            raise ValueError("trail_price and trail_percent apply to trailing_stop orders only")
        if self.post_only:
            raise ValueError("Alpaca has no post-only orders (see environment_info capabilities)")
        if self.reduce_only and (self.order_class != "simple" or self.notional is not None):
            raise ValueError("reduce_only applies to simple orders with a quantity")
        if self.notional is not None and (self.type != "market" or self.time_in_force != "day"):
            raise ValueError("notional orders are market orders with time_in_force day")
        if self.extended_hours and (self.type != "limit" or self.time_in_force != "day"):
            raise ValueError("extended_hours applies to limit orders with time_in_force day only")
        self._check_class()
        return self

    def _check_class(self) -> None:
        tp, sl = self.take_profit is not None, self.stop_loss is not None
        if self.order_class == "simple" and (tp or sl):
            raise ValueError("take_profit and stop_loss need order_class bracket, oco or oto")
        if self.order_class in ("bracket", "oco") and not (tp and sl):
            raise ValueError(f"a {self.order_class} order needs both take_profit and stop_loss")
        if self.order_class == "oto" and tp == sl:
            raise ValueError("an oto order needs exactly one of take_profit and stop_loss")
        if self.order_class != "simple":
            if self.type not in ("market", "limit") or self.notional is not None:
                raise ValueError(f"a {self.order_class} order's entry is a market or limit order with a quantity")
            if self.order_class == "oco" and self.type != "limit":
                raise ValueError("an oco order has type limit")
            if self.time_in_force not in ("day", "gtc"):
                raise ValueError(f"a {self.order_class} order takes time_in_force day or gtc")


class AlpacaAmendOrderRequest(v.AmendOrderRequest):
    """Replace an open order (by Alpaca id or client_order_id): Alpaca answers with a NEW order id."""

    # The demo's order is place_order's first example (client_order_id demo-limit-1); its replacement is demo-limit-2.
    model_config = _examples({"order_id": "demo-limit-1", "price": "101", "client_order_id": "demo-limit-2"})
    trail: PositivePrice | None = Field(None, description="New trailing distance (trailing_stop orders).")
    time_in_force: v.TimeInForce | None = None
    client_order_id: str | None = Field(
        None,
        max_length=48,
        pattern=v.CLIENT_ORDER_ID_PATTERN,
        description="The replacement order's client_order_id (and the idempotency key).",
    )

    @model_validator(mode="after")
    def _something_changes(self) -> Self:
        fields = (self.quantity, self.price, self.stop_price, self.trail, self.time_in_force)
        if all(field is None for field in fields):
            raise ValueError("give at least one of quantity, price, stop_price, trail, time_in_force")
        return self


class AlpacaCancelOrderRequest(v.CancelOrderRequest):
    """Cancel one order by its Alpaca id or client_order_id (an order already cancelled answers its state)."""

    model_config = _examples({"order_id": "demo-limit-2"})


class AlpacaCancelAllRequest(v.CancelAllRequest):
    """Cancel every open order, or those of one instrument."""

    model_config = _examples({}, {"instrument": "AAPL"})


class AlpacaClosePositionRequest(v.ClosePositionRequest):
    """Flatten one position (market: Alpaca's DELETE /v2/positions; limit: an opposite limit order)."""

    model_config = _examples({"instrument": "AAPL"}, {"instrument": "AAPL", "type": "limit", "price": "500"})


# --- Alpaca's own tools --------------------------------------------------------------------------


class CancelOutcome(BaseModel):
    """One order's answer inside the 207 of a cancel-all."""

    order_id: str
    status: int = Field(description="The HTTP status Alpaca gave this order's cancel (200: cancelled).")
    cancelled: bool
    message: str | None = None


class AlpacaCancelAllResult(v.CancelAllResult):
    """How many orders were cancelled, and Alpaca's status for each (HTTP 207)."""

    results: list[CancelOutcome] = Field(default_factory=list)


class AlpacaSnapshotRequest(ToolRequest):
    """Stocks, crypto pairs or option symbols (one asset class per call)."""

    model_config = _examples({"instruments": ["AAPL", "MSFT"]}, {"instruments": ["BTC/USD"]})
    instruments: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)


class Trade(BaseModel):
    """A trade print."""

    price: Decimal
    size: Decimal
    time: datetime | None


class Quote(BaseModel):
    """A top-of-book quote."""

    bid: Decimal | None
    bid_size: Decimal | None
    ask: Decimal | None
    ask_size: Decimal | None
    time: datetime | None


class InstrumentSnapshot(BaseModel):
    """Latest trade, quote, minute bar, daily bar and the previous daily bar of one instrument."""

    instrument: str
    latest_trade: Trade | None
    latest_quote: Quote | None
    minute_bar: v.Bar | None
    daily_bar: v.Bar | None
    prev_daily_bar: v.Bar | None
    info: dict[str, Any] = Field(default_factory=dict)


class Snapshots(ToolResponse):
    """One snapshot per instrument found."""

    snapshots: list[InstrumentSnapshot]
    missing: list[str] = Field(default_factory=list, description="Instruments Alpaca returned nothing for.")


class AlpacaOptionChainRequest(ToolRequest):
    """One underlying's option contracts with quotes and greeks, by expiry and strike range, paged."""

    model_config = _dated_examples(
        lambda today: [
            {
                "underlying": "AAPL",
                "expiration_date_gte": today.isoformat(),
                "expiration_date_lte": (today + timedelta(days=45)).isoformat(),
                "type": "call",
                "limit": 50,
            },
            {"underlying": "SPY", "strike_price_gte": "400", "strike_price_lte": "700", "limit": 100},
        ]
    )
    underlying: str = Field(min_length=1, max_length=16, description="Underlying stock symbol.")
    expiration_date: date | None = None
    expiration_date_gte: date | None = None
    expiration_date_lte: date | None = None
    strike_price_gte: PositivePrice | None = None
    strike_price_lte: PositivePrice | None = None
    type: Literal["call", "put"] | None = None
    feed: Literal["indicative", "opra"] = Field("indicative", description="indicative (free) or opra (paid).")
    limit: int = Field(100, ge=1, le=1000)
    page_token: str | None = Field(None, max_length=512, description="next_page_token of the previous page.")

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.expiration_date is not None and (self.expiration_date_gte or self.expiration_date_lte):
            raise ValueError("give expiration_date or a range, not both")
        lo, hi = self.expiration_date_gte, self.expiration_date_lte
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("expiration_date_gte must not be after expiration_date_lte")
        slo, shi = self.strike_price_gte, self.strike_price_lte
        if slo is not None and shi is not None and slo > shi:
            raise ValueError("strike_price_gte must not be above strike_price_lte")
        return self


class Greeks(BaseModel):
    """An option's greeks as Alpaca computes them."""

    delta: Decimal | None = None
    gamma: Decimal | None = None
    theta: Decimal | None = None
    vega: Decimal | None = None
    rho: Decimal | None = None


class ChainOption(BaseModel):
    """One contract of the chain."""

    symbol: str
    expiry: date | None
    right: Literal["call", "put"] | None
    strike: Decimal | None = Field(description="Strike price in USD (per share; one contract is 100 shares).")
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    implied_volatility: Decimal | None
    greeks: Greeks | None
    info: dict[str, Any] = Field(default_factory=dict)


class AlpacaOptionChain(ToolResponse):
    """Contracts of the page, ordered by expiry, strike, right."""

    underlying: str
    options: list[ChainOption]
    next_page_token: str | None = Field(description="Pass as page_token for the next page; null on the last.")


class AlpacaClockRequest(ToolRequest):
    """No arguments."""

    model_config = _examples({})


class AlpacaClock(ToolResponse):
    """Whether the US equity market is open, and its next open and close (UTC)."""

    is_open: bool
    timestamp: datetime | None
    next_open: datetime | None
    next_close: datetime | None


class CalendarRequest(ToolRequest):
    """Trading days between two dates (default: today and the next 14 days)."""

    model_config = _dated_examples(
        lambda today: [{"start": today.isoformat(), "end": (today + timedelta(days=14)).isoformat()}, {}]
    )
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        # A missing side defaults to today (the tool's default window): the span is checked either way,
        # so `{"end": "6717-02-20"}` is refused rather than asking the venue for 4,700 years of days.
        today = utcnow().date()
        start, end = self.start or min(today, self.end or today), self.end or max(today, self.start or today)
        if start > end:
            raise ValueError("start must not be after end")
        if (end - start).days > 366:
            raise ValueError("at most 366 days per call (a missing start or end is today)")
        return self


class TradingDay(BaseModel):
    """One trading day: regular session and extended session, in UTC."""

    date: date
    open: datetime
    close: datetime
    session_open: datetime | None
    session_close: datetime | None
    early_close: bool = Field(description="The regular session closes before 16:00 New York time.")


class Calendar(ToolResponse):
    """Trading days, earliest first (market holidays are absent)."""

    days: list[TradingDay]


class AlpacaActivitiesRequest(ToolRequest):
    """Account activities (fills by default), newest first, paged."""

    model_config = _examples({}, {"activity_types": ["FILL", "DIV"], "page_size": 20})
    activity_types: list[Literal[ACTIVITY_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["FILL"], min_length=1, max_length=12
    )
    after: datetime | None = None
    until: datetime | None = None
    direction: Literal["desc", "asc"] = "desc"
    page_size: int = Field(50, ge=1, le=100)
    page_token: str | None = Field(None, max_length=128, description="next_page_token of the previous page.")


class Activity(BaseModel):
    """One account activity: a fill (price, quantity, side) or a non-trade entry (net_amount)."""

    activity_id: str
    activity_type: str
    time: datetime | None
    instrument: str | None = None
    side: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    order_id: str | None = None
    net_amount: Decimal | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class AlpacaActivities(ToolResponse):
    """Activities of the page."""

    activities: list[Activity]
    next_page_token: str | None = Field(description="Pass as page_token for the next page; null on the last.")


class AlpacaCloseAllRequest(ToolRequest):
    """Flatten every position with market orders (optionally cancelling open orders first)."""

    model_config = _examples({"cancel_orders": True})
    cancel_orders: bool = Field(True, description="Cancel open orders first (they could reopen exposure).")
    client_order_id: str | None = Field(None, max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN)


class CloseOutcome(BaseModel):
    """One position's answer inside the 207 of close-all."""

    instrument: str
    status: int = Field(description="The HTTP status Alpaca gave this position's close (200: order placed).")
    order: v.Order | None = None
    message: str | None = None


class AlpacaCloseAllResult(ToolResponse):
    """The closing order (or the refusal) of each position."""

    results: list[CloseOutcome]
