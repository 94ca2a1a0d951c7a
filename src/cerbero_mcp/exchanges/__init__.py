"""Venue packages: one folder per venue with the same files (config, client, schemas, tools, errors, exposure).

A venue is served once its name is in `VENUES`, a read-only data provider once its name is in
`PROVIDERS`: that one line is the whole registration. This module
stays import-free, so the settings can read `VENUES` without pulling in the tool layer;
`cerbero_mcp.exchanges.registry.installed_toolsets()` imports the venues' tools.
"""

from __future__ import annotations

VENUES: tuple[str, ...] = ("deribit", "ibkr", "bybit", "alpaca", "hyperliquid")

PROVIDERS: tuple[str, ...] = ("macro", "sentiment", "risk")
