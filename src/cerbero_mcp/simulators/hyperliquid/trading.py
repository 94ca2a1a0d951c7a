"""The Hyperliquid simulator's account, its orders, trigger orders and fills over the shared `Exchange`.

One account per instance (the configured wallet address) holds 100,000 USDC, cross margin at 20x
(capped at an asset's `maxLeverage`) until `updateLeverage` changes it. Venue rules on top of the
engine (hyperliquid.gitbook.io: exchange-endpoint, tick-and-lot-size, error-responses,
order-types, take-profit-and-stop-loss-orders):

- every order gets an increasing integer `oid`; a `cloid` (0x + 32 hex) is echoed in the statuses,
  `openOrders` and `orderStatus`, and is unique within the account;
- `Gtc` rests, `Ioc` takes what crosses and cancels the rest (nothing crossed: "Order could not
  immediately match against any resting orders."), `Alo` is post-only (would cross: "Post only
  order would have immediately matched, bbo was <bid>@<ask>");
- prices: ≤ 5 significant figures and ≤ 6 − szDecimals decimals (8 − szDecimals spot), integers
  always; sizes: szDecimals decimals; order value ≥ $10 (spot: 10 USDC) unless reduce-only;
- trigger orders (`t.trigger`: triggerPx, isMarket, tpsl) rest untriggered; a `tp` sell / `sl` buy
  fires when the mark rises to triggerPx, a `tp` buy / `sl` sell when it falls to it; a market
  trigger then executes as an IOC with 10% slippage from the mark, a limit trigger at `p`;
  `normalTpsl` children wait for their parent's fill ("waitingForFill");
- `modify`/`batchModify` replace the order: the new one gets a new oid and keeps the cloid;
- `scheduleCancel` cancels every open order at its time (status `scheduledCancel`), at least 5 s
  ahead, at most 10 triggers per UTC day.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from cerbero_mcp.simulators.engine import (
    CancelReason,
    Clock,
    Exchange,
    OrderRejected,
    OrderStatus,
    RejectReason,
)
from cerbero_mcp.simulators.engine import Order as EngineOrder
from cerbero_mcp.simulators.hyperliquid.market import Asset, HyperliquidMarket, price_valid
from cerbero_mcp.simulators.hyperliquid.wire import ms, text

ACCOUNT = "main"
USDC = "USDC"
START_USDC = "100000"
DEFAULT_LEVERAGE = 20
MIN_VALUE = Decimal(10)
TRIGGER_SLIPPAGE = Decimal("0.1")
MIN_SCHEDULE_AHEAD_MS = 5_000
MAX_SCHEDULED_TRIGGERS = 10
FIRST_OID = 1_000_000_000
ZERO = Decimal(0)

# the documented error strings (error-responses)
E_TICK = "Price must be divisible by tick size."
E_MIN_PERP = "Order must have minimum value of $10."
E_MIN_SPOT = "Order must have minimum value of 10 USDC."
E_MARGIN = "Insufficient margin to place order."
E_SPOT_BALANCE = "Insufficient spot balance"  # the table's "(Spot-only) Order has…" is a description
E_REDUCE_ONLY = "Reduce only order would increase position."
E_IOC = "Order could not immediately match against any resting orders."
E_NO_LIQUIDITY = "No liquidity available for market order."
E_MISSING = "Order was never placed, already canceled, or filled."
E_SIZE = "Order has invalid size."
E_ZERO_SIZE = "Order has zero size."
E_PRICE = "Order has invalid price."
E_BAD_TRIGGER = "Invalid TP/SL price."


@dataclass
class Trigger:
    """The trigger part of a trigger order."""

    trigger_px: Decimal
    is_market: bool
    tpsl: str  # tp | sl

    def fires_on_rise(self, is_buy: bool) -> bool:
        """Return whether the mark rising to triggerPx fires it (a tp sell, an sl buy)."""
        return (self.tpsl == "tp") != is_buy


@dataclass
class HlOrder:
    """One order as the venue reports it."""

    oid: int
    asset: Asset
    is_buy: bool
    limit_px: Decimal
    sz: Decimal
    reduce_only: bool
    tif: str | None  # Gtc | Ioc | Alo; None for trigger orders
    cloid: str | None
    timestamp: int
    trigger: Trigger | None = None
    engine: EngineOrder | None = None
    status: str = "open"  # until the engine order (if any) says otherwise
    status_ts: int = 0
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    position_tpsl: bool = False
    waiting: bool = False  # a normalTpsl child whose parent has not filled yet
    triggered: bool = False

    def live_status(self) -> str:
        """Return the orderStatus `status` string."""
        if self.engine is None:
            return self.status
        e = self.engine
        if e.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            return "open"
        if e.status is OrderStatus.FILLED:
            return "filled"
        if e.status is OrderStatus.REJECTED:
            return "rejected"
        if self.status != "open":
            return self.status  # a reason the venue names (scheduledCancel, reduceOnlyCanceled…)
        if e.cancel_reason is CancelReason.REDUCE_ONLY:
            return "reduceOnlyCanceled"
        return "canceled"

    def is_open(self) -> bool:
        """Return whether the order still rests (untriggered, waiting or on the book)."""
        if self.engine is None:
            return self.status == "open"
        return self.engine.is_open

    def remaining(self) -> Decimal:
        """Return the size still open."""
        return self.engine.remaining if self.engine is not None else self.sz

    def order_type(self) -> str:
        """Return the frontend order type label."""
        if self.trigger is None:
            return "Limit"
        kind = "Take Profit" if self.trigger.tpsl == "tp" else "Stop"
        return f"{kind} {'Market' if self.trigger.is_market else 'Limit'}"


@dataclass
class Placed:
    """What one order of a batch produced: a status entry for the answer."""

    status: Any


class Trading:
    """The account, its orders and Hyperliquid's rules around them."""

    def __init__(self, market: HyperliquidMarket, clock: Clock) -> None:
        """Open the funded account on a fresh exchange over `market`."""
        self.market = market
        self.clock = clock
        self._oids = itertools.count(FIRST_OID)
        self._forced_oid: int | None = None
        self.exchange = Exchange(market.model, clock, id_factory=self._engine_id, settle_funding=True)
        self.exchange.open_account(ACCOUNT, {USDC: START_USDC}, leverage=DEFAULT_LEVERAGE)
        self.orders: dict[int, HlOrder] = {}
        self.by_cloid: dict[str, int] = {}
        self.leverage: dict[int, tuple[bool, int]] = {}  # asset -> (is_cross, leverage)
        self.scheduled_cancel: int | None = None
        self.schedule_triggers: dict[int, int] = {}  # UTC day -> triggers that day
        self.volume = ZERO  # cumulative USDC traded (the address rate limit grows with it)
        # mainnet refuses scheduleCancel until the account has traded enough; off unless a test sets it,
        # so the demo's dead-man switch works on a fresh account
        self.schedule_min_volume = ZERO
        self._counted_fills = 0
        self._checked = clock.now()

    def _engine_id(self, kind: str, n: int) -> str:
        if kind != "order":
            return f"f{n}"
        if self._forced_oid is not None:
            oid, self._forced_oid = self._forced_oid, None
            return str(oid)
        return str(next(self._oids))

    # --- time -------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Play the engine up to `now`, fire due triggers, activate children and run a due scheduled cancel."""
        self.exchange.advance(now)
        t0 = self._checked
        if now > t0:
            for order in sorted(self.orders.values(), key=lambda o: o.oid):
                if order.trigger is not None and order.engine is None and order.status == "open" and not order.waiting:
                    self._maybe_fire(order, t0, now)
            self._activate_children(now)
            self._checked = now
        if self.scheduled_cancel is not None and ms(now) >= self.scheduled_cancel:
            for order in self.open_orders():
                self._cancel(order, now, "scheduledCancel")
            day = math.floor(self.scheduled_cancel / 86_400_000)
            self.schedule_triggers[day] = self.schedule_triggers.get(day, 0) + 1  # counted when it fires
            self.scheduled_cancel = None
        self._count_volume()

    def _count_volume(self) -> None:
        fills = self.exchange.fills(ACCOUNT)
        for f in fills[self._counted_fills :]:
            self.volume += f.qty * f.price
        self._counted_fills = len(fills)

    def _maybe_fire(self, order: HlOrder, t0: float, t1: float) -> None:
        assert order.trigger is not None
        lo, hi = self.market.model.mid_range(order.asset.coin, t0, t1)
        px = float(order.trigger.trigger_px)
        if (hi >= px) if order.trigger.fires_on_rise(order.is_buy) else (lo <= px):
            self._fire(order, t1)

    def _fire(self, order: HlOrder, now: float) -> None:
        """Execute a triggered order as a new engine order carrying its oid."""
        assert order.trigger is not None
        order.triggered = True
        mark = Decimal(str(self.market.mid(order.asset, now)))
        if order.trigger.is_market:
            factor = 1 + TRIGGER_SLIPPAGE if order.is_buy else 1 - TRIGGER_SLIPPAGE
            px = self._on_tick(order.asset, mark * factor, up=order.is_buy)
            tif = "ioc"
        else:
            px, tif = order.limit_px, "gtc"
        self._forced_oid = order.oid
        try:
            order.engine = self.exchange.submit(ACCOUNT, order.asset.coin, "buy" if order.is_buy else "sell",
                                                order.remaining(), type="limit", price=px, tif=tif,
                                                reduce_only=order.reduce_only)  # fmt: skip
        except OrderRejected as exc:
            order.status = "reduceOnlyCanceled" if exc.reason is RejectReason.REDUCE_ONLY_WOULD_INCREASE else "rejected"
            order.status_ts = ms(now)
        finally:
            self._forced_oid = None

    def _activate_children(self, now: float) -> None:
        for order in list(self.orders.values()):
            if not order.waiting or order.parent is None:
                continue
            parent = self.orders[order.parent]
            if parent.engine is not None and parent.engine.filled_qty > 0:
                order.waiting = False
                self._maybe_fire(order, now, now)
            elif not parent.is_open():
                self._cancel(order, now, "siblingFilledCanceled" if parent.live_status() == "filled" else "canceled")

    @staticmethod
    def _on_tick(asset: Asset, px: Decimal, *, up: bool) -> Decimal:
        steps = (px / asset.tick).to_integral_value(rounding=ROUND_UP if up else ROUND_DOWN)
        return max(steps, Decimal(1)) * asset.tick

    # --- placing ----------------------------------------------------------------------------

    def check(
        self, asset: Asset, px: Decimal, sz: Decimal, reduce_only: bool, trigger_px: Decimal | None
    ) -> str | None:
        """Return the venue's error string for a misaligned order, or None when its numbers are valid."""
        if sz == 0:
            return E_ZERO_SIZE
        if sz < 0 or sz != sz.quantize(asset.lot, rounding=ROUND_DOWN):
            return E_SIZE
        if px <= 0:
            return E_PRICE
        if not price_valid(px, asset) or px % asset.tick != 0:
            return E_TICK
        if trigger_px is not None and (not price_valid(trigger_px, asset) or trigger_px % asset.tick != 0):
            return E_TICK
        if not reduce_only and px * sz < MIN_VALUE:
            return E_MIN_SPOT if asset.spot else E_MIN_PERP
        return None

    def place(self, wire: dict[str, Any], asset: Asset, now: float, *, parent: HlOrder | None = None,
              position_tpsl: bool = False) -> tuple[Any, HlOrder | None]:  # fmt: skip
        """Place one order wire; return its status entry and the order (None when refused)."""
        px, sz = wire["p"], wire["s"]
        is_buy, reduce_only = bool(wire["b"]), bool(wire["r"])
        cloid = wire.get("c")
        t = wire["t"]
        trigger = None
        if "trigger" in t:
            trig = t["trigger"]
            trigger = Trigger(trig["triggerPx"], bool(trig["isMarket"]), trig["tpsl"])
        problem = self.check(asset, px, sz, reduce_only, trigger.trigger_px if trigger else None)
        if problem is not None:
            return {"error": problem}, None
        if cloid is not None and cloid in self.by_cloid:
            return {"error": "Order has duplicate cloid."}, None
        order = HlOrder(0, asset, is_buy, px, sz, reduce_only, None if trigger else t["limit"]["tif"], cloid,
                        ms(now), trigger, position_tpsl=position_tpsl)  # fmt: skip
        if trigger is not None:
            # a normalTpsl child reduces the position its parent will open, so it is checked when it fires
            if (reduce_only or position_tpsl) and parent is None:
                pos = self.exchange.account(ACCOUNT).position_qty(asset.coin)
                if pos == 0 or (pos > 0) == is_buy:
                    return {"error": E_REDUCE_ONLY}, None
            order.oid = next(self._oids)
            order.status_ts = ms(now)
            self._register(order)
            if parent is not None:
                order.parent = parent.oid
                parent.children.append(order.oid)
                if parent.engine is None or parent.engine.filled_qty == 0:
                    order.waiting = True
                    return "waitingForFill", order
            self._maybe_fire(order, now, now)
            return self._status(order, resting=True), order
        return self._place_limit(order, now)

    def _place_limit(self, order: HlOrder, now: float) -> tuple[Any, HlOrder | None]:
        asset = order.asset
        tif = {"Gtc": "gtc", "Ioc": "ioc", "Alo": "gtc"}[order.tif or "Gtc"]
        try:
            eng = self.exchange.submit(ACCOUNT, asset.coin, "buy" if order.is_buy else "sell", order.sz,
                                       type="limit", price=order.limit_px, tif=tif, post_only=order.tif == "Alo",
                                       reduce_only=order.reduce_only)  # fmt: skip
        except OrderRejected as exc:
            return {"error": self._reject_text(exc, asset, now)}, None
        order.oid = int(eng.id)
        order.engine = eng
        order.status_ts = ms(now)
        if order.tif == "Ioc" and eng.filled_qty == 0:
            # the venue reports an IOC that took nothing as an error; the order existed and ended rejected
            order.status = "iocCancelRejected"
            self._register(order)
            return {"error": E_IOC}, None
        self._register(order)
        return self._status(order, resting=eng.is_open), order

    def _register(self, order: HlOrder) -> None:
        self.orders[order.oid] = order
        if order.cloid is not None:
            self.by_cloid[order.cloid] = order.oid

    def _status(self, order: HlOrder, *, resting: bool) -> Any:
        extra = {"cloid": order.cloid} if order.cloid is not None else {}
        if resting:
            return {"resting": {"oid": order.oid, **extra}}
        eng = order.engine
        assert eng is not None
        assert eng.avg_fill_price is not None
        avg = (
            eng.avg_fill_price.quantize(order.asset.tick)
            if eng.avg_fill_price % order.asset.tick
            else eng.avg_fill_price
        )
        return {"filled": {"totalSz": text(eng.filled_qty), "avgPx": text(avg), "oid": order.oid, **extra}}

    def _reject_text(self, exc: OrderRejected, asset: Asset, now: float) -> str:
        reason = exc.reason
        if reason is RejectReason.INSUFFICIENT_FUNDS:
            return E_SPOT_BALANCE if asset.spot else E_MARGIN
        if reason is RejectReason.REDUCE_ONLY_WOULD_INCREASE:
            return E_REDUCE_ONLY
        if reason is RejectReason.POST_ONLY_WOULD_TAKE:
            book = self.exchange.book(asset.coin, 1)
            bid, ask = book.best_bid, book.best_ask
            return f"Post only order would have immediately matched, bbo was {text(bid or ZERO)}@{text(ask or ZERO)}"
        if reason is RejectReason.INVALID_PRICE:
            return E_TICK
        if reason is RejectReason.INVALID_QTY:
            return E_SIZE
        return exc.message

    # --- cancelling and modifying -----------------------------------------------------------

    def find(self, asset: Asset | None, oid: int | None = None, cloid: str | None = None) -> HlOrder | None:
        """Return an order by oid or cloid (of `asset` when given), or None."""
        if oid is None and cloid is not None:
            oid = self.by_cloid.get(cloid)
        order = self.orders.get(oid) if oid is not None else None
        if order is None or (asset is not None and order.asset.asset != asset.asset):
            return None
        return order

    def cancel(self, order: HlOrder | None, now: float) -> Any:
        """Cancel an open order; return "success" or the venue's error entry."""
        if order is None or not order.is_open():
            return {"error": E_MISSING}
        self._cancel(order, now, "canceled")
        return "success"

    def _cancel(self, order: HlOrder, now: float, status: str) -> None:
        if order.engine is not None and order.engine.is_open:
            self.exchange.cancel(ACCOUNT, order.engine.id)
        order.status = status
        order.status_ts = ms(now)
        for child in order.children:
            c = self.orders[child]
            if c.waiting and c.is_open():
                self._cancel(c, now, "canceled")

    def modify(self, order: HlOrder | None, wire: dict[str, Any], asset: Asset, now: float) -> Any:
        """Replace an open order with `wire` (new oid, same cloid unless the wire gives one)."""
        if order is None or not order.is_open():
            return {"error": E_MISSING}
        if order.asset.asset != asset.asset:
            return {"error": E_MISSING}
        cloid = wire.get("c") or order.cloid
        self._cancel(order, now, "canceled")
        if order.cloid is not None:
            self.by_cloid.pop(order.cloid, None)
        entry, new = self.place({**wire, "c": cloid} if cloid else wire, asset, now)
        if new is None and order.cloid is not None:
            self.by_cloid[order.cloid] = order.oid
        return entry

    def set_leverage(self, asset: Asset, is_cross: bool, leverage: int) -> str | None:
        """Set the asset's leverage; return the venue's error string when refused."""
        if leverage < 1 or leverage > asset.max_leverage:
            return "Invalid leverage value"
        if is_cross and asset.spot:
            return "Invalid leverage value"
        self.exchange.set_leverage(ACCOUNT, asset.coin, leverage)
        self.leverage[asset.asset] = (is_cross, leverage)
        return None

    def leverage_of(self, asset: Asset) -> tuple[bool, int]:
        """Return (is_cross, leverage) of an asset."""
        return self.leverage.get(asset.asset, (True, min(DEFAULT_LEVERAGE, asset.max_leverage)))

    def schedule(self, when: int | None, now: float) -> str | None:
        """Set (or with None unset) the dead-man switch; return the venue's error string when refused."""
        if when is None:
            self.scheduled_cancel = None
            return None
        if self.volume < self.schedule_min_volume:
            return (
                "Cannot set scheduled cancel time until enough volume traded. "
                f"Required: ${self.schedule_min_volume:.0f}. Traded: ${self.volume:.2f}."
            )
        if when < ms(now) + MIN_SCHEDULE_AHEAD_MS:
            return "Scheduled cancel time too early, must be at least 5 seconds from now."
        if self.schedule_triggers.get(math.floor(now / 86_400), 0) >= MAX_SCHEDULED_TRIGGERS:
            return "Too many scheduled cancel triggers today."
        self.scheduled_cancel = when
        return None

    # --- views ------------------------------------------------------------------------------

    def open_orders(self) -> list[HlOrder]:
        """Return the open orders, newest first."""
        return sorted((o for o in self.orders.values() if o.is_open()), key=lambda o: -o.oid)
