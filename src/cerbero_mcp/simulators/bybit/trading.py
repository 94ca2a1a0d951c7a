"""The Bybit simulator's unified account and its orders over the shared `Exchange`.

One account per instance (the UID of the instance's key) holds USDT 100,000, USDC 100,000, BTC 2
and ETH 30, with leverage 10 on derivatives until set-leverage changes it. Bybit specifics on top of
the engine (docs/v5/order/*.mdx, position/*.mdx, error.mdx):

- create answers an acknowledgement `{orderId, orderLinkId}` only; the order's state is read from
  /v5/order/realtime, /v5/order/history and /v5/execution/list;
- a PostOnly order that would take, and a FOK order that cannot fill completely, are accepted and
  end `Cancelled` (rejectReason EC_PostOnlyWillTakeLiquidity / EC_CancelForNoFullFill), as the
  create-order docs say for PostOnly;
- increments are checked before the engine sees the order, with Bybit's codes: derivatives answer
  10001 ("Qty invalid", "Price invalid", "The number of contracts exceeds minimum limit allowed",
  "… maximum limit allowed: too large") and 110094 below `minNotionalValue`; spot answers 170137 /
  170134 (too many decimals), 170140 (below `minOrderAmt`) and 170381 (too large);
- `orderLinkId` is at most 36 of `[A-Za-z0-9_-]`, unique for the account (110072), and required
  for options; a reduce-only order larger than the position is cut to the position, one that
  cannot reduce is 110017; insufficient margin is 110007 (spot: 170131);
- a spot market Buy's `qty` is a quote-coin amount unless `marketUnit=baseCoin`;
- take-profit / stop-loss (on create, or /v5/position/trading-stop) sit on the position and close it
  with a reduce-only market order at the first request after the mark crosses them;
- conditional orders (`triggerPrice`) are supported where the trigger direction matches the side
  (a Buy that triggers on a rise, a Sell on a fall), which is how the engine's stops work.
"""

from __future__ import annotations

import itertools
import random
import re
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from cerbero_mcp.simulators.bybit.market import BybitMarket, Spec
from cerbero_mcp.simulators.bybit.wire import BybitError, Params, ms, on_step, param_error, text
from cerbero_mcp.simulators.engine import (
    Clock,
    Exchange,
    Order,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
)

ACCOUNT = "main"
BALANCES = {"USDT": "100000", "USDC": "100000", "BTC": "2", "ETH": "30"}
DEFAULT_LEVERAGE = Decimal(10)
ZERO = Decimal(0)
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
TIFS = ("GTC", "IOC", "FOK", "PostOnly")
MARKET_PROTECTION = Decimal("0.05")  # Bybit turns market orders into IOC limits this far from mark


@dataclass
class Record:
    """One order as Bybit shows it: the engine's order plus what only Bybit knows about it."""

    order: Order
    category: str
    spec: Spec
    order_type: str  # Market | Limit
    tif: str  # GTC | IOC | FOK | PostOnly
    created_ms: int
    last_price: Decimal
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_direction: int = 0
    reject_reason: str = "EC_NoError"
    create_type: str = "CreateByUser"
    stop_order_type: str = "UNKNOWN"
    market_unit: str = ""
    tpsl_applied: bool = False
    seq: int = 0

    @property
    def order_id(self) -> str:
        """Return the Bybit orderId."""
        return self.order.id

    @property
    def link_id(self) -> str:
        """Return the orderLinkId ("" when none)."""
        return self.order.client_order_id or ""


@dataclass
class Stops:
    """Take-profit and stop-loss on one position (Full mode: the whole position)."""

    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    tp_trigger_by: str = "LastPrice"
    sl_trigger_by: str = "LastPrice"
    extra: dict[str, Any] = field(default_factory=dict)


class Trading:
    """The account, its orders and positions, and Bybit's rules around them."""

    def __init__(self, market: BybitMarket, clock: Clock, seed: int) -> None:
        """Open the funded account on a fresh exchange over `market`."""
        self.market = market
        self._rng = random.Random(seed)
        self.exchange = Exchange(market.model, clock, id_factory=self._new_id, settle_funding=True)
        self.exchange.open_account(ACCOUNT, BALANCES, leverage=DEFAULT_LEVERAGE)
        self.records: dict[str, Record] = {}
        self.by_link: dict[str, str] = {}
        self.stops: dict[str, Stops] = {}  # engine key -> stops on that position
        self.first_seen: dict[str, int] = {}  # engine key -> createdTime of the position (ms)
        self._stops_checked = clock.now()
        self._seq = itertools.count(1)

    def _new_id(self, kind: str, n: int) -> str:
        del kind, n
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # --- time ---------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Bring the engine to `now`, attach filled orders' TP/SL to positions, and fire crossed TP/SL."""
        self.exchange.advance(now)
        for rec in self.records.values():
            if rec.tpsl_applied or rec.order.filled_qty == 0:
                continue
            rec.tpsl_applied = True
            if rec.take_profit is not None or rec.stop_loss is not None:
                stops = self.stops.setdefault(rec.spec.key, Stops())
                stops.take_profit = rec.take_profit if rec.take_profit is not None else stops.take_profit
                stops.stop_loss = rec.stop_loss if rec.stop_loss is not None else stops.stop_loss
        t0, self._stops_checked = self._stops_checked, now
        acct = self.exchange.account(ACCOUNT)
        for key in list(self.stops):
            pos = acct.position_qty(key)
            if pos == 0:
                del self.stops[key]
                continue
            if now > t0:
                self._fire_stops(key, pos, t0, now)
        for key in acct.positions:
            self.first_seen.setdefault(key, ms(now))

    def _fire_stops(self, key: str, pos: Decimal, t0: float, t1: float) -> None:
        stops = self.stops[key]
        long = pos > 0
        hits: list[tuple[float, str]] = []
        for level, kind in ((stops.take_profit, "TakeProfit"), (stops.stop_loss, "StopLoss")):
            if level is None:
                continue
            up = long == (kind == "TakeProfit")  # a long's TP and a short's SL wait for the price to rise
            t = self.market.model.first_cross(key, t0, t1, float(level), up)
            if t is not None:
                hits.append((t, kind))
        if not hits:
            return
        _, kind = min(hits)
        spec = self.market.by_key[key]
        try:
            order = self.exchange.close_position(ACCOUNT, key)
        except OrderRejected:
            return
        self._remember(Record(order, spec.category, spec, "Market", "IOC", ms(t1), self._last(spec, t1),
                              create_type=f"CreateBy{kind}", stop_order_type=kind))  # fmt: skip
        del self.stops[key]

    # --- helpers ------------------------------------------------------------------------------

    def _last(self, spec: Spec, now: float) -> Decimal:
        inst = self.market.instrument(spec)
        return inst.round_price(self.market.model.mid(spec.key, now))

    def _remember(self, rec: Record) -> None:
        rec.seq = next(self._seq)
        self.records[rec.order_id] = rec
        if rec.link_id:
            self.by_link[rec.link_id] = rec.order_id

    def find(self, category: str, p: Params) -> Record:
        """Return the order named by orderId or orderLinkId (orderId first), or 110001."""
        order_id, link = p.opt("orderId"), p.opt("orderLinkId")
        if order_id is None and link is None:
            raise param_error("params error: orderId or orderLinkId is required")
        ref = order_id if order_id is not None else self.by_link.get(link or "")
        rec = self.records.get(ref or "")
        if rec is None or rec.category != category:
            raise BybitError(110001, "Order does not exist.")
        return rec

    # --- validation ---------------------------------------------------------------------------

    def check_increments(self, spec: Spec, qty: Decimal, price: Decimal | None, market_order: bool,
                         now: float) -> None:  # fmt: skip
        """Refuse a quantity or price off the symbol's grid or limits with Bybit's codes."""
        spot = spec.category == "spot"
        if qty <= 0 or qty % spec.qty_step != 0:
            raise BybitError(170137, "Order volume decimal too long") if spot else param_error("Qty invalid")
        if price is not None and (price <= 0 or price % spec.tick != 0):
            raise BybitError(170134, "Order price decimal too long") if spot else param_error("Price invalid")
        if not spot and qty < spec.min_qty:
            raise param_error("The number of contracts exceeds minimum limit allowed")
        cap = spec.max_mkt_qty if market_order else spec.max_qty
        if qty > cap:
            if spot:
                raise BybitError(170381, "Order quantity too large.")
            raise param_error(f"The number of contracts exceeds maximum limit allowed: too large, "
                              f"order_qty:{text(qty)} > max_qty:{text(cap)}")  # fmt: skip
        if spec.min_notional > 0:
            ref = price if price is not None else Decimal(repr(self.market.model.mid(spec.key, now)))
            if qty * ref < spec.min_notional:
                if spot:
                    raise BybitError(170140, "Order value exceeded lower limit")
                raise BybitError(110094, "Order notional value below the lower limit")

    def _check_tpsl(self, side: Side, base: Decimal, tp: Decimal | None, sl: Decimal | None, spec: Spec) -> None:
        for level, name in ((tp, "TakeProfit"), (sl, "StopLoss")):
            if level is None:
                continue
            if level <= 0 or level % spec.tick != 0:
                raise param_error(f"params error: {name[0].lower()}{name[1:]} invalid")
            above = (side is Side.BUY) == (name == "TakeProfit")
            if above and level <= base:
                raise param_error(f"{name}:{text(level)} set for {side.value.title()} position should be higher "
                                  f"than base_price:{text(base)}??LastPrice")  # fmt: skip
            if not above and level >= base:
                raise param_error(f"{name}:{text(level)} set for {side.value.title()} position should be lower "
                                  f"than base_price:{text(base)}??LastPrice")  # fmt: skip

    # --- orders -------------------------------------------------------------------------------

    def create(self, category: str, p: Params, now: float) -> Record:
        """Place one order (create, or one leg of create-batch) and return its record; raise BybitError."""
        spec = self.market.spec(category, p.text("symbol"), market=False)
        if not self.market.live(spec, now):
            raise BybitError(110074, "This contract is not live")
        side = Side.BUY if p.text("side", choices=("Buy", "Sell")) == "Buy" else Side.SELL
        order_type = p.text("orderType", choices=("Market", "Limit"))
        qty_in = p.decimal("qty")
        if qty_in is None:
            raise param_error("params error: qty is required")
        if category != "spot" and p.integer("positionIdx", 0) != 0:
            raise param_error("params error: position idx not match position mode")
        tif = "IOC" if order_type == "Market" else p.text("timeInForce", "GTC", choices=TIFS)
        price = p.decimal("price") if order_type == "Limit" else None
        if order_type == "Limit" and price is None:
            raise param_error("params error: price is required for a Limit order")
        link = p.opt("orderLinkId")
        if link is not None and not LINK_ID.match(link):
            raise param_error("params error: orderLinkId invalid (at most 36 of letters, digits, - and _)")
        if category == "option" and link is None:
            raise param_error("params error: orderLinkId is required for options")
        if link is not None and link in self.by_link:
            raise BybitError(110072, "OrderLinkedID is duplicate")
        reduce_only = p.boolean("reduceOnly") and category != "spot"
        tp, sl = p.decimal("takeProfit"), p.decimal("stopLoss")
        if reduce_only and (tp is not None or sl is not None):
            raise param_error("params error: reduceOnly order can not set takeProfit or stopLoss")
        trigger = p.decimal("triggerPrice") if category in ("linear", "inverse") else None
        direction = p.integer("triggerDirection", 0) if trigger is not None else 0
        last = self._last(spec, now)
        qty, unit = qty_in, ""
        if qty == 0 and reduce_only and p.boolean("closeOnTrigger") and category in ("linear", "inverse"):
            # documented shortcut: qty "0" + reduceOnly + closeOnTrigger closes the whole position
            held = abs(self.exchange.account(ACCOUNT).position_qty(spec.key))
            qty = min(held, spec.max_mkt_qty if order_type == "Market" else spec.max_qty)
            if qty == 0:
                raise BybitError(110017, "Reduce-only rule not satisfied: orderQty will be truncated to zero")
        if category == "spot" and order_type == "Market":
            unit = p.text("marketUnit", "quoteCoin" if side is Side.BUY else "baseCoin",
                          choices=("baseCoin", "quoteCoin"))  # fmt: skip
            if unit == "quoteCoin":
                if qty_in < spec.min_notional:
                    raise BybitError(170140, "Order value exceeded lower limit")
                book = self.exchange.book(spec.key, 1)
                touch = book.best_ask if side is Side.BUY else book.best_bid
                assert touch is not None
                qty = (qty_in / touch / spec.qty_step).to_integral_value(rounding=ROUND_FLOOR) * spec.qty_step
        self.check_increments(spec, qty, price, order_type == "Market", now)
        if reduce_only:
            pos = self.exchange.account(ACCOUNT).position_qty(spec.key)
            if pos == 0 or (pos > 0) == (side is Side.BUY):
                raise BybitError(110017, "Reduce-only rule not satisfied: orderQty will be truncated to zero")
            qty = min(qty, abs(pos))
        if tp is not None or sl is not None:
            self._check_tpsl(side, price if price is not None else last, tp, sl, spec)
        etype = OrderType.MARKET if order_type == "Market" else OrderType.LIMIT
        if trigger is not None:
            if direction not in (1, 2):
                raise param_error("params error: triggerDirection is required with triggerPrice (1 or 2)")
            if trigger % spec.tick != 0 or trigger <= 0:
                raise param_error("params error: triggerPrice invalid")
            if direction == 1 and trigger <= last:
                raise BybitError(110092, f"expect Rising, but trigger_price[{text(trigger)}] <= "
                                         f"current[{text(last)}]??LastPrice")  # fmt: skip
            if direction == 2 and trigger >= last:
                raise BybitError(110093, f"expect Falling, but trigger_price[{text(trigger)}] >= "
                                         f"current[{text(last)}]??LastPrice")  # fmt: skip
            if (direction == 1) != (side is Side.BUY):
                raise param_error("params error: this simulator supports Buy conditionals that trigger on a rise "
                                  "and Sell conditionals that trigger on a fall")  # fmt: skip
            etype = OrderType.STOP_MARKET if order_type == "Market" else OrderType.STOP_LIMIT
        rec_kw: dict[str, Any] = {
            "take_profit": tp, "stop_loss": sl, "trigger_price": trigger, "trigger_direction": direction,
            "market_unit": unit, "stop_order_type": "Stop" if trigger is not None else "UNKNOWN",
        }  # fmt: skip
        try:
            order = self.exchange.submit(
                ACCOUNT, spec.key, side, qty, type=etype, price=price, stop_price=trigger,
                tif="ioc" if tif == "IOC" or order_type == "Market" else ("fok" if tif == "FOK" else "gtc"),
                post_only=tif == "PostOnly", reduce_only=reduce_only, client_order_id=link,
            )  # fmt: skip
        except OrderRejected as exc:
            if exc.reason in (RejectReason.POST_ONLY_WOULD_TAKE, RejectReason.FOK_NOT_FILLABLE) and exc.order:
                # Bybit accepts these and cancels them at once; the engine refuses them, so keep the record.
                exc.order.status = OrderStatus.CANCELLED
                rec = Record(exc.order, category, spec, order_type, tif, ms(now), last, **rec_kw)
                rec.reject_reason = (
                    "EC_PostOnlyWillTakeLiquidity"
                    if exc.reason is RejectReason.POST_ONLY_WOULD_TAKE
                    else "EC_CancelForNoFullFill"
                )
                self._remember(rec)
                return rec
            raise rejected(exc, category) from None
        rec = Record(order, category, spec, order_type, tif, ms(now), last, **rec_kw)
        if order.status is OrderStatus.CANCELLED and order.filled_qty == 0 and order_type == "Market":
            rec.reject_reason = "EC_NoImmediateQtyToFill"
        self._remember(rec)
        self.advance(now)
        return rec

    def amend(self, category: str, p: Params, now: float) -> Record:
        """Change an open order's qty, price, trigger price or TP/SL, keeping its ids."""
        spec = self.market.spec(category, p.text("symbol"), market=False)
        rec = self.find(category, p)
        if rec.spec.symbol != spec.symbol:
            raise BybitError(110001, "Order does not exist.")
        if not rec.order.is_open:
            raise BybitError(110001, "order not exists or too late to replace")
        qty, price, trigger = p.decimal("qty"), p.decimal("price"), p.decimal("triggerPrice")
        tp, sl = p.decimal("takeProfit"), p.decimal("stopLoss")
        if all(x is None for x in (qty, price, trigger, tp, sl)):
            raise BybitError(34040, "Not modified")
        if price is not None and rec.order_type == "Market":
            raise param_error("params error: a Market order has no price to amend")
        new_qty = qty if qty is not None else rec.order.qty
        new_price = price if price is not None else rec.order.price
        self.check_increments(spec, new_qty, new_price, rec.order_type == "Market", now)
        if qty is not None and qty <= rec.order.filled_qty:
            raise BybitError(110064, "The modified contract quantity cannot be less than or equal to the filled "
                                     "quantity.")  # fmt: skip
        if qty is not None or price is not None or trigger is not None:
            try:
                self.exchange.amend(ACCOUNT, rec.order_id, qty=qty, price=price, stop_price=trigger)
            except OrderRejected as exc:
                raise rejected(exc, category) from None
        if trigger is not None:
            rec.trigger_price = trigger
        for value, attr in ((tp, "take_profit"), (sl, "stop_loss")):
            if value is not None:
                setattr(rec, attr, None if value == 0 else value)
        self.advance(now)
        return rec

    def cancel(self, category: str, p: Params, now: float) -> Record:
        """Cancel one open order."""
        spec = self.market.spec(category, p.text("symbol"), market=False)
        rec = self.find(category, p)
        if rec.spec.symbol != spec.symbol:
            raise BybitError(110001, "Order does not exist.")
        if not rec.order.is_open:
            raise BybitError(110008, "The order has been completed or cancelled.")
        self.exchange.cancel(ACCOUNT, rec.order_id)
        self.advance(now)
        return rec

    def cancel_all(self, category: str, p: Params, now: float) -> list[Record]:
        """Cancel every open order of the category matching symbol, baseCoin or settleCoin."""
        symbol, base, settle = p.opt("symbol"), p.opt("baseCoin"), p.opt("settleCoin")
        if category in ("linear", "inverse") and symbol is None and base is None and settle is None:
            raise param_error("params error: symbol, baseCoin or settleCoin is required")
        if symbol is not None:
            self.market.spec(category, symbol, market=False)
        out = [r for r in self.select(category, symbol, base, settle) if r.order.is_open]
        for rec in out:
            self.exchange.cancel(ACCOUNT, rec.order_id)
        self.advance(now)
        return out

    def select(self, category: str, symbol: str | None, base: str | None, settle: str | None) -> list[Record]:
        """Return the category's orders filtered by symbol / baseCoin / settleCoin, newest first."""
        out = [
            r for r in self.records.values()
            if r.category == category and (symbol is None or r.spec.symbol == symbol)
            and (base is None or r.spec.base == base) and (settle is None or r.spec.settle == settle)
        ]  # fmt: skip
        return sorted(out, key=lambda r: r.seq, reverse=True)

    def set_leverage(self, category: str, p: Params) -> None:
        """Set one symbol's leverage (buy and sell equal: one-way mode)."""
        spec = self.market.spec(category, p.text("symbol"), market=False)
        buy, sell = p.decimal("buyLeverage"), p.decimal("sellLeverage")
        if buy is None or sell is None:
            raise param_error("params error: buyLeverage and sellLeverage are required")
        if buy != sell:
            raise param_error("params error: buyLeverage must equal sellLeverage in one-way mode")
        if buy < 1 or buy > Decimal(spec.max_leverage or "100") or buy % Decimal("0.01") != 0:
            raise param_error(f"leverage invalid: [1, {spec.max_leverage}] in steps of 0.01")
        acct = self.exchange.account(ACCOUNT)
        if acct.leverage_by_symbol.get(spec.key, DEFAULT_LEVERAGE) == buy:
            raise BybitError(110043, "Set leverage has not been modified.")
        self.exchange.set_leverage(ACCOUNT, spec.key, buy)

    def trading_stop(self, category: str, p: Params, now: float) -> None:
        """Set, change or cancel ("0") the take-profit and stop-loss of a position."""
        spec = self.market.spec(category, p.text("symbol"), market=False)
        p.text("tpslMode", choices=("Full", "Partial"))
        if p.integer("positionIdx", lo=0, hi=2) != 0:
            raise param_error("params error: position idx not match position mode")
        tp, sl = p.decimal("takeProfit"), p.decimal("stopLoss")
        pos = self.exchange.account(ACCOUNT).position_qty(spec.key)
        if pos == 0:
            raise param_error("can not set tp/sl/ts for zero position")
        stops = self.stops.get(spec.key, Stops())
        side = Side.BUY if pos > 0 else Side.SELL
        base = self._last(spec, now)
        self._check_tpsl(side, base, tp if tp else None, sl if sl else None, spec)
        new_tp = stops.take_profit if tp is None else (None if tp == 0 else tp)
        new_sl = stops.stop_loss if sl is None else (None if sl == 0 else sl)
        if (new_tp, new_sl) == (stops.take_profit, stops.stop_loss):
            raise BybitError(34040, "not modified")
        stops.take_profit, stops.stop_loss = new_tp, new_sl
        stops.tp_trigger_by = p.text("tpTriggerBy", stops.tp_trigger_by)
        stops.sl_trigger_by = p.text("slTriggerBy", stops.sl_trigger_by)
        self.stops[spec.key] = stops
        self._stops_checked = min(self._stops_checked, now)


# RejectReason -> (derivatives code, message, spot code, message): the one table of engine refusals.
ERRORS: dict[RejectReason, tuple[int, str, int, str]] = {
    RejectReason.INSUFFICIENT_FUNDS: (110007, "Available balance is insufficient", 170131, "Balance insufficient"),
    RejectReason.REDUCE_ONLY_WOULD_INCREASE: (110017, "Reduce-only rule not satisfied", 10001, "reduceOnly invalid"),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (110072, "OrderLinkedID is duplicate", 170141, "Duplicate clientOrderId"),
    RejectReason.ORDER_NOT_FOUND: (110001, "Order does not exist.", 170213, "Order does not exist."),
    RejectReason.ORDER_NOT_OPEN: (110008, "The order has been completed or cancelled.", 170142,
                                  "Order has been cancelled"),
    RejectReason.INVALID_PRICE: (10001, "Price invalid", 170134, "Order price decimal too long"),
    RejectReason.INVALID_QTY: (10001, "Qty invalid", 170137, "Order volume decimal too long"),
    RejectReason.MIN_NOTIONAL: (110094, "Order notional value below the lower limit", 170140,
                                "Order value exceeded lower limit"),
    RejectReason.INSTRUMENT_EXPIRED: (110074, "This contract is not live", 170151, "The trading pair is not open yet"),
    RejectReason.UNKNOWN_INSTRUMENT: (10001, "Not supported symbols", 170121, "Invalid symbol."),
    RejectReason.POST_ONLY_WOULD_TAKE: (10001, "PostOnly order would take liquidity", 170218,
                                        "The LIMIT-MAKER order is rejected due to invalid price."),
    RejectReason.FOK_NOT_FILLABLE: (10001, "FOK order cannot be filled", 10001, "FOK order cannot be filled"),
}  # fmt: skip


def rejected(exc: OrderRejected, category: str) -> BybitError:
    """Return the Bybit error of an engine refusal."""
    entry = ERRORS.get(exc.reason)
    if entry is None:
        return param_error(exc.message)
    code, message, spot_code, spot_message = entry
    return BybitError(spot_code, spot_message) if category == "spot" else BybitError(code, message)


def market_price(rec: Record) -> str:
    """Return the price Bybit shows for an order (a market order's IOC protection price)."""
    spec = rec.spec
    if rec.order.price is not None:
        return on_step(rec.order.price, spec.tick)
    if spec.category == "spot":
        return "0"
    factor = 1 + MARKET_PROTECTION if rec.order.side is Side.BUY else 1 - MARKET_PROTECTION
    ticks = (rec.last_price * factor / spec.tick).to_integral_value(rounding=ROUND_FLOOR)
    return on_step(ticks * spec.tick, spec.tick)


__all__ = ["ACCOUNT", "BALANCES", "ZERO", "Record", "Stops", "Trading", "market_price", "rejected"]
