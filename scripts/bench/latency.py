"""get_ticker latency and throughput: through the gateway, straight to the venue, and through a bare proxy.

    uv run python scripts/bench/latency.py [--seconds 5] [--concurrency 1 10 50]

Three child processes on loopback (one uvicorn worker each): the Deribit simulator; the gateway
(the real app) pointed at it; and the floor for any gateway — a bare Starlette route that makes
the same upstream call on the same transport (`common/http.py`, one pooled aiohttp session) and
returns the venue's JSON. The load generator runs here with aiohttp. Targets (issue 5): at one
client the gateway adds ≤ 1 ms p50 over the direct call; at 50 clients it keeps ≥ 70 % of the
bare proxy's requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.server import build_app
from cerbero_mcp.serving import uvicorn_config
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.deribit.simulator import build_app as build_simulator
from cerbero_mcp.simulators.engine.clock import SystemClock
from cerbero_mcp.simulators.engine.harness import SimulatorConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LoadResult, free_port, load, print_table, start, wait_healthy

TESTNET = "bench-testnet-token-" + "x" * 20
MAINNET = "bench-mainnet-token-" + "y" * 20
CREDENTIALS = {"client_id": "bench-id", "client_secret": "bench-secret"}
TICKER_PATH = "/api/v2/public/ticker?instrument_name=BTC-PERPETUAL"


def serve_simulator(port: int) -> None:
    """Serve the Deribit simulator (child process)."""
    config = SimulatorConfig("deribit", "testnet", 7, CREDENTIALS, SystemClock())
    # the venue's credit limiter would answer 429 long before the gateway is the bottleneck
    app = build_simulator(config, rate_limit=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_gateway(port: int, upstream: str) -> None:
    """Serve the real app pointed at the simulator (child process)."""
    settings = Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "STATE_DB": ":memory:",
            "DATA_DIR": tempfile.mkdtemp(prefix="cerbero-bench-"),
            "DERIBIT_URL_TESTNET": f"{upstream}/api/v2",
            "DERIBIT_CLIENT_ID_TESTNET": CREDENTIALS["client_id"],
            "DERIBIT_CLIENT_SECRET_TESTNET": CREDENTIALS["client_secret"],
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
    )
    # The production server configuration (h11 with the header deadline, limits), as `cerbero-mcp` runs it.
    uvicorn.Server(uvicorn_config(build_app(settings), settings)).run()


def serve_bare_proxy(port: int, upstream: str) -> None:
    """Serve the floor: one route making the same upstream call on the same transport (child process)."""
    http = UpstreamHTTP("deribit", f"{upstream}/api/v2")

    async def ticker(request: Request) -> Response:
        body = await request.body()
        instrument = json.loads(body or b"{}").get("instrument", "BTC-PERPETUAL")
        upstream_response = await http.request("GET", "/public/ticker", params={"instrument_name": instrument})
        return Response(json.dumps(upstream_response.json()["result"]), media_type="application/json")

    async def health(request: Request) -> Response:
        return Response("{}", media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = Starlette(
        routes=[Route("/mcp-deribit/tools/get_ticker", ticker, methods=["POST"]), Route("/health", health)],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def main() -> None:
    """Start the three servers, load each, print the table and the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()

    sim_port = free_port()
    upstream = f"http://127.0.0.1:{sim_port}"
    simulator = start([sys.executable, __file__, "--serve-simulator", str(sim_port)])
    children = [simulator]
    try:
        await wait_healthy(f"{upstream}/api/v2/public/test")
        targets: dict[str, tuple[str, str, bytes | None, dict[str, str]]] = {
            "direct": ("GET", f"{upstream}{TICKER_PATH}", None, {}),
        }
        for name, flag in (("bare_proxy", "--serve-bare"), ("gateway", "--serve-gateway")):
            port = free_port()
            children.append(start([sys.executable, __file__, flag, str(port), upstream]))
            await wait_healthy(f"http://127.0.0.1:{port}/health")
            headers = {"Content-Type": "application/json"}
            if name == "gateway":
                headers |= {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "bench"}
            body = b'{"instrument": "BTC-PERPETUAL"}'
            targets[name] = ("POST", f"http://127.0.0.1:{port}/mcp-deribit/tools/get_ticker", body, headers)
        rows: list[tuple[str, int, LoadResult]] = []
        for name, (method, url, body, headers) in targets.items():
            await load(method, url, 1, 0.5, body=body, headers=headers)  # warm-up: pools, auth, caches
            for clients in args.concurrency:
                rows.append((name, clients, await load(method, url, clients, args.seconds, body=body, headers=headers)))
    finally:
        for child in children:
            child.terminate()
            child.wait()
    print_table(rows)
    by: dict[tuple[str, int], LoadResult] = {(name, clients): result for name, clients, result in rows}
    lowest, highest = min(args.concurrency), max(args.concurrency)
    added = by[("gateway", lowest)].p50_ms - by[("direct", lowest)].p50_ms
    share = by[("gateway", highest)].rps / by[("bare_proxy", highest)].rps
    print(f"\ngateway p50 over direct at {lowest} client(s): +{added:.3f} ms (target <= 1 ms)")
    print(f"gateway req/s vs bare proxy at {highest} clients: {share:.0%} (target >= 70%)")


def _dispatch(argv: list[str]) -> Any:
    if argv[:1] == ["--serve-simulator"]:
        return serve_simulator(int(argv[1]))
    if argv[:1] == ["--serve-gateway"]:
        return serve_gateway(int(argv[1]), argv[2])
    if argv[:1] == ["--serve-bare"]:
        return serve_bare_proxy(int(argv[1]), argv[2])
    return asyncio.run(main())


if __name__ == "__main__":
    _dispatch(sys.argv[1:])
