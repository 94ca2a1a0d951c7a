"""The Deribit simulator's account and its orders over the shared `Exchange`.

One account per instance (the owner of the instance's credentials) holds BTC 10, ETH 150 and
USDC 500,000, with leverage 50 on futures. Deribit specifics on top of the engine:

- order ids are `<CCY>-<n>`, counted from 1 per currency (a refused order does not use a number);
  `label` is an attribute, not the engine's unique client order id, because Deribit labels repeat;
- a fill-or-kill order that cannot fill completely is answered like Deribit does: the order, in
  state `cancelled`, with no trades (not an error);
- a post-only order (good_til_cancelled only) that would take is moved to one tick short of the
  best opposite price, as Deribit does, unless it carries `reject_post_only=true`: then it is refused
  with 11054 `post_only_reject`; edits follow the same rule with the edit's own `reject_post_only`;
- option prices follow `tick_size_steps` (0.0001, and 0.0005 above 0.005): an off-tier price is -32602;
- market and stop-market orders report `"price": "market_price"`, as Deribit does.

Combos are in `combos.py`, positions and account summaries in `account.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.deribit.market import DeribitMarket, check_currency, ms
from cerbero_mcp.simulators.deribit.rpc import Params, RpcError, dec, invalid, num
from cerbero_mcp.simulators.engine import (
    CancelReason,
    Clock,
    Exchange,
    Fill,
    InstrumentKind,
    Order,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
)
from cerbero_mcp.simulators.engine.accounts import Account

ACCOUNT = "main"
BALANCES = {"BTC": "10", "ETH": "150", "USDC": "500000"}
LEVERAGE = 50
ZERO = Decimal(0)
TIF = {"good_til_cancelled": "gtc", "good_til_day": "day", "fill_or_kill": "fok", "immediate_or_cancel": "ioc"}
TIF_BACK = {v: k for k, v in TIF.items()}
ORDER_TYPES = ("limit", "market", "stop_limit", "stop_market", "take_limit", "take_market", "trailing_stop")
STATE = {
    OrderStatus.NEW: "open",
    OrderStatus.PARTIALLY_FILLED: "open",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.UNTRIGGERED: "untriggered",
}
CANCEL_REASON = {
    CancelReason.USER: "user_request",
    CancelReason.IOC_REMAINDER: "immediate_or_cancel",
    CancelReason.EXPIRED: "good_til_day",
    CancelReason.REDUCE_ONLY: "reduce_only",
    CancelReason.INSTRUMENT_EXPIRED: "settlement",
}
# RejectReason → (code, message, reason, param): the one table of engine refusals to Deribit errors.
ERRORS: dict[RejectReason, tuple[int, str, str | None, str | None]] = {
    RejectReason.INSUFFICIENT_FUNDS: (10009, "not_enough_funds", None, None),
    RejectReason.ORDER_NOT_FOUND: (10004, "order_not_found", None, "order_id"),
    RejectReason.ORDER_NOT_OPEN: (10004, "order_not_found", "order is not open", "order_id"),
    RejectReason.POST_ONLY_WOULD_TAKE: (11054, "post_only_reject", "post_only order would take liquidity", "post_only"),
    RejectReason.REDUCE_ONLY_WOULD_INCREASE: (
        11052, "reduce_only_reject", "reduce_only order would open or increase a position", "reduce_only",
    ),
    RejectReason.INVALID_PRICE: (-32602, "Invalid params", "price must be a multiple of tick_size", "price"),
    RejectReason.INVALID_QTY: (-32602, "Invalid params", "amount must be a multiple of contract_size", "amount"),
    RejectReason.MIN_NOTIONAL: (-32602, "Invalid params", "amount is below the minimum", "amount"),
    RejectReason.INVALID_ORDER: (-32602, "Invalid params", None, "type"),
    RejectReason.UNKNOWN_INSTRUMENT: (-32602, "Invalid params", "instrument not found", "instrument_name"),
    RejectReason.INSTRUMENT_EXPIRED: (-32602, "Invalid params", "instrument has expired", "instrument_name"),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (-32602, "Invalid params", "duplicate order id", "label"),
    RejectReason.NO_POSITION: (11050, "bad_request", "no position to close", "instrument_name"),
    RejectReason.FOK_NOT_FILLABLE: (11050, "bad_request", "fill_or_kill order cannot fill", "time_in_force"),
    RejectReason.UNKNOWN_ACCOUNT: (13009, "unauthorized", None, None),
}  # fmt: skip


def rejected(exc: OrderRejected) -> RpcError:
    """Return the Deribit error of an engine refusal."""
    code, message, reason, param = ERRORS[exc.reason]
    if exc.reason is RejectReason.INVALID_PRICE and "stop_price" in exc.message:
        param = "trigger_price"
    data: dict[str, Any] = {"reason": reason or exc.message}
    if param is not None:
        data["param"] = param
    if exc.details:
        data.update({k: v for k, v in exc.details.items() if k in ("available", "required", "nearest")})
    return RpcError(code, message, data, status=401 if code == 13009 else 400)


class OrderIds:
    """`<CCY>-<n>` per currency for orders (the engine's id factory); fills keep the engine's counter."""

    def __init__(self) -> None:
        """Start every currency at 1."""
        self.counters: dict[str, int] = {}
        self.currency = "BTC"
        self.override: str | None = None

    def __call__(self, kind: str, n: int) -> str:
        """Name the engine's next order (or fill)."""
        if kind != "order":
            return str(n)
        if self.override is not None:
            name, self.override = self.override, None
            return name
        return self.next(self.currency)

    def next(self, currency: str) -> str:
        """Return the next order id of `currency`."""
        self.counters[currency] = self.counters.get(currency, 0) + 1
        return f"{currency}-{self.counters[currency]}"

    def give_back(self, order_id: str | None) -> None:
        """Return the last id of its currency when the order it named was refused."""
        if order_id is None or "-" not in order_id:
            return
        currency, _, n = order_id.partition("-")
        if n.isdigit() and self.counters.get(currency) == int(n):
            self.counters[currency] = int(n) - 1


@dataclass
class Combo:
    """A combo instrument: legs with signed integer ratios, traded as one."""

    name: str
    currency: str
    kind: str
    legs: list[tuple[str, Decimal]]  # (instrument, signed ratio)
    instrument_id: int
    created_ms: int
    tick_size: Decimal
    min_trade_amount: Decimal

    def combo_json(self) -> dict[str, Any]:
        """Return Deribit's combo object: what private/create_combo and public/get_combo_details answer."""
        return {
            "id": self.name,
            "instrument_id": self.instrument_id,
            "state": "active",
            "state_timestamp": self.created_ms,
            "creation_timestamp": self.created_ms,
            "legs": [{"instrument_name": n, "amount": dec(r)} for n, r in self.legs],
        }

    def instrument_json(self) -> dict[str, Any]:
        """Return the combo as an instrument (public/get_instrument, get_instruments): its trading rules."""
        return {
            "instrument_name": self.name,
            "instrument_id": self.instrument_id,
            "kind": self.kind,
            "instrument_type": "reversed",
            "base_currency": self.currency,
            "quote_currency": self.currency,
            "counter_currency": "USD",
            "settlement_currency": self.currency,
            "price_index": f"{self.currency.lower()}_usd",
            "tick_size": dec(self.tick_size),
            "tick_size_steps": [],
            "min_trade_amount": dec(self.min_trade_amount),
            "contract_size": 1,
            "creation_timestamp": self.created_ms,
            "is_active": True,
            "state": "open",
        }


class Trading:
    """The account of one simulator instance and Deribit's private methods over it."""

    def __init__(self, market: DeribitMarket, clock: Clock) -> None:
        """Open the funded account on an `Exchange` over the market's model."""
        self.market = market
        self.ids = OrderIds()
        self.exchange = Exchange(market.model, clock, id_factory=self.ids)
        self.exchange.open_account(ACCOUNT, BALANCES, leverage=LEVERAGE)
        market.book_of = self.exchange.book
        self.side_orders: dict[str, Order] = {}  # orders the engine never registered: killed FOKs, combos
        self.combos: dict[str, Combo] = {}
        self.touched: set[str] = set()

    @property
    def acct(self) -> Account:
        """Return the engine's live account state."""
        return self.exchange.account(ACCOUNT)

    # --- lookups and serialisation ------------------------------------------------------------

    def _contract(self, name: str) -> Decimal:
        combo = self.combos.get(name)
        if combo is not None:
            return Decimal(1)
        return self.market.contract_size(name)

    def _currency_of(self, name: str) -> str:
        combo = self.combos.get(name)
        return combo.currency if combo is not None else self.market.listings[name].currency

    def find_order(self, order_id: str) -> Order:
        """Return one of the account's orders (10004 when unknown)."""
        order = self.acct.orders.get(order_id) or self.side_orders.get(order_id)
        if order is None:
            raise RpcError(10004, "order_not_found", {"reason": "order not found", "param": "order_id"})
        return order

    def order_json(self, order: Order) -> dict[str, Any]:
        """Return Deribit's order object."""
        fills = [f for f in self.acct.fills if f.order_id == order.id] if order.filled_qty else []
        stop = order.type in (OrderType.STOP_LIMIT, OrderType.STOP_MARKET)
        # A market order reports the price it executed at; only one that has not (an untriggered
        # stop-market, a market order that found nothing) says "market_price", as Deribit documents.
        price: Any = dec(order.price) if order.price is not None else "market_price"
        if order.price is None and order.avg_fill_price is not None and order.filled_qty:
            price = dec(order.avg_fill_price)
        out: dict[str, Any] = {
            "order_id": order.id,
            "label": order.extra.get("label", ""),
            "instrument_name": order.instrument,
            "direction": order.side.value,
            "order_type": order.type.value,
            "order_state": STATE[order.status],
            "price": price,
            "amount": dec(order.qty),
            "contracts": dec(order.qty / self._contract(order.instrument)),
            "filled_amount": dec(order.filled_qty),
            "average_price": dec(order.avg_fill_price) if order.avg_fill_price is not None else 0,
            "commission": dec(sum((f.fee for f in fills), ZERO)),
            "time_in_force": TIF_BACK[order.tif.value],
            "post_only": order.post_only,
            "reduce_only": order.reduce_only,
            "creation_timestamp": ms(order.created_at),
            "last_update_timestamp": ms(order.updated_at),
            "api": True,
            "web": False,
            "replaced": bool(order.extra.get("replaced", False)),
            "is_liquidation": False,
            "risk_reducing": False,
            "mmp": False,
            "max_show": dec(order.qty),
        }
        if order.post_only:  # Deribit sends the flag only on post-only orders
            out["reject_post_only"] = bool(order.extra.get("reject_post_only", False))
        if stop:
            out.update(
                trigger_price=dec(order.stop_price),
                trigger=order.extra.get("trigger", "last_price"),
                triggered=order.triggered_at is not None,
            )
        if order.status is OrderStatus.CANCELLED and order.cancel_reason is not None:
            out["cancel_reason"] = order.extra.get("cancel_reason") or CANCEL_REASON[order.cancel_reason]
        if order.status is OrderStatus.REJECTED and order.reject_reason is not None:
            out["reject_reason"] = order.reject_reason.value
        return out

    def trade_json(self, fill: Fill, order: Order) -> dict[str, Any]:
        """Return Deribit's trade object of one fill of `order`."""
        inst = self.market.model.instrument(fill.instrument)
        model = self.market.model
        out: dict[str, Any] = {
            "trade_id": f"{inst.underlying}-{fill.id}",
            "trade_seq": int(fill.id) if fill.id.isdigit() else 0,
            "timestamp": ms(fill.time),
            "tick_direction": 0,
            "state": STATE[order.status],
            "self_trade": False,
            "reduce_only": order.reduce_only,
            "post_only": order.post_only,
            "price": dec(fill.price),
            "amount": dec(fill.qty),
            "contracts": dec(fill.qty / self._contract(fill.instrument)),
            "direction": fill.side.value,
            "order_id": order.extra.get("parent", order.id),
            "order_type": order.type.value,
            "label": order.extra.get("label", ""),
            "liquidity": "M" if fill.liquidity == "maker" else "T",
            "fee": dec(fill.fee),
            "fee_currency": fill.fee_currency,
            "profit_loss": dec(fill.realized_pnl),
            "mark_price": num(model.mid(fill.instrument, fill.time), 8),
            "index_price": num(model.index(inst.underlying, fill.time), 2),
            "instrument_name": fill.instrument,
            "matching_id": None,
            "api": True,
            "mmp": False,
            "risk_reducing": False,
        }
        if "combo" in order.extra:
            out["combo_id"] = order.extra["combo"]
            out["combo_trade_id"] = order.extra.get("parent")
        if inst.kind is InstrumentKind.OPTION and inst.expiry is not None and inst.expiry > fill.time:
            snap = model.option_snapshot(fill.instrument, fill.time)
            out.update(iv=num(snap.mark_iv * 100, 2), underlying_price=num(snap.forward, 2))
        return out

    def _result(self, order: Order, before: int) -> dict[str, Any]:
        fills = [f for f in self.acct.fills[before:] if f.order_id == order.id]
        return {"order": self.order_json(order), "trades": [self.trade_json(f, order) for f in fills]}

    # --- orders -------------------------------------------------------------------------------

    def place(self, p: Params, side: str, now: float) -> dict[str, Any]:
        """private/buy and private/sell."""
        name = p.text("instrument_name")
        self.market.instrument(name)
        amount = self.amount(p, name)
        otype = p.text("type", "limit", choices=ORDER_TYPES)
        if otype not in ("limit", "market", "stop_limit", "stop_market"):
            raise invalid(f"order type {otype} is not supported by the simulator", "type")
        if p.has("advanced"):
            raise invalid("advanced (usd/implv) orders are not supported by the simulator", "advanced")
        is_limit = otype in ("limit", "stop_limit")
        price = p.decimal("price", required=is_limit) if is_limit else None
        stop = otype.startswith("stop")
        trigger_price = p.decimal("trigger_price", required=stop) if stop else None
        trigger = p.opt_text("trigger", choices=("index_price", "mark_price", "last_price"))
        if stop and trigger is None:
            raise invalid("trigger is required for trigger orders", "trigger")
        tif = TIF[p.text("time_in_force", "good_til_cancelled", choices=TIF)]
        post_only = p.boolean("post_only") and is_limit
        if post_only and tif != "gtc":
            raise invalid("post_only is only valid with time_in_force good_til_cancelled", "time_in_force")
        reject_post_only = post_only and p.boolean("reject_post_only")
        self.check_tiers(name, price, "price")
        if post_only and not reject_post_only and otype == "limit" and price is not None:
            price = self.post_only_price(name, side, price)
        label = self.label(p)
        extra: dict[str, Any] = {"label": label, "reject_post_only": reject_post_only}
        if trigger is not None:
            extra["trigger"] = trigger
        before = len(self.acct.fills)
        self.ids.currency = self._currency_of(name)
        try:
            order = self.exchange.submit(
                ACCOUNT, name, side, amount, type=otype, price=price, stop_price=trigger_price, tif=tif,
                post_only=post_only, reduce_only=p.boolean("reduce_only"), extra=extra,
            )  # fmt: skip
        except OrderRejected as exc:
            if exc.reason is RejectReason.FOK_NOT_FILLABLE and exc.order is not None:
                killed = exc.order  # Deribit answers a killed FOK with the cancelled order, not an error
                killed.status, killed.cancel_reason, killed.updated_at = OrderStatus.CANCELLED, CancelReason.USER, now
                killed.extra["cancel_reason"] = "fill_or_kill"
                self.side_orders[killed.id] = killed
                return {"order": self.order_json(killed), "trades": []}
            self.ids.give_back(exc.order.id if exc.order is not None else None)
            raise rejected(exc) from None
        self.touched.add(name)
        return self._result(order, before)

    def check_tiers(self, name: str, price: Decimal | None, param: str) -> None:
        """Refuse a price off the grid of its tick tier (`tick_size_steps`), naming the nearest valid prices."""
        if price is None or price <= 0 or not self.market.tick_steps(name) or self.market.price_on_grid(name, price):
            return  # one tick everywhere: the engine's own check answers
        tick = self.market.tick_at(name, price)
        raise RpcError(
            -32602,
            "Invalid params",
            {"reason": f"price must be a multiple of {tick} at this price (tick_size_steps)", "param": param,
             "nearest": [str(x) for x in self.market.nearest_prices(name, price)]},
        )  # fmt: skip

    def post_only_price(self, name: str, side: str, price: Decimal) -> Decimal:
        """Return where Deribit rests a post-only order without reject_post_only: just inside the spread.

        A post-only price that would take is moved to one tick (of the tier there) short of the best
        opposite price, so the order adds liquidity at a price the caller did not send.
        """
        book = self.exchange.book(name, 1)
        touch = book.best_ask if side == "buy" else book.best_bid
        if touch is None or (price < touch if side == "buy" else price > touch):
            return price
        tick = self.market.tick_at(name, touch)
        moved = touch - tick if side == "buy" else touch + tick
        while not self.market.price_on_grid(name, moved) and moved > 0:  # crossed a tier boundary going down
            moved -= self.market.model.instrument(name).tick_size
        return moved if moved > 0 else self.market.model.instrument(name).tick_size

    def amount(self, p: Params, name: str) -> Decimal:
        """Return the order amount from `amount` or `contracts` (-32602 when neither fits)."""
        amount = p.decimal("amount", required=False)
        contracts = p.decimal("contracts", required=False)
        if contracts is not None:
            from_contracts = contracts * self._contract(name)
            if amount is not None and amount != from_contracts:
                raise invalid("amount and contracts disagree", "contracts")
            amount = from_contracts
        if amount is None:
            raise invalid("missing required parameter", "amount")
        if amount <= 0:
            raise invalid("must be positive", "amount")
        return amount

    @staticmethod
    def label(p: Params) -> str:
        """Return the order label (at most 64 characters)."""
        label = p.text("label", "")
        if len(label) > 64:
            raise invalid("label must be at most 64 characters", "label")
        return label

    def edit(self, p: Params, now: float) -> dict[str, Any]:
        """private/edit: change amount, price and/or trigger price of an open order (same id)."""
        order = self.find_order(p.text("order_id"))
        if order.id in self.side_orders or not order.is_open:
            raise RpcError(10004, "order_not_found", {"reason": "order is not open", "param": "order_id"})
        amount = self.amount(p, order.instrument) if p.has("amount") or p.has("contracts") else None
        is_limit = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        price = p.decimal("price", required=False) if is_limit else None
        trigger_price = p.decimal("trigger_price", required=False) if order.is_stop else None
        post_only = p.boolean("post_only", order.post_only)
        self.check_tiers(order.instrument, price, "price")
        if post_only and price is not None and order.status is not OrderStatus.UNTRIGGERED:
            book = self.exchange.book(order.instrument, 1)
            touch = book.best_ask if order.side is Side.BUY else book.best_bid
            if touch is not None and (price >= touch if order.side is Side.BUY else price <= touch):
                if p.boolean("reject_post_only"):
                    raise rejected(OrderRejected(RejectReason.POST_ONLY_WOULD_TAKE, "post-only edit would take"))
                price = self.post_only_price(order.instrument, order.side.value, price)
        before = len(self.acct.fills)
        try:
            self.exchange.amend(ACCOUNT, order.id, qty=amount, price=price, stop_price=trigger_price)
        except OrderRejected as exc:
            raise rejected(exc) from None
        order.extra["replaced"] = True
        return self._result(order, before)

    def cancel(self, p: Params) -> dict[str, Any]:
        """private/cancel: the cancelled order."""
        order = self.find_order(p.text("order_id"))
        if order.id in self.side_orders:
            raise RpcError(10004, "order_not_found", {"reason": "order is not open", "param": "order_id"})
        try:
            self.exchange.cancel(ACCOUNT, order.id)
        except OrderRejected as exc:
            raise rejected(exc) from None
        return self.order_json(order)

    def filtered(
        self, currency: str | None, kind: str | None, otype: str, instrument: str | None = None
    ) -> list[Order]:
        """Return open orders by currency, kind, Deribit order-type filter and instrument."""
        out = []
        for order in self.exchange.open_orders(ACCOUNT, instrument):
            listing = self.market.listings[order.instrument]
            if currency is not None and listing.currency != currency:
                continue
            if kind not in (None, "any") and listing.kind != kind:
                continue
            stop = order.status is OrderStatus.UNTRIGGERED
            if otype == "limit" and (stop or order.type is not OrderType.LIMIT):
                continue
            if otype in ("stop_all", "trigger_all", "untriggered") and not stop:
                continue
            if otype in ("stop_limit", "stop_market") and order.type.value != otype:
                continue
            out.append(order)
        return out

    def cancel_orders(self, orders: list[Order]) -> int:
        """Cancel `orders` and return how many were cancelled."""
        for order in orders:
            self.exchange.cancel(ACCOUNT, order.id)
        return len(orders)

    def open_orders(self, p: Params, *, by_instrument: bool) -> list[dict[str, Any]]:
        """private/get_open_orders_by_currency and _by_instrument."""
        otype = p.text("type", "all")
        if by_instrument:
            name = p.text("instrument_name")
            self.market.instrument(name)
            orders = self.filtered(None, None, otype, name)
        else:
            currency = check_currency(p.text("currency"), allow_any=True)
            orders = self.filtered(currency, p.opt_text("kind"), otype)
        return [self.order_json(o) for o in orders]

    def close_position(self, p: Params, now: float) -> dict[str, Any]:
        """private/close_position: a reduce-only order for the whole position."""
        name = p.text("instrument_name")
        self.market.instrument(name)
        otype = p.text("type", choices=("limit", "market"))
        qty = self.acct.position_qty(name)
        if qty == 0:
            raise rejected(OrderRejected(RejectReason.NO_POSITION, f"no position in {name}"))
        params = {"instrument_name": name, "amount": abs(qty), "type": otype, "reduce_only": True}
        if otype == "limit":
            params["price"] = p.decimal("price")
        return self.place(Params(params), "sell" if qty > 0 else "buy", now)

    def by_label(self, p: Params) -> list[Order]:
        """Return the account's orders carrying a label (optionally of one currency)."""
        label = p.text("label")
        currency = check_currency(p.text("currency", "any"), allow_any=True)
        orders = [*self.acct.orders.values(), *self.side_orders.values()]
        return [
            o
            for o in orders
            if o.extra.get("label") == label and (currency is None or self._currency_of(o.instrument) == currency)
        ]

    def history(self, p: Params) -> list[dict[str, Any]]:
        """private/get_order_history_by_currency: closed orders, newest first."""
        currency = check_currency(p.text("currency"), allow_any=True)
        count = p.integer("count", 20)
        orders = [
            o
            for o in [*self.acct.orders.values(), *self.side_orders.values()]
            if not o.is_open
            and "parent" not in o.extra
            and (currency is None or self._currency_of(o.instrument) == currency)
        ]
        orders.sort(key=lambda o: o.updated_at, reverse=True)
        return [self.order_json(o) for o in orders[: max(count, 1)]]

    def user_trades(self, p: Params, *, by_instrument: bool) -> dict[str, Any]:
        """private/get_user_trades_by_currency and _by_instrument, newest first."""
        if by_instrument:
            name = p.text("instrument_name")
            self.market.instrument(name)
            fills = [f for f in self.acct.fills if f.instrument == name]
        else:
            currency = check_currency(p.text("currency"), allow_any=True)
            fills = [f for f in self.acct.fills if currency is None or f.fee_currency == currency]
        count = max(p.integer("count", 10), 1)
        fills = fills[::-1]
        return {
            "trades": [self.trade_json(f, self.find_order(f.order_id)) for f in fills[:count]],
            "has_more": len(fills) > count,
        }
