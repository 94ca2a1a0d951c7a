"""Order placement with SQLite (1 process) vs PostgreSQL (1 and 2 replicas), and kill-switch propagation.

Starts the Deribit simulator (testnet; its rate limits and the gateway's Deribit pacing lifted: the gateway's
write path is the subject) and a
PostgreSQL of its own (Debian's binaries, tests/support/postgres.py), then for each setup real `cerbero-mcp`
processes (tests/integration/replicas/fleet.py): N clients place small market orders, each with a new
client_order_id, for S seconds, spread evenly over the replicas. It prints orders/s and the p50/p99 latency
of each setup, then engages the kill switch on replica a K times and measures how long replica b takes to
refuse an opening write.

    uv run python scripts/bench/replicas.py --seconds 5 --clients 32
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "replicas"))
from fleet import ADMIN_HEADERS, Fleet, fleet_offset, fleet_simulators, headers  # noqa: E402

from cerbero_mcp.simulators.deribit.simulator import SPEC  # noqa: E402
from support.postgres import find_bindir, running_postgres  # noqa: E402

PLACE = "/mcp-deribit/tools/place_order"


def quantile(values: list[float], q: float) -> float:
    """Return the q-quantile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def place_load(urls: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """Place orders from `clients` workers spread over `urls` for `seconds`; return throughput and latency."""
    ids = itertools.count(1)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    head = headers("bench")

    async def worker(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal errors
        url = urls[number % len(urls)]
        side = "buy" if number % 2 else "sell"
        while time.perf_counter() < deadline:
            body = {
                "instrument": "BTC-PERPETUAL",
                "side": side,
                "type": "market",
                "quantity": "10",
                "client_order_id": f"bench-{number}-{next(ids)}",
            }
            started = time.perf_counter()
            try:
                async with session.post(f"{url}{PLACE}", json=body, headers=head) as response:
                    await response.read()
                    ok = response.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session, n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "orders_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(quantile(latencies, 0.50), 1),
        "p99_ms": round(quantile(latencies, 0.99), 1),
        "orders": len(latencies),
        "errors": errors,
    }


async def kill_switch_propagation(fleet: Fleet, rounds: int) -> dict[str, Any]:
    """Engage on a, measure until b refuses an opening write (423), release; repeat."""
    seen: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for round_ in range(rounds):
            engage = {"env": "testnet", "engaged": True, "reason": "bench"}
            async with session.post(f"{fleet['a'].url}/admin/kill-switch", json=engage, headers=ADMIN_HEADERS) as r:
                await r.read()
            engaged = time.perf_counter()
            for attempt in itertools.count():
                body = {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "market", "quantity": "10"}
                body["client_order_id"] = f"bench-ks-{round_}-{attempt}"
                async with session.post(f"{fleet['b'].url}{PLACE}", json=body, headers=headers("ks")) as r:
                    await r.read()
                    if r.status == 423:
                        seen.append((time.perf_counter() - engaged) * 1000)
                        break
            release = {"env": "testnet", "engaged": False, "reason": "bench"}
            async with session.post(f"{fleet['b'].url}/admin/kill-switch", json=release, headers=ADMIN_HEADERS) as r:
                await r.read()
    return {
        "rounds": rounds,
        "p50_ms": round(statistics.median(seen), 1),
        "max_ms": round(max(seen), 1),
        "method": "plain read of the kill_switch row at every gate check",
    }


async def run(seconds: float, clients: int, rounds: int) -> dict[str, Any]:
    """Run every setup and return the numbers."""
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
    results: dict[str, Any] = {"seconds": seconds, "clients": clients}
    offset = fleet_offset()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_postgres(bindir) as pg,
        fleet_simulators([SPEC], offset) as stack,
    ):
        work = Path(tmp)
        lifted = {"FLEET_LIFT_PACING": "deribit"}  # the gateway's Deribit pacing (orders 5/s) is not the subject
        sqlite = Fleet(stack, "", work / "sqlite", offset, extra_env=lifted)
        single = sqlite.add("solo")
        single.env.pop("STATE_DB")  # DATA_DIR/state.db and the JSONL audit: the embedded default
        try:
            await sqlite.start()
            results["sqlite_1_process"] = await place_load([single.url], clients, seconds)
        finally:
            sqlite.stop()
        for replicas in (1, 2):
            fleet = Fleet(stack, pg.create_database(), work / f"pg{replicas}", offset, extra_env=lifted)
            for name in "ab"[:replicas]:
                fleet.add(name)
            try:
                await fleet.start(together=True)
                urls = [fleet[name].url for name in "ab"[:replicas]]
                results[f"postgres_{replicas}_replica{'s' if replicas > 1 else ''}"] = await place_load(
                    urls, clients, seconds
                )
                if replicas == 2:
                    results["kill_switch_propagation"] = await kill_switch_propagation(fleet, rounds)
            finally:
                fleet.stop()
    return results


def main() -> int:
    """Run from the command line and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load seconds per setup")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=20, help="kill-switch propagation measurements")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.seconds, args.clients, args.rounds)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
