"""Venue packages: one folder per venue with the same files (client, schemas, tools, errors, simulator).

A venue is served once its name is in `VENUES`: that one line is the whole registration.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cerbero_mcp.tooling import ToolSet

VENUES: tuple[str, ...] = ("deribit", "ibkr")


def installed_toolsets() -> list[ToolSet]:
    """Return the ToolSet (`tools.TOOLS`) of every venue listed in VENUES."""
    toolsets = []
    for venue in VENUES:
        module = importlib.import_module(f"cerbero_mcp.exchanges.{venue}.tools")
        toolsets.append(module.TOOLS)
    return toolsets
