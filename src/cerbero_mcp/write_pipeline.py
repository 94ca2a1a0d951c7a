"""Every write tool, over REST and MCP alike, runs through here: gates → venue call → audit.

Gates run in order before anything reaches a venue (the write-safety issue adds the kill switch,
idempotency, limits and the leverage cap as gates). Whatever happens — refused by a gate, rejected
by the venue, timed out, or done — one audit record is appended before the response returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from cerbero_mcp.common.audit import AuditLog
from cerbero_mcp.common.errors import CerberoError, UpstreamTimeoutError

if TYPE_CHECKING:
    from cerbero_mcp.tooling import ToolContext, ToolSpec

log = logging.getLogger("mcp.audit")


class WriteGate(Protocol):
    """A check every write passes before the venue call; it refuses by raising a CerberoError."""

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> None:
        """Raise to refuse the write."""


class WritePipeline:
    """Run the gates, the tool and the audit for one write."""

    def __init__(self, audit: AuditLog, gates: Sequence[WriteGate] = ()) -> None:
        self.audit = audit
        self.gates = list(gates)

    async def run(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
        """Execute `spec` for `request` and audit the outcome."""
        started = time.perf_counter()
        outcome, error_code = "ok", None
        stage = "gate"
        try:
            for gate in self.gates:
                await gate.check(spec, ctx, request)
            stage = "venue"
            return await spec.func(ctx, request)
        except CerberoError as exc:
            error_code = exc.code
            if stage == "gate":
                outcome = "refused"
            elif isinstance(exc, UpstreamTimeoutError) or (exc.details or {}).get("may_have_been_placed"):
                outcome = "unknown"
            else:
                outcome = "error"
            raise
        except Exception:
            outcome, error_code = "error", "UNHANDLED_EXCEPTION"
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
