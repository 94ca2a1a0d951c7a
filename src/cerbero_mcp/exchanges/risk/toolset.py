"""The risk desk's ToolSet: a provider (read-only, both tokens), each tool answering for the caller's environment."""

from __future__ import annotations

from cerbero_mcp.exchanges.risk.approvals import router as approvals_router
from cerbero_mcp.tooling import ToolSet

# No client of its own: every tool reads the trading venues' clients of the caller's environment.
TOOLS = ToolSet(
    "risk",
    kind="provider",
    description="Risk desk: cross-venue portfolio and exposure, pre-trade check with ATR sizing, PDT rule.",
    admin_router=approvals_router,  # /admin/approvals: the writes held by REQUIRE_APPROVAL_ABOVE_USD
)
