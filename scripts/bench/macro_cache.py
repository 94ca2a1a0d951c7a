"""Cold vs cached latency of macro tools against the sources' simulators (one loopback gateway, in process).

    uv run python scripts/bench/macro_cache.py [--calls 200]

A cold call reads the source (the simulator, over loopback HTTP) and parses it; identical calls after it
are answered from the provider's cache until the tool's TTL runs out. Each tool is asked with a request
no earlier call made, so its first call is cold; the cached figures are quantiles of `--calls` repeats.
"""

from __future__ import annotations

import argparse
import asyncio
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
CASES: list[tuple[str, dict[str, Any]]] = [
    ("get_treasury_yields", {}),
    ("get_yield_curve_slope", {"lookback_days": 1825}),
    ("get_fred_series", {"series_id": "DGS10", "limit": 500}),
    ("get_cot_tff", {"market": "sp500_emini"}),
    ("get_cot_extreme_positioning", {}),
]


async def measure(url: str, calls: int) -> list[tuple[str, float, float, float, str]]:
    """Return (tool, cold ms, cached p50 ms, cached p99 ms, cache header of the repeats) per case."""
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Bot-Tag": "bench"}
    rows = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for tool, body in CASES:
            started = time.perf_counter()
            first = await http.post(f"/mcp-macro/tools/{tool}", json=body, headers=headers)
            cold = (time.perf_counter() - started) * 1000
            first.raise_for_status()
            samples, seen = [], set()
            for _ in range(calls):
                started = time.perf_counter()
                again = await http.post(f"/mcp-macro/tools/{tool}", json=body, headers=headers)
                samples.append((time.perf_counter() - started) * 1000)
                seen.add(again.headers.get("x-cache", "?"))
            samples.sort()
            p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            rows.append((tool, cold, statistics.median(samples), p99, ",".join(sorted(seen))))
    return rows


def main() -> int:
    """Start the macro simulator and a gateway on loopback, then print cold vs cached latency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="cached repeats per tool")
    args = parser.parse_args()
    with start_simulators(installed_simulators(["macro"])) as stack, tempfile.TemporaryDirectory() as state:
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
            rows = asyncio.run(measure(url, args.calls))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(f"macro provider: cold call vs {args.calls} cached repeats (ms, loopback simulators)")
    print(f"{'tool':<30}{'cold':>10}{'cached p50':>12}{'cached p99':>12}  repeats")
    for tool, cold, p50, p99, seen in rows:
        print(f"{tool:<30}{cold:>10.1f}{p50:>12.2f}{p99:>12.2f}  X-Cache {seen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
