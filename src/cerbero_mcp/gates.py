"""The gates a write passes before the venue call, and the exposure arithmetic they share.

    kill switch (before idempotency) → legs and exposure → limits → leverage cap

`exposure_of` values a write's legs against the venue's `book` once for every venue: each leg's
notional, and the account's worst-case gross notional after the opening legs fill (reduce-only
legs never add; legs sharing a `one_of` group are alternatives, of which the worst counts).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Sequence
from contextvars import ContextVar
from decimal import Decimal, localcontext
from typing import Any

from pydantic import BaseModel

from cerbero_mcp.common.errors import (
    KillSwitchEngagedError,
    LeverageCapExceededError,
    OrderNotionalLimitError,
    OrderQtyLimitError,
    OrderRateLimitError,
    SymbolNotAllowedError,
)
from cerbero_mcp.contracts import Book, Exposure, Leg, PricedLeg, ToolContext, ToolSpec
from cerbero_mcp.exchanges.validation import plain as plain_decimal
from cerbero_mcp.limits import OrderLimits
from cerbero_mcp.state_store import StateStore

# Set while `WritePipeline.evaluate` runs the gates for a check only (pre_trade_check): a gate with a
# side effect (the approval gate stores a pending approval, spends an approved one) must not act.
CHECK_ONLY: ContextVar[bool] = ContextVar("cerbero_gates_check_only", default=False)


def check_only() -> bool:
    """Return whether the gates run for a check only (nothing will be sent, nothing may be stored)."""
    return CHECK_ONLY.get()


# OCO groups multiply the scenarios the leverage cap must consider; past this many, every opening
# leg is assumed to fill (an upper bound) instead of enumerating them.
MAX_SCENARIOS = 1024


def plain(value: Decimal) -> str:
    """Return a Decimal as plain text with at most 8 decimals and no exponent."""
    with localcontext() as context:
        context.prec = 80  # bounded inputs multiply to at most ~1e36: never an InvalidOperation here
        return plain_decimal(round(value, 8))


def is_dry_run(request: BaseModel) -> bool:
    """Return whether the request only asks what would be sent."""
    return bool(getattr(request, "dry_run", False))


def signed(leg: Leg) -> Decimal:
    """Return a leg's quantity with the sign of its side."""
    return leg.quantity if leg.side == "buy" else -leg.quantity


def exposure_of(legs: Sequence[Leg], book: Book) -> Exposure:
    """Value every leg and the account's worst-case gross notional after the opening legs fill.

    Reduce-only legs never add exposure; legs sharing a `one_of` group are alternatives, of which
    the one leaving the largest gross notional counts.
    """
    priced = tuple(PricedLeg(leg, book.value(leg.instrument, leg.quantity, leg.price)) for leg in legs)
    base: dict[str, Decimal] = defaultdict(Decimal, book.positions)
    groups: dict[str, list[Leg]] = defaultdict(list)
    for leg in legs:
        if leg.reduce_only:
            continue
        if leg.one_of is None:
            base[leg.instrument] += signed(leg)
        else:
            groups[leg.one_of].append(leg)

    def gross(positions: dict[str, Decimal]) -> Decimal:
        return sum((book.value(name, abs(size), None) for name, size in positions.items() if size), Decimal(0))

    choices = list(groups.values())
    scenarios = 1
    for options in choices:
        scenarios *= len(options)
    if scenarios > MAX_SCENARIOS:
        choices = [[leg] for options in choices for leg in options]  # all of them: an upper bound
    worst = Decimal(0)
    for picked in itertools.product(*choices):
        positions = defaultdict(Decimal, base)
        for leg in picked:
            positions[leg.instrument] += signed(leg)
        worst = max(worst, gross(positions))
    return Exposure(legs=priced, resulting_notional=worst, equity=book.equity, unit=book.unit)


def opening_legs(exposure: Exposure | None) -> list[PricedLeg]:
    """Return the legs that can open or enlarge a position."""
    return [] if exposure is None else [priced for priced in exposure.legs if not priced.leg.reduce_only]


class KillSwitchGate:
    """While the kill switch of the caller's environment is engaged, only risk-reducing writes pass."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Refuse with 423 when engaged, unless the write reduces risk (declared, or a reduce-only order)."""
        state = self.store.kill_switch(ctx.environment)
        if state is None or not state.engaged or spec.reduces(request):
            return
        raise KillSwitchEngagedError(
            f"the {ctx.environment} kill switch is engaged: {state.reason or 'no reason given'}",
            details={"environment": ctx.environment, "reason": state.reason, "engaged_by": state.actor},
            suggested_fix="cancels, closes and reduce_only orders still work; an admin releases the switch",
        )


class LimitsGate:
    """Symbol allowlist, per-order quantity and notional caps, and orders per minute per bot, on every leg."""

    def __init__(self, limits: OrderLimits, store: StateStore) -> None:
        self.limits = limits
        self.store = store

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Refuse with 403 and the numbers when any opening leg breaks a limit."""
        legs = opening_legs(exposure)
        if not legs:
            return
        env, venue = ctx.environment, spec.venue
        allowed = self.limits.allowed_symbols(env, venue)
        max_qty = self.limits.quantity.decimal(env, venue)
        max_notional = self.limits.notional_usd.decimal(env, venue)
        for index, priced in enumerate(legs):
            leg = priced.leg
            where = {"leg": index, "instrument": leg.instrument} if len(legs) > 1 else {"instrument": leg.instrument}
            if allowed is not None and leg.instrument not in allowed:
                raise SymbolNotAllowedError(
                    f"{leg.instrument} is not on the {env} {venue} allowlist",
                    details={**where, "allowed": sorted(allowed)},
                    suggested_fix="trade an allowed instrument or extend SYMBOL_ALLOWLIST",
                )
            if max_qty is not None and leg.quantity > max_qty:
                raise OrderQtyLimitError(
                    f"quantity {leg.quantity} of {leg.instrument} is above the {env} {venue} cap of {max_qty}",
                    details={**where, "quantity": str(leg.quantity), "limit": str(max_qty)},
                    suggested_fix="split the order or raise MAX_ORDER_QTY",
                )
            if max_notional is not None and priced.notional > max_notional:
                unit = exposure.unit if exposure else "USD"
                raise OrderNotionalLimitError(
                    f"order notional {priced.notional:.2f} {unit} of {leg.instrument} is above the {env} {venue} "
                    f"cap of {max_notional}",
                    details={**where, "notional": plain(priced.notional), "limit": str(max_notional)},
                    suggested_fix="reduce the quantity or raise MAX_ORDER_NOTIONAL_USD",
                )
        per_minute = self.limits.per_minute.decimal(env, venue)
        if per_minute is not None and not is_dry_run(request):
            sent = self.store.orders_since(env, venue, ctx.bot_tag, time.time() - 60)
            if sent + len(legs) > per_minute:
                raise self._rate_refusal(ctx, venue, sent, len(legs), per_minute)

    def count_orders(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Count the write's opening legs against orders per minute, atomically with the check, just before sending.

        `check` runs before gates that await the venue, so concurrent writes of one bot could all pass it; this
        count-and-record is one step in the store (one lock, or one PostgreSQL transaction for the fleet).
        """
        legs = len(opening_legs(exposure))
        if not legs or is_dry_run(request):
            return
        limit = self.limits.per_minute.decimal(ctx.environment, spec.venue)
        sent = self.store.reserve_orders(ctx.environment, spec.venue, ctx.bot_tag, legs, limit)
        if sent is not None and limit is not None:
            raise self._rate_refusal(ctx, spec.venue, sent, legs, limit)

    @staticmethod
    def _rate_refusal(ctx: ToolContext, venue: str, sent: int, legs: int, limit: Decimal) -> OrderRateLimitError:
        return OrderRateLimitError(
            f"bot {ctx.bot_tag!r} sent {sent} {venue} orders in the last minute and this call has "
            f"{legs}; the {ctx.environment} limit is {limit}",
            details={"bot_tag": ctx.bot_tag, "orders_last_minute": sent, "orders_in_call": legs, "limit": str(limit)},
            suggested_fix="wait, or raise MAX_ORDERS_PER_MINUTE",
        )


class LeverageCapGate:
    """Refuse a write whose worst-case resulting notional over equity exceeds `<VENUE>_MAX_LEVERAGE`."""

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Compare the exposure with the cap; writes with only reduce-only legs always pass."""
        cap = ctx.state.settings.max_leverage(spec.venue)
        if cap is None or exposure is None or not opening_legs(exposure):
            return
        details: dict[str, Any] = {
            "cap": str(cap),
            "resulting_notional": plain(exposure.resulting_notional),
            "equity": plain(exposure.equity),
            "unit": exposure.unit,
            "legs": len(exposure.legs),
        }
        if exposure.equity <= 0:
            raise LeverageCapExceededError(
                f"{spec.venue} account equity is {exposure.equity}: no new exposure is allowed",
                details={**details, "ratio": None},
            )
        ratio = exposure.resulting_notional / exposure.equity
        if ratio > cap:
            details["ratio"] = format(ratio, ".6g")
            raise LeverageCapExceededError(
                f"the write would take {spec.venue} leverage to {ratio:.2f}x, above the {cap}x cap "
                f"({spec.venue.upper()}_MAX_LEVERAGE)",
                details=details,
                suggested_fix="reduce the quantity, or send it reduce_only if it closes a position",
            )


async def exposure_for(spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> Exposure | None:
    """Return the exposure of an `opens` write (None for other writes); the venue's hooks do the I/O."""
    if spec.risk != "opens":
        return None
    if spec.legs is None or spec.book is None:  # the declaration refuses this; fail closed all the same
        raise TypeError(f"{spec.venue}.{spec.name} opens risk without legs and a book")
    legs = await spec.legs(ctx, request)
    if all(leg.reduce_only for leg in legs):
        # Nothing opens: no account read needed; the gates skip reduce-only legs.
        return Exposure(
            legs=tuple(PricedLeg(leg, Decimal(0)) for leg in legs), resulting_notional=Decimal(0), equity=Decimal(0)
        )
    return exposure_of(legs, await spec.book(ctx, legs))
