"""`cerbero-mcp --demo`: every tool against loopback simulators, with generated tokens."""

from __future__ import annotations

import sys

from cerbero_mcp.settings import Settings


def run_demo(settings: Settings) -> int:
    """Serve the demo; until venue simulators are installed there is nothing to simulate."""
    print("cerbero-mcp: no venue simulators are installed yet; --demo has nothing to serve", file=sys.stderr)
    return 2
