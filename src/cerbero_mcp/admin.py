"""Admin routes: read and verify the audit log (any valid token); admin writes need ADMIN_TOKEN."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cerbero_mcp.app_state import AppState
from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.common.errors import ForbiddenError, InvalidInputError

MAX_AUDIT_LIMIT = 10_000


def app_state(request: Request) -> AppState:
    """Return the running app's state."""
    state: AppState = request.app.state.cerbero
    return state


StateDep = Annotated[AppState, Depends(app_state)]


def require_admin(request: Request, state: StateDep) -> str:
    """Allow only the admin token; 403 while ADMIN_TOKEN is unset."""
    if state.settings.admin_token is None:
        raise ForbiddenError(
            "admin write endpoints are disabled because ADMIN_TOKEN is not set",
            suggested_fix="set ADMIN_TOKEN (>= 32 characters) and restart",
        )
    if getattr(request.state, "actor", None) != "admin":
        raise ForbiddenError(
            "this action needs the admin token", suggested_fix="send Authorization: Bearer <ADMIN_TOKEN>"
        )
    return "admin"


AdminDep = Annotated[str, Depends(require_admin)]


async def audit_admin_action(
    request: Request,
    state: AppState,
    action: str,
    *,
    target: str | None,
    params: dict[str, Any],
    outcome: str,
    error_code: str | None = None,
    started: float | None = None,
) -> None:
    """Append the audit record of one admin action."""
    await state.audit.aappend(
        {
            "request_id": request.state.request_id,
            "actor": getattr(request.state, "actor", None),
            "bot_tag": None,
            "exchange": None,
            "action": f"admin.{action}",
            "target": target,
            "params": params,
            "outcome": outcome,
            "error_code": error_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3) if started else None,
        }
    )


router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/audit", operation_id="admin-audit", openapi_extra={"security": [{"BearerAuth": []}]})
async def read_audit(
    state: StateDep,
    from_: Annotated[datetime | None, Query(alias="from", description="ISO 8601 lower bound (inclusive).")] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601 upper bound (inclusive).")] = None,
    actor: Annotated[str | None, Query(description="testnet, mainnet or admin.")] = None,
    exchange: Annotated[str | None, Query(description="Venue, e.g. deribit.")] = None,
    action: Annotated[str | None, Query(description="Tool or admin action, e.g. place_order.")] = None,
    bot_tag: Annotated[str | None, Query(description="The X-Bot-Tag of the caller.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_LIMIT, description="At most this many (most recent).")] = 1000,
) -> dict[str, Any]:
    """Return audit records filtered by time, actor, exchange, action and bot tag."""
    if from_ is not None and to is not None and from_ > to:
        raise InvalidInputError("`from` must not be after `to`", details={"from": str(from_), "to": str(to)})
    if not state.audit.enabled:
        return {"count": 0, "records": [], "warning": "AUDIT_LOG_FILE is not set: nothing is being audited"}
    records = await state.audit.aquery(
        AuditQuery(from_ts=from_, to_ts=to, actor=actor, exchange=exchange, action=action, bot_tag=bot_tag, limit=limit)
    )
    return {"count": len(records), "records": records}


@router.get("/audit/verify", operation_id="admin-audit-verify", openapi_extra={"security": [{"BearerAuth": []}]})
async def verify_audit(state: StateDep) -> dict[str, Any]:
    """Check the audit log's HMAC chain and report the first broken link, if any."""
    if not state.audit.enabled:
        return {"ok": True, "records_checked": 0, "warning": "AUDIT_LOG_FILE is not set: nothing is being audited"}
    result = await state.audit.averify()
    return dataclasses.asdict(result)
