"""The matching engine's state machine: execution, resting orders, and the timed events of `advance`.

`matching.Exchange` is the public face; this module keeps the mechanics (see its docstring).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.engine.accounts import Account, Position, opening_qty
from cerbero_mcp.simulators.engine.book import Ladder, Liquidity, RestingBook
from cerbero_mcp.simulators.engine.clock import Clock
from cerbero_mcp.simulators.engine.instruments import Instrument, InstrumentKind
from cerbero_mcp.simulators.engine.market import MarketModel
from cerbero_mcp.simulators.engine.orders import (
    ZERO,
    CancelReason,
    Fill,
    Order,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
    money,
)
from cerbero_mcp.simulators.engine.paths import FloatArray
from cerbero_mcp.simulators.engine.settlement import pay_funding, settle_expiry
from cerbero_mcp.simulators.engine.validation import (
    STOP_TYPES,
    Number,
    check_reduce_only,
    check_shape,
)
from cerbero_mcp.simulators.engine.valuation import CASH_KINDS, Valuer, dec

DAY = 86_400


def next_utc_midnight(t: float) -> float:
    """Return the first UTC midnight after `t` (the default end of a DAY order)."""
    return float((math.floor(t / DAY) + 1) * DAY)


class EngineCore:
    """State and mechanics of the matching engine; `Exchange` adds the public, locked API."""

    def __init__(
        self,
        market: MarketModel,
        clock: Clock,
        *,
        id_factory: Callable[[str, int], str] | None = None,
        day_end: Callable[[float], float] = next_utc_midnight,
        settle_funding: bool = True,
    ) -> None:
        """Serve `market` on `clock`; `id_factory(kind, n)` names orders ("order") and fills ("fill")."""
        self.market = market
        self.clock = clock
        self._id_factory = id_factory or (lambda _kind, n: str(n))
        self._day_end = day_end
        self._settle_funding = settle_funding
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, Order] = {}
        self._resting: dict[str, RestingBook] = {}
        self._where: dict[str, tuple[Ladder, int]] = {}
        self._liquidity = Liquidity(market)
        self._valuer = Valuer(market)
        self._day_heap: list[tuple[float, str]] = []
        self._expired: set[str] = set()
        self._order_seq = itertools.count(1)
        self._fill_seq = itertools.count(1)
        self._event_seq = itertools.count()
        self._last = clock.now()

    def account(self, account_id: str) -> Account:
        """Return the live account state (OrderRejected UNKNOWN_ACCOUNT when missing)."""
        acct = self._accounts.get(account_id)
        if acct is None:
            raise OrderRejected(RejectReason.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
        return acct

    def advance(self, now: float | None = None) -> None:
        """Play every event between the last call and `now` (default: the clock) in time order."""
        with self._lock:
            t1 = self.clock.now() if now is None else now
            t0 = self._last
            if t1 <= t0:
                return
            self._run(t0, t1)
            self._last = t1

    def _now(self) -> float:
        now = self.clock.now()
        self.advance(now)
        return max(now, self._last)

    def _instrument(self, symbol: str) -> Instrument:
        try:
            return self.market.instrument(symbol)
        except KeyError:
            raise OrderRejected(RejectReason.UNKNOWN_INSTRUMENT, f"unknown instrument {symbol!r}") from None

    def _build(
        self,
        acct: Account,
        inst: Instrument,
        side: Side,
        qty_in: Number,
        otype: OrderType,
        price_in: Number | None,
        stop_in: Number | None,
        tif: TimeInForce,
        post_only: bool,
        reduce_only: bool,
        client_order_id: str | None,
        extra: dict[str, Any] | None,
        now: float,
    ) -> Order:
        if inst.symbol in self._expired or (inst.expiry is not None and inst.expiry <= now):
            raise OrderRejected(RejectReason.INSTRUMENT_EXPIRED, f"{inst.symbol} has expired")
        qty, price, stop = check_shape(inst, otype, qty_in, price_in, stop_in, tif, post_only)
        if inst.min_notional > 0:
            ref = price or stop or dec(self.market.mid(inst.symbol, now))
            if inst.quote_notional(qty, ref) < inst.min_notional:
                raise OrderRejected(
                    RejectReason.MIN_NOTIONAL,
                    f"order value below the minimum notional {inst.min_notional}",
                    details={"min_notional": str(inst.min_notional)},
                )
        if client_order_id is not None and client_order_id in acct.client_ids:
            raise OrderRejected(
                RejectReason.DUPLICATE_CLIENT_ORDER_ID,
                f"client order id {client_order_id!r} is already used by order {acct.client_ids[client_order_id]}",
            )
        if reduce_only:
            check_reduce_only(acct, inst, side, qty)
        status = OrderStatus.UNTRIGGERED if otype in STOP_TYPES else OrderStatus.NEW
        return Order(
            id=self._id_factory("order", next(self._order_seq)),
            account_id=acct.id,
            instrument=inst.symbol,
            side=side,
            type=otype,
            qty=qty,
            price=price,
            stop_price=stop,
            tif=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            client_order_id=client_order_id,
            status=status,
            created_at=now,
            updated_at=now,
            extra=dict(extra or {}),
        )

    def _find(self, acct: Account, order_id: str | None, client_order_id: str | None) -> Order:
        if order_id is None and client_order_id is not None:
            order_id = acct.client_ids.get(client_order_id)
        order = acct.orders.get(order_id) if order_id is not None else None
        if order is None:
            ref = order_id if order_id is not None else client_order_id
            raise OrderRejected(RejectReason.ORDER_NOT_FOUND, f"no order {ref!r} in account {acct.id}")
        return order

    def _register(self, acct: Account, order: Order) -> None:
        acct.orders[order.id] = order
        self._orders[order.id] = order
        if order.client_order_id is not None:
            acct.client_ids[order.client_order_id] = order.id
        if order.tif is TimeInForce.DAY:
            heapq.heappush(self._day_heap, (self._day_end(order.created_at), order.id))

    def _stop_hit(self, inst: Instrument, order: Order, t: float) -> bool:
        assert order.stop_price is not None
        mid = self.market.mid(inst.symbol, t)
        stop = float(order.stop_price)
        return mid >= stop if order.side is Side.BUY else mid <= stop

    def _execute(self, acct: Account, inst: Instrument, order: Order, t: float, *, new: bool) -> None:
        """Take what crosses, rest or cancel the remainder; raise before changing anything if refused."""
        lot = inst.lot_size
        want = int(order.remaining / lot)
        clipped = False
        if order.reduce_only:
            pos = acct.position_qty(inst.symbol)
            allowed = abs(pos) if pos != 0 and (pos > 0) == (order.side is Side.SELL) else ZERO
            if allowed < order.remaining:
                if not new and allowed == 0:
                    self._cancel(acct, order, CancelReason.REDUCE_ONLY, t)
                    return
                want, clipped = int(allowed / lot), True
        limit = int(order.price / inst.tick_size) if order.price is not None else None
        takes = self._liquidity.walk(inst, order.side, want, limit, t)
        got = sum(lots for _, lots in takes)
        if order.post_only and got:
            raise OrderRejected(
                RejectReason.POST_ONLY_WOULD_TAKE,
                f"post-only {order.side.value} at {order.price} would take liquidity",
                details={"best_price": str(inst.price_of_ticks(takes[0][0]))},
                order=order,
            )
        if order.tif is TimeInForce.FOK and got < want:
            raise OrderRejected(
                RejectReason.FOK_NOT_FILLABLE,
                f"only {inst.qty_of_lots(got)} of {order.remaining} available at or better than the limit",
                order=order,
            )
        rests = limit is not None and order.tif in (TimeInForce.GTC, TimeInForce.DAY) and not clipped
        rest_qty = inst.qty_of_lots(want - got) if rests else ZERO
        fills = [(inst.price_of_ticks(p), inst.qty_of_lots(lots)) for p, lots in takes]
        self._valuer.check_funds(acct, inst, order, fills, rest_qty, t)
        self._liquidity.consume(inst, t, takes)
        if new:
            self._register(acct, order)
        for price, qty in fills:
            self._apply_fill(acct, inst, order, price, qty, "taker", t)
        if rest_qty:
            self._rest(acct, inst, order, t)
        elif order.remaining > 0:
            reason = CancelReason.REDUCE_ONLY if clipped else CancelReason.IOC_REMAINDER
            self._cancel(acct, order, reason, t)

    def _apply_fill(
        self, acct: Account, inst: Instrument, order: Order, price: Decimal, qty: Decimal, liquidity: str, t: float
    ) -> None:
        sym, ccy = inst.symbol, inst.settle_currency
        pos = acct.positions.get(sym)
        if pos is None:
            pos = acct.positions[sym] = Position(sym)
        realized = pos.apply(inst, order.sign * qty, price)
        pos.updated_at = t
        if pos.qty == 0:
            del acct.positions[sym]
        fee = money(inst.notional(qty, price) * (inst.maker_fee if liquidity == "maker" else inst.taker_fee))
        acct.credit(ccy, realized - fee)
        acct.realized[ccy] = acct.realized.get(ccy, ZERO) + realized
        acct.fees[ccy] = acct.fees.get(ccy, ZERO) + fee
        prev = order.filled_qty
        order.filled_qty = prev + qty
        order.avg_fill_price = price if not prev or order.avg_fill_price is None else (
            (order.avg_fill_price * prev + price * qty) / order.filled_qty
        )  # fmt: skip
        order.status = OrderStatus.FILLED if order.filled_qty == order.qty else OrderStatus.PARTIALLY_FILLED
        order.updated_at = t
        acct.fills.append(
            Fill(
                self._id_factory("fill", next(self._fill_seq)),
                order.id,
                order.client_order_id,
                acct.id,
                sym,
                order.side,
                qty,
                price,
                fee,
                ccy,
                liquidity,
                t,
                realized,
            )
        )

    def _rest(self, acct: Account, inst: Instrument, order: Order, t: float) -> None:
        """Put a limit order's remainder on the book and reserve the margin of what it would open."""
        assert order.price is not None
        sign = order.sign
        opening = opening_qty(acct.position_qty(inst.symbol), sign * order.remaining)
        if opening:
            margin = self._valuer.margin(acct, inst, sign * opening, order.price, t)
            acct.reserve(order.id, inst.settle_currency, margin)
        if order.side is Side.SELL and inst.kind in CASH_KINDS:
            acct.open_sell_qty[inst.symbol] = acct.open_sell_qty.get(inst.symbol, ZERO) + order.remaining
        book = self._resting.setdefault(inst.symbol, RestingBook())
        ladder = book.bids if order.side is Side.BUY else book.asks
        ticks = int(order.price / inst.tick_size)
        ladder.add(ticks, order)
        self._where[order.id] = (ladder, ticks)

    def _rest_stop(self, order: Order) -> None:
        inst = self.market.instrument(order.instrument)
        assert order.stop_price is not None
        book = self._resting.setdefault(inst.symbol, RestingBook())
        ladder = book.buy_stops if order.side is Side.BUY else book.sell_stops
        ticks = int(order.stop_price / inst.tick_size)
        ladder.add(ticks, order)
        self._where[order.id] = (ladder, ticks)

    def _unrest(self, acct: Account, inst: Instrument, order: Order) -> None:
        """Take an order off the book (or the stop list) and release what it reserved."""
        where = self._where.pop(order.id, None)
        if where is None:
            return
        ladder, ticks = where
        ladder.remove(ticks, order.id)
        acct.release(order.id, inst.settle_currency)
        if order.side is Side.SELL and inst.kind in CASH_KINDS and order.status is not OrderStatus.UNTRIGGERED:
            acct.open_sell_qty[inst.symbol] = acct.open_sell_qty.get(inst.symbol, ZERO) - order.remaining

    def _cancel(self, acct: Account, order: Order, reason: CancelReason, t: float) -> None:
        self._unrest(acct, self.market.instrument(order.instrument), order)
        order.status = OrderStatus.CANCELLED
        order.cancel_reason = reason
        order.updated_at = t

    def _trigger(self, order: Order, t: float) -> None:
        acct = self._accounts[order.account_id]
        inst = self.market.instrument(order.instrument)
        self._unrest(acct, inst, order)
        order.status = OrderStatus.NEW
        order.triggered_at = order.updated_at = t
        try:
            self._execute(acct, inst, order, t, new=False)
        except OrderRejected as exc:
            order.status = OrderStatus.REJECTED
            order.reject_reason = exc.reason

    def _maker_fill(self, order: Order, t: float) -> None:
        acct = self._accounts[order.account_id]
        inst = self.market.instrument(order.instrument)
        assert order.price is not None
        qty = order.remaining
        if order.reduce_only:
            pos = acct.position_qty(inst.symbol)
            allowed = abs(pos) if pos != 0 and (pos > 0) == (order.side is Side.SELL) else ZERO
            qty = min(qty, allowed)
        self._unrest(acct, inst, order)
        if qty > 0:
            self._apply_fill(acct, inst, order, order.price, qty, "maker", t)
        if order.remaining > 0:
            self._cancel(acct, order, CancelReason.REDUCE_ONLY, t)

    def _run(self, t0: float, t1: float) -> None:
        events: list[tuple[float, int, str, str]] = []
        for sym, book in self._resting.items():
            if book:
                self._schedule(events, sym, book, t0, t1)
        while self._day_heap and self._day_heap[0][0] <= t1:
            end, oid = heapq.heappop(self._day_heap)
            heapq.heappush(events, (max(end, t0), next(self._event_seq), "expire", oid))
        active = {s for a in self._accounts.values() for s in a.positions} | {s for s, b in self._resting.items() if b}
        for sym in active:
            inst = self.market.instrument(sym)
            if inst.expiry is not None and t0 < inst.expiry <= t1 and sym not in self._expired:
                heapq.heappush(events, (inst.expiry, next(self._event_seq), "settle", sym))
            if self._settle_funding and inst.kind is InstrumentKind.PERPETUAL:
                for ts in self.market.funding_times(sym, t0, t1):
                    heapq.heappush(events, (ts, next(self._event_seq), "funding", sym))
        while events:
            t, _, kind, ref = heapq.heappop(events)
            if kind == "fill" or kind == "trigger":
                order = self._orders[ref]
                if not order.is_open or (kind == "fill") == (order.status is OrderStatus.UNTRIGGERED):
                    continue
                if kind == "fill":
                    self._maker_fill(order, t)
                else:
                    self._trigger(order, t)
                    if order.is_open and order.id in self._where:  # a stop-limit now resting
                        self._schedule_order(events, order, t, t1)
            elif kind == "expire":
                order = self._orders[ref]
                if order.is_open:
                    self._cancel(self._accounts[order.account_id], order, CancelReason.EXPIRED, t)
            elif kind == "settle":
                self._expire_instrument(ref, t)
            else:
                pay_funding(self.market, self._accounts.values(), self.market.instrument(ref), t)

    def _schedule(
        self, events: list[tuple[float, int, str, str]], sym: str, book: RestingBook, t0: float, t1: float
    ) -> None:
        points = self.market.path_points(sym, t0, t1)
        lo, hi = float(points[1].min()), float(points[1].max())
        tick = float(self.market.instrument(sym).tick_size)
        lo_ticks, hi_ticks = math.ceil(lo / tick - 1e-9), math.floor(hi / tick + 1e-9)
        for order in book.crossed_candidates(lo_ticks, hi_ticks):
            self._schedule_order(events, order, t0, t1, points)

    def _schedule_order(
        self,
        events: list[tuple[float, int, str, str]],
        order: Order,
        t0: float,
        t1: float,
        points: tuple[FloatArray, FloatArray] | None = None,
    ) -> None:
        stop = order.status is OrderStatus.UNTRIGGERED
        level = order.stop_price if stop else order.price
        assert level is not None
        up = (order.side is Side.BUY) == stop  # buy stops and sell limits wait for the mid to rise
        t = self.market.first_cross(order.instrument, t0, t1, float(level), up, points)
        if t is not None:
            heapq.heappush(events, (t, next(self._event_seq), "trigger" if stop else "fill", order.id))

    def _expire_instrument(self, sym: str, t: float) -> None:
        """Cancel the instrument's open orders, then settle its positions."""
        inst = self.market.instrument(sym)
        self._expired.add(sym)
        for acct in self._accounts.values():
            for order in [o for o in acct.orders.values() if o.is_open and o.instrument == sym]:
                self._cancel(acct, order, CancelReason.INSTRUMENT_EXPIRED, t)
        settle_expiry(self.market, self._accounts.values(), inst, t)
