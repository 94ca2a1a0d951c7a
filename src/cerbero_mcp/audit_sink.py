"""The audit log as the write path uses it: appends that report failure instead of raising."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from cerbero_mcp.common.audit_trail import AuditTrail
from cerbero_mcp.common.errors import AuditUnavailableError
from cerbero_mcp.common.redaction import redact
from cerbero_mcp.metrics import Metrics

log = logging.getLogger("mcp.audit")
# Outcome records kept in memory while the audit log fails, written first when it works again.
MAX_UNWRITTEN = 10_000


class AuditSink:
    """The audit log as the write path uses it: appends that report failure instead of raising.

    After a failed append the sink is unhealthy: readiness says why, a metric counts it, and outcome
    records that could not be written are kept (bounded) and written first once the log works again.
    Every failed record also goes to the critical log, the evidence of last resort.
    """

    def __init__(self, audit: AuditTrail, metrics: Metrics | None = None) -> None:
        self.audit = audit
        self.metrics = metrics
        self.failure: str | None = None
        self._unwritten: deque[dict[str, Any]] = deque()
        self._lock = asyncio.Lock()

    async def append(self, record: dict[str, Any], phase: str) -> bool:
        """Append `record` (after any kept ones); return False, noting why, when it cannot be written."""
        async with self._lock:
            try:
                await self._flush()
                await self.audit.aappend(record)
            except Exception as exc:
                self._failed(record, phase, exc)
                return False
            self.failure = None
            return True

    async def healthy(self) -> bool:
        """Return whether the log works, writing kept records first when it failed before."""
        if self.failure is None:
            return True
        async with self._lock:
            try:
                await self._flush()
            except Exception:
                return False  # still failing: keep the first reason
            # Nothing was kept (an intent failed): try the log with a probe record of its own.
            return await self._probe()

    def unavailable(self) -> AuditUnavailableError:
        """Return the refusal of a write that cannot be audited."""
        return AuditUnavailableError(
            f"the audit log cannot record writes ({self.failure or 'append failed'}); nothing was sent",
            details={"reason": self.failure},
            suggested_fix="fix the audit sink (disk space, permissions); cancels and closes still work",
        )

    async def _flush(self) -> None:
        """Write the kept outcome records, oldest first; the first that fails stops it (and stays kept)."""
        while self._unwritten:
            await self.audit.aappend(self._unwritten[0])
            self._unwritten.popleft()

    async def _probe(self) -> bool:
        try:
            await self.audit.aappend(
                {"actor": "admin", "action": "audit.recovered", "outcome": "ok", "params": {"reason": self.failure}}
            )
        except Exception:
            return False
        self.failure = None
        return True

    def _failed(self, record: dict[str, Any], phase: str, exc: Exception) -> None:
        self.failure = f"{phase} record not written: {describe(exc)}"
        if self.metrics is not None:
            self.metrics.audit_failures.labels(phase).inc()
        if phase == "outcome" and len(self._unwritten) < MAX_UNWRITTEN:
            self._unwritten.append(record)
        log.critical(
            "audit %s record not written (%s): %s",
            phase,
            self.failure,
            json.dumps(redact(record), sort_keys=True, default=str),
        )


def describe(exc: Exception) -> str:
    """Return what went wrong, without the path or any secret."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__
