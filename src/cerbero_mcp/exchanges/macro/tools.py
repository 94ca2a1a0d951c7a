"""The macro provider's tools (`TOOLS`, declared in `toolset`): importing this module declares every one.

`cerbero_mcp.exchanges.registry.installed_toolsets()` imports it for `TOOLS`.
"""

from __future__ import annotations

from cerbero_mcp.exchanges.macro import cot, markets, rates
from cerbero_mcp.exchanges.macro.toolset import TOOLS

__all__ = ["TOOLS", "cot", "markets", "rates"]
