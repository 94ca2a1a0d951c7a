"""Settings and a served gateway pointed at the simulators of a SimStack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import SimStack
from support.live_server import live_server
from support.tokens import ADMIN, MAINNET, TESTNET


def sim_settings(stack: SimStack, state_dir: Path, **extra: str) -> Settings:
    """Return settings that point every venue at `stack`, with audit and state under `state_dir`."""
    return Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "ADMIN_TOKEN": ADMIN,
            "AUDIT_LOG_FILE": str(state_dir / "audit.jsonl"),
            "AUDIT_HMAC_KEY": "k" * 32,
            "AUDIT_FSYNC": "false",
            "STATE_DB": str(state_dir / "state.db"),
            # Every simulator shares this process (and its GIL) with the gateway and the test: under a loaded CI
            # machine a 2 s read timeout fired on answers that were merely late. Timeout tests inject more than this.
            "UPSTREAM_READ_TIMEOUT_S": "5",
            # The suite's SkippingClock skips a pacing wait by moving time forward for everyone: a Bybit request
            # signed just before another venue's skipped 5 s wait (IBKR's orders list, in a concurrent portfolio
            # read) reaches the simulator 5 s old. Real waits never age a request in flight; the wider window
            # (Bybit accepts up to 60 s) absorbs the harness's jumps.
            "BYBIT_RECV_WINDOW_MS": "30000",
            **stack.overrides,
            **extra,
        }
    )


@dataclass
class Gateway:
    """The real app served over loopback HTTP, with the settings it was built from."""

    url: str
    app: FastAPI
    settings: Settings


@contextmanager
def serve_gateway(stack: SimStack, state_dir: Path, **extra: str) -> Iterator[Gateway]:
    """Serve the app (every installed venue) against `stack` on a real loopback port."""
    settings = sim_settings(stack, state_dir, **extra)
    app = build_app(settings)
    with live_server(app) as url:
        yield Gateway(url, app, settings)
