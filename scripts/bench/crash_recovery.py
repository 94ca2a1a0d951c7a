"""`kill -9` mid-load: no order unaudited, none doubled, nothing left pending, the audit chain intact.

Starts the Deribit simulators on loopback, then a real `cerbero-mcp` process against them (its own
audit file and state DB). N clients place small market orders, each with a new client_order_id,
until the process is killed with SIGKILL; the process is started again on the same files, and every
client re-sends each order whose answer it never got, with the same id, until it gets one. Then it
checks, from the simulator's recorder and the audit file:

- every order the venue received has an intent record in the audit;
- no client_order_id reached the venue twice;
- no idempotency key is pending after the restart;
- `GET /admin/audit/verify` is ok.

    uv run python scripts/bench/crash_recovery.py --clients 100 --kill-after 3

Prints the numbers; exits non-zero when a check fails. `tests/integration/test_crash_recovery.py`
runs the same scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from cerbero_mcp.simulators.deribit.simulator import SPEC
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, wait_healthy

TESTNET = "t" * 40
MAINNET = "m" * 40
ADMIN = "a" * 40
ORDER_PATHS = ("/api/v2/private/buy", "/api/v2/private/sell")


@dataclass
class Outcome:
    """What the load run saw and what the checks found."""

    attempts: int = 0
    answered: dict[str, int] = field(default_factory=dict)  # client_order_id -> final HTTP status
    lost_in_crash: int = 0  # requests whose answer never came (the process died under them)
    retried: int = 0
    unknown_after_restart: int = 0  # answered "may have been placed" (504) after the restart
    venue_orders: int = 0
    duplicates: list[str] = field(default_factory=list)
    without_intent: list[str] = field(default_factory=list)
    pending_after_restart: int = 0
    verify: dict[str, Any] = field(default_factory=dict)
    seconds_to_ready_after_kill: float = 0.0

    @property
    def ok(self) -> bool:
        """Return whether every check passed."""
        return (
            not self.duplicates
            and not self.without_intent
            and not self.pending_after_restart
            and bool(self.verify.get("ok"))
        )

    def summary(self) -> dict[str, Any]:
        """Return the numbers as one JSON-able dict."""
        statuses = Counter(self.answered.values())
        return {
            "client_order_ids": len(self.answered),
            "attempts": self.attempts,
            "lost_in_crash": self.lost_in_crash,
            "retried_after_restart": self.retried,
            "final_status_counts": dict(sorted(statuses.items())),
            "unknown_after_restart": self.unknown_after_restart,
            "orders_at_venue": self.venue_orders,
            "duplicate_ids_at_venue": len(self.duplicates),
            "venue_orders_without_intent": len(self.without_intent),
            "pending_keys_after_restart": self.pending_after_restart,
            "verify": self.verify,
            "seconds_to_ready_after_kill": round(self.seconds_to_ready_after_kill, 2),
            "ok": self.ok,
        }


def gateway_env(stack: SimStack, state_dir: Path, port: int) -> dict[str, str]:
    """Return the environment of a gateway process pointed at the simulators."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
    env.update(stack.overrides)
    env.update(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "ADMIN_TOKEN": ADMIN,
            "AUDIT_LOG_FILE": str(state_dir / "audit.jsonl"),
            "AUDIT_HMAC_KEY": "k" * 64,
            "STATE_DB": str(state_dir / "state.db"),
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def start_gateway(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start `cerbero-mcp` as its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "cerbero_mcp"], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def run(clients: int, kill_after_s: float, seconds_after_restart: float = 60.0) -> Outcome:
    """Run the scenario and return what it found."""
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as tmp, start_simulators([SPEC], envs=("testnet",)) as stack:
        venue = getattr(getattr(stack.instance("deribit", "testnet").app, "state", None), "venue", None)
        if venue is not None and hasattr(venue, "rate_limit"):
            venue.rate_limit = False  # one address sends every order: the venue's per-key credits are not the subject
        state_dir = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = gateway_env(stack, state_dir, port)
        process = start_gateway(env, state_dir)
        await wait_healthy(f"{url}/health")
        headers = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "crash", "Content-Type": "application/json"}
        ids = itertools.count(1)
        unanswered: list[tuple[str, bytes]] = []
        stop = asyncio.Event()

        async def place(session: aiohttp.ClientSession, body: bytes) -> int | None:
            outcome.attempts += 1
            try:
                async with session.post(f"{url}/mcp-deribit/tools/place_order", data=body, headers=headers) as r:
                    await r.read()
                    return r.status
            except (TimeoutError, aiohttp.ClientError):
                return None

        async def client(session: aiohttp.ClientSession, number: int) -> None:
            while not stop.is_set():
                coid = f"crash-{number}-{next(ids)}"
                side = "buy" if number % 2 else "sell"
                order = {"instrument": "BTC-PERPETUAL", "side": side, "type": "market", "quantity": "10"}
                body = json.dumps({**order, "client_order_id": coid}).encode()
                status = await place(session, body)
                if status is None:
                    unanswered.append((coid, body))
                    outcome.lost_in_crash += 1
                    return
                outcome.answered[coid] = status

        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=clients)) as session:
            workers = [asyncio.create_task(client(session, n)) for n in range(clients)]
            await asyncio.sleep(kill_after_s)
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_at = time.perf_counter()
            stop.set()
            await asyncio.gather(*workers)

        process = start_gateway(env, state_dir)
        try:
            await wait_healthy(f"{url}/health")
            outcome.seconds_to_ready_after_kill = time.perf_counter() - killed_at
            async with aiohttp.ClientSession(timeout=timeout) as session:
                deadline = time.perf_counter() + seconds_after_restart
                for coid, body in unanswered:
                    status = None
                    while status is None and time.perf_counter() < deadline:
                        outcome.retried += 1
                        status = await place(session, body)
                    if status is not None:
                        outcome.answered[coid] = status
                        outcome.unknown_after_restart += status == 504
                admin = {"Authorization": f"Bearer {ADMIN}"}
                async with session.get(f"{url}/admin/audit/verify", headers=admin) as r:
                    outcome.verify = await r.json()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

        labels = [
            str((r.body or {}).get("params", {}).get("label"))
            for r in stack.control("deribit", "testnet").recorded()
            if r.method == "POST" and r.path in ORDER_PATHS
        ]
        outcome.venue_orders = len(labels)
        outcome.duplicates = sorted(label for label, n in Counter(labels).items() if n > 1)
        intents = set()
        for line in (state_dir / "audit.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record.get("phase") == "intent":
                intents.add(str(record.get("params", {}).get("client_order_id")))
        outcome.without_intent = sorted(set(labels) - intents)
        with sqlite3.connect(state_dir / "state.db") as db:
            (outcome.pending_after_restart,) = db.execute(
                "SELECT COUNT(*) FROM idempotency WHERE state='pending'"
            ).fetchone()
    return outcome


def main() -> int:
    """Run the scenario from the command line and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--kill-after", type=float, default=3.0, help="seconds of load before SIGKILL")
    args = parser.parse_args()
    outcome = asyncio.run(run(args.clients, args.kill_after))
    print(json.dumps(outcome.summary(), indent=2))
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
