"""Admin routes: read and verify the audit log (any valid token); admin writes need ADMIN_TOKEN."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cerbero_mcp.app_state import AppState
from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.common.errors import ForbiddenError, InvalidInputError
from cerbero_mcp.contracts import VOCABULARY_RISK

MAX_AUDIT_LIMIT = 10_000
AUDIT_OFF_WARNING = "audit is off (AUDIT_LOG_FILE=off): nothing is being audited"


def app_state(request: Request) -> AppState:
    """Return the running app's state."""
    state: AppState = request.app.state.cerbero
    return state


StateDep = Annotated[AppState, Depends(app_state)]


def require_admin(request: Request, state: StateDep) -> str:
    """Allow only the admin token (or an OAuth token with cerbero:admin); 403 while neither can exist."""
    if getattr(request.state, "auth", None) == "oauth" and getattr(request.state, "actor", None) == "admin":
        return "admin"  # the auth middleware set actor=admin only for a token holding cerbero:admin (issue 21)
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
    """Append the audit record of one admin action; an intent that cannot be written refuses the action.

    Every admin route writes its intent (`outcome="intent"`) before it acts: an action that cannot be
    audited is not taken (503 AUDIT_UNAVAILABLE). Its outcome, once the action happened, is kept and
    retried like a write's when the log fails.
    """
    record = {
        "request_id": request.state.request_id,
        "actor": getattr(request.state, "actor", None) or "admin",
        "bot_tag": None,
        "exchange": None,
        "action": f"admin.{action}",
        "target": target,
        "params": params,
        "phase": "intent" if outcome == "intent" else "outcome",
        "outcome": outcome,
        "error_code": error_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3) if started else None,
    }
    principal = getattr(request.state, "principal", None)
    if principal:
        record["principal"] = principal  # an OAuth admin, by its hashed token id (issue 21)
    sink = state.pipeline.sink
    if not await sink.append(record, "admin") and outcome == "intent":
        raise sink.unavailable()


async def admin_intent(
    request: Request, state: AppState, action: str, *, target: str | None, params: dict[str, Any]
) -> float:
    """Write an admin action's intent before it acts (refusing it when that fails); return its start time."""
    started = time.perf_counter()
    await audit_admin_action(request, state, action, target=target, params=params, outcome="intent")
    return started


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
        return {"count": 0, "records": [], "warning": AUDIT_OFF_WARNING}
    records = await state.audit.aquery(
        AuditQuery(from_ts=from_, to_ts=to, actor=actor, exchange=exchange, action=action, bot_tag=bot_tag, limit=limit)
    )
    return {"count": len(records), "records": records}


@router.get("/audit/verify", operation_id="admin-audit-verify", openapi_extra={"security": [{"BearerAuth": []}]})
async def verify_audit(state: StateDep) -> dict[str, Any]:
    """Check the audit chain: edits, reorders, cuts, a deleted or restarted log, torn writes (one code per finding)."""
    result = await state.audit.averify()
    report = result.to_dict()
    if not state.audit.enabled:
        report["warning"] = AUDIT_OFF_WARNING
    return report


class KillSwitchRequest(BaseModel):
    """Engage or release the kill switch of one or both environments."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"env": "mainnet", "engaged": True, "reason": "runaway bot"}]},
    )
    env: Literal["testnet", "mainnet", "both"]
    engaged: bool
    reason: str = Field(min_length=1, max_length=500, description="Why; shown to every refused caller.")


def kill_switch_view(state: AppState) -> dict[str, Any]:
    """Return the kill-switch state of both environments."""
    view: dict[str, Any] = {}
    for env in ("testnet", "mainnet"):
        current = state.store.kill_switch(env)
        view[env] = {
            "engaged": bool(current and current.engaged),
            "reason": current.reason if current else None,
            "changed_by": current.actor if current else None,
            "changed_at": (
                datetime.fromtimestamp(current.changed_at, UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
                if current
                else None
            ),
        }
    # The vocabulary's reducing writes, from the one table the declarations use, and reduce-only orders.
    view["allowed_while_engaged"] = [*VOCABULARY_RISK, "reduce_only orders", "every write declared risk='reduces'"]
    return view


@router.get("/kill-switch", operation_id="admin-kill-switch-state", openapi_extra={"security": [{"BearerAuth": []}]})
async def get_kill_switch(state: StateDep) -> dict[str, Any]:
    """Show whether writes are blocked per environment, who changed it, when and why."""
    return kill_switch_view(state)


@router.post("/kill-switch", operation_id="admin-kill-switch", openapi_extra={"security": [{"BearerAuth": []}]})
async def set_kill_switch(
    request: Request, body: KillSwitchRequest, state: StateDep, actor: AdminDep
) -> dict[str, Any]:
    """Engage or release the kill switch (ADMIN_TOKEN); cancels and reduce-only closes always stay allowed."""
    started = await admin_intent(request, state, "kill_switch", target=body.env, params=body.model_dump())
    envs = ("testnet", "mainnet") if body.env == "both" else (body.env,)
    for env in envs:
        state.store.set_kill_switch(env, body.engaged, body.reason, actor)
    await audit_admin_action(
        request,
        state,
        "kill_switch",
        target=body.env,
        params=body.model_dump(),
        outcome="ok",
        started=started,
    )
    return kill_switch_view(state)
