"""The sentiment provider's tools (`TOOLS`, declared in `toolset`): importing this module declares every one.

`cerbero_mcp.exchanges.registry.installed_toolsets()` imports it for `TOOLS`. The package `__init__` stays
import-free: settings imports `sentiment.config` (hence the package) and the tools import settings.
"""

from __future__ import annotations

from cerbero_mcp.exchanges.sentiment import crossvenue_tools, news, social
from cerbero_mcp.exchanges.sentiment.toolset import TOOLS

__all__ = ["TOOLS", "crossvenue_tools", "news", "social"]
