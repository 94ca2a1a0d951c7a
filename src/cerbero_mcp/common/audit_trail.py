"""What the gateway needs of an audit log, whichever holds it: the JSONL file (`AuditLog`) or PostgreSQL
(`audit_pg.PgAuditLog`, one HMAC chain per replica). The write sink, the admin routes and start-up recovery
use only this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.common.audit_verify import Finding, VerifyResult


class AuditTrail(Protocol):
    """An append-only, HMAC-chained audit: append, query, verify."""

    @property
    def enabled(self) -> bool:
        """Return whether records are kept at all."""

    @property
    def head(self) -> tuple[int, str]:
        """Return (seq, hash) of this writer's last record ((0, genesis) before the first)."""

    @property
    def opening_findings(self) -> list[Finding]:
        """Return what opening the log found (torn writes, gaps), already written into the chain."""

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Redact, stamp, chain and durably append one record; return it as stored."""

    async def aappend(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append from async code; the record is stored when this returns."""

    def query(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Return the most recent `q.limit` matching records, oldest first."""

    async def aquery(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Run `query` without blocking the event loop."""

    def verify(self) -> VerifyResult:
        """Check the chain(s) and report findings."""

    async def averify(self) -> VerifyResult:
        """Run `verify` without blocking the event loop."""

    def close(self) -> None:
        """Release what the log holds open."""
