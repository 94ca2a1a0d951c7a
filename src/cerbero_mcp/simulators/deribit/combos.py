"""Deribit combos in the simulator: `private/create_combo`, and buying or selling a combo.

`create_combo` normalises the legs' amounts to integer ratios (as Deribit does) and names the combo
like Deribit (`BTC-CS-25DEC26-100000_120000` for a bought call spread, `BTC-PS-...` for a bought put
spread, `BTC-FS-25DEC26_PERP` for a future spread bought in the first leg) or, for any other shape
or orientation, `<CCY>-COMBO-<hash>` (the signed legs decide the name, so one name never stands for
two orientations). Buying or selling a combo executes every leg at once as fill-or-kill market
orders (amount × ratio each) and undoes them all if any leg is refused. A limit combo fills only
when the legs' net price is at or better than the limit; otherwise an IOC/FOK combo comes back
cancelled and a resting one is refused with 11050 (the simulator does not rest combo orders). The
combo order's average price is the net price per unit of the combo; its trades are the legs' fills.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from typing import Any

from cerbero_mcp.simulators.deribit.market import expiry_code, ms
from cerbero_mcp.simulators.deribit.rpc import Params, RpcError, invalid
from cerbero_mcp.simulators.deribit.trading import (
    ACCOUNT,
    ORDER_TYPES,
    TIF,
    ZERO,
    Combo,
    Trading,
    rejected,
)
from cerbero_mcp.simulators.engine import (
    CancelReason,
    Instrument,
    InstrumentKind,
    Order,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)


def _gcd(values: list[Decimal]) -> Decimal:
    scale = max(max(-v.as_tuple().exponent, 0) for v in values)  # type: ignore[operator]
    ints = [int(v.scaleb(scale)) for v in values]
    g = 0
    for i in ints:
        g = math.gcd(g, abs(i))
    return Decimal(g).scaleb(-scale)


def _min_amount(lots_and_ratios: list[tuple[Decimal, Decimal]]) -> Decimal:
    """Return the smallest combo amount a with a × |ratio| a whole number of lots on every leg."""
    # a × r ∈ lot·ℤ  ⇔  a ∈ (lot / r)·ℤ, so the combo's step is the lcm of lot / r over the legs
    steps = [Fraction(lot) / abs(Fraction(ratio)) for lot, ratio in lots_and_ratios]
    numerator = math.lcm(*(f.numerator for f in steps))
    denominator = math.gcd(*(f.denominator for f in steps))
    return Decimal(numerator) / Decimal(denominator)


def _future_code(inst: Instrument) -> str:
    return "PERP" if inst.expiry is None else expiry_code(inst.expiry)


class ComboDesk:
    """The combos of one simulator instance, traded through its `Trading` account."""

    def __init__(self, trading: Trading) -> None:
        """Serve combos over `trading`."""
        self.t = trading

    def place(self, p: Params, side: str, now: float) -> dict[str, Any]:
        """private/buy and private/sell: a combo here, any other instrument through `Trading.place`."""
        combo = self.t.combos.get(p.text("instrument_name"))
        if combo is None:
            return self.t.place(p, side, now)
        return self._place_combo(combo, p, side, now)

    def create_combo(self, p: Params, now: float) -> dict[str, Any]:
        """private/create_combo: the combo of these legs (created or existing)."""
        raw = p.items("trades")
        if len(raw) < 2:
            raise invalid("a combo needs at least two legs", "trades")
        legs: list[tuple[str, Decimal]] = []
        for item in raw:
            leg = Params(item)
            name = leg.text("instrument_name")
            inst = self.t.market.instrument(name)
            if inst.expiry is not None and inst.expiry <= now:
                raise invalid("instrument has expired", "instrument_name")
            amount = leg.decimal("amount")
            assert amount is not None
            if amount <= 0 or not inst.qty_aligned(amount):
                raise invalid("amount must be a multiple of contract_size", "amount")
            sign = 1 if leg.text("direction", choices=("buy", "sell")) == "buy" else -1
            legs.append((name, sign * amount))
        if len({n for n, _ in legs}) != len(legs):
            raise invalid("each leg must be a different instrument", "trades")
        currencies = {self.t.market.model.instrument(n).underlying for n, _ in legs}
        if len(currencies) != 1:
            raise invalid("all legs must be of one currency", "trades")
        currency = currencies.pop()
        g = _gcd([abs(a) for _, a in legs])
        ratios = [(n, (a / g).normalize()) for n, a in legs]
        name = self._combo_name(currency, ratios)
        combo = self.t.combos.get(name)
        if combo is None:
            insts = [self.t.market.model.instrument(n) for n, _ in ratios]
            options = [i for i in insts if i.kind is InstrumentKind.OPTION]
            kind = "option_combo" if options else "future_combo"
            tick = min(i.tick_size for i in insts)
            lot = _min_amount([(i.lot_size, r) for i, (_, r) in zip(insts, ratios, strict=True)])
            combo = Combo(name, currency, kind, ratios, 900_000 + len(self.t.combos), ms(now), tick, lot)
            self.t.combos[name] = combo
        return combo.combo_json()  # Deribit documents only the combo object here, not its trading rules

    def _combo_name(self, currency: str, ratios: list[tuple[str, Decimal]]) -> str:
        model = self.t.market.model
        if len(ratios) == 2 and sorted(r for _, r in ratios) == [-1, 1]:
            (a, ra), (b, _) = ratios
            ia, ib = model.instrument(a), model.instrument(b)
            buy, sell = (ia, ib) if ra > 0 else (ib, ia)
            if buy.kind is InstrumentKind.OPTION and sell.kind is InstrumentKind.OPTION:
                same = buy.expiry == sell.expiry and buy.option_kind == sell.option_kind
                assert buy.strike is not None
                assert sell.strike is not None
                assert buy.expiry is not None
                lo, hi = sorted((buy.strike, sell.strike))
                if same and buy.option_kind == "call" and buy.strike < sell.strike:
                    return f"{currency}-CS-{expiry_code(buy.expiry)}-{lo}_{hi}"
                if same and buy.option_kind == "put" and buy.strike > sell.strike:
                    return f"{currency}-PS-{expiry_code(buy.expiry)}-{lo}_{hi}"
            elif buy.kind is not InstrumentKind.OPTION and sell.kind is not InstrumentKind.OPTION:
                return f"{currency}-FS-{_future_code(buy)}_{_future_code(sell)}"
        key = ",".join(f"{n}:{r}" for n, r in sorted(ratios))
        return f"{currency}-COMBO-{hashlib.blake2b(key.encode(), digest_size=4).hexdigest().upper()}"

    def combo_instrument(self, name: str) -> dict[str, Any] | None:
        """Return a combo's instrument object (its rules), None when `name` is no combo."""
        combo = self.t.combos.get(name)
        return combo.instrument_json() if combo is not None else None

    def combo_details(self, name: str) -> dict[str, Any] | None:
        """Return a combo's combo object (legs and state), None when `name` is no combo."""
        combo = self.t.combos.get(name)
        return combo.combo_json() if combo is not None else None

    def _place_combo(self, combo: Combo, p: Params, side: str, now: float) -> dict[str, Any]:
        amount = self.t.amount(p, combo.name)
        otype = p.text("type", "limit", choices=ORDER_TYPES)
        if otype not in ("limit", "market"):
            raise invalid("combo orders are limit or market", "type")
        if p.boolean("post_only"):
            raise rejected(OrderRejected(RejectReason.POST_ONLY_WOULD_TAKE, "combo orders always take"))
        limit = p.decimal("price") if otype == "limit" else None
        if limit is not None and limit % combo.tick_size != 0:
            raise invalid("price must be a multiple of tick_size", "price")
        tif = TIF[p.text("time_in_force", "good_til_cancelled", choices=TIF)]
        label = self.t.label(p)
        legs = []
        for leg_name, ratio in combo.legs:
            inst = self.t.market.model.instrument(leg_name)
            qty = amount * abs(ratio)
            if not inst.qty_aligned(qty):
                raise invalid("amount must be a multiple of contract_size", "amount")
            buy = (ratio > 0) == (side == "buy")
            legs.append((inst, "buy" if buy else "sell", qty, ratio))
        order_id = self.t.ids.next(combo.currency)
        combo_order = Order(
            id=order_id, account_id=ACCOUNT, instrument=combo.name, side=Side(side), type=OrderType(otype),
            qty=amount, price=limit, stop_price=None, tif=TimeInForce(tif), post_only=False,
            reduce_only=p.boolean("reduce_only"), client_order_id=None, status=OrderStatus.FILLED,
            created_at=now, updated_at=now, extra={"label": label},
        )  # fmt: skip
        before = len(self.t.acct.fills)
        leg_orders: list[Order] = []
        with self._atomic([inst.symbol for inst, *_ in legs]) as undo:
            try:
                for i, (inst, leg_side, qty, _) in enumerate(legs, 1):
                    self.t.ids.override = f"{order_id}/{i}"
                    extra = {"label": label, "combo": combo.name, "parent": order_id}
                    leg = self.t.exchange.submit(
                        ACCOUNT, inst.symbol, leg_side, qty, type="market", tif="fok",
                        reduce_only=combo_order.reduce_only, extra=extra,
                    )  # fmt: skip
                    leg_orders.append(leg)
            except OrderRejected as exc:
                self.t.ids.override = None
                undo()
                self.t.ids.give_back(order_id)
                if exc.reason is RejectReason.FOK_NOT_FILLABLE:
                    raise RpcError(
                        11050, "bad_request", {"reason": "a leg cannot fill completely at the book", "param": "amount"}
                    ) from None
                raise rejected(exc) from None
            net = sum(
                (ratio * (o.avg_fill_price or ZERO) for (_, _, _, ratio), o in zip(legs, leg_orders, strict=True)),
                ZERO,
            )
            if limit is not None and (net > limit if side == "buy" else net < limit):
                undo()
                if tif in ("gtc", "day"):
                    self.t.ids.give_back(order_id)
                    raise RpcError(
                        11050,
                        "bad_request",
                        {"reason": f"combo limit {limit} is not marketable (net {net}); the simulator does not rest "
                         "combo orders", "param": "price"},
                    )  # fmt: skip
                combo_order.status, combo_order.cancel_reason = OrderStatus.CANCELLED, CancelReason.IOC_REMAINDER
                self.t.side_orders[order_id] = combo_order
                return {"order": self.t.order_json(combo_order), "trades": []}
        combo_order.filled_qty = amount
        combo_order.avg_fill_price = net
        self.t.side_orders[order_id] = combo_order
        self.t.touched.update(inst.symbol for inst, *_ in legs)
        trades = [self.t.trade_json(f, o) for o in leg_orders for f in self.t.acct.fills[before:] if f.order_id == o.id]
        return {"order": self.t.order_json(combo_order), "trades": trades}

    @contextmanager
    def _atomic(self, symbols: list[str]) -> Iterator[Callable[[], None]]:
        """Yield an `undo()` that puts the account back as it was before the block's market orders.

        Only valid while the request's clock is pinned (no timed events can run in between) and for
        orders that never rest: then fills, positions, cash, the registered orders and the book
        liquidity taken are everything such orders change.
        """
        ex = self.t.exchange
        with ex._lock:
            acct = self.t.acct
            liquidity = ex._liquidity._used
            saved_cash = (dict(acct.balances), dict(acct.realized), dict(acct.fees))
            saved_positions = {s: (acct.positions[s].copy() if s in acct.positions else None) for s in symbols}
            saved_fills, saved_orders = len(acct.fills), set(acct.orders)
            saved_liquidity = {s: (liquidity[s][0], dict(liquidity[s][1])) for s in symbols if s in liquidity}

            def undo() -> None:
                for target, saved in zip((acct.balances, acct.realized, acct.fees), saved_cash, strict=True):
                    target.clear()
                    target.update(saved)
                for s, pos in saved_positions.items():
                    if pos is None:
                        acct.positions.pop(s, None)
                    else:
                        acct.positions[s] = pos.copy()
                del acct.fills[saved_fills:]
                for oid in set(acct.orders) - saved_orders:
                    del acct.orders[oid]
                    ex._orders.pop(oid, None)
                for s in symbols:
                    if s in saved_liquidity:
                        liquidity[s] = (saved_liquidity[s][0], dict(saved_liquidity[s][1]))
                    else:
                        liquidity.pop(s, None)

            yield undo
