"""Accounts of the simulated venue: balances, positions, margin and equity.

Every instrument margins the same way, per settle currency, so venue simulators can present it
in their own terms (a spot wallet is a long position paid in full; a cash account is leverage 1):

- amounts (PnL, fees, funding, margins) are rounded to 1e-12 (`money`), so sums are exact;
- opening a position moves no cash; realized PnL and fees (and funding, and expiry settlement)
  move cash; so at every instant equity = cash + unrealized PnL;
- initial margin of a position = notional at mark / leverage; long options need their full
  premium, short options premium + `SHORT_OPTION_RATE` × the underlying's value;
- a resting order reserves the margin of the part that would open exposure, at its limit price;
- available = equity − position margin − order margin; an order that adds margin is refused when
  available would go negative. Spot and stock cannot go short unless `allow_short`.

There is no liquidation: equity may go negative if the market runs against a position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from cerbero_mcp.simulators.engine.instruments import Instrument, InstrumentKind
from cerbero_mcp.simulators.engine.orders import ZERO, Fill, LedgerEntry, Order, money

SHORT_OPTION_RATE = Decimal("0.15")
ONE = Decimal(1)


@dataclass(slots=True)
class Position:
    """A net position: signed `qty`, its average entry price, and what it has realized so far."""

    instrument: str
    qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    funding_paid: Decimal = ZERO
    updated_at: float = 0.0

    def apply(self, inst: Instrument, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Add a fill of `signed_qty` at `price`; return the PnL it realized (fees excluded)."""
        q = self.qty
        realized = ZERO
        if q == 0 or (q > 0) == (signed_qty > 0):
            new = q + signed_qty
            if inst.inverse:  # inverse contracts average entry prices harmonically
                self.avg_price = abs(new) / (abs(q) / self.avg_price + abs(signed_qty) / price) if q else price
            else:
                self.avg_price = (abs(q) * self.avg_price + abs(signed_qty) * price) / abs(new)
            self.qty = new
        else:
            closing = min(abs(q), abs(signed_qty))
            closed = closing if q > 0 else -closing
            realized = money(inst.pnl(closed, self.avg_price, price))
            new = q + signed_qty
            if new == 0:
                self.avg_price = ZERO
            elif (new > 0) != (q > 0):  # flipped: the rest opens at the fill price
                self.avg_price = price
            self.qty = new
        self.realized_pnl += realized
        return realized

    def copy(self) -> Position:
        """Return an independent copy."""
        return Position(
            self.instrument, self.qty, self.avg_price, self.realized_pnl, self.funding_paid, self.updated_at
        )


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A position valued at one instant (amounts in the instrument's settle currency)."""

    instrument: str
    qty: Decimal
    avg_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    funding_paid: Decimal
    notional: Decimal
    initial_margin: Decimal
    leverage: Decimal
    settle_currency: str


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One settle currency of an account valued at one instant."""

    currency: str
    cash: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    initial_margin: Decimal
    order_margin: Decimal
    available: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal


@dataclass(slots=True)
class Account:
    """The state of one account; the `Exchange` mutates it under its lock."""

    id: str
    balances: dict[str, Decimal]
    leverage: Decimal = Decimal(10)
    allow_short: bool = False
    leverage_by_symbol: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    client_ids: dict[str, str] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    reserved: dict[str, Decimal] = field(default_factory=dict)  # order margin per settle currency
    order_margin: dict[str, Decimal] = field(default_factory=dict)  # order id -> margin it reserves
    open_sell_qty: dict[str, Decimal] = field(default_factory=dict)  # spot/stock resting sells
    realized: dict[str, Decimal] = field(default_factory=dict)  # per settle currency
    fees: dict[str, Decimal] = field(default_factory=dict)  # per settle currency

    def position_qty(self, symbol: str) -> Decimal:
        """Return the signed position in `symbol` (0 when flat)."""
        p = self.positions.get(symbol)
        return p.qty if p is not None else ZERO

    def leverage_for(self, inst: Instrument) -> Decimal:
        """Return the leverage that sets `inst`'s margin: per-symbol, else 1 for spot/stock, else the default."""
        lev = self.leverage_by_symbol.get(inst.symbol)
        if lev is not None:
            return lev
        return ONE if inst.kind in (InstrumentKind.SPOT, InstrumentKind.STOCK) else self.leverage

    def credit(self, currency: str, amount: Decimal) -> None:
        """Add `amount` (may be negative) to the cash balance of `currency`."""
        self.balances[currency] = self.balances.get(currency, ZERO) + amount

    def reserve(self, order_id: str, currency: str, amount: Decimal) -> None:
        """Reserve `amount` of order margin for `order_id`."""
        if amount:
            self.order_margin[order_id] = self.order_margin.get(order_id, ZERO) + amount
            self.reserved[currency] = self.reserved.get(currency, ZERO) + amount

    def release(self, order_id: str, currency: str, fraction: Decimal = ONE) -> None:
        """Release `fraction` of the margin `order_id` reserves."""
        held = self.order_margin.get(order_id)
        if held is None:
            return
        amount = held if fraction >= 1 else held * fraction
        left = held - amount
        if left > 0:
            self.order_margin[order_id] = left
        else:
            del self.order_margin[order_id]
        self.reserved[currency] = self.reserved.get(currency, ZERO) - amount


def position_margin(inst: Instrument, qty: Decimal, mark: Decimal, underlying_value: Decimal, lev: Decimal) -> Decimal:
    """Return the initial margin of a signed position `qty` at `mark`.

    `underlying_value` is one unit of underlying in premium units (the index, or 1 for options
    quoted in the underlying); it only matters for short options.
    """
    if qty == 0:
        return ZERO
    premium = inst.notional(qty, mark)
    if inst.kind is InstrumentKind.OPTION:
        if qty > 0:
            return money(premium)
        return money(premium + SHORT_OPTION_RATE * abs(qty) * inst.contract_size * underlying_value)
    return money(premium / lev)


def opening_qty(position: Decimal, signed_qty: Decimal) -> Decimal:
    """Return how much of an order of `signed_qty` would open exposure given `position` (unsigned)."""
    if position == 0 or (position > 0) == (signed_qty > 0):
        return abs(signed_qty)
    return max(abs(signed_qty) - abs(position), ZERO)
