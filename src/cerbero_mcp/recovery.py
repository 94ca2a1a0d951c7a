"""Start-up recovery: what a crash left pending is resolved from the audit, then reconciled with the venues."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from cerbero_mcp.audit_sink import describe
from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.common.errors import UpstreamTimeoutError
from cerbero_mcp.contracts import LookupFunc, Services, ToolContext
from cerbero_mcp.settings import Environment
from cerbero_mcp.state_store import StateStore
from cerbero_mcp.write_pipeline import WritePipeline, note_lookup

# Start-up recovery reads the audit of the idempotency window (plus a margin) to resolve pending keys.
RECOVERY_MARGIN_S = 3600
MAX_RECOVERY_RECORDS = 5_000_000


@dataclass(frozen=True)
class Recovery:
    """What start-up found of writes a crash interrupted."""

    unknown: list[tuple[str, str, str, str]]  # keys whose intent was written: may have been placed
    freed: list[tuple[str, str, str, str]]  # keys with no intent: never sent
    closed_intents: int  # intents without an outcome, now closed as unknown in the audit
    intents: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)  # of the unknown keys
    reconciled: dict[str, Any] = field(default_factory=dict)  # key → what the venue said (or why it could not)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-native data (for the start-up log)."""
        return {
            "unknown": [":".join(key) for key in self.unknown],
            "freed": [":".join(key) for key in self.freed],
            "closed_intents": self.closed_intents,
            "reconciled": self.reconciled,
        }


async def recover_after_restart(pipeline: WritePipeline, store: StateStore, ttl_s: float) -> Recovery:
    """Resolve what a crash left behind, from the audit, before any request is served.

    An idempotency key still pending whose intent is in the audit may have been placed: it becomes
    "unknown" and replays how to look the order up. A pending key without an intent was never sent:
    it is freed. Every intent without an outcome gets an `unknown` outcome, so the audit tells the
    whole story.
    """
    since = datetime.now(UTC) - timedelta(seconds=ttl_s + RECOVERY_MARGIN_S)
    records = await pipeline.audit.aquery(AuditQuery(from_ts=since, limit=MAX_RECOVERY_RECORDS))
    open_intents: dict[str, dict[str, Any]] = {}
    # A shared audit (PostgreSQL, issue 19) holds every replica's records: another replica's open intent is
    # its write in flight, not this one's to close.
    writer = getattr(pipeline.audit, "writer", None)
    for record in records:
        write_id = record.get("write_id")
        if not isinstance(write_id, str) or (writer is not None and record.get("writer") != writer):
            continue
        if record.get("phase") == "intent":
            open_intents[write_id] = record
        else:
            open_intents.pop(write_id, None)
    by_key = {_intent_key(record): record for record in open_intents.values()}
    unknown, freed = [], []
    for key in store.pending():
        if key in by_key:
            error = UpstreamTimeoutError(
                "the server stopped before this write's outcome was known; it may have been placed",
                details={"may_have_been_placed": True, "recovered_after_restart": True},
                suggested_fix="look the order up by its client_order_id before sending it again",
            )
            note_lookup(error, _Coid(client_order_id=key[3]))
            store.complete(key, "unknown", error.status, {"error": error.to_dict()})
            unknown.append(key)
        else:
            store.release(key)
            freed.append(key)
    for record in open_intents.values():
        outcome = {
            name: record.get(name)
            for name in ("request_id", "write_id", "actor", "bot_tag", "exchange", "action", "target", "params")
        }
        outcome.update(
            phase="outcome", outcome="unknown", error_code="SERVER_RESTARTED", transport=record.get("transport")
        )
        await pipeline.sink.append(outcome, "outcome")
    intents = {key: by_key[key] for key in unknown}
    return Recovery(unknown=unknown, freed=freed, closed_intents=len(open_intents), intents=intents)


async def reconcile(
    pipeline: WritePipeline,
    store: StateStore,
    services: Services,
    lookups: Mapping[str, LookupFunc],
    recovery: Recovery,
    timeout_s: float,
) -> None:
    """Ask each venue that can look an order up by client_order_id about the writes a crash left unknown.

    What was found (or that nothing was) is recorded in the audit and added to the stored answer the
    client_order_id replays; the key stays "unknown" either way: it is never re-sent from here.
    """
    for key in recovery.unknown:
        env, venue, tool, client_order_id = key
        lookup = lookups.get(venue)
        if lookup is None:
            continue
        environment: Environment = "mainnet" if env == "mainnet" else "testnet"
        ctx = ToolContext(
            venue=venue, tool=tool, environment=environment, request_id="recovery", bot_tag="recovery", state=services
        )
        params = recovery.intents.get(key, {}).get("params") or {}
        try:
            found = await asyncio.wait_for(lookup(ctx, client_order_id, dict(params)), timeout_s)
        except Exception as exc:  # the venue may be down at start: say so, keep the key unknown
            recovery.reconciled[":".join(key)] = {"error": describe(exc)}
            continue
        recovery.reconciled[":".join(key)] = {"found": found}
        record = store.get(key)
        if record is not None and record.response is not None:
            response = dict(record.response)
            error = dict(response.get("error") or {})
            details = dict(error.get("details") or {})
            details["found_at_venue"] = found
            error["details"] = details
            if found is not None:
                error["message"] = f"{error.get('message', '')}; the venue has it: order {found.get('order_id')}"
            store.complete(key, "unknown", record.status or 504, {**response, "error": error})
        await pipeline.sink.append(
            {
                "request_id": "recovery",
                "actor": env,
                "exchange": venue,
                "action": tool,
                "params": {"client_order_id": client_order_id},
                "phase": "reconcile",
                "outcome": "ok" if found is not None else "unknown",
                "found_at_venue": found,
            },
            "outcome",
        )


class _Coid(BaseModel):
    client_order_id: str


def _intent_key(record: dict[str, Any]) -> tuple[str, str, str, str]:
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    return (
        str(record.get("actor")),
        str(record.get("exchange")),
        str(record.get("action")),
        str((params or {}).get("client_order_id")),
    )
