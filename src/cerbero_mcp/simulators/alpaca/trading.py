"""The Alpaca simulator's account: orders with Alpaca's classes, statuses and replace, positions, activities.

Single orders execute on the shared engine's `Exchange`; this layer adds what Alpaca does around it:

- Market hours: a stock or option order placed outside the regular session is `accepted` and
  queued to the next open (a DAY limit with `extended_hours=true` works in the extended session
  at once); crypto trades around the clock. DAY orders expire at the session close.
- Order classes: `bracket` (entry + take-profit limit + stop-loss legs, the legs `held` until the
  entry fills), `oto` (entry + one leg), `oco` (a take-profit limit and a stop-loss active
  together); when one exit leg fills, the other is canceled; canceling the parent cancels the legs.
- Trailing stops (`trail_price` | `trail_percent`): the high (sell) / low (buy) water mark `hwm`
  follows the mid path between requests; the stop triggers a market order when crossed.
- Replace (PATCH): a new order with a new id and `replaces` = old id; the old one is `replaced`.
- Notional (fractional) market orders: qty = notional / price, down to 9 decimals, at execution.

Every linked event (a queued order reaching the open, a leg activating, a sibling canceled, a
trailing stop triggering) is played when a request brings the account up to its instant.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from cerbero_mcp.simulators.alpaca import hours
from cerbero_mcp.simulators.alpaca.market import AlpacaMarket, Asset
from cerbero_mcp.simulators.alpaca.wire import (
    AlpacaError,
    Params,
    forbidden,
    invalid,
    money,
    not_found,
    parse_time,
    text,
    ts,
)
from cerbero_mcp.simulators.engine import CancelReason, Exchange, OrderRejected, OrderStatus
from cerbero_mcp.simulators.engine import Order as EngineOrder
from cerbero_mcp.simulators.engine.clock import Clock

ACCOUNT = "alpaca"
STARTING_CASH = Decimal(100_000)
ZERO = Decimal(0)
QTY_QUANTUM = Decimal("0.000000001")
MIN_NOTIONAL = Decimal(1)
CLIENT_ID_MAX = 128
PDT_TRADES = 4  # four day trades in five sessions make a pattern day trader
TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIFS = ("day", "gtc", "opg", "cls", "ioc", "fok")
CLASSES = ("simple", "bracket", "oco", "oto")
OPEN = ("new", "accepted", "held", "partially_filled", "pending_new", "accepted_for_bidding")
ENGINE_TYPE = {"market": "market", "limit": "limit", "stop": "stop_market", "stop_limit": "stop_limit"}


@dataclass
class AOrder:
    """One Alpaca order as the venue shows it; `engine_id` links it to the engine once it is working."""

    id: str
    client_order_id: str
    asset: Asset
    side: str
    type: str
    tif: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    extended_hours: bool
    order_class: str
    created_at: float
    status: str = "new"
    engine_id: str | None = None
    parent: str | None = None
    legs: list[str] = field(default_factory=list)
    hwm: Decimal | None = None
    watched_to: float = 0.0
    updated_at: float = 0.0
    filled_at: float | None = None
    canceled_at: float | None = None
    expired_at: float | None = None
    replaced_at: float | None = None
    failed_at: float | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    position_intent: str | None = None


class Trading:
    """The one account of a simulator instance."""

    def __init__(self, market: AlpacaMarket, clock: Clock, seed: int) -> None:
        """Open the account with its starting cash."""
        self.market = market
        self.rng = random.Random(seed)
        self.engine = Exchange(market.model, clock, id_factory=lambda _k, _n: self.new_id(),
                               day_end=hours.next_close, settle_funding=False)  # fmt: skip
        self.engine.open_account(ACCOUNT, {"USD": STARTING_CASH}, leverage=1)
        self.orders: dict[str, AOrder] = {}
        self.by_engine: dict[str, str] = {}
        self.by_client: dict[str, str] = {}
        self.created = clock.now()
        self.account_id = self.new_id()
        self.account_number = f"PA{self.rng.randrange(10**9, 10**10)}"
        self.last_equity = STARTING_CASH
        self.settled_to: float = self.created

    def new_id(self) -> str:
        """Return a fresh UUID4 drawn from the seeded generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # --- the state machine ------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Bring orders and links up to `now`."""
        self.market.ensure_listed(now)
        self.engine.advance(now)
        for _ in range(4):
            if not self._step(now):
                break

    def _step(self, now: float) -> bool:
        changed = False
        for o in list(self.orders.values()):
            if o.engine_id is not None:
                e = self.engine.order(ACCOUNT, o.engine_id)
                status = _status(e)
                if status != o.status and o.status not in ("replaced",):
                    o.status, o.updated_at = status, e.updated_at
                    if status == "filled":
                        o.filled_at = e.updated_at
                    elif status == "canceled":
                        o.canceled_at = e.updated_at
                    elif status == "expired":
                        o.expired_at = e.updated_at
                    changed = True
            elif o.status == "accepted" and self._can_work(o, now):
                self._work(o, now)
                changed = True
            elif o.status == "new" and o.type == "trailing_stop":
                changed |= self._trail(o, now)
            if o.status == "accepted" and o.tif == "day" and o.engine_id is None and now >= self._day_end(o):
                o.status, o.expired_at, o.updated_at = "expired", now, now
                changed = True
        for o in list(self.orders.values()):
            if o.parent is not None or not o.legs:
                continue
            legs = [self.orders[i] for i in o.legs]
            if o.order_class in ("bracket", "oto"):
                if o.status == "filled" and any(leg.status == "held" for leg in legs):
                    for leg in legs:
                        if leg.status == "held":
                            leg.qty = self._filled(o)
                            self._work(leg, now)
                    changed = True
                elif o.status in ("canceled", "expired", "rejected", "replaced"):
                    for leg in legs:
                        if leg.status == "held":
                            leg.status, leg.canceled_at, leg.updated_at = "canceled", now, now
                            changed = True
                exits = legs
            else:
                exits = [o, *legs]
            if any(x.status in ("filled", "partially_filled") for x in exits):
                for x in exits:
                    if x.status in OPEN and x.status != "partially_filled" and x.status != "filled":
                        self._cancel_one(x, now)
                        changed = True
        return changed

    def _day_end(self, o: AOrder) -> float:
        return hours.next_close(o.created_at)

    def _can_work(self, o: AOrder, now: float) -> bool:
        if o.asset.asset_class == "crypto":
            return True
        if hours.is_open(now):
            return True
        return o.extended_hours and hours.is_extended(now)

    def _filled(self, o: AOrder) -> Decimal:
        if o.engine_id is None:
            return o.qty or ZERO
        return self.engine.order(ACCOUNT, o.engine_id).filled_qty

    def _work(self, o: AOrder, now: float) -> None:
        """Send an order to the engine now; a refusal there marks it rejected."""
        qty = o.qty
        if o.notional is not None:
            price = Decimal(repr(self.market.model.mid(o.asset.symbol, now)))
            qty = (o.notional / price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
            o.qty = qty
        etype = ENGINE_TYPE.get(o.type, "market")
        e = None
        for attempt in range(2):
            try:
                e = self.engine.submit(ACCOUNT, o.asset.symbol, o.side, qty or ZERO, type=etype,
                                       price=o.limit_price, stop_price=o.stop_price, tif=_engine_tif(o),
                                       extra={"alpaca_id": o.id})  # fmt: skip
                break
            except OrderRejected:
                siblings = [x for x in self._siblings(o) if x.status in OPEN]
                if attempt or not siblings:
                    o.status, o.failed_at, o.updated_at = "rejected", now, now
                    return
                # exit legs share one quantity: the leg that executes cancels the others first
                for x in siblings:
                    self._cancel_one(x, now)
        assert e is not None
        o.engine_id = e.id
        self.by_engine[e.id] = o.id
        o.status, o.updated_at = _status(e), now
        if o.status == "filled":
            o.filled_at = now

    def _siblings(self, o: AOrder) -> list[AOrder]:
        """Return the other exit orders sharing `o`'s quantity (OCO pair, bracket/OTO legs)."""
        parent = self.orders.get(o.parent) if o.parent is not None else (o if o.legs else None)
        if parent is None:
            return []
        group = [self.orders[i] for i in parent.legs]
        if parent.order_class == "oco":
            group.append(parent)
        return [x for x in group if x.id != o.id] if o in group else []

    def _trail(self, o: AOrder, now: float) -> bool:
        if not self._can_work(o, now):
            o.watched_to = now
            return False
        t0 = max(o.watched_to, o.created_at)
        o.watched_to = now
        if now <= t0:
            return False
        times, values = self.market.model.path_points(o.asset.symbol, t0, now)
        for t, v in zip(times.tolist(), values.tolist(), strict=True):
            px = Decimal(repr(round(v, 4)))
            if o.hwm is None or (px > o.hwm if o.side == "sell" else px < o.hwm):
                o.hwm = px
            stop = self._trail_stop(o)
            if (o.side == "sell" and px <= stop) or (o.side == "buy" and px >= stop):
                saved = o.type
                o.type = "market"
                self._work(o, float(t))
                o.type = saved
                return True
        return False

    def _trail_stop(self, o: AOrder) -> Decimal:
        assert o.hwm is not None
        off = o.trail_price if o.trail_price is not None else o.hwm * (o.trail_percent or ZERO) / 100
        stop = o.hwm - off if o.side == "sell" else o.hwm + off
        return stop.quantize(Decimal("0.01"))

    # --- placing --------------------------------------------------------------------------------------

    def place(self, p: Params, now: float) -> AOrder:
        """Validate and place an order (POST /v2/orders)."""
        symbol = p.opt("symbol")
        if symbol is None:
            raise invalid("symbol is required")
        asset = self.market.asset(symbol)
        if asset is None:
            raise invalid(f'asset "{symbol}" not found')
        side = p.choice("side", ("buy", "sell"))
        if side is None:
            raise invalid("side is required")
        otype = p.choice("type", TYPES) or p.choice("order_type", TYPES)
        if otype is None:
            raise invalid("type is required")
        tif = p.choice("time_in_force", TIFS)
        if tif is None:
            raise invalid("time_in_force is required")
        oclass = p.choice("order_class", (*CLASSES, ""), "simple") or "simple"
        cid = p.opt("client_order_id")
        self._check_client_id(cid)
        o = self._build(asset, side, otype, tif, p, oclass, cid or self.new_id(), now)
        tp = p.raw.get("take_profit")
        sl = p.raw.get("stop_loss")
        legs: list[AOrder] = []
        if oclass == "simple":
            pass
        else:
            if asset.asset_class != "us_equity":
                raise invalid("complex orders are only supported for equities")
            if o.notional is not None or (o.qty is not None and o.qty != o.qty.to_integral_value()):
                raise invalid("fractional orders are not supported for advanced order_class")
            if tif not in ("day", "gtc"):
                raise invalid("time_in_force must be day or gtc for advanced orders")
            legs = self._legs(o, oclass, tp, sl, now)
        self._check_funds(o, now)
        self.orders[o.id] = o
        self.by_client[o.client_order_id] = o.id
        for leg in legs:
            leg.parent = o.id
            o.legs.append(leg.id)
            self.orders[leg.id] = leg
            self.by_client[leg.client_order_id] = leg.id
        if oclass == "oco":
            for x in (o, *legs):
                x.status = "accepted"
            for x in (o, *legs):
                if self._can_work(x, now):
                    self._work(x, now)
        else:
            self._start(o, now)
        self.advance(now)
        return o

    def _start(self, o: AOrder, now: float) -> None:
        if o.type == "trailing_stop":
            o.status, o.watched_to = "new", now
            if self._can_work(o, now):
                o.hwm = Decimal(repr(round(self.market.model.mid(o.asset.symbol, now), 4)))
            return
        o.status = "accepted"
        if self._can_work(o, now):
            self._work(o, now)
            if o.status == "rejected":
                # refused at submission: Alpaca answers the POST with the error and keeps no order
                del self.by_client[o.client_order_id]
                del self.orders[o.id]
                if o.side == "sell":
                    held = self.engine.account(ACCOUNT).position_qty(o.asset.symbol)
                    raise forbidden(f"insufficient qty available for order (requested: {text(o.qty)}, "
                                    f"available: {text(max(held, ZERO))})")  # fmt: skip
                raise forbidden("insufficient buying power")

    def _check_client_id(self, cid: str | None) -> None:
        if cid is None:
            return
        if len(cid) > CLIENT_ID_MAX:
            raise invalid(f"client_order_id must be no more than {CLIENT_ID_MAX} characters")
        if cid in self.by_client:
            raise invalid("client_order_id must be unique")

    def _build(self, asset: Asset, side: str, otype: str, tif: str, p: Params, oclass: str, cid: str,
               now: float) -> AOrder:  # fmt: skip
        qty, notional = p.decimal("qty"), p.decimal("notional")
        if qty is None and notional is None:
            raise invalid("qty or notional is required")
        if qty is not None and notional is not None:
            raise invalid("only one of qty or notional can be specified")
        if qty is not None and qty <= 0:
            raise invalid("qty must be > 0")
        if notional is not None and notional <= 0:
            raise invalid("notional must be > 0")
        limit, stop = p.decimal("limit_price"), p.decimal("stop_price")
        trail_price, trail_percent = p.decimal("trail_price"), p.decimal("trail_percent")
        ext = p.boolean("extended_hours")
        # an OCO's limit price is its take_profit.limit_price (alpaca-py lets it be omitted)
        if otype in ("limit", "stop_limit") and limit is None and oclass != "oco":
            raise invalid("limit_price is required for limit orders")
        if otype in ("stop", "stop_limit") and stop is None:
            raise invalid("stop_price is required for stop orders")
        if otype == "trailing_stop":
            if (trail_price is None) == (trail_percent is None):
                raise invalid("exactly one of trail_price or trail_percent is required")
            if (trail_price or trail_percent or ZERO) <= 0:
                raise invalid("trail must be > 0")
        elif trail_price is not None or trail_percent is not None:
            raise invalid("trail_price and trail_percent are only for trailing_stop orders")
        if otype == "market" and limit is not None:
            raise invalid("limit_price must not be specified for market orders")
        for name, value in (("limit_price", limit), ("stop_price", stop)):
            if value is not None:
                self._check_price(asset, name, value)
        fractional = notional is not None or (qty is not None and qty != qty.to_integral_value())
        if asset.asset_class == "crypto":
            if tif not in ("gtc", "ioc"):
                raise invalid(f"invalid crypto time_in_force: {tif}")
            if otype == "trailing_stop":
                raise invalid("trailing_stop orders are not supported for crypto")
            if qty is not None:
                if qty < asset.min_order_size:
                    raise invalid(f"qty must be >= {text(asset.min_order_size)}")
                if qty % asset.min_trade_increment:
                    raise invalid(f"qty must be in increments of {text(asset.min_trade_increment)}")
        elif asset.asset_class == "us_option":
            if qty is None or qty != qty.to_integral_value():
                raise invalid("qty must be a whole number of contracts for options")
            if tif != "day":
                raise invalid("only day orders are supported for options")
            if otype not in ("market", "limit", "stop", "stop_limit"):
                raise invalid(f"{otype} orders are not supported for options")
            if ext:
                raise invalid("extended hours are not supported for options")
        else:
            if fractional and tif != "day":
                raise invalid("fractional orders must be DAY orders")
            if notional is not None and otype != "market":
                raise invalid("notional orders are only supported for market orders")
            if qty is not None and qty % QTY_QUANTUM:
                raise invalid("qty must have at most 9 decimal places")
        if ext and (otype != "limit" or tif != "day"):
            raise invalid("extended hours order must be DAY limit orders")
        o = AOrder(self.new_id(), cid, asset, side, otype, tif, qty, notional, limit, stop, trail_price, trail_percent,
                   ext, "" if oclass == "simple" else oclass, now, updated_at=now,
                   position_intent=p.opt("position_intent"))  # fmt: skip
        if asset.asset_class == "us_equity":
            ref = limit or stop or Decimal(repr(self.market.model.mid(asset.symbol, now)))
            value = notional if notional is not None else (qty or ZERO) * ref
            if fractional and value < MIN_NOTIONAL:
                raise forbidden(f"cost basis must be >= minimal amount of order {MIN_NOTIONAL}")
        return o

    def _check_price(self, asset: Asset, name: str, value: Decimal) -> None:
        if value <= 0:
            raise invalid(f"{name} must be > 0")
        step = asset.price_increment
        if asset.asset_class == "us_equity" and value < 1:
            step = Decimal("0.0001")
        if value % step:
            if asset.asset_class == "crypto":
                raise invalid(f"invalid {name} {text(value)}: must be in increments of {text(step)}")
            raise invalid(f"invalid {name} {text(value)}. sub-penny increment does not fulfill minimum pricing "
                          "criteria")  # fmt: skip

    def _legs(self, o: AOrder, oclass: str, tp: Any, sl: Any, now: float) -> list[AOrder]:
        exit_side = "sell" if o.side == "buy" else "buy"
        tp_p = Params(tp) if isinstance(tp, dict) else None
        sl_p = Params(sl) if isinstance(sl, dict) else None
        if oclass == "bracket" and (tp_p is None or sl_p is None):
            raise invalid("bracket orders require take_profit and stop_loss")
        if oclass == "oto" and (tp_p is None) == (sl_p is None):
            raise invalid("oto orders require exactly one of take_profit or stop_loss")
        if oclass == "oco" and (o.type != "limit" or tp_p is None or sl_p is None):
            raise invalid("oco orders must be limit orders with take_profit and stop_loss")
        base = o.limit_price or o.stop_price or Decimal(repr(self.market.model.mid(o.asset.symbol, now)))
        legs: list[AOrder] = []
        buy_entry = o.side == "buy" if oclass != "oco" else o.side == "sell"
        if tp_p is not None:
            tp_limit = tp_p.decimal("limit_price")
            if tp_limit is None:
                raise invalid("take_profit.limit_price is required")
            self._check_price(o.asset, "take_profit.limit_price", tp_limit)
            if oclass == "oco":
                o.limit_price = tp_limit
            else:
                if buy_entry and tp_limit < base + Decimal("0.01"):
                    raise invalid(f"take_profit.limit_price must be >= base_price + 0.01 (base_price: {text(base)})")
                if not buy_entry and tp_limit > base - Decimal("0.01"):
                    raise invalid(f"take_profit.limit_price must be <= base_price - 0.01 (base_price: {text(base)})")
                legs.append(self._leg(o, exit_side, "limit", tp_limit, None))
        if sl_p is not None:
            stop = sl_p.decimal("stop_price")
            if stop is None:
                raise invalid("stop_loss.stop_price is required")
            self._check_price(o.asset, "stop_loss.stop_price", stop)
            sl_limit = sl_p.decimal("limit_price")
            if sl_limit is not None:
                self._check_price(o.asset, "stop_loss.limit_price", sl_limit)
            ref = o.limit_price if oclass == "oco" else base
            assert ref is not None
            if buy_entry and stop > ref - Decimal("0.01"):
                raise invalid(f"stop_loss.stop_price must be <= base_price - 0.01 (base_price: {text(ref)})")
            if not buy_entry and stop < ref + Decimal("0.01"):
                raise invalid(f"stop_loss.stop_price must be >= base_price + 0.01 (base_price: {text(ref)})")
            side = o.side if oclass == "oco" else exit_side
            legs.append(self._leg(o, side, "stop_limit" if sl_limit is not None else "stop", sl_limit, stop))
        return legs

    def _leg(self, o: AOrder, side: str, otype: str, limit: Decimal | None, stop: Decimal | None) -> AOrder:
        return AOrder(self.new_id(), self.new_id(), o.asset, side, otype, o.tif, o.qty, None, limit, stop, None, None,
                      False, o.order_class, o.created_at, status="held", updated_at=o.created_at)  # fmt: skip

    def _check_funds(self, o: AOrder, now: float) -> None:
        """Refuse up front what Alpaca refuses at submission: buying power and available quantity."""
        if o.notional is None and o.qty is None:
            return
        held = self.engine.account(ACCOUNT).position_qty(o.asset.symbol)
        if o.side == "sell" and o.order_class != "oco":
            committed = sum((x.qty or ZERO) for x in self.orders.values()
                            if x.asset.symbol == o.asset.symbol and x.side == "sell" and x.status in OPEN
                            and x.parent is None)  # fmt: skip
            available = max(held - committed, ZERO)
            qty = o.qty or ZERO
            if qty > available:
                raise forbidden(f"insufficient qty available for order (requested: {text(qty)}, "
                                f"available: {text(available)})")  # fmt: skip
            return
        if o.side == "buy":
            ref = o.limit_price or o.stop_price or Decimal(repr(self.market.model.mid(o.asset.symbol, now)))
            mult = Decimal(100) if o.asset.asset_class == "us_option" else Decimal(1)
            cost = o.notional if o.notional is not None else (o.qty or ZERO) * ref * mult
            if cost > self.buying_power(now):
                raise forbidden("insufficient buying power")

    # --- replace and cancel ---------------------------------------------------------------------------

    def find(self, order_id: str) -> AOrder:
        """Return an order by id (404 when unknown)."""
        o = self.orders.get(order_id)
        if o is None:
            raise not_found("order not found")
        return o

    def by_client_id(self, cid: str) -> AOrder:
        """Return an order by client_order_id (404 when unknown)."""
        oid = self.by_client.get(cid)
        if oid is None:
            raise not_found("order not found")
        return self.orders[oid]

    def replace(self, order_id: str, p: Params, now: float) -> AOrder:
        """PATCH /v2/orders/{id}: a new order replacing an open one."""
        old = self.find(order_id)
        if old.status not in ("new", "accepted", "held") or old.status == "partially_filled":
            raise invalid(f'order is not replaceable: order is in "{old.status}" state')
        qty = p.decimal("qty")
        limit, stop, trail = p.decimal("limit_price"), p.decimal("stop_price"), p.decimal("trail")
        tif = p.choice("time_in_force", TIFS)
        cid = p.opt("client_order_id")
        self._check_client_id(cid)
        if limit is not None and old.type not in ("limit", "stop_limit"):
            raise invalid("limit_price can only be replaced on limit orders")
        if stop is not None and old.type not in ("stop", "stop_limit"):
            raise invalid("stop_price can only be replaced on stop orders")
        if trail is not None and old.type != "trailing_stop":
            raise invalid("trail can only be replaced on trailing_stop orders")
        if qty is not None and qty <= 0:
            raise invalid("qty must be > 0")
        for name, value in (("limit_price", limit), ("stop_price", stop)):
            if value is not None:
                self._check_price(old.asset, name, value)
        new = AOrder(self.new_id(), cid or self.new_id(), old.asset, old.side, old.type, tif or old.tif,
                     qty if qty is not None else old.qty, old.notional, limit or old.limit_price,
                     stop or old.stop_price, old.trail_price if trail is None or old.trail_percent else trail,
                     trail if trail is not None and old.trail_percent is not None else old.trail_percent,
                     old.extended_hours, old.order_class, now, updated_at=now, replaces=old.id, parent=old.parent,
                     legs=list(old.legs), hwm=old.hwm, watched_to=old.watched_to)  # fmt: skip
        was = old.status
        if old.engine_id is not None:
            self.engine.cancel(ACCOUNT, old.engine_id)
        old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", now, new.id, now
        old.legs = []  # the legs follow the replacing order
        self.orders[new.id] = new
        self.by_client[new.client_order_id] = new.id
        if old.parent is not None:
            parent = self.orders[old.parent]
            parent.legs = [new.id if i == old.id else i for i in parent.legs]
        for leg_id in new.legs:
            self.orders[leg_id].parent = new.id
        try:
            if was == "held":
                new.status = "held"
            elif new.type == "trailing_stop":
                new.status = "new"
            else:
                self._start(new, now)
        except AlpacaError:
            # a refused replace leaves the original order working as it was
            old.status, old.replaced_at, old.replaced_by, old.updated_at = was, None, None, now
            old.legs = new.legs
            for leg_id in old.legs:
                self.orders[leg_id].parent = old.id
            if old.parent is not None:
                parent = self.orders[old.parent]
                parent.legs = [old.id if i == new.id else i for i in parent.legs]
            if old.engine_id is not None:
                old.engine_id = None
                self._work(old, now)
            raise
        self.advance(now)
        return new

    def cancel(self, order_id: str, now: float) -> None:
        """DELETE /v2/orders/{id}: cancel an open order (and its legs)."""
        o = self.find(order_id)
        if o.status not in OPEN:
            raise invalid(f'order is already in "{o.status}" state')
        self._cancel_one(o, now)
        for leg_id in o.legs:
            leg = self.orders[leg_id]
            if leg.status in OPEN:
                self._cancel_one(leg, now)
        self.advance(now)

    def _cancel_one(self, o: AOrder, now: float) -> None:
        if o.engine_id is not None:
            e = self.engine.order(ACCOUNT, o.engine_id)
            if e.is_open:
                self.engine.cancel(ACCOUNT, o.engine_id)
        o.status, o.canceled_at, o.updated_at = "canceled", now, now

    def cancel_all(self, now: float) -> list[AOrder]:
        """DELETE /v2/orders: cancel every open top-level order; return them."""
        out = [o for o in self.orders.values() if o.status in OPEN and o.parent is None]
        for o in out:
            self.cancel(o.id, now)
        return out

    # --- positions ------------------------------------------------------------------------------------

    def close(self, symbol: str, p: Params, now: float) -> AOrder:
        """DELETE /v2/positions/{symbol}: a market order that closes all, `qty` or `percentage` of it."""
        asset = self.market.asset(symbol)
        pos = self.engine.position(ACCOUNT, asset.symbol) if asset is not None else None
        if asset is None or pos is None:
            raise not_found("position does not exist")
        qty, pct = p.decimal("qty"), p.decimal("percentage")
        if qty is not None and pct is not None:
            raise invalid("only one of qty or percentage can be specified")
        held = abs(pos.qty)
        if pct is not None:
            if not 0 < pct <= 100:
                raise invalid("percentage must be between 0 and 100")
            qty = (held * pct / 100).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
        qty = held if qty is None else qty
        if qty > held:
            raise forbidden(f"insufficient qty available for order (requested: {text(qty)}, available: {text(held)})")
        side = "sell" if pos.qty > 0 else "buy"
        tif = "gtc" if asset.asset_class == "crypto" else "day"
        body = Params({"symbol": asset.symbol, "qty": str(qty), "side": side, "type": "market", "time_in_force": tif})
        return self.place(body, now)

    # --- views ----------------------------------------------------------------------------------------

    def view(self, o: AOrder, nested: bool = True) -> dict[str, Any]:
        """Return the order object."""
        e = self.engine.order(ACCOUNT, o.engine_id) if o.engine_id is not None else None
        filled = e.filled_qty if e is not None else ZERO
        legs = [self.view(self.orders[i]) for i in o.legs] if nested and o.legs else None
        return {
            "id": o.id, "client_order_id": o.client_order_id, "created_at": ts(o.created_at),
            "updated_at": ts(o.updated_at), "submitted_at": ts(o.created_at), "filled_at": ts(o.filled_at),
            "expired_at": ts(o.expired_at), "canceled_at": ts(o.canceled_at), "failed_at": ts(o.failed_at),
            "replaced_at": ts(o.replaced_at), "replaced_by": o.replaced_by, "replaces": o.replaces,
            "asset_id": o.asset.id, "symbol": o.asset.symbol, "asset_class": o.asset.asset_class,
            "notional": text(o.notional), "qty": text(o.qty) if o.notional is None else None,
            "filled_qty": text(filled), "filled_avg_price": text(e.avg_fill_price) if e is not None else None,
            "order_class": o.order_class, "order_type": o.type, "type": o.type, "side": o.side,
            "position_intent": o.position_intent or _intent(o), "time_in_force": o.tif,
            "limit_price": text(o.limit_price), "stop_price": text(o.stop_price), "status": o.status,
            "extended_hours": o.extended_hours, "legs": legs, "trail_percent": text(o.trail_percent),
            "trail_price": text(o.trail_price), "hwm": text(o.hwm), "subtag": None, "source": None,
            "expires_at": ts(hours.next_close(o.created_at)) if o.tif == "day" else None,
        }  # fmt: skip

    def ack_view(self, o: AOrder) -> dict[str, Any]:
        """Return the order as the POST/PATCH answer shows it: acknowledged, before any fill.

        Alpaca answers an order request once the order is accepted, not once it is executed: an
        order sent to the market reads `pending_new` with nothing filled even when it fills at
        once; the fill shows in GET /v2/orders/{id}, the positions and the activities.
        """
        out = self.view(o, nested=False)
        if out["status"] in ("new", "partially_filled", "filled"):
            out.update(status="pending_new", filled_qty="0", filled_avg_price=None, filled_at=None,
                       updated_at=out["created_at"])  # fmt: skip
        if o.legs:
            out["legs"] = [self.ack_view(self.orders[i]) for i in o.legs]
        return out

    def list_orders(self, p: Params, now: float) -> list[dict[str, Any]]:
        """GET /v2/orders: status open|closed|all, limit ≤ 500, after/until, direction, nested, symbols."""
        status = p.choice("status", ("open", "closed", "all"), "open")
        limit = p.integer("limit", 50, 1, 500)
        direction = p.choice("direction", ("asc", "desc"), "desc")
        nested = p.boolean("nested")
        symbols = set(p.symbols())
        after = parse_time(p.opt("after") or "1970-01-01", "after")
        until_s = p.opt("until")
        until = parse_time(until_s, "until") if until_s else float("inf")
        rows = []
        for o in self.orders.values():
            if nested and o.parent is not None:
                continue
            is_open = o.status in OPEN
            if (status == "open" and not is_open) or (status == "closed" and is_open):
                continue
            if symbols and o.asset.symbol not in symbols:
                continue
            if not after < o.created_at <= until:
                continue
            rows.append(o)
        rows.sort(key=lambda x: x.created_at, reverse=direction == "desc")
        return [self.view(o, nested) for o in rows[:limit]]

    def positions(self, now: float) -> list[dict[str, Any]]:
        """GET /v2/positions."""
        return [self.position_view(s.instrument, now) for s in self.engine.positions(ACCOUNT)]

    def position_view(self, symbol: str, now: float) -> dict[str, Any]:
        """Return one position object (404 when flat)."""
        asset = self.market.asset(symbol)
        pos = self.engine.position(ACCOUNT, asset.symbol) if asset is not None else None
        if asset is None or pos is None:
            raise not_found("position does not exist")
        mult = Decimal(100) if asset.asset_class == "us_option" else Decimal(1)
        price = self.market.model.instrument(asset.symbol).round_price(float(pos.mark_price))
        cost = pos.qty * pos.avg_price * mult
        mv = pos.qty * price * mult
        upl = mv - cost
        prev = self.prev_close(asset, now)
        held_for_orders = sum((x.qty or ZERO) for x in self.orders.values() if x.asset.symbol == asset.symbol
                              and x.side == "sell" and x.status in OPEN and x.parent is None)  # fmt: skip
        return {
            "asset_id": asset.id, "symbol": asset.symbol.replace("/", ""), "exchange": asset.exchange,
            "asset_class": asset.asset_class, "asset_marginable": asset.asset_class == "us_equity",
            "qty": text(pos.qty), "qty_available": text(max(pos.qty - held_for_orders, ZERO)),
            "avg_entry_price": text(pos.avg_price), "side": "long" if pos.qty > 0 else "short",
            "market_value": money(mv), "cost_basis": money(cost), "unrealized_pl": money(upl),
            "unrealized_plpc": text((upl / cost).quantize(Decimal("0.0000000001"))) if cost else "0",
            "unrealized_intraday_pl": money((price - prev) * pos.qty * mult),
            "unrealized_intraday_plpc": text(((price - prev) / prev).quantize(Decimal("0.0000000001"))),
            "current_price": text(price), "lastday_price": text(prev),
            "change_today": text(((price - prev) / prev).quantize(Decimal("0.0000000001"))),
        }  # fmt: skip

    def prev_close(self, asset: Asset, now: float) -> Decimal:
        """Return the asset's close of the previous trading session."""
        d = hours.last_session_day(now)
        close = hours.session(hours.previous_trading_day(d))[1] - 1.0
        inst = self.market.model.instrument(asset.symbol)
        return inst.round_price(self.market.model.mid(asset.symbol, close))

    def market_values(self, now: float) -> tuple[Decimal, Decimal]:
        """Return (long, short) market value of the positions."""
        long = short = ZERO
        for s in self.engine.positions(ACCOUNT):
            mv = s.notional if s.qty > 0 else -s.notional
            if s.qty > 0:
                long += mv
            else:
                short += mv
        return long, short

    def daytrade_count(self, now: float) -> int:
        """Return the day trades (a position opened and closed the same New York day) of the last 5 sessions."""
        first = hours.ny_date(now)
        for _ in range(4):
            first = hours.previous_trading_day(first)
        sides: dict[tuple[str, str], list[str]] = {}
        for f in self.engine.fills(ACCOUNT):
            day = hours.ny_date(f.time)
            if day < first or f.instrument not in self.market.assets:
                continue
            if self.market.assets[f.instrument].asset_class == "crypto":
                continue
            sides.setdefault((f.instrument, day.isoformat()), []).append(f.side.value)
        count = 0
        for seq in sides.values():
            # each open (buy) followed by a close (sell) on the same day is one day trade
            opened = 0
            for side in seq:
                if side == "buy":
                    opened += 1
                elif opened:
                    opened -= 1
                    count += 1
        return count

    def buying_power(self, now: float) -> Decimal:
        """Return cash not committed to open buy orders (the account trades cash-like: multiplier 1)."""
        s = self.engine.summary(ACCOUNT, "USD")
        pending = ZERO
        for o in self.orders.values():
            if o.side == "buy" and o.status in ("accepted", "held") and o.parent is None and o.engine_id is None:
                ref = o.limit_price or o.stop_price or Decimal(repr(self.market.model.mid(o.asset.symbol, now)))
                mult = Decimal(100) if o.asset.asset_class == "us_option" else Decimal(1)
                pending += o.notional if o.notional is not None else (o.qty or ZERO) * ref * mult
        return max(s.available - pending, ZERO)

    def account(self, now: float) -> dict[str, Any]:
        """GET /v2/account."""
        s = self.engine.summary(ACCOUNT, "USD")
        long, short = self.market_values(now)
        cash = s.equity - long - short
        bp = self.buying_power(now)
        trades = self.daytrade_count(now)
        return {
            "id": self.account_id, "account_number": self.account_number, "status": "ACTIVE",
            "crypto_status": "ACTIVE", "options_approved_level": "2", "options_trading_level": "2", "currency": "USD",
            "buying_power": money(bp), "regt_buying_power": money(bp), "daytrading_buying_power": "0",
            "effective_buying_power": money(bp), "non_marginable_buying_power": money(bp),
            "options_buying_power": money(bp), "bod_dtbp": "0", "cash": money(cash), "accrued_fees": "0",
            "portfolio_value": money(s.equity), "pattern_day_trader": trades >= PDT_TRADES, "trading_blocked": False,
            "transfers_blocked": False, "account_blocked": False, "created_at": ts(self.created),
            "trade_suspended_by_user": False, "multiplier": "1", "shorting_enabled": False,
            "equity": money(s.equity), "last_equity": money(self.last_equity), "long_market_value": money(long),
            "short_market_value": money(short), "position_market_value": money(long + short),
            "initial_margin": money(s.initial_margin), "maintenance_margin": money(s.initial_margin),
            "last_maintenance_margin": "0", "sma": "0", "daytrade_count": trades,
            "balance_asof": hours.ny_date(now).isoformat(),
            "crypto_tier": 1, "intraday_adjustments": "0", "pending_reg_taf_fees": "0",
        }  # fmt: skip

    def activities(self, p: Params, only: str | None, now: float) -> list[dict[str, Any]]:
        """GET /v2/account/activities[/{type}]: fills (FILL) and the opening deposit (CSD), paged by id."""
        types = {only} if only else set(p.symbols("activity_types")) or {"FILL", "CSD"}
        direction = p.choice("direction", ("asc", "desc"), "desc")
        size = p.integer("page_size", 100, 1, 100)
        rows: list[tuple[str, dict[str, Any]]] = []
        if "CSD" in types:
            aid = f"{_stamp(self.created)}::{self.account_id}"
            day = hours.ny_date(self.created).isoformat()
            csd = {"id": aid, "activity_type": "CSD", "date": day, "net_amount": money(STARTING_CASH),
                   "description": "", "status": "executed"}  # fmt: skip
            rows.append((aid, csd))
        if "FILL" in types:
            cum: dict[str, Decimal] = {}
            for f in self.engine.fills(ACCOUNT):
                oid = self.by_engine.get(f.order_id)
                if oid is None:
                    continue
                o = self.orders[oid]
                e = self.engine.order(ACCOUNT, f.order_id)
                cum[oid] = cum.get(oid, ZERO) + f.qty
                aid = f"{_stamp(f.time)}::{f.id}"
                rows.append((aid, {
                    "id": aid, "activity_type": "FILL", "transaction_time": ts(f.time),
                    "type": "fill" if cum[oid] == e.qty else "partial_fill", "price": text(f.price),
                    "qty": text(f.qty), "side": f.side.value, "symbol": o.asset.symbol.replace("/", ""),
                    "leaves_qty": text(e.qty - cum[oid]), "order_id": oid, "cum_qty": text(cum[oid]),
                    "order_status": "filled" if cum[oid] == e.qty else "partially_filled",
                }))  # fmt: skip
        rows.sort(key=lambda r: r[0], reverse=direction == "desc")
        # activities page by id: `page_token` is the id of the last activity of the previous page
        last = p.opt("page_token")
        if last is not None:
            rows = [r for r in rows if (r[0] < last if direction == "desc" else r[0] > last)]
        return [r[1] for r in rows[:size]]


def _stamp(t: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y%m%d%H%M%S") + f"{d.microsecond * 1000:09d}"


def _intent(o: AOrder) -> str | None:
    if o.asset.asset_class == "crypto":
        return None
    return "buy_to_open" if o.side == "buy" else "sell_to_close"


def _engine_tif(o: AOrder) -> str:
    if o.type == "trailing_stop":
        return "ioc"
    return {"day": "day", "gtc": "gtc", "ioc": "ioc", "fok": "fok", "opg": "day", "cls": "day"}[o.tif]


def _status(e: EngineOrder) -> str:
    if e.status is OrderStatus.CANCELLED:
        return "expired" if e.cancel_reason is CancelReason.EXPIRED else "canceled"
    return {OrderStatus.NEW: "new", OrderStatus.UNTRIGGERED: "new", OrderStatus.PARTIALLY_FILLED: "partially_filled",
            OrderStatus.FILLED: "filled", OrderStatus.REJECTED: "rejected"}[e.status]  # fmt: skip
