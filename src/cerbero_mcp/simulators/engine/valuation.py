"""Valuing accounts at an instant: positions at mark, per-currency summaries, and the funds check."""

from __future__ import annotations

from decimal import Decimal

from cerbero_mcp.simulators.engine.accounts import (
    Account,
    AccountSummary,
    Position,
    PositionSnapshot,
    opening_qty,
    position_margin,
)
from cerbero_mcp.simulators.engine.instruments import Instrument, InstrumentKind
from cerbero_mcp.simulators.engine.market import MarketModel
from cerbero_mcp.simulators.engine.orders import ZERO, Order, OrderRejected, RejectReason, Side, money

CASH_KINDS = (InstrumentKind.SPOT, InstrumentKind.STOCK)


def dec(x: float) -> Decimal:
    """Return a float as the Decimal of its shortest repr (what a venue would print)."""
    return Decimal(repr(x))


class Valuer:
    """Values accounts against one market."""

    def __init__(self, market: MarketModel) -> None:
        """Mark against `market`."""
        self.market = market

    def mark(self, inst: Instrument, t: float) -> Decimal:
        """Return the instrument's mark at `t` as a Decimal."""
        return dec(self.market.mid(inst.symbol, t))

    def underlying_value(self, inst: Instrument, t: float) -> Decimal:
        """Return one unit of underlying in premium units (only short options use it)."""
        if inst.kind is not InstrumentKind.OPTION or inst.premium_in_underlying:
            return Decimal(1)
        return dec(self.market.index(inst.underlying, t))

    def margin(self, acct: Account, inst: Instrument, qty: Decimal, price: Decimal, t: float) -> Decimal:
        """Return the initial margin of a signed `qty` of `inst` valued at `price`."""
        return position_margin(inst, qty, price, self.underlying_value(inst, t), acct.leverage_for(inst))

    def snapshot(self, acct: Account, p: Position, t: float) -> PositionSnapshot:
        """Return a position valued at `t`."""
        inst = self.market.instrument(p.instrument)
        mark = self.mark(inst, t)
        return PositionSnapshot(
            instrument=p.instrument,
            qty=p.qty,
            avg_price=p.avg_price,
            mark_price=mark,
            unrealized_pnl=money(inst.pnl(p.qty, p.avg_price, mark)),
            realized_pnl=p.realized_pnl,
            funding_paid=p.funding_paid,
            notional=money(inst.notional(p.qty, mark)),
            initial_margin=self.margin(acct, inst, p.qty, mark, t),
            leverage=acct.leverage_for(inst),
            settle_currency=inst.settle_currency,
        )

    def summary(self, acct: Account, ccy: str, t: float) -> AccountSummary:
        """Return the account's `ccy` ledger valued at `t`."""
        upnl = im = ZERO
        for p in acct.positions.values():
            inst = self.market.instrument(p.instrument)
            if inst.settle_currency == ccy:
                mark = self.mark(inst, t)
                upnl += money(inst.pnl(p.qty, p.avg_price, mark))
                im += self.margin(acct, inst, p.qty, mark, t)
        cash = acct.balances.get(ccy, ZERO)
        om = acct.reserved.get(ccy, ZERO)
        equity = cash + upnl
        return AccountSummary(
            currency=ccy,
            cash=cash,
            unrealized_pnl=upnl,
            equity=equity,
            initial_margin=im,
            order_margin=om,
            available=equity - im - om,
            realized_pnl=acct.realized.get(ccy, ZERO),
            fees_paid=acct.fees.get(ccy, ZERO),
        )

    def check_funds(
        self,
        acct: Account,
        inst: Instrument,
        order: Order,
        fills: list[tuple[Decimal, Decimal]],
        rest_qty: Decimal,
        t: float,
    ) -> None:
        """Raise INSUFFICIENT_FUNDS unless the account can carry `order` after `fills` and a resting `rest_qty`.

        An order that does not add margin (it reduces, or keeps, what the position needs) always
        passes; spot and stock sells must be covered by holdings not already offered.
        """
        sym, ccy, sign = inst.symbol, inst.settle_currency, order.sign
        before = acct.positions.get(sym) or Position(sym)
        if inst.kind in CASH_KINDS and not acct.allow_short and order.side is Side.SELL:
            held = max(before.qty - acct.open_sell_qty.get(sym, ZERO), ZERO)
            selling = sum((q for _, q in fills), ZERO) + rest_qty
            if selling > held:
                raise OrderRejected(
                    RejectReason.INSUFFICIENT_FUNDS,
                    f"cannot sell {selling} {sym}: {held} available",
                    details={"available": str(held)},
                    order=order,
                )
        after = before.copy()
        realized = fees = ZERO
        for price, qty in fills:
            realized += after.apply(inst, sign * qty, price)
            fees += money(inst.notional(qty, price) * inst.taker_fee)
        mark = self.mark(inst, t)
        rest_open = opening_qty(after.qty, sign * rest_qty)
        rest_margin = ZERO
        if rest_open and order.price is not None:
            rest_margin = self.margin(acct, inst, sign * rest_open, order.price, t)
        im_before = self.margin(acct, inst, before.qty, mark, t)
        im_after = self.margin(acct, inst, after.qty, mark, t)
        if im_after + rest_margin <= im_before and fees <= 0:
            return
        summ = self.summary(acct, ccy, t)
        upnl_delta = ZERO
        if before.qty:
            upnl_delta -= money(inst.pnl(before.qty, before.avg_price, mark))
        if after.qty:
            upnl_delta += money(inst.pnl(after.qty, after.avg_price, mark))
        equity = summ.equity + realized - fees + upnl_delta
        needed = summ.initial_margin - im_before + im_after + summ.order_margin + rest_margin
        if equity < needed:
            required = needed - summ.initial_margin - summ.order_margin + (summ.equity - equity)
            raise OrderRejected(
                RejectReason.INSUFFICIENT_FUNDS,
                f"order needs {required:.8f} {ccy}; {summ.available:.8f} {ccy} available",
                details={"currency": ccy, "available": str(summ.available), "required": str(required)},
                order=order,
            )
