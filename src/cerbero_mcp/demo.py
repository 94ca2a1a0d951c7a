"""`cerbero-mcp --demo`: every tool against loopback simulators, simulated money, no accounts.

Starts a testnet and a mainnet simulator of every installed venue on 127.0.0.1, points the venue
URLs and credentials at them, generates the bearer tokens (and an admin token) that are not set,
prints them, keeps its data directory (audit log, its HMAC key, write-safety state) in ./demo-data/
— never the real DATA_DIR: simulated trades stay out of the real audit chain — and serves the full API.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import TextIO

from cerbero_mcp.settings import Settings

DEMO_DIR = Path("demo-data")
BANNER = """\
==============================================================================
  CERBERO MCP DEMO — SIMULATED MONEY. Every venue below is a loopback simulator
  on this machine; no order reaches a real exchange. Tokens for this session:
=============================================================================="""


def demo_settings(settings: Settings, overrides: dict[str, str]) -> tuple[Settings, dict[str, str]]:
    """Return settings pointed at the simulators, with tokens generated where unset, and the tokens."""
    tokens: dict[str, str] = {}
    for name, current in (
        ("TESTNET_TOKEN", settings.testnet_token),
        ("MAINNET_TOKEN", settings.mainnet_token),
        ("ADMIN_TOKEN", settings.admin_token),
    ):
        tokens[name] = current.get_secret_value() if current is not None else secrets.token_urlsafe(32)
    extra = dict(overrides)
    extra.update(tokens)
    # STATE_DB and the audit log follow DATA_DIR unless set explicitly; the audit key is generated
    # once into demo-data/ and reused, so the demo's chain verifies across runs.
    extra["DATA_DIR"] = str(DEMO_DIR)
    return settings.with_overrides(extra), tokens


def print_banner(tokens: dict[str, str], url: str, venues: list[str], out: TextIO) -> None:
    """Print the banner, one `NAME=value` line per token, then the /apidocs URL."""
    print(BANNER, file=out)
    for name in ("TESTNET_TOKEN", "MAINNET_TOKEN", "ADMIN_TOKEN"):
        print(f"{name}={tokens[name]}", file=out)
    print(f"{url}/apidocs", file=out)
    print(f"simulated venues: {', '.join(venues)} (testnet and mainnet each)", file=out, flush=True)


def run_demo(settings: Settings) -> int:
    """Start the simulators and serve the demo until interrupted."""
    from cerbero_mcp.serving import serve
    from cerbero_mcp.simulators.engine.harness import installed_simulators, start_simulators

    specs = installed_simulators()
    if not specs:
        print("cerbero-mcp: no venue simulators are installed; --demo has nothing to serve", file=sys.stderr)
        return 2
    with start_simulators(specs) as stack:
        served, tokens = demo_settings(settings, stack.overrides)
        served.check_serving()
        host = "127.0.0.1" if served.host in ("0.0.0.0", "::") else served.host  # noqa: S104 — printing only
        print_banner(tokens, f"http://{host}:{served.port}", stack.venues, sys.stdout)
        return serve(served)
