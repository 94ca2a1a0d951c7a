"""Every write tool, over REST and MCP alike, runs through here, in this order:

    kill switch → idempotency → legs and exposure → limits → leverage cap → the venue call → audit

Each write declared its risk (see `contracts`). The kill switch refuses everything but `reduces`
writes and reduce-only orders, so it never stops anyone getting flat. Idempotency keys on (env,
venue, tool, client_order_id): the same id with the same body replays the stored answer
(`Idempotent-Replay: true`) without a venue call, another body is 409, concurrent duplicates run
once and the others wait and replay, and a call whose outcome is unknown is stored as such and
replayed as such — never re-sent. For an `opens` write, the venue's `legs` hook lists every order
the call could place and its `book` hook reads the account; `exposure_of` values them once for
every venue, and the limits and the leverage cap check every opening leg. Whatever happens, one
audit record is appended before the response returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from cerbero_mcp.common.audit import AuditLog
from cerbero_mcp.common.errors import (
    CerberoError,
    IdempotencyConflictError,
    KillSwitchEngagedError,
    LeverageCapExceededError,
    OrderNotionalLimitError,
    OrderQtyLimitError,
    OrderRateLimitError,
    SymbolNotAllowedError,
    UpstreamTimeoutError,
    all_error_classes,
)
from cerbero_mcp.contracts import Book, Exposure, Leg, PricedLeg, ToolContext, ToolSpec, WriteGate
from cerbero_mcp.exchanges.validation import plain as plain_decimal
from cerbero_mcp.limits import OrderLimits
from cerbero_mcp.state_store import StateStore

log = logging.getLogger("mcp.audit")
REPLAY_HEADER = "Idempotent-Replay"
PENDING_POLL_S = 0.02
# OCO groups multiply the scenarios the leverage cap must consider; past this many, every opening
# leg is assumed to fill (an upper bound) instead of enumerating them.
MAX_SCENARIOS = 1024


def plain(value: Decimal) -> str:
    """Return a Decimal as plain text with at most 8 decimals and no exponent."""
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
                raise OrderRateLimitError(
                    f"bot {ctx.bot_tag!r} sent {sent} {venue} orders in the last minute and this call has "
                    f"{len(legs)}; the {env} limit is {per_minute}",
                    details={
                        "bot_tag": ctx.bot_tag,
                        "orders_last_minute": sent,
                        "orders_in_call": len(legs),
                        "limit": str(per_minute),
                    },
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
            details["ratio"] = str(round(ratio, 4))
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


def request_hash(spec: ToolSpec, request: BaseModel) -> str:
    """Return the hash of a request's canonical JSON (what 'the same body' means)."""
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{spec.venue}.{spec.name}:{body}".encode()).hexdigest()


class Idempotency:
    """Replay, conflict and wait-for-the-first for writes that carry a client_order_id."""

    def __init__(self, store: StateStore, ttl_s: float, wait_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.wait_s = wait_s

    def key(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> tuple[str, str, str, str] | None:
        """Return the idempotency key of a request, or None when it has no client_order_id (or is a dry run)."""
        client_order_id = getattr(request, "client_order_id", None)
        if not client_order_id or is_dry_run(request):
            return None
        return (ctx.environment, spec.venue, spec.name, str(client_order_id))

    async def claim(
        self, key: tuple[str, str, str, str], spec: ToolSpec, ctx: ToolContext, request: BaseModel
    ) -> BaseModel | None:
        """Claim the key (None: go ahead) or return the replayed answer (raising a replayed error)."""
        digest = request_hash(spec, request)
        claimed, record = self.store.reserve(key, digest, self.ttl_s)
        if claimed:
            return None
        deadline = time.monotonic() + self.wait_s
        while True:
            if record.request_hash != digest:
                raise IdempotencyConflictError(
                    f"client_order_id {key[3]!r} was already used with a different {spec.name} request",
                    details={"client_order_id": key[3], "tool": spec.name},
                    suggested_fix="use a new client_order_id for a different order",
                )
            if record.state != "pending":
                break
            if time.monotonic() > deadline:
                raise UpstreamTimeoutError(
                    f"an earlier request with client_order_id {key[3]!r} is still running; "
                    "its outcome is not known yet",
                    details={"client_order_id": key[3], "may_have_been_placed": True},
                    suggested_fix="look the order up by its client_order_id before sending it again",
                )
            await asyncio.sleep(PENDING_POLL_S)
            again = self.store.get(key)
            if again is None:  # the first request released its claim without reaching the venue
                return await self.claim(key, spec, ctx, request)
            record = again
        ctx.response_headers[REPLAY_HEADER] = "true"
        stored = record.response or {}
        if record.status == 200:
            return spec.response_model.model_validate(stored)
        raise replayed_error(stored)

    def finish(self, key: tuple[str, str, str, str], result: BaseModel) -> None:
        """Store a successful answer."""
        self.store.complete(key, "done", 200, result.model_dump(mode="json"))

    def fail(self, key: tuple[str, str, str, str], error: CerberoError, reached_venue: bool) -> None:
        """Store an unknown outcome; forget a claim whose request was refused or surely not placed."""
        if reached_venue and _may_have_been_placed(error):
            self.store.complete(key, "unknown", error.status, {"error": error.to_dict()})
        else:
            self.store.release(key)


def _may_have_been_placed(error: CerberoError) -> bool:
    return isinstance(error, UpstreamTimeoutError) or bool((error.details or {}).get("may_have_been_placed"))


def note_lookup(error: CerberoError, request: BaseModel) -> None:
    """Tell the caller of a write with an unknown outcome how to find the order before re-sending it."""
    client_order_id = getattr(request, "client_order_id", None)
    details = error.details if error.details is not None else {}
    details["client_order_id"] = client_order_id
    details["lookup"] = "get_open_orders / get_positions" + (
        f", matching client_order_id {client_order_id!r}" if client_order_id else ""
    )
    error.details = details
    if client_order_id and client_order_id not in error.message:
        error.message = f"{error.message}; client_order_id={client_order_id!r}"


def replayed_error(stored: dict[str, Any]) -> CerberoError:
    """Rebuild the stored error of an unknown outcome, marked as a replay."""
    body = stored.get("error", {})
    classes = {cls.__name__: cls for cls in all_error_classes()}
    cls = classes.get(str(body.get("type")), UpstreamTimeoutError)
    return cls(
        f"replay: {body.get('message', 'the first request had an unknown outcome')}",
        suggested_fix=body.get("suggested_fix"),
        details={**(body.get("details") or {}), "replay": True},
        headers={REPLAY_HEADER: "true"},
    )


class WritePipeline:
    """Run the gates, the tool and the audit for one write."""

    def __init__(
        self,
        audit: AuditLog,
        gates: Sequence[WriteGate] = (),
        idempotency: Idempotency | None = None,
        store: StateStore | None = None,
        *,
        before_idempotency: Sequence[WriteGate] = (),
    ) -> None:
        self.audit = audit
        # The kill switch refuses before a key is claimed (a refused request must not hold an id);
        # limits and the leverage cap run after it, so a replay answers even if a limit changed.
        self.before_idempotency = list(before_idempotency)
        self.gates = list(gates)
        self.idempotency = idempotency
        self.store = store

    async def run(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
        """Execute `spec` for `request` through every gate and audit the outcome."""
        started = time.perf_counter()
        outcome, error_code = "ok", None
        stage = "gate"
        key = self.idempotency.key(spec, ctx, request) if self.idempotency else None
        claimed = False
        try:
            for gate in self.before_idempotency:
                await gate.check(spec, ctx, request, None)
            if key is not None and self.idempotency is not None:
                replay = await self.idempotency.claim(key, spec, ctx, request)
                if replay is not None:
                    outcome = "replay"
                    return replay
                claimed = True
            exposure = await exposure_for(spec, ctx, request)
            for gate in self.gates:
                await gate.check(spec, ctx, request, exposure)
            if self.store is not None and not is_dry_run(request):
                for _ in opening_legs(exposure):
                    self.store.record_order(ctx.environment, spec.venue, ctx.bot_tag)
            stage = "venue"
            result = await spec.func(ctx, request)
            if claimed and key is not None and self.idempotency is not None:
                self.idempotency.finish(key, result)
            if is_dry_run(request):
                outcome = "dry_run"
            return result
        except CerberoError as exc:
            error_code = exc.code
            if ctx.response_headers.get(REPLAY_HEADER):
                outcome = "replay"
            elif stage == "gate":
                outcome = "refused"
            elif _may_have_been_placed(exc):
                outcome = "unknown"
                note_lookup(exc, request)
            else:
                outcome = "error"
            if claimed and key is not None and self.idempotency is not None:
                self.idempotency.fail(key, exc, reached_venue=stage == "venue")
            raise
        except Exception:
            outcome, error_code = "error", "UNHANDLED_EXCEPTION"
            if claimed and key is not None and self.idempotency is not None:
                # An unexpected failure after the venue call may hide a placed order: keep the key blocked.
                unknown = UpstreamTimeoutError(
                    "the first request failed unexpectedly; the order may have been placed",
                    details={"may_have_been_placed": True},
                )
                self.idempotency.fail(key, unknown, reached_venue=stage == "venue")
            raise
        finally:
            await self._audit(spec, ctx, request, outcome, error_code, started)

    async def _audit(
        self,
        spec: ToolSpec,
        ctx: ToolContext,
        request: BaseModel,
        outcome: str,
        error_code: str | None,
        started: float,
    ) -> None:
        record: dict[str, Any] = {
            "request_id": ctx.request_id,
            "actor": ctx.environment,
            "bot_tag": ctx.bot_tag,
            "exchange": spec.venue,
            "action": spec.name,
            "target": spec.target(request),
            "params": request.model_dump(mode="json"),
            "outcome": outcome,
            "error_code": error_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "transport": ctx.transport,
        }
        try:
            await self.audit.aappend(record)
        except Exception:
            # The venue call already happened: failing the response now would tell the caller an
            # order failed that may be live. Report loudly instead, and flag the response.
            log.critical("audit append failed for %s.%s request_id=%s", spec.venue, spec.name, ctx.request_id)
            ctx.response_headers["X-Audit-Failed"] = "true"
