"""`cerbero-mcp --demo`: every tool against loopback simulators, simulated money, no accounts.

Starts a testnet and a mainnet simulator of every installed venue on 127.0.0.1, points the venue
URLs and credentials at them, generates the bearer tokens (and an admin token) that are not set,
prints them, keeps its data directory (audit log, its HMAC key, write-safety state) in ./demo-data/
— never the real DATA_DIR: simulated trades stay out of the real audit chain — and serves the full API.

Isolation holds whatever the flags and environment: DATA_DIR, STATE_DB, AUDIT_LOG_FILE and
AUDIT_HMAC_KEY set for the real server are ignored by the demo. The demo marks its directory (a
`CERBERO_DEMO` file) and its state DB (a `cerbero_demo` table), and `refuse_demo_state` — run by
the CLI before a real server starts — refuses any DATA_DIR, STATE_DB or audit log carrying either mark.
"""

from __future__ import annotations

import secrets
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

from cerbero_mcp.common.private_files import create_private_file, make_private_dirs
from cerbero_mcp.settings import ConfigError, Settings

DEMO_DIR = Path("demo-data")
DEMO_MARKER = "CERBERO_DEMO"
DEMO_TABLE = "cerbero_demo"
MARKER_TEXT = (
    "This directory holds the state of `cerbero-mcp --demo` (simulated money).\n"
    "A real cerbero-mcp refuses to use it as DATA_DIR, STATE_DB or AUDIT_LOG_FILE.\n"
)
BANNER = """\
==============================================================================
  CERBERO MCP DEMO — SIMULATED MONEY. Every venue below is a loopback simulator
  on this machine; no order reaches a real exchange. Tokens for this session:
=============================================================================="""


def demo_settings(
    settings: Settings, overrides: dict[str, str], directory: Path = DEMO_DIR
) -> tuple[Settings, dict[str, str]]:
    """Return settings pointed at the simulators and at the marked demo directory, and the tokens."""
    tokens: dict[str, str] = {}
    for name, current in (
        ("TESTNET_TOKEN", settings.testnet_token),
        ("MAINNET_TOKEN", settings.mainnet_token),
        ("ADMIN_TOKEN", settings.admin_token),
    ):
        tokens[name] = current.get_secret_value() if current is not None else secrets.token_urlsafe(32)
    extra = dict(overrides)
    extra.update(tokens)
    # Every file of the demo lives in its directory, whatever the real server's settings say; the
    # audit key is generated once into it (a blank AUDIT_HMAC_KEY is unset) and reused across runs.
    home = mark_demo_dir(directory)
    extra.update(
        {
            "DATA_DIR": str(home),
            "STATE_DB": str(home / "state.db"),
            "STATE_DB_URL": "",  # never the real fleet's PostgreSQL (issue 19): blank is unset
            "AUDIT_LOG_FILE": str(home / "audit.jsonl"),
            "AUDIT_HMAC_KEY": "",
        }
    )
    return settings.with_overrides(extra), tokens


def mark_demo_dir(directory: Path) -> Path:
    """Create `directory` with the demo marker file and a state DB carrying the demo table; return it absolute."""
    home = directory.absolute()
    try:
        make_private_dirs(home)
        create_private_file(home / "state.db")  # 0600 before SQLite opens it, like the real server's
        marker = home / DEMO_MARKER
        if not marker.exists():
            marker.write_text(MARKER_TEXT)
        with sqlite3.connect(home / "state.db") as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {DEMO_TABLE} (note TEXT)")
        db.close()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"the demo directory {home} cannot be prepared: {exc}") from exc
    return home


def demo_mark(settings: Settings) -> str | None:
    """Return why the server's files are the demo's (naming the setting), or None when they are not."""
    places: list[tuple[str, Path]] = [("DATA_DIR", settings.data_dir), ("STATE_DB", settings.state_db.parent)]
    if settings.audit_path is not None:
        places.append(("AUDIT_LOG_FILE", settings.audit_path.parent))
    for name, folder in places:
        if (folder / DEMO_MARKER).exists():
            return f"{name} is in {folder}, the directory of `cerbero-mcp --demo` (it holds {DEMO_MARKER})"
    if settings.state_db.is_file() and _has_demo_table(settings.state_db):
        return f"STATE_DB {settings.state_db} is a state DB written by `cerbero-mcp --demo`"
    return None


def _has_demo_table(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (DEMO_TABLE,))
            return found.fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return False  # not a readable SQLite file: opening the state DB reports it


def refuse_demo_state(settings: Settings) -> None:
    """Raise ConfigError when a real server would read or write the demo's simulated state."""
    why = demo_mark(settings)
    if why is not None:
        raise ConfigError(
            f"{why}; a real server never uses demo state (simulated orders, kill-switch changes):"
            " point DATA_DIR, STATE_DB and AUDIT_LOG_FILE at the real server's own files"
        )


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
