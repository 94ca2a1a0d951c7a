"""What one running app holds: settings, clients, audit, metrics and its tools."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cerbero_mcp.client_registry import ClientRegistry
from cerbero_mcp.common.audit_trail import AuditTrail
from cerbero_mcp.metrics import Metrics
from cerbero_mcp.settings import Settings
from cerbero_mcp.state_store import StateStore
from cerbero_mcp.tooling import ToolSet, ToolSpec
from cerbero_mcp.write_pipeline import WritePipeline


@dataclass
class AppState:
    """The per-app singletons every request reaches through `request.app.state.cerbero`."""

    settings: Settings
    registry: ClientRegistry
    audit: AuditTrail
    metrics: Metrics
    toolsets: list[ToolSet]
    pipeline: WritePipeline
    store: StateStore
    started_monotonic: float = field(default_factory=time.monotonic)

    def tool_specs(self) -> list[ToolSpec]:
        """Return every tool of every toolset, in registration order."""
        return [spec for toolset in self.toolsets for spec in toolset.specs]
