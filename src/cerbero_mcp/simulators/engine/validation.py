"""Checks every order request passes before the engine builds an order; each raises `OrderRejected`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from cerbero_mcp.simulators.engine.accounts import Account
from cerbero_mcp.simulators.engine.instruments import Instrument
from cerbero_mcp.simulators.engine.orders import OrderRejected, OrderType, RejectReason, Side, TimeInForce

Number = Decimal | int | str
LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)
STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def to_number(value: Number, reason: RejectReason, name: str) -> Decimal:
    """Return `value` as a finite Decimal or raise `reason`."""
    try:
        d = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError, TypeError):
        raise OrderRejected(reason, f"{name} {value!r} is not a number") from None
    if not d.is_finite():
        raise OrderRejected(reason, f"{name} {value!r} is not a finite number")
    return d


def check_qty(inst: Instrument, value: Number) -> Decimal:
    """Return the quantity if it is a positive whole number of lots."""
    qty = to_number(value, RejectReason.INVALID_QTY, "qty")
    if not inst.qty_aligned(qty):
        raise OrderRejected(
            RejectReason.INVALID_QTY,
            f"qty {qty} is not a positive multiple of the lot size {inst.lot_size}",
            details={"lot_size": str(inst.lot_size), "nearest": inst.nearest_qtys(qty)},
        )
    return qty


def check_price(inst: Instrument, value: Number, name: str) -> Decimal:
    """Return the price if it is a positive whole number of ticks."""
    price = to_number(value, RejectReason.INVALID_PRICE, name)
    if not inst.price_aligned(price):
        raise OrderRejected(
            RejectReason.INVALID_PRICE,
            f"{name} {price} is not a positive multiple of the tick size {inst.tick_size}",
            details={"tick_size": str(inst.tick_size), "nearest": inst.nearest_prices(price)},
        )
    return price


def check_reduce_only(acct: Account, inst: Instrument, side: Side, qty: Decimal) -> None:
    """Refuse a reduce-only order that would open or grow a position (or flip it)."""
    pos = acct.position_qty(inst.symbol)
    reducing = pos != 0 and (pos > 0) == (side is Side.SELL)
    if not reducing or qty > abs(pos):
        raise OrderRejected(
            RejectReason.REDUCE_ONLY_WOULD_INCREASE,
            f"reduce-only {side.value} {qty} would not only reduce the position {pos}",
            details={"position": str(pos)},
        )


def check_shape(
    inst: Instrument,
    otype: OrderType,
    qty_in: Number,
    price_in: Number | None,
    stop_in: Number | None,
    tif: TimeInForce,
    post_only: bool,
) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """Return (qty, price, stop price) once the fields fit the order type and the instrument's grid."""
    qty = check_qty(inst, qty_in)
    is_limit = otype in LIMIT_TYPES
    if is_limit and price_in is None:
        raise OrderRejected(RejectReason.INVALID_ORDER, f"a {otype.value} order needs a price")
    if not is_limit and price_in is not None:
        raise OrderRejected(RejectReason.INVALID_ORDER, f"a {otype.value} order takes no price")
    if otype in STOP_TYPES and stop_in is None:
        raise OrderRejected(RejectReason.INVALID_ORDER, f"a {otype.value} order needs a stop price")
    if otype not in STOP_TYPES and stop_in is not None:
        raise OrderRejected(RejectReason.INVALID_ORDER, f"a {otype.value} order takes no stop price")
    if post_only and tif in (TimeInForce.IOC, TimeInForce.FOK):
        raise OrderRejected(RejectReason.INVALID_ORDER, "post-only orders must rest (gtc or day)")
    price = check_price(inst, price_in, "price") if price_in is not None else None
    stop = check_price(inst, stop_in, "stop_price") if stop_in is not None else None
    return qty, price, stop
