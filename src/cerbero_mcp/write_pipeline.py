"""Every write tool, over REST and MCP alike, runs through here, in this order:

    kill switch → idempotency → legs and exposure → limits → leverage cap → the venue call → audit

Each write declared its risk (see `contracts`). The kill switch refuses everything but `reduces`
writes and reduce-only orders, so it never stops anyone getting flat. Idempotency keys on (env,
venue, tool, client_order_id): the same id with the same body replays the stored answer
(`Idempotent-Replay: true`) without a venue call, another body is 409, concurrent duplicates run
once and the others wait and replay, and a call whose outcome is unknown is stored as such and
replayed as such — never re-sent. For an `opens` write, the venue's `legs` hook lists every order
the call could place and its `book` hook reads the account; `exposure_of` values them once for
every venue (`gates.py`), and the limits and the leverage cap check every opening leg. An intent
record is written before anything is sent and an outcome record after (`audit_sink.py`); what a
crash leaves behind is resolved at start (`recovery.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from cerbero_mcp.audit_sink import AuditSink
from cerbero_mcp.common.audit_trail import AuditTrail
from cerbero_mcp.common.errors import (
    ApprovalRequiredError,
    AuditUnavailableError,
    CerberoError,
    ExposureUnknownError,
    ForbiddenError,
    IdempotencyConflictError,
    InvalidInputError,
    KillSwitchEngagedError,
    LeverageCapExceededError,
    UpstreamTimeoutError,
    all_error_classes,
)
from cerbero_mcp.common.http import SendLog, tracking_sends
from cerbero_mcp.contracts import Exposure, ToolContext, ToolSpec, WriteGate
from cerbero_mcp.gates import CHECK_ONLY, exposure_for, is_dry_run
from cerbero_mcp.metrics import Metrics
from cerbero_mcp.state_store import StateStore

REPLAY_HEADER = "Idempotent-Replay"
# What the gates themselves refuse with (anything else raised before the venue call is an error).
GATE_REFUSALS: tuple[type[CerberoError], ...] = (
    KillSwitchEngagedError,
    IdempotencyConflictError,
    AuditUnavailableError,
    ForbiddenError,
    LeverageCapExceededError,
    InvalidInputError,
    ExposureUnknownError,  # a cross-venue cap failing closed (issue 20)
    ApprovalRequiredError,  # held for an admin (issue 20): nothing was sent
)
AUDIT_FAILED_HEADER = "X-Audit-Failed"
PENDING_POLL_S = 0.02


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

    def fail(self, key: tuple[str, str, str, str], error: CerberoError, unknown: bool) -> None:
        """Store an unknown outcome (replayed as such, never re-sent); free a claim surely not placed."""
        if unknown:
            self.store.complete(key, "unknown", error.status, {"error": error.to_dict()})
        else:
            self.store.release(key)


def may_have_been_placed(error: CerberoError, sends: SendLog | None) -> bool:
    """Return whether a failed write may still have been acted on by the venue.

    Nothing left (no write on the wire): it was not. A write left: only the venue's own definite
    refusal of it proves it was not — a timeout, a dropped connection, a 5xx, a 200 whose body cannot
    be read, or any failure after the write succeeded (a follow-up read, a rate limit) is unknown.
    """
    if (error.details or {}).get("may_have_been_placed"):
        return True
    if sends is None or sends.writes == 0:
        return False
    return not error.definite


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


class OrderCounter(Protocol):
    """Counts a write's orders against a rate limit as the last step before the send (gates.LimitsGate)."""

    def count_orders(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Count the write's orders, or refuse it (nothing counted) when that would break the limit."""


@dataclass(frozen=True)
class GateVerdict:
    """What one gate said about a write in a check-only run: passed, or the refusal it would answer."""

    gate: str
    passed: bool
    code: str | None = None
    status: int | None = None
    message: str | None = None
    details: dict[str, Any] | None = None

    @classmethod
    def refused(cls, gate: str, error: CerberoError) -> GateVerdict:
        """Return the failed verdict of `gate` for the refusal `error`."""
        return cls(gate, False, error.code, error.status, error.message, error.details)


class WritePipeline:
    """Run the gates, the tool and the audit for one write."""

    def __init__(
        self,
        audit: AuditTrail,
        gates: Sequence[WriteGate] = (),
        idempotency: Idempotency | None = None,
        order_counter: OrderCounter | None = None,
        *,
        before_idempotency: Sequence[WriteGate] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.audit = audit
        self.sink = AuditSink(audit, metrics)
        # The kill switch refuses before a key is claimed (a refused request must not hold an id);
        # limits and the leverage cap run after it, so a replay answers even if a limit changed.
        self.before_idempotency = list(before_idempotency)
        self.gates = list(gates)
        self.idempotency = idempotency
        self.order_counter = order_counter

    async def run(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
        """Execute `spec` for `request` through every gate, with an intent record before the venue call
        and an outcome record after it."""
        started = time.perf_counter()
        write_id = uuid.uuid4().hex
        outcome, error_code = "ok", None
        stage = "gate"
        key = self.idempotency.key(spec, ctx, request) if self.idempotency else None
        claimed = False
        sends: SendLog | None = None
        try:
            for gate in self.before_idempotency:
                await gate.check(spec, ctx, request, None)
            if not spec.reduces(request) and not await self.sink.healthy():
                raise self.sink.unavailable()
            if key is not None and self.idempotency is not None:
                replay = await self.idempotency.claim(key, spec, ctx, request)
                if replay is not None:
                    outcome = "replay"
                    return replay
                claimed = True
            exposure = await exposure_for(spec, ctx, request)
            for gate in self.gates:
                await gate.check(spec, ctx, request, exposure)
            if self.order_counter is not None:
                self.order_counter.count_orders(spec, ctx, request, exposure)
            if not is_dry_run(request):
                await self._intent(spec, ctx, request, write_id)
            stage = "venue"
            with tracking_sends() as sends:
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
                # A gate's own refusal is "refused"; a venue failing while the gates read the account
                # (before anything was sent) is an "error", as the caller sees it.
                outcome = "refused" if isinstance(exc, GATE_REFUSALS) else "error"
            elif may_have_been_placed(exc, sends):
                outcome = "unknown"
                note_lookup(exc, request)
            else:
                outcome = "error"
            if claimed and key is not None and self.idempotency is not None:
                self.idempotency.fail(key, exc, unknown=outcome == "unknown")
            raise
        except Exception:
            error_code = "UNHANDLED_EXCEPTION"
            placed = stage == "venue" and sends is not None and sends.writes > 0
            outcome = "unknown" if placed else "error"
            if claimed and key is not None and self.idempotency is not None:
                # An unexpected failure after a write left may hide a placed order: keep the key blocked.
                unknown = UpstreamTimeoutError(
                    "the first request failed unexpectedly; the order may have been placed",
                    details={"may_have_been_placed": True},
                )
                self.idempotency.fail(key, unknown, unknown=placed)
            raise
        finally:
            await self._outcome(spec, ctx, request, write_id, outcome, error_code, started)

    async def evaluate(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> list[GateVerdict]:
        """Run every gate of `run` for `request` in check-only mode: one verdict per gate, nothing sent or stored.

        The same gate objects in the same order as a real write (so the check cannot drift from it),
        each refusal caught as a failed verdict; idempotency, the audit and the venue call are skipped,
        and `gates.CHECK_ONLY` tells gates with side effects (approvals) not to act. When the write's
        exposure cannot be computed, the gates that need it are reported as not run.
        """
        token = CHECK_ONLY.set(True)
        try:
            verdicts = []
            for gate in self.before_idempotency:
                verdicts.append(await _verdict(gate, spec, ctx, request, None))
            try:
                exposure = await exposure_for(spec, ctx, request)
            except CerberoError as exc:
                verdicts.append(GateVerdict.refused("Exposure", exc))
                for gate in self.gates:
                    verdicts.append(
                        GateVerdict(type(gate).__name__, False, "NOT_RUN", None, "not run: the exposure is unknown")
                    )
                return verdicts
            verdicts.append(GateVerdict("Exposure", True))
            for gate in self.gates:
                verdicts.append(await _verdict(gate, spec, ctx, request, exposure))
            return verdicts
        finally:
            CHECK_ONLY.reset(token)

    def _record(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, write_id: str) -> dict[str, Any]:
        return {
            "request_id": ctx.request_id,
            "write_id": write_id,
            "actor": ctx.environment,
            "bot_tag": ctx.bot_tag,
            "exchange": spec.venue,
            "action": spec.name,
            "target": spec.target(request),
            "params": request.model_dump(mode="json"),
            "transport": ctx.transport,
            # An OAuth caller is recorded by its hashed token id (issue 21); static tokens add nothing.
            **({"principal": ctx.principal} if ctx.principal else {}),
        }

    async def _intent(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, write_id: str) -> None:
        """Persist the intent record before anything is sent; without it, nothing is sent."""
        record = {**self._record(spec, ctx, request, write_id), "phase": "intent", "outcome": "intent"}
        if await self.sink.append(record, "intent"):
            return
        ctx.response_headers[AUDIT_FAILED_HEADER] = "true"
        if spec.reduces(request):
            # Getting flat beats the evidence: the intent went to the critical log instead (see AuditSink).
            return
        raise self.sink.unavailable()

    async def _outcome(
        self,
        spec: ToolSpec,
        ctx: ToolContext,
        request: BaseModel,
        write_id: str,
        outcome: str,
        error_code: str | None,
        started: float,
    ) -> None:
        if error_code == AuditUnavailableError.code:
            return  # refused because the log cannot be written, and nothing was sent: nothing to add
        record = {
            **self._record(spec, ctx, request, write_id),
            "phase": "outcome",
            "outcome": outcome,
            "error_code": error_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if not await self.sink.append(record, "outcome"):
            # The venue call already happened: failing the response now would tell the caller an order
            # failed that may be live. The caller gets the answer; the server turns not-ready and
            # refuses opening writes until the record is written.
            ctx.response_headers[AUDIT_FAILED_HEADER] = "true"


async def _verdict(
    gate: WriteGate, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None
) -> GateVerdict:
    """Run one gate and return its verdict (a refusal is a failed verdict, not an exception)."""
    try:
        await gate.check(spec, ctx, request, exposure)
    except CerberoError as exc:
        return GateVerdict.refused(type(gate).__name__, exc)
    return GateVerdict(type(gate).__name__, True)
