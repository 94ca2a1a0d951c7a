"""The shared matching engine with the hooks IBKR's linked orders need (brackets and OCA groups).

The engine replays time lazily (`advance`), so an order that must start working when another one
fills cannot wait for the next request: it has to be live from the instant of that fill. This
subclass tells a `Listener` about every fill as it happens (OCA siblings are cancelled at that
instant) and, after every timed event of a replay, lets the listener settle linked orders (a filled
bracket parent activates its children). When that changed anything, the replay restarts from that
instant, so the new orders are matched over the rest of the interval exactly like older ones.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Any, Protocol

from cerbero_mcp.simulators.engine import Exchange, Order, OrderType, Side, TimeInForce
from cerbero_mcp.simulators.engine.accounts import Account
from cerbero_mcp.simulators.engine.instruments import Instrument


class Listener(Protocol):
    """What the venue's order desk hears from the engine."""

    def on_fill(self, order: Order, t: float) -> None:
        """An engine order filled (part of) its quantity at `t`."""
        ...

    def settle(self, t: float) -> bool:
        """Act on linked orders at `t`; return whether anything changed."""
        ...


class _Restart(Exception):
    def __init__(self, t: float) -> None:
        super().__init__(t)
        self.t = t


class IbkrEngine(Exchange):
    """`Exchange` plus fill notifications and restartable replays (see the module docstring)."""

    listener: Listener | None = None
    _replaying = False

    def _apply_fill(
        self, acct: Account, inst: Instrument, order: Order, price: Decimal, qty: Decimal, liquidity: str, t: float
    ) -> None:
        super()._apply_fill(acct, inst, order, price, qty, liquidity, t)
        if self.listener is not None:
            self.listener.on_fill(order, t)

    def _maker_fill(self, order: Order, t: float) -> None:
        super()._maker_fill(order, t)
        self._after_event(t)

    def _trigger(self, order: Order, t: float) -> None:
        super()._trigger(order, t)
        self._after_event(t)

    def _after_event(self, t: float) -> None:
        if self._replaying and self.listener is not None and self.listener.settle(t):
            raise _Restart(t)

    def _run(self, t0: float, t1: float) -> None:
        start = t0
        while True:
            due = [item for item in self._day_heap if item[0] <= t1]
            self._replaying = True
            try:
                super()._run(start, t1)
                return
            except _Restart as restart:
                start = restart.t
                # DAY expiries popped for the abandoned pass and not yet played go back on the heap
                for item in due:
                    order = self._orders.get(item[1])
                    if order is not None and order.is_open and item not in self._day_heap:
                        heapq.heappush(self._day_heap, item)
            finally:
                self._replaying = False

    def submit_at(
        self,
        account_id: str,
        symbol: str,
        side: Side,
        qty: Decimal,
        *,
        type: OrderType,
        price: Decimal | None,
        stop_price: Decimal | None,
        tif: TimeInForce,
        extra: dict[str, Any],
        t: float,
    ) -> Order:
        """Place an order at instant `t` (inside a replay); like `submit`, OrderRejected changes nothing."""
        with self._lock:
            acct = self.account(account_id)
            inst = self._instrument(symbol)
            order = self._build(acct, inst, side, qty, type, price, stop_price, tif, False, False, None, extra, t)
            if order.is_stop and not self._stop_hit(inst, order, t):
                self._register(acct, order)
                self._rest_stop(order)
                return order
            if order.is_stop:
                order.triggered_at = t
            self._execute(acct, inst, order, t, new=True)
            return order

    def cancel_at(self, order: Order, t: float) -> None:
        """Cancel an open order at instant `t` (used for OCA siblings, inside a replay)."""
        from cerbero_mcp.simulators.engine import CancelReason

        with self._lock:
            if order.is_open:
                self._cancel(self.account(order.account_id), order, CancelReason.USER, t)
