"""`/admin/approvals`: the writes held by REQUIRE_APPROVAL_ABOVE_USD, and an admin's decision on each (audited).

    GET  /admin/approvals                 list (admin: both environments; a bot's token: its own environment)
    GET  /admin/approvals/{approval_id}   one approval, with its preview (what would be sent)
    POST /admin/approvals/{approval_id}   {"decision": "approve" | "reject", "reason"}: ADMIN_TOKEN only

A decision is taken once, while the approval is pending and not expired (APPROVAL_TTL_S from the
request); the bot then re-sends the same request with `approval_id`, which spends it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cerbero_mcp.admin import AdminDep, StateDep, admin_intent, audit_admin_action
from cerbero_mcp.app_state import AppState
from cerbero_mcp.common.errors import ForbiddenError, NotFoundError
from cerbero_mcp.exchanges.risk.gates import approval_view, now_s
from cerbero_mcp.state_store import Approval, ApprovalState

router = APIRouter(prefix="/admin/approvals", tags=["admin"])
SECURITY: dict[str, Any] = {"security": [{"BearerAuth": []}]}


class DecisionRequest(BaseModel):
    """An admin's decision on a held write."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "approve", "reason": "checked with the desk"}]}
    )
    decision: Literal["approve", "reject"]
    reason: str | None = Field(None, min_length=1, max_length=500, description="Why; shown to the bot when rejected.")


def caller_env(request: Request) -> str | None:
    """Return the environment a non-admin caller may see (None: the admin sees both)."""
    actor = getattr(request.state, "actor", None)
    return None if actor == "admin" else str(actor)


def visible(state: AppState, request: Request, approval_id: str) -> Approval:
    """Return the approval when the caller may see it, else 404 (another environment's is not disclosed)."""
    approval = state.store.get_approval(approval_id)
    env = caller_env(request)
    if approval is None or (env is not None and approval.env != env):
        raise NotFoundError(f"no approval {approval_id!r}", details={"approval_id": approval_id})
    return approval


@router.get("", operation_id="admin-approvals", openapi_extra=SECURITY)
async def list_approvals(
    request: Request,
    state: StateDep,
    status: Annotated[
        ApprovalState | None, Query(alias="state", description="pending, approved, rejected, used or expired.")
    ] = None,
    env: Annotated[Literal["testnet", "mainnet"] | None, Query(description="Only this environment.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 100,
) -> dict[str, Any]:
    """List held writes, newest first (a bot's token sees its own environment's only)."""
    own = caller_env(request)
    if own is not None and env is not None and env != own:
        raise ForbiddenError(f"the {own} token cannot list {env} approvals")
    now = now_s()
    rows = state.store.list_approvals(own or env, status, now, limit)
    return {"count": len(rows), "approvals": [approval_view(row, now) for row in rows]}


@router.get("/{approval_id}", operation_id="admin-approval", openapi_extra=SECURITY)
async def get_approval(request: Request, state: StateDep, approval_id: str) -> dict[str, Any]:
    """Show one held write: its state, preview (what would be sent), expiry and decision."""
    return approval_view(visible(state, request, approval_id), now_s())


@router.post("/{approval_id}", operation_id="admin-approval-decide", openapi_extra=SECURITY)
async def decide(
    request: Request, state: StateDep, actor: AdminDep, approval_id: str, body: DecisionRequest
) -> dict[str, Any]:
    """Approve or reject a pending held write (ADMIN_TOKEN; audited); a decided or expired one answers 403."""
    params = {"approval_id": approval_id, **body.model_dump()}
    started = await admin_intent(request, state, "approval", target=approval_id, params=params)
    now = now_s()
    decided, approval = state.store.decide_approval(approval_id, body.decision == "approve", actor, body.reason, now)
    outcome, code = "ok", None
    try:
        if approval is None:
            outcome, code = "error", NotFoundError.code
            raise NotFoundError(f"no approval {approval_id!r}", details={"approval_id": approval_id})
        if not decided:
            outcome, code = "refused", ForbiddenError.code
            current = approval.current_state(now)
            raise ForbiddenError(
                f"approval {approval_id} is {current}: only a pending, unexpired approval can be decided",
                details={"approval_id": approval_id, "state": current},
            )
        return approval_view(approval, now)
    finally:
        await audit_admin_action(
            request, state, "approval", target=approval_id, params=params, outcome=outcome, error_code=code,
            started=started,
        )  # fmt: skip
