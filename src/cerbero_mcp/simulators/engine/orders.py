"""Venue-neutral orders, fills and typed rejections of the simulated matching engine.

Venue simulators translate these to their wire format: enums to their spellings, `RejectReason`
to their error codes (one table per venue), ids through the engine's `id_factory`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

ZERO = Decimal(0)
AMOUNT_QUANTUM = Decimal("1e-12")


def money(x: Decimal) -> Decimal:
    """Return a cash amount rounded to 1e-12, so that sums of amounts are exact."""
    q = x.quantize(AMOUNT_QUANTUM)
    return q if q else ZERO


class Side(StrEnum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """Order type."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    """Time in force."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    DAY = "day"


class OrderStatus(StrEnum):
    """Order status."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNTRIGGERED = "untriggered"


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED})


class CancelReason(StrEnum):
    """Why an order ended cancelled."""

    USER = "user"
    IOC_REMAINDER = "ioc_remainder"  # IOC or market remainder that found no liquidity
    EXPIRED = "expired"  # DAY order at the end of its day
    REDUCE_ONLY = "reduce_only"  # reduce-only order with no position left to reduce
    INSTRUMENT_EXPIRED = "instrument_expired"


class RejectReason(StrEnum):
    """Why the engine refused a request; each venue simulator maps these to its own error codes."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    REDUCE_ONLY_WOULD_INCREASE = "reduce_only_would_increase"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_NOT_OPEN = "order_not_open"
    INVALID_PRICE = "invalid_price"
    INVALID_QTY = "invalid_qty"
    MIN_NOTIONAL = "min_notional"
    INVALID_ORDER = "invalid_order"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    INSTRUMENT_EXPIRED = "instrument_expired"
    UNKNOWN_ACCOUNT = "unknown_account"
    NO_POSITION = "no_position"


class OrderRejected(Exception):
    """A request the engine refused; nothing changed. `order` is the refused order when one was built."""

    def __init__(
        self,
        reason: RejectReason,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        order: Order | None = None,
    ) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.order = order


@dataclass(slots=True)
class Order:
    """One order as the engine keeps it; times are epoch seconds."""

    id: str
    account_id: str
    instrument: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    tif: TimeInForce
    post_only: bool
    reduce_only: bool
    client_order_id: str | None
    status: OrderStatus
    created_at: float
    updated_at: float
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    triggered_at: float | None = None
    cancel_reason: CancelReason | None = None
    reject_reason: RejectReason | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def remaining(self) -> Decimal:
        """Return the quantity still to fill."""
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        """Return whether the order can still fill (new, partially filled or untriggered)."""
        return self.status in OPEN_STATUSES

    @property
    def is_stop(self) -> bool:
        """Return whether this is a stop-market or stop-limit order."""
        return self.type is OrderType.STOP_MARKET or self.type is OrderType.STOP_LIMIT

    @property
    def sign(self) -> int:
        """Return +1 for buys and -1 for sells."""
        return 1 if self.side is Side.BUY else -1


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution; `fee` is in `fee_currency` (negative = rebate), `realized_pnl` excludes fees."""

    id: str
    order_id: str
    client_order_id: str | None
    account_id: str
    instrument: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # "maker" or "taker"
    time: float
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A cash movement that is not a fill: funding payments and expiry settlements."""

    time: float
    kind: str  # "funding" or "settlement"
    instrument: str
    amount: Decimal  # credited to the account (negative = paid)
    currency: str
    rate: Decimal | None = None  # funding rate, for funding entries
    price: Decimal | None = None  # settlement price, for settlements
