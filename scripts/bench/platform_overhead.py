"""Measure the platform's own cost: start-up time, idle RSS, and a no-op tool under load.

    uv run python scripts/bench/platform_overhead.py [--seconds 5] [--concurrency 1 10 50]

Starts (in subprocesses, one uvicorn worker each) the real app serving one no-op tool and, as the
floor, a bare Starlette app answering the same JSON; then drives each with aiohttp clients on
loopback and prints p50/p99 latency and requests/s. Also times `cerbero-mcp` from exec to the
first 200 on /health and reads its idle RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
from pydantic import ConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolResponse, ToolSet, utcnow

TESTNET = "bench-testnet-token-" + "x" * 20
MAINNET = "bench-mainnet-token-" + "y" * 20
HEADERS = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "bench", "Content-Type": "application/json"}


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NoopRequest(ToolRequest):
    """Nothing."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


BENCH_TOOLS = ToolSet("bench")


@BENCH_TOOLS.read("noop")
async def noop(ctx: ToolContext, req: NoopRequest) -> ToolResponse:
    """Do nothing."""
    return ToolResponse(data_timestamp=utcnow())


async def bare_noop(request: Request) -> Response:
    """Answer what the no-op tool answers, with no middleware at all."""
    return Response(ToolResponse(data_timestamp=utcnow()).model_dump_json(), media_type="application/json")


def serve(kind: str, port: int) -> None:
    """Serve `kind` ("cerbero" or "bare") on `port` (runs in the child process)."""
    app: Any
    if kind == "cerbero":
        app = build_app(
            Settings.from_mapping({"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "STATE_DB": ":memory:"}),
            [BENCH_TOOLS],
        )
    else:
        app = Starlette(
            routes=[Route("/mcp-bench/tools/noop", bare_noop, methods=["POST"]), Route("/health", bare_noop)]
        )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child process quietly."""
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_healthy(url: str, within_s: float = 30.0) -> float:
    """Return seconds until `url` answers 200."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < within_s:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.01)
    raise TimeoutError(url)


async def load(url: str, concurrency: int, seconds: float) -> tuple[float, float, float, int]:
    """Drive `url` with `concurrency` workers for `seconds`; return p50 ms, p99 ms, req/s, errors."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(url, data=b"{}", headers=HEADERS) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begun
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49], quantiles[98], len(latencies) / elapsed, errors


def rss_mb(pid: int) -> float:
    """Return the resident set size of `pid` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    """Run the measurements and print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()

    port = free_port()
    env = {**os.environ, "TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "PORT": str(port), "LOG_LEVEL": "WARNING"}
    cli = start([sys.executable, "-m", "cerbero_mcp"], env)
    try:
        startup = await wait_healthy(f"http://127.0.0.1:{port}/health")
        await asyncio.sleep(1.0)
        idle = rss_mb(cli.pid)
    finally:
        cli.terminate()
        cli.wait()
    print(f"start-up (exec to first /health 200): {startup * 1000:.0f} ms")
    print(f"idle RSS of cerbero-mcp: {idle:.1f} MiB\n")

    rows = []
    for kind in ("bare", "cerbero"):
        port = free_port()
        child = start([sys.executable, __file__, "--serve", kind, str(port)])
        try:
            await wait_healthy(f"http://127.0.0.1:{port}/health")
            url = f"http://127.0.0.1:{port}/mcp-bench/tools/noop"
            await load(url, 1, 0.5)  # warm-up
            for concurrency in args.concurrency:
                p50, p99, rps, errors = await load(url, concurrency, args.seconds)
                rows.append((kind, concurrency, p50, p99, rps, errors))
        finally:
            child.terminate()
            child.wait()
    print(f"{'server':<10}{'clients':>8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'errors':>8}")
    for kind, concurrency, p50, p99, rps, errors in rows:
        print(f"{kind:<10}{concurrency:>8}{p50:>10.3f}{p99:>10.3f}{rps:>10.0f}{errors:>8}")
    bare = {c: (p50, rps) for k, c, p50, _, rps, _ in rows if k == "bare"}
    print("\nper-request overhead of the middleware stack + tool registry (p50, cerbero - bare):")
    for kind, concurrency, p50, _, rps, _ in rows:
        if kind == "cerbero":
            extra_ms, share = p50 - bare[concurrency][0], rps / bare[concurrency][1]
            print(f"  {concurrency:>3} clients: +{extra_ms:.3f} ms, {share:.0%} of bare req/s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        asyncio.run(main())
