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
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolResponse, ToolSet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, load, print_table, rss_mb, start, wait_healthy

TESTNET = "bench-testnet-token-" + "x" * 20
MAINNET = "bench-mainnet-token-" + "y" * 20
HEADERS = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "bench", "Content-Type": "application/json"}


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
        settings = Settings.from_mapping(
            {
                "TESTNET_TOKEN": TESTNET,
                "MAINNET_TOKEN": MAINNET,
                "STATE_DB": ":memory:",
                "DATA_DIR": tempfile.mkdtemp(prefix="cerbero-bench-"),
            }
        )
        app = build_app(settings, [BENCH_TOOLS])
    else:
        app = Starlette(
            routes=[Route("/mcp-bench/tools/noop", bare_noop, methods=["POST"]), Route("/health", bare_noop)]
        )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def main() -> None:
    """Run the measurements and print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()

    port = free_port()
    env = {
        **os.environ,
        "TESTNET_TOKEN": TESTNET,
        "MAINNET_TOKEN": MAINNET,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "STATE_DB": ":memory:",
        "DATA_DIR": tempfile.mkdtemp(prefix="cerbero-bench-"),
    }
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
            await load("POST", url, 1, 0.5, body=b"{}", headers=HEADERS)  # warm-up
            for clients in args.concurrency:
                rows.append(
                    (kind, clients, await load("POST", url, clients, args.seconds, body=b"{}", headers=HEADERS))
                )
        finally:
            child.terminate()
            child.wait()
    print_table(rows)
    bare = {clients: result for kind, clients, result in rows if kind == "bare"}
    print("\nper-request overhead of the middleware stack + tool registry (p50, cerbero - bare):")
    for kind, clients, result in rows:
        if kind == "cerbero":
            extra_ms, share = result.p50_ms - bare[clients].p50_ms, result.rps / bare[clients].rps
            print(f"  {clients:>3} clients: +{extra_ms:.3f} ms, {share:.0%} of bare req/s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        asyncio.run(main())
