"""IBKR's tool models beyond the common vocabulary, and the venue's spelling tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.tooling import ToolRequest, ToolResponse

ORDER_TYPE: dict[str, str] = {
    "market": "MKT",
    "limit": "LMT",
    "stop_market": "STP",
    "stop_limit": "STOP_LIMIT",
    "trailing_stop": "TRAIL",
    "trailing_limit": "TRAILLMT",
}
# The live-orders list spells types as origOrderType (LIMIT, STOP_LIMIT, TRAILLMT) or as words (Trail Limit).
ORDER_TYPE_BACK: dict[str, str] = {value: key for key, value in ORDER_TYPE.items()} | {
    "LIMIT": "limit",
    "MARKET": "market",
    "STOP": "stop_market",
    "TRAIL_LIMIT": "trailing_limit",
}
TIME_IN_FORCE: dict[str, str] = {"gtc": "GTC", "day": "DAY", "ioc": "IOC"}
TIME_IN_FORCE_BACK: dict[str, v.TimeInForce] = {"gtc": "gtc", "day": "day", "ioc": "ioc"}
ORDER_STATUS: dict[str, v.OrderStatus] = {
    "submitted": "open",
    "presubmitted": "untriggered",
    "pendingsubmit": "open",
    "pendingcancel": "open",
    "filled": "filled",
    "cancelled": "cancelled",
    "apicancelled": "cancelled",
    "inactive": "rejected",
}
RESOLUTION_BAR: dict[str, str] = {
    "1m": "1min",
    "3m": "3min",
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "12h": "4h",  # IBKR has no 12h bar (1min…8h, 1d, 1w, 1m): three 4h bars make one (market.aggregate_bars)
    "1d": "1d",
}
IbkrOrderType = Literal["market", "limit", "stop_market", "stop_limit", "trailing_stop", "trailing_limit"]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class IbkrPlaceOrderRequest(v.PlaceOrderRequest):
    """An IBKR order: the common fields plus trailing stops (TRAIL, TRAILLMT)."""

    model_config = _examples(
        {
            "instrument": "AAPL",
            "side": "buy",
            "type": "limit",
            "quantity": "1",
            "price": "100",
            "client_order_id": "demo-ibkr-1",
        },
        {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1"},
    )
    type: IbkrOrderType = "limit"  # type: ignore[assignment]
    trailing_amount: v.PositivePrice | None = Field(None, description="Trailing distance (trailing types only).")
    outside_rth: bool = Field(False, description="Allow filling outside regular trading hours.")

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> Self:
        # Overrides the common rule (same name) to cover IBKR's trailing types as well.
        limit_like = self.type in ("limit", "stop_limit", "trailing_limit")
        stop_like = self.type in ("stop_market", "stop_limit")
        trailing = self.type in ("trailing_stop", "trailing_limit")
        rules = (
            (limit_like and self.price is None, f"price is required for {self.type} orders"),
            (not limit_like and self.price is not None, f"price does not apply to {self.type} orders"),
            (stop_like and self.stop_price is None, f"stop_price is required for {self.type} orders"),
            (not stop_like and self.stop_price is not None, f"stop_price does not apply to {self.type} orders"),
            (trailing and self.trailing_amount is None, f"trailing_amount is required for {self.type} orders"),
            (
                not trailing and self.trailing_amount is not None,
                f"trailing_amount does not apply to {self.type} orders",
            ),
            (self.time_in_force == "fok", "ibkr does not offer fok through the Client Portal API; use ioc"),
            (self.post_only, "ibkr has no post-only flag; use a limit order away from the touch"),
        )
        for broken, message in rules:
            if broken:
                raise ValueError(message)
        return self


class ActivitiesRequest(ToolRequest):
    """Executions of the last days."""

    model_config = _examples({"days": 1})
    days: int = Field(1, ge=1, le=7)


class Execution(BaseModel):
    """One execution."""

    execution_id: str
    instrument: str
    side: v.Side
    quantity: Decimal = Field(description="Executed quantity, in shares or contracts.")
    price: Decimal = Field(description="Execution price per share or contract, in the instrument's trading currency.")
    time: str | None = None
    order_id: str | None = None
    client_order_id: str | None = None
    commission: Decimal | None = Field(
        None,
        description=(
            "Commission charged, in the commission currency IBKR reports (usually the account's base currency)."
        ),
    )
    info: dict[str, Any] = Field(default_factory=dict)


class Activities(ToolResponse):
    """Executions."""

    executions: list[Execution]


class SnapshotRequest(ToolRequest):
    """Market-data snapshot of several instruments."""

    model_config = _examples({"instruments": ["AAPL", "MSFT"]})
    instruments: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)


class Snapshot(ToolResponse):
    """Quotes of several instruments (IBKR field ids decoded)."""

    quotes: list[v.Ticker]


class OptionChainRequest(ToolRequest):
    """Listed options of an underlying for one month."""

    model_config = _examples({"symbol": "AAPL"})
    symbol: str = Field(min_length=1, max_length=16)
    month: str | None = Field(
        None, max_length=5, pattern=r"^[A-Z]{3}\d{2}$", description="e.g. DEC26; default: the nearest listed."
    )
    strikes: int = Field(10, ge=1, le=100, description="Strikes each side of the money.")


class ChainOption(BaseModel):
    """One listed option."""

    conid: int = Field(description="IBKR contract id, an identifier (not a quantity).")
    symbol: str
    strike: Decimal = Field(description="Strike price, in the underlying's trading currency.")
    right: Literal["call", "put"]
    expiry: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class OptionChain(ToolResponse):
    """The chain of one month around the money."""

    symbol: str
    underlying_conid: int = Field(description="IBKR contract id of the underlying, an identifier (not a quantity).")
    month: str
    months: list[str]
    options: list[ChainOption]


class SearchRequest(ToolRequest):
    """Find contracts by symbol or name."""

    model_config = _examples({"query": "AAPL"})
    query: str = Field(min_length=1, max_length=64)


class Contract(BaseModel):
    """One contract IBKR knows."""

    conid: int = Field(description="IBKR contract id, an identifier (not a quantity).")
    symbol: str | None
    description: str | None
    sec_types: list[str]
    info: dict[str, Any] = Field(default_factory=dict)


class Contracts(ToolResponse):
    """Search results."""

    contracts: list[Contract]


class ClockRequest(ToolRequest):
    """Exchange hours of an instrument."""

    model_config = _examples({"instrument": "AAPL"})
    instrument: str = Field("SPY", min_length=1, max_length=64)


class ClockSession(BaseModel):
    """One regular trading session (UTC)."""

    open: datetime
    close: datetime


class Clock(ToolResponse):
    """Whether the market is open now, and the next open and close, from IBKR's trading schedule."""

    instrument: str
    timezone: str = Field(description="The exchange's IANA time zone (e.g. America/New_York); the times are UTC.")
    is_open: bool
    next_open: datetime | None = Field(description="Next regular session open (UTC), none in the schedule.")
    next_close: datetime | None = Field(description="Next regular session close (UTC), none in the schedule.")
    sessions: list[ClockSession] = Field(description="The regular sessions of the schedule, earliest first (UTC).")


class TickRequest(ToolRequest):
    """One instrument's streaming quote."""

    model_config = _examples({"instrument": "AAPL"})
    instrument: str = Field(min_length=1, max_length=64)


class StreamTick(ToolResponse):
    """The latest streamed quote (merged from the socket's deltas)."""

    instrument: str
    conid: int = Field(description="IBKR contract id, an identifier (not a quantity).")
    last: Decimal | None = Field(description="Last trade price, in the instrument's trading currency.")
    bid: Decimal | None = Field(description="Best bid price, in the instrument's trading currency.")
    ask: Decimal | None = Field(description="Best ask price, in the instrument's trading currency.")
    bid_size: Decimal | None = Field(
        description="Size at the best bid, in shares or contracts (IBKR's field 88, US stock lots of 100 converted)."
    )
    ask_size: Decimal | None = Field(
        description="Size at the best ask, in shares or contracts (IBKR's field 85, US stock lots of 100 converted)."
    )


class DepthRequest(TickRequest):
    """Order-book depth from the socket."""

    model_config = _examples({"instrument": "AAPL"}, {"instrument": "AAPL", "exchange": "ISLAND"})
    exchange: str | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="One deep exchange (e.g. ISLAND); left out, IBKR assumes all available deep exchanges.",
    )


class Subscription(ToolResponse):
    """The instruments with a live streaming subscription."""

    instrument: str
    conid: int = Field(description="IBKR contract id, an identifier (not a quantity).")
    subscribed: bool
    active: list[int] = Field(
        description="IBKR contract ids with a live streaming subscription, identifiers (not quantities)."
    )


class CloseAllRequest(ToolRequest):
    """Close every position with market orders."""

    model_config = _examples({})
    client_order_id: str | None = Field(
        None, max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN, description="Idempotency key."
    )


class CloseAllResult(ToolResponse):
    """One closing order per position."""

    results: list[v.ClosePositionResult]


class BracketRequest(ToolRequest):
    """Entry plus take-profit and stop-loss, linked: the exits work once the entry fills."""

    model_config = _examples(
        {
            "instrument": "AAPL",
            "side": "buy",
            "quantity": "1",
            "entry_type": "limit",
            "entry_price": "100",
            "take_profit_price": "300",
            "stop_loss_price": "50",
            "client_order_id": "demo-bracket-1",
        }
    )
    instrument: str = Field(min_length=1, max_length=64)
    side: v.Side
    quantity: v.PositiveQuantity
    entry_type: Literal["market", "limit"] = "limit"
    entry_price: v.PositivePrice | None = None
    take_profit_price: v.PositivePrice
    stop_loss_price: v.PositivePrice
    time_in_force: Literal["gtc", "day"] = "gtc"
    client_order_id: str = Field(
        max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN, description="The parent's cOID (required)."
    )

    @model_validator(mode="after")
    def _prices(self) -> Self:
        if self.entry_type == "limit" and self.entry_price is None:
            raise ValueError("entry_price is required for a limit entry")
        if self.entry_type == "market" and self.entry_price is not None:
            raise ValueError("entry_price does not apply to a market entry")
        if self.side == "buy" and not self.stop_loss_price < self.take_profit_price:
            raise ValueError("a long bracket needs stop_loss_price < take_profit_price")
        if self.side == "sell" and not self.stop_loss_price > self.take_profit_price:
            raise ValueError("a short bracket needs stop_loss_price > take_profit_price")
        return self


class SimpleOrder(BaseModel):
    """One leg of an OCO or OTO."""

    model_config = ConfigDict(extra="forbid")
    instrument: str = Field(min_length=1, max_length=64)
    side: v.Side
    type: Literal["market", "limit", "stop_market", "stop_limit"] = "limit"
    quantity: v.PositiveQuantity
    price: v.PositivePrice | None = None
    stop_price: v.PositivePrice | None = None
    client_order_id: str | None = Field(None, max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN)


class OcoRequest(ToolRequest):
    """Orders of which the first to fill cancels the others (isSingleGroup)."""

    model_config = _examples(
        {
            "orders": [
                {"instrument": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "price": "300"},
                {"instrument": "AAPL", "side": "sell", "type": "stop_market", "quantity": "1", "stop_price": "50"},
            ],
            "client_order_id": "demo-oco-1",
        }
    )
    orders: list[SimpleOrder] = Field(min_length=2, max_length=4)
    client_order_id: str | None = Field(
        None, max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN, description="Idempotency key."
    )


class OtoRequest(ToolRequest):
    """A trigger order and a child that works once the trigger fills."""

    model_config = _examples(
        {
            "trigger": {"instrument": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "100"},
            "child": {"instrument": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "price": "300"},
            "client_order_id": "demo-oto-1",
        }
    )
    trigger: SimpleOrder
    child: SimpleOrder
    client_order_id: str = Field(
        max_length=64, pattern=v.CLIENT_ORDER_ID_PATTERN, description="The trigger's cOID (required)."
    )


class LinkedOrders(ToolResponse):
    """The orders IBKR accepted for a bracket, OCO or OTO."""

    orders: list[v.Order]
    info: dict[str, Any] = Field(default_factory=dict)


# --- the common vocabulary's requests, with IBKR examples (stocks, IBKR's order ids) -------------


class IbkrInstrumentRequest(v.InstrumentRequest):
    """One instrument: a stock symbol or conid:<n>."""

    model_config = _examples({"instrument": "AAPL"})


class IbkrAccountRequest(v.AccountRequest):
    """The account (IBKR reports it in the base currency)."""

    model_config = _examples({})


class IbkrPositionsRequest(v.PositionsRequest):
    """Filter positions by instrument."""

    model_config = _examples({}, {"instrument": "AAPL"})


class IbkrOpenOrdersRequest(v.OpenOrdersRequest):
    """Filter working orders by instrument."""

    model_config = _examples({}, {"instrument": "AAPL"})


class IbkrAmendOrderRequest(v.AmendOrderRequest):
    """Change a working order's quantity or prices (IBKR order ids are numbers)."""

    model_config = _examples({"order_id": "1000000001", "price": "99"})
    trailing_amount: v.PositivePrice | None = Field(
        None, description="New trailing distance (trailing types only); left out, the order's own trail is kept."
    )


class IbkrCancelOrderRequest(v.CancelOrderRequest):
    """Cancel one working order."""

    model_config = _examples({"order_id": "1000000001"})


class IbkrCancelAllRequest(v.CancelAllRequest):
    """Cancel every working order, or those of one instrument."""

    model_config = _examples({}, {"instrument": "AAPL"})


class IbkrClosePositionRequest(v.ClosePositionRequest):
    """Flatten one position with a market order."""

    model_config = _examples({"instrument": "AAPL"})
