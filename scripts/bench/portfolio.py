"""Latency of the risk desk's get_portfolio over every venue's simulator (one loopback gateway, in process).

    uv run python scripts/bench/portfolio.py [--calls 50] [--interval-s 0.5] [--with-orders]

Each call reads every configured venue of the testnet environment concurrently (accounts, positions and,
with --with-orders, open orders), each within RISK_VENUE_TIMEOUT_S; nothing is cached, so every call goes
to every simulator. Prints p50/p99 of the whole call and of each venue's own read (`duration_ms`).
Calls are spaced by --interval-s (a dashboard's refresh): back to back (0), the venues' documented
rate limits, which the gateway's pacer keeps, make some reads wait, and the p99 shows those waits.
Also prints one pre_trade_check report, the kind the README shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import installed_simulators, serve_in_thread, start_simulators, wait_started

TOKEN = "b" * 40
VENUES = ["deribit", "bybit", "hyperliquid", "alpaca", "ibkr"]
CHECK = {"venue": "deribit", "instrument": "BTC-PERPETUAL", "side": "buy", "risk_usd": "250"}


def quantile(samples: list[float], q: float) -> float:
    """Return the q-quantile of sorted samples (nearest rank)."""
    return samples[min(len(samples) - 1, int(len(samples) * q))]


async def measure(
    url: str, calls: int, with_orders: bool, interval_s: float
) -> tuple[list[float], dict[str, list[float]], Any]:
    """Return the call latencies (ms), each venue's own read latencies, and one pre_trade_check report."""
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Bot-Tag": "bench"}
    totals: list[float] = []
    per_venue: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        body = {"include_orders": with_orders}
        (await http.post("/mcp-risk/tools/get_portfolio", json=body, headers=headers)).raise_for_status()  # warm
        for _ in range(calls):
            await asyncio.sleep(interval_s)
            started = time.perf_counter()
            answer = await http.post("/mcp-risk/tools/get_portfolio", json=body, headers=headers)
            totals.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
            for venue in answer.json()["venues"]:
                if venue["status"] != "ok":
                    print(f"  {venue['venue']}: {venue['status']} {venue['error']}", file=sys.stderr)
                per_venue.setdefault(venue["venue"], []).append(float(venue["duration_ms"]))
        ticker = (
            await http.post("/mcp-deribit/tools/get_ticker", json={"instrument": "BTC-PERPETUAL"}, headers=headers)
        ).json()
        entry = round(float(ticker["bid"]) * 0.98 * 2) / 2  # a resting buy 2 % under the bid, on Deribit's 0.5 tick
        check = {**CHECK, "entry": str(entry), "stop": str(entry - 1500)}
        report = (await http.post("/mcp-risk/tools/pre_trade_check", json=check, headers=headers)).json()
    totals.sort()
    for samples in per_venue.values():
        samples.sort()
    return totals, per_venue, report


def main() -> int:
    """Start every venue simulator and a gateway on loopback, then print get_portfolio's p50/p99."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="get_portfolio calls to time")
    parser.add_argument("--with-orders", action="store_true", help="also read each venue's open orders")
    parser.add_argument("--interval-s", type=float, default=0.5, help="pause between calls (0: back to back)")
    args = parser.parse_args()
    with start_simulators(installed_simulators(VENUES)) as stack, tempfile.TemporaryDirectory() as state:
        for instance in stack.instances:
            # The venues' own rate limits would throttle a tight loop of reads from one address.
            venue = getattr(getattr(instance.app, "state", None), "venue", None)
            if venue is not None and hasattr(venue, "rate_limit"):
                venue.rate_limit = False
        settings = Settings.from_mapping(
            {
                "TESTNET_TOKEN": TOKEN,
                "MAINNET_TOKEN": "c" * 40,
                "AUDIT_LOG_FILE": "off",
                "STATE_DB": str(Path(state) / "state.db"),
                **stack.overrides,
            }
        )
        server, thread, url = serve_in_thread(build_app(settings), name="cerbero-bench-gateway")
        wait_started(server, thread)
        try:
            totals, per_venue, report = asyncio.run(measure(url, args.calls, args.with_orders, args.interval_s))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(
        f"get_portfolio over {len(per_venue)} venues, {len(totals)} calls {args.interval_s:g} s apart "
        f"(open orders: {args.with_orders})"
    )
    print(f"{'':14} {'p50 ms':>9} {'p99 ms':>9}")
    print(f"{'whole call':14} {statistics.median(totals):9.1f} {quantile(totals, 0.99):9.1f}")
    for venue, samples in sorted(per_venue.items()):
        print(f"{venue:14} {statistics.median(samples):9.1f} {quantile(samples, 0.99):9.1f}")
    print("\npre_trade_check report:")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
