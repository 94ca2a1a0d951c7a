"""The IBKR simulator's order desk: placing with reply questions, brackets and OCA groups, modify, cancel.

It keeps IBKR's view of every order (`IbOrder`: the spec, links, the engine order once it works)
and is the engine's `Listener`: a fill cancels the order's OCA group and bracket siblings at that
instant, and a finished parent starts (or cancels) its waiting children at that instant. The
rules are in `orders.py`'s docstring.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from cerbero_mcp.simulators.engine import Order, OrderRejected, OrderStatus, OrderType, Side
from cerbero_mcp.simulators.ibkr.market import IbkrMarket
from cerbero_mcp.simulators.ibkr.matching import IbkrEngine
from cerbero_mcp.simulators.ibkr.orders import (
    COID_WINDOW_S,
    FIRST_ORDER_ID,
    REPLY_TTL_S,
    TIFS,
    IbOrder,
    OrderSpec,
    Pending,
    Rejection,
    parse_order,
    questions,
    reject_text,
)


class OrderDesk:
    """The orders of the one account of a simulator instance; the engine's `Listener`."""

    def __init__(self, market: IbkrMarket, engine: IbkrEngine, account_id: str) -> None:
        """Serve `account_id` on `engine`."""
        self.market = market
        self.engine = engine
        self.account_id = account_id
        self.orders: dict[int, IbOrder] = {}
        self.by_engine: dict[str, IbOrder] = {}
        self.coids: dict[str, IbOrder] = {}
        self.groups: dict[int, list[IbOrder]] = {}
        self.waiting: set[int] = set()  # parents whose children wait for them
        self.trailing: set[int] = set()  # working trailing orders
        self.suppressed: set[str] = set()
        self.pending: Pending | None = None
        self._ids = itertools.count(FIRST_ORDER_ID)
        self._group_ids = itertools.count(1)
        engine.listener = self

    def _questions(self, specs: list[OrderSpec], now: float, *, margin: bool = True) -> list[tuple[str, str]]:
        asked = questions(specs, self.market, self.engine, self.account_id, now, margin=margin)
        return [(k, v) for k, v in asked.items() if k not in self.suppressed]

    def _ask_or_run(self, questions: list[tuple[str, str]], action: Callable[[float], Any], now: float) -> Any:
        self.pending = None  # an unanswered question is dropped by the next order request
        if questions:
            self.pending = Pending(str(uuid.uuid4()), questions, action, now + REPLY_TTL_S)
            return self.pending.question_json()
        return action(now)

    def reply(self, reply_id: str, body: Any, now: float) -> Any:
        """Serve POST /iserver/reply/{id}: the next question, or the placement once none is left."""
        p = self.pending
        if p is None or p.reply_id != reply_id or p.expires_at < now:
            raise Rejection(f"Reply ID {reply_id} is not valid or has expired", 400)
        confirmed = body.get("confirmed") if isinstance(body, dict) else None
        if not isinstance(confirmed, bool):
            raise Rejection("confirmed (true or false) is required", 400)
        if not confirmed:
            self.pending = None
            raise Rejection("The order was not confirmed and has not been placed")
        p.questions.pop(0)
        if p.questions:
            p.reply_id = str(uuid.uuid4())
            return p.question_json()
        self.pending = None
        return p.action(now)

    def suppress(self, body: Any) -> dict[str, str]:
        """Serve POST /iserver/questions/suppress {"messageIds": [...]}."""
        ids = body.get("messageIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise Rejection("messageIds: a non-empty list of strings is required", 400)
        self.suppressed.update(ids)
        return {"status": "submitted"}

    # --- placing --------------------------------------------------------------------------------

    def place(self, body: Any, now: float) -> Any:
        """Serve POST /iserver/account/{acct}/orders: a question, the placed orders, or a Rejection."""
        raw = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(raw, list) or not raw:
            raise Rejection('the body must be {"orders": [ ... ]} with at least one order', 400)
        specs = [parse_order(o, self.market, self.account_id) for o in raw]
        self._link(specs, now)
        return self._ask_or_run(self._questions(specs, now), lambda t: self._execute(specs, t), now)

    def _coid_taken(self, coid: str, now: float) -> bool:
        held = self.coids.get(coid)
        return held is not None and held.created_at > now - COID_WINDOW_S

    def _link(self, specs: list[OrderSpec], now: float) -> list[int | None]:
        """Return each spec's parent (its index in the request, or None); check the linkage."""
        seen: set[str] = set()
        for s in specs:
            if s.coid is not None:
                if s.coid in seen or self._coid_taken(s.coid, now):
                    raise Rejection(f"Local order ID={s.coid} is already registered.")
                seen.add(s.coid)
        parents: list[int | None] = []
        for i, s in enumerate(specs):
            if s.parent_ref is None:
                parents.append(None)
                continue
            j = next((k for k in range(i) if specs[k].coid == s.parent_ref), None)
            if j is None:
                # IBKR links parentId only within one orders array: a parent sent earlier is not found.
                raise Rejection(f"parentId {s.parent_ref} does not match the cOID of a parent order in this request")
            if specs[j].parent_ref is not None:
                raise Rejection("a bracket child cannot itself be the parent of an order")
            parents.append(j)
            parent_spec = specs[j]
            if parent_spec.contract.conid != s.contract.conid:
                raise Rejection("a bracket child must trade the same conid as its parent")
            if parent_spec.side == s.side:
                raise Rejection("a bracket child must be on the opposite side of its parent (it closes the entry)")
        roots = [s for s, p in zip(specs, parents, strict=True) if p is None and not s.single_group]
        if len(specs) > 1 and len(roots) + (1 if any(s.single_group for s in specs) else 0) > 1:
            raise Rejection("several orders in one request must form a bracket (children with parentId = the "
                            "parent's cOID) or an OCA group (isSingleGroup: true)")  # fmt: skip
        return parents

    def _execute(self, specs: list[OrderSpec], t: float) -> list[dict[str, Any]]:
        parents = self._link(specs, t)  # checked again: time may have passed while a question waited
        created: list[IbOrder] = []
        for s, p in zip(specs, parents, strict=True):
            parent = created[p] if p is not None else None
            o = IbOrder(next(self._ids), s, t, parent.order_id if parent is not None else None, updated_at=t)
            created.append(o)
        group = [o for o in created if o.spec.single_group]
        if len(group) > 1:
            gid = next(self._group_ids)
            self.groups[gid] = group
            for o in group:
                o.oca = gid
        for o in created:
            self.orders[o.order_id] = o
            if o.spec.coid is not None:
                self.coids[o.spec.coid] = o
            if o.parent_id is not None:
                self.orders[o.parent_id].children.append(o.order_id)
                self.waiting.add(o.parent_id)
        for i, o in enumerate(created):
            if o.parent_id is not None or o.state is not None:
                continue
            try:
                self._activate(o, t)
            except OrderRejected as exc:
                if i == 0:
                    self._forget(created)
                else:
                    for other in created[:i]:
                        self.cancel_at(other, t)
                    o.state, o.reason = "Inactive", reject_text(exc)
                raise Rejection(reject_text(exc)) from None
        self.settle_all(t)
        return [self._placed_json(o) for o in created]

    def _forget(self, created: list[IbOrder]) -> None:
        for o in created:
            self.orders.pop(o.order_id, None)
            if o.spec.coid is not None and self.coids.get(o.spec.coid) is o:
                del self.coids[o.spec.coid]
            if o.parent_id is not None and o.parent_id in self.orders:
                parent = self.orders[o.parent_id]
                parent.children = [c for c in parent.children if c != o.order_id]
            self.waiting.discard(o.order_id)

    def _placed_json(self, o: IbOrder) -> dict[str, Any]:
        row: dict[str, Any] = {"order_id": str(o.order_id), "order_status": o.status, "encrypt_message": "1"}
        if o.spec.coid is not None:
            row["local_order_id"] = o.spec.coid
        if o.parent_id is not None:
            row["parent_order_id"] = str(o.parent_id)
        return row

    def _engine_terms(self, s: OrderSpec, t: float) -> tuple[OrderType, Decimal | None, Decimal | None]:
        """Return the engine's (type, limit price, stop price) for a spec working from `t`."""
        if s.order_type == "LMT":
            return OrderType.LIMIT, s.price, None
        if s.order_type == "MKT":
            return OrderType.MARKET, None, None
        if s.order_type == "STP":
            return OrderType.STOP_MARKET, None, s.price
        if s.order_type == "STOP_LIMIT":
            return OrderType.STOP_LIMIT, s.price, s.aux
        stop = self._trail_stop(s, t)
        if s.order_type == "TRAIL":
            return OrderType.STOP_MARKET, None, stop
        limit = stop - s.limit_offset if s.side == "SELL" else stop + s.limit_offset
        return OrderType.STOP_LIMIT, limit, stop

    def _trail_stop(self, s: OrderSpec, t: float) -> Decimal:
        assert s.trail is not None
        inst = self.market.model.instrument(s.contract.symbol)
        mid = Decimal(repr(self.market.model.mid(s.contract.symbol, t)))
        gap = mid * s.trail / 100 if s.trail_pct else s.trail
        raw = mid - gap if s.side == "SELL" else mid + gap
        rounding = ROUND_FLOOR if s.side == "SELL" else ROUND_CEILING
        return max((raw / inst.tick_size).to_integral_value(rounding) * inst.tick_size, inst.tick_size)

    def _activate(self, o: IbOrder, t: float, qty: Decimal | None = None) -> None:
        """Send an order to the engine at `t` (OrderRejected leaves nothing behind)."""
        s = o.spec
        otype, price, stop = self._engine_terms(s, t)
        order = self.engine.submit_at(
            self.account_id, s.contract.symbol, Side.BUY if s.side == "BUY" else Side.SELL,
            min(s.qty, qty) if qty is not None else s.qty, type=otype, price=price, stop_price=stop,
            tif=TIFS[s.tif], extra={"ib": o.order_id}, t=t,
        )  # fmt: skip
        o.engine = order
        o.updated_at = t
        self.by_engine[order.id] = o
        if s.trail is not None:
            self.trailing.add(o.order_id)

    # --- the engine's listener ------------------------------------------------------------------

    def on_fill(self, order: Order, t: float) -> None:
        """Cancel the OCA group and the bracket siblings of an order that just filled."""
        o = self.orders.get(order.extra.get("ib", -1))
        if o is None:
            return
        o.updated_at = t
        others: list[IbOrder] = []
        if o.oca is not None:
            others += [x for x in self.groups[o.oca] if x is not o]
        if o.parent_id is not None:
            others += [self.orders[c] for c in self.orders[o.parent_id].children if c != o.order_id]
        for other in others:
            self.cancel_at(other, t)

    def settle_all(self, t: float) -> None:
        """Settle until nothing changes (a started child may fill and start or cancel others)."""
        while self.settle(t):
            continue

    def settle(self, t: float) -> bool:
        """Start the children of filled parents, cancel those of dead ones; return whether anything changed."""
        changed = False
        for pid in sorted(self.waiting):
            p = self.orders[pid]
            e = p.engine
            if (e is not None and e.is_open) or (e is None and p.state is None):
                continue
            self.waiting.discard(pid)
            filled = e.filled_qty if e is not None else Decimal(0)
            for cid in p.children:
                child = self.orders[cid]
                if child.engine is not None or child.state is not None:
                    continue
                changed = True
                if filled <= 0:
                    child.state, child.updated_at = "Cancelled", t
                    continue
                try:
                    self._activate(child, t, filled)
                except OrderRejected as exc:
                    child.state, child.reason, child.updated_at = "Inactive", reject_text(exc), t
        return changed

    def cancel_at(self, o: IbOrder, t: float) -> None:
        """Cancel an order at `t` (engine order or waiting child); `settle` then deals with its children."""
        if o.engine is not None:
            self.engine.cancel_at(o.engine, t)
        elif o.state is None:
            o.state = "Cancelled"
        o.updated_at = t

    # --- trailing, modify, cancel ---------------------------------------------------------------

    def ratchet(self, now: float) -> None:
        """Move the stops of working trailing orders after the mid (simulated at request times only)."""
        for oid in sorted(self.trailing):
            o = self.orders[oid]
            e = o.engine
            if e is None or e.status is not OrderStatus.UNTRIGGERED or e.stop_price is None:
                self.trailing.discard(oid)
                continue
            _, limit, stop = self._engine_terms(o.spec, now)
            assert stop is not None
            if (stop > e.stop_price) if o.spec.side == "SELL" else (stop < e.stop_price):
                try:
                    self.engine.amend(self.account_id, e.id, stop_price=stop, price=limit)
                except OrderRejected:
                    continue

    def find(self, order_id: str) -> IbOrder:
        """Return an order by its IBKR id (Rejection when unknown)."""
        o = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if o is None:
            raise Rejection(f"OrderID {order_id} not found")
        return o

    def modify(self, order_id: str, body: Any, now: float) -> Any:
        """Serve POST /iserver/account/{acct}/order/{id}: the whole order repeated, changed fields applied."""
        o = self.find(order_id)
        if not o.is_open:
            raise Rejection(f"OrderID {order_id} is {o.status.lower()}: it cannot be modified")
        missing = [k for k in ("conid", "orderType", "side", "quantity", "tif") if not isinstance(body, dict) or
                   (body.get(k) is None and not (k == "conid" and body.get("conidex") is not None))]  # fmt: skip
        if missing:
            raise Rejection(f"a modify repeats the whole order; missing {', '.join(missing)}")
        s = parse_order(body, self.market, self.account_id)
        old = o.spec
        for name, a, b in (("conid", s.contract.conid, old.contract.conid), ("side", s.side, old.side),
                           ("orderType", s.order_type, old.order_type), ("tif", s.tif, old.tif)):  # fmt: skip
            if a != b:
                raise Rejection(f"{name} cannot be changed by a modify ({b} → {a}): cancel and place a new order")
        new = replace(old, qty=s.qty, price=s.price, aux=s.aux, trail=s.trail, trail_pct=s.trail_pct,
                      limit_offset=s.limit_offset, outside_rth=s.outside_rth)  # fmt: skip
        return self._ask_or_run(self._questions([new], now, margin=False), lambda t: self._apply(o, new, t), now)

    def _apply(self, o: IbOrder, new: OrderSpec, t: float) -> list[dict[str, Any]]:
        if not o.is_open:
            raise Rejection(f"OrderID {o.order_id} is {o.status.lower()}: it cannot be modified")
        if o.engine is not None:
            otype, price, stop = self._engine_terms(new, t)
            try:
                self.engine.amend(
                    self.account_id, o.engine.id, qty=new.qty,
                    price=price if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
                    stop_price=stop if otype in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) else None,
                )  # fmt: skip
            except OrderRejected as exc:
                raise Rejection(reject_text(exc)) from None
        o.spec, o.updated_at = new, t
        self.settle_all(t)
        return [{"order_id": str(o.order_id), "order_status": o.status, "encrypt_message": "1"}]

    def cancel(self, order_id: str, now: float) -> dict[str, Any]:
        """Serve DELETE /iserver/account/{acct}/order/{id}."""
        o = self.find(order_id)
        if not o.is_open:
            raise Rejection(f"OrderID {order_id} is {o.status.lower()}: it cannot be cancelled")
        self.cancel_at(o, now)
        self.settle_all(now)
        return {"msg": "Request was submitted", "order_id": o.order_id, "conid": o.spec.contract.conid,
                "account": self.account_id}  # fmt: skip
