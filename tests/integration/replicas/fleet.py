"""Two (or more) real `cerbero-mcp` processes sharing one PostgreSQL database, against in-process simulators.

Each replica is `python -m cerbero_mcp` on its own loopback port with its own DATA_DIR, the same STATE_DB
(a fresh database of the test session's PostgreSQL), the same audit key and REPLICA_SECRET, and its own
REPLICA_ID / REPLICA_URL. The simulators run in the test process (as in test_crash_recovery), so the
tests count what reached the "venue" from their recorders. scripts/bench/replicas.py uses the same pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from cerbero_mcp.simulators.engine import SimulatorSpec
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators

TESTNET = "t" * 40
MAINNET = "m" * 40
ADMIN = "a" * 40
SECRET = "r" * 48
AUDIT_KEY = "k" * 64
ROOT = Path(__file__).resolve().parents[3]
# `cerbero_mcp`'s own entry point, on the fleet's clock (replica_main.py).
COMMAND = [sys.executable, str(Path(__file__).with_name("replica_main.py"))]


def free_port() -> int:
    """Return a free loopback port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def headers(bot: str = "fleet", token: str = TESTNET) -> dict[str, str]:
    """Return a tool call's headers."""
    return {"Authorization": f"Bearer {token}", "X-Bot-Tag": bot, "Content-Type": "application/json"}


# The fleet's date: the test suite's start instant, running at wall-clock speed in every process.
TEST_START = datetime(2026, 3, 4, 15, tzinfo=UTC).timestamp()


class OffsetClock:
    """Wall time shifted by a fixed offset (replica_main.OffsetClock's twin, for the in-process simulators)."""

    def __init__(self, offset_s: float) -> None:
        """Shift wall time by `offset_s` seconds."""
        self.offset_s = offset_s

    def now(self) -> float:
        """Return the shifted wall time in epoch seconds."""
        return time.time() + self.offset_s


def fleet_offset() -> float:
    """Return the offset that puts now at TEST_START."""
    return TEST_START - time.time()


def fleet_simulators(specs: list[SimulatorSpec], offset_s: float) -> SimStack:
    """Start testnet simulators on the fleet's clock (rate limits off; a test turns one on when it is the subject)."""
    stack = start_simulators(specs, envs=("testnet",), clock=OffsetClock(offset_s))
    for spec in specs:
        venue = getattr(stack.instance(spec.venue, "testnet").app.state, "venue", None)
        if venue is not None and hasattr(venue, "rate_limit"):
            venue.rate_limit = False
    return stack


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}


@dataclass
class Replica:
    """One gateway process of the fleet."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (its stderr goes to its log file)."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(COMMAND, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        log.close()

    def kill9(self) -> None:
        """SIGKILL the process and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the process and wait (SIGKILL when it hangs)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of its log (for failure messages)."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def wait_healthy(self, within_s: float = 120.0) -> float:
        """Return seconds until /health answers 200 (fails with its log when the process died)."""
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            while time.perf_counter() - started < within_s:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"replica {self.name} exited {self.process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return time.perf_counter() - started
                await asyncio.sleep(0.05)
        raise TimeoutError(f"replica {self.name} not healthy:\n{self.log_tail()}")


@dataclass
class Fleet:
    """The replicas, the simulators they use and the shared database."""

    stack: SimStack
    dsn: str
    workdir: Path
    offset_s: float
    extra_env: Mapping[str, str] = field(default_factory=dict)
    replicas: dict[str, Replica] = field(default_factory=dict)

    def add(self, name: str, **env: str) -> Replica:
        """Declare a replica (not started)."""
        port = free_port()
        data = self.workdir / name
        data.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
        base.update(self.stack.overrides)
        base.update(
            {
                "TESTNET_TOKEN": TESTNET,
                "MAINNET_TOKEN": MAINNET,
                "ADMIN_TOKEN": ADMIN,
                "AUDIT_HMAC_KEY": AUDIT_KEY,
                "DATA_DIR": str(data),
                "STATE_DB": self.dsn,
                "REPLICA_ID": name,
                "REPLICA_URL": f"http://127.0.0.1:{port}",
                "REPLICA_SECRET": SECRET,
                "IBKR_OWNER_POLL_S": "0.2",
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "LOG_LEVEL": "WARNING",
                "FLEET_CLOCK_OFFSET_S": repr(self.offset_s),
            }
        )
        base.update(self.extra_env)
        base.update(env)
        replica = Replica(name, port, base, data / "replica.log")
        self.replicas[name] = replica
        return replica

    async def start(self, *names: str, together: bool = False) -> None:
        """Start replicas one after the other (the first owns the IBKR session), or `together`; wait for health."""
        chosen = [self.replicas[name] for name in names or tuple(self.replicas)]
        if together:
            for replica in chosen:
                replica.start()
            await asyncio.gather(*(replica.wait_healthy() for replica in chosen))
            return
        for replica in chosen:
            replica.start()
            await replica.wait_healthy()

    def stop(self) -> None:
        """Stop every replica."""
        for replica in self.replicas.values():
            replica.stop()

    def __getitem__(self, name: str) -> Replica:
        return self.replicas[name]


async def post(
    session: aiohttp.ClientSession, url: str, body: Mapping[str, Any] | None = None, *, head: Mapping[str, str]
) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    """POST JSON and return (status, JSON body, headers)."""
    async with session.post(url, json=dict(body or {}), headers=dict(head)) as response:
        data = await response.json(content_type=None)
        return response.status, data if isinstance(data, dict) else {"body": data}, response.headers


async def get(session: aiohttp.ClientSession, url: str, *, head: Mapping[str, str]) -> tuple[int, Any]:
    """GET and return (status, JSON body)."""
    async with session.get(url, headers=dict(head)) as response:
        return response.status, await response.json(content_type=None)
