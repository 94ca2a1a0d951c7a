"""The matching engine: orders of many accounts against the deterministic market of one venue.

The public API is `Exchange`; the mechanics live in `engine.EngineCore`.

Takers (market orders, and the crossing part of limit orders) walk the model's order book level
by level, so large orders fill partially or at worse prices; what they take stays taken for the
rest of that second. Resting limits fill in full, at their limit price, as makers, at the first
instant the instrument's mid reaches them; stops trigger at the first instant the mid reaches
their stop price and then execute like a new market or limit order at that instant. Time only moves
in `advance(now)`, which every public method calls first with the clock's time: it replays the
interval since the last call as a queue of timed events (fills, triggers, DAY expiries, funding
settlements, instrument expiries) in time order, so a clock that jumps an hour behaves like an hour
of trading. One re-entrant lock makes every public method atomic, so a venue simulator serving on
its own thread and a test reading state from another see consistent accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.engine.accounts import Account, AccountSummary, PositionSnapshot
from cerbero_mcp.simulators.engine.engine import EngineCore, next_utc_midnight
from cerbero_mcp.simulators.engine.market import BOOK_MAX_DEPTH, OrderBook
from cerbero_mcp.simulators.engine.orders import (
    CancelReason,
    Fill,
    LedgerEntry,
    Order,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from cerbero_mcp.simulators.engine.validation import (
    LIMIT_TYPES,
    Number,
    check_price,
    check_qty,
    check_reduce_only,
)


class Exchange(EngineCore):
    """Accounts, orders and fills of one simulated venue over one `MarketModel`."""

    def open_account(
        self,
        account_id: str,
        balances: Mapping[str, Number] | None = None,
        *,
        leverage: Number = 10,
        allow_short: bool = False,
    ) -> Account:
        """Create an account with starting cash `balances` (ValueError if the id exists)."""
        with self._lock:
            if account_id in self._accounts:
                raise ValueError(f"account {account_id!r} already exists")
            cash = {c: Decimal(v) for c, v in (balances or {}).items()}
            acct = Account(account_id, cash, leverage=Decimal(leverage), allow_short=allow_short)
            self._accounts[account_id] = acct
            return acct

    def has_account(self, account_id: str) -> bool:
        """Return whether the account exists."""
        return account_id in self._accounts

    def deposit(self, account_id: str, currency: str, amount: Number) -> Decimal:
        """Credit (or debit, if negative) cash and return the new balance."""
        with self._lock:
            acct = self.account(account_id)
            acct.credit(currency, Decimal(amount))
            return acct.balances[currency]

    def set_leverage(self, account_id: str, symbol: str, leverage: Number) -> None:
        """Set the leverage used for `symbol`'s margin in this account."""
        with self._lock:
            lev = Decimal(leverage)
            if lev <= 0:
                raise OrderRejected(RejectReason.INVALID_ORDER, "leverage must be positive")
            self.account(account_id).leverage_by_symbol[self._instrument(symbol).symbol] = lev

    def submit(
        self,
        account_id: str,
        instrument: str,
        side: Side | str,
        qty: Number,
        *,
        type: OrderType | str = OrderType.LIMIT,
        price: Number | None = None,
        stop_price: Number | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        client_order_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Order:
        """Place an order and return it; raise `OrderRejected` (nothing changed) when refused."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            inst = self._instrument(instrument)
            order = self._build(acct, inst, Side(side), qty, OrderType(type), price, stop_price, TimeInForce(tif),
                                post_only, reduce_only, client_order_id, extra, now)  # fmt: skip
            if order.is_stop and not self._stop_hit(inst, order, now):
                self._register(acct, order)
                self._rest_stop(order)
                return order
            if order.is_stop:
                order.triggered_at = now
            self._execute(acct, inst, order, now, new=True)
            return order

    def amend(
        self,
        account_id: str,
        order_id: str | None = None,
        *,
        client_order_id: str | None = None,
        qty: Number | None = None,
        price: Number | None = None,
        stop_price: Number | None = None,
    ) -> Order:
        """Change an open order's quantity, limit price and/or stop price, keeping its id."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            order = self._find(acct, order_id, client_order_id)
            if not order.is_open:
                raise OrderRejected(RejectReason.ORDER_NOT_OPEN, f"order {order.id} is {order.status.value}")
            inst = self._instrument(order.instrument)
            new_qty = order.qty if qty is None else check_qty(inst, qty)
            if new_qty <= order.filled_qty:
                raise OrderRejected(
                    RejectReason.INVALID_QTY, f"qty must exceed the filled {order.filled_qty}", order=order
                )
            if price is not None and order.type not in LIMIT_TYPES:
                raise OrderRejected(RejectReason.INVALID_ORDER, f"a {order.type.value} order has no price")
            if stop_price is not None and not order.is_stop:
                raise OrderRejected(RejectReason.INVALID_ORDER, f"a {order.type.value} order has no stop price")
            new_price = order.price if price is None else check_price(inst, price, "price")
            new_stop = order.stop_price if stop_price is None else check_price(inst, stop_price, "stop_price")
            if order.reduce_only:
                check_reduce_only(acct, inst, order.side, new_qty - order.filled_qty)
            old = (order.qty, order.price, order.stop_price)
            if order.status is OrderStatus.UNTRIGGERED:
                self._unrest(acct, inst, order)
                order.qty, order.price, order.stop_price = new_qty, new_price, new_stop
                order.updated_at = now
                if self._stop_hit(inst, order, now):
                    self._trigger(order, now)
                else:
                    self._rest_stop(order)
                return order
            self._unrest(acct, inst, order)
            order.qty, order.price, order.stop_price = new_qty, new_price, new_stop
            try:
                self._execute(acct, inst, order, now, new=False)
            except OrderRejected:
                order.qty, order.price, order.stop_price = old
                self._rest(acct, inst, order, now)
                raise
            order.updated_at = now
            return order

    def cancel(self, account_id: str, order_id: str | None = None, *, client_order_id: str | None = None) -> Order:
        """Cancel an open order and return it."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            order = self._find(acct, order_id, client_order_id)
            if not order.is_open:
                raise OrderRejected(RejectReason.ORDER_NOT_OPEN, f"order {order.id} is {order.status.value}")
            self._cancel(acct, order, CancelReason.USER, now)
            return order

    def cancel_all(self, account_id: str, instrument: str | None = None) -> list[Order]:
        """Cancel every open order of the account (optionally of one instrument); return them."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            out = [o for o in acct.orders.values() if o.is_open and (instrument is None or o.instrument == instrument)]
            for order in out:
                self._cancel(acct, order, CancelReason.USER, now)
            return out

    def close_position(self, account_id: str, instrument: str, *, client_order_id: str | None = None) -> Order:
        """Flatten a position with a reduce-only market order; NO_POSITION when flat."""
        with self._lock:
            self._now()
            qty = self.account(account_id).position_qty(self._instrument(instrument).symbol)
            if qty == 0:
                raise OrderRejected(RejectReason.NO_POSITION, f"no position in {instrument}")
            side = Side.SELL if qty > 0 else Side.BUY
            return self.submit(account_id, instrument, side, abs(qty), type=OrderType.MARKET, reduce_only=True,
                               client_order_id=client_order_id)  # fmt: skip

    def order(self, account_id: str, order_id: str | None = None, *, client_order_id: str | None = None) -> Order:
        """Return one of the account's orders by id or client order id (ORDER_NOT_FOUND when missing)."""
        with self._lock:
            self._now()
            return self._find(self.account(account_id), order_id, client_order_id)

    def open_orders(self, account_id: str, instrument: str | None = None) -> list[Order]:
        """Return the account's open orders (including untriggered stops), oldest first."""
        with self._lock:
            self._now()
            acct = self.account(account_id)
            return [o for o in acct.orders.values() if o.is_open and (instrument is None or o.instrument == instrument)]

    def order_history(self, account_id: str, instrument: str | None = None) -> list[Order]:
        """Return every order the account placed, oldest first."""
        with self._lock:
            self._now()
            acct = self.account(account_id)
            return [o for o in acct.orders.values() if instrument is None or o.instrument == instrument]

    def fills(self, account_id: str, instrument: str | None = None) -> list[Fill]:
        """Return the account's fills, oldest first."""
        with self._lock:
            self._now()
            acct = self.account(account_id)
            return [f for f in acct.fills if instrument is None or f.instrument == instrument]

    def ledger(self, account_id: str) -> list[LedgerEntry]:
        """Return the account's funding payments and expiry settlements, oldest first."""
        with self._lock:
            self._now()
            return list(self.account(account_id).ledger)

    def positions(self, account_id: str) -> list[PositionSnapshot]:
        """Return the account's open positions valued now."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            return [self._valuer.snapshot(acct, p, now) for p in acct.positions.values()]

    def position(self, account_id: str, instrument: str) -> PositionSnapshot | None:
        """Return one position valued now, or None when flat."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            p = acct.positions.get(instrument)
            return self._valuer.snapshot(acct, p, now) if p is not None else None

    def summary(self, account_id: str, currency: str) -> AccountSummary:
        """Return cash, unrealized PnL, equity, margins and available funds in one settle currency."""
        with self._lock:
            now = self._now()
            return self._valuer.summary(self.account(account_id), currency, now)

    def summaries(self, account_id: str) -> list[AccountSummary]:
        """Return a summary for every currency the account holds or settles in."""
        with self._lock:
            now = self._now()
            acct = self.account(account_id)
            ccys = set(acct.balances) | {self._instrument(s).settle_currency for s in acct.positions}
            return [self._valuer.summary(acct, c, now) for c in sorted(ccys)]

    def book(self, instrument: str, depth: int = 25) -> OrderBook:
        """Return the book as the venue shows it: model levels less what was taken this second, plus resting orders."""
        with self._lock:
            now = self._now()
            inst = self._instrument(instrument)
            used = self._liquidity.used(inst.symbol, now)
            base = self.market.book(inst.symbol, now, min(depth + len(used), BOOK_MAX_DEPTH))
            bids = {p: q - used.get(p, 0) for p, q in zip(base.bid_ticks, base.bid_lots, strict=True)}
            asks = {p: q - used.get(p, 0) for p, q in zip(base.ask_ticks, base.ask_lots, strict=True)}
            resting = self._resting.get(inst.symbol)
            if resting is not None:
                floor_bid = base.bid_ticks[-1] if base.bid_ticks else 1
                cap_ask = base.ask_ticks[-1] if base.ask_ticks else 0
                for side, orders in (
                    (bids, resting.bids.at_or_above(floor_bid)),
                    (asks, resting.asks.at_or_below(cap_ask)),
                ):
                    for order in orders:
                        assert order.price is not None
                        p = int(order.price / inst.tick_size)
                        side[p] = side.get(p, 0) + int(order.remaining / inst.lot_size)
            bid_levels = sorted(((p, q) for p, q in bids.items() if q > 0), reverse=True)[:depth]
            ask_levels = sorted((p, q) for p, q in asks.items() if q > 0)[:depth]
            return OrderBook(
                inst,
                now,
                base.mid,
                [p for p, _ in bid_levels],
                [q for _, q in bid_levels],
                [p for p, _ in ask_levels],
                [q for _, q in ask_levels],
            )


__all__ = ["Exchange", "next_utc_midnight"]
