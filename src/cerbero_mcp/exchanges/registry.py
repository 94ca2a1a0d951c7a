"""The ToolSets of the served venues and providers (`cerbero_mcp.exchanges.VENUES`, `PROVIDERS`), imported on demand."""

from __future__ import annotations

import importlib

from cerbero_mcp.exchanges import PROVIDERS, VENUES
from cerbero_mcp.tooling import ToolSet


def installed_toolsets() -> list[ToolSet]:
    """Return the ToolSet (`tools.TOOLS`) of every venue listed in VENUES, then of every provider in PROVIDERS."""
    toolsets = []
    for venue in (*VENUES, *PROVIDERS):
        module = importlib.import_module(f"cerbero_mcp.exchanges.{venue}.tools")
        toolset = module.TOOLS
        if not isinstance(toolset, ToolSet):
            raise TypeError(f"cerbero_mcp.exchanges.{venue}.tools.TOOLS must be a ToolSet")
        toolsets.append(toolset)
    return toolsets
