"""The ToolSets of the served venues (`cerbero_mcp.exchanges.VENUES`), imported on demand."""

from __future__ import annotations

import importlib

from cerbero_mcp.exchanges import VENUES
from cerbero_mcp.tooling import ToolSet


def installed_toolsets() -> list[ToolSet]:
    """Return the ToolSet (`tools.TOOLS`) of every venue listed in VENUES."""
    toolsets = []
    for venue in VENUES:
        module = importlib.import_module(f"cerbero_mcp.exchanges.{venue}.tools")
        toolset = module.TOOLS
        if not isinstance(toolset, ToolSet):
            raise TypeError(f"cerbero_mcp.exchanges.{venue}.tools.TOOLS must be a ToolSet")
        toolsets.append(toolset)
    return toolsets
