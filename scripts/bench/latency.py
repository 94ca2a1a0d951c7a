"""get_ticker latency and throughput: through the gateway, straight to the venue, and through a bare proxy.

    uv run python scripts/bench/latency.py [--venue deribit|bybit] [--seconds 5] [--concurrency 1 10 50]

Three child processes on loopback (one uvicorn worker each): the venue's simulator; the gateway
(the real app) pointed at it; and the floor for any gateway — a bare Starlette route that makes
the same upstream call on the same transport (`common/http.py`, one pooled aiohttp session) and
returns the venue's JSON. The load generator runs here with aiohttp. Targets (issue 5): at one
client the gateway adds ≤ 1 ms p50 over the direct call; at 50 clients it keeps ≥ 70 % of the
bare proxy's requests/s.

The gateway paces every venue by its documented limits (Deribit 20 public requests/s, Bybit 600 per
5 s per IP), which would make this a measure of the venue's limits, not of the gateway: the gateway
child lifts its venue's pacing table (here only) and the simulator runs with its limits off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.common.pacing import Limit
from cerbero_mcp.server import build_app
from cerbero_mcp.serving import uvicorn_config
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.bybit.simulator import build_app as build_bybit
from cerbero_mcp.simulators.deribit.simulator import build_app as build_deribit
from cerbero_mcp.simulators.engine.clock import SystemClock
from cerbero_mcp.simulators.engine.harness import SimulatorConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LoadResult, free_port, load, print_table, start, wait_healthy

TESTNET = "bench-testnet-token-" + "x" * 20
MAINNET = "bench-mainnet-token-" + "y" * 20


@dataclass(frozen=True)
class BenchVenue:
    """What the bench needs of one venue: its simulator, its ticker on the wire, and the gateway's settings."""

    name: str
    credentials: dict[str, str]
    api: str  # the base path under the simulator's URL
    health: str  # a public path that answers 200
    ticker_path: str  # the venue's own ticker endpoint, under `api`
    ticker_params: dict[str, str]
    tool_body: bytes
    settings: dict[str, str]  # the gateway's settings for the venue, "{url}" replaced by the simulator's


BENCH_VENUES = {
    "deribit": BenchVenue(
        name="deribit",
        credentials={"client_id": "bench-id", "client_secret": "bench-secret"},
        api="/api/v2",
        health="/api/v2/public/test",
        ticker_path="/public/ticker",
        ticker_params={"instrument_name": "BTC-PERPETUAL"},
        tool_body=b'{"instrument": "BTC-PERPETUAL"}',
        settings={
            "DERIBIT_URL_TESTNET": "{url}/api/v2",
            "DERIBIT_CLIENT_ID_TESTNET": "bench-id",
            "DERIBIT_CLIENT_SECRET_TESTNET": "bench-secret",
        },
    ),
    "bybit": BenchVenue(
        name="bybit",
        credentials={"api_key": "Tbenchbenchbench12", "api_secret": "s" * 36},
        api="",
        health="/v5/market/time",
        ticker_path="/v5/market/tickers",
        ticker_params={"category": "linear", "symbol": "BTCUSDT"},
        tool_body=b'{"instrument": "BTCUSDT", "category": "linear"}',
        settings={
            "BYBIT_URL_TESTNET": "{url}",
            "BYBIT_API_KEY_TESTNET": "Tbenchbenchbench12",
            "BYBIT_API_SECRET_TESTNET": "s" * 36,
        },
    ),
}


def serve_simulator(venue: BenchVenue, port: int) -> None:
    """Serve the venue's simulator with its rate limits off (child process)."""
    config = SimulatorConfig(venue.name, "testnet", 7, venue.credentials, SystemClock())
    # the venue's limiter would answer 429 long before the gateway is the bottleneck
    build = build_deribit if venue.name == "deribit" else build_bybit
    app = build(config, rate_limit=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def lift_pacing(venue: BenchVenue) -> None:
    """Replace the venue's pacing table in this (gateway child) process with limits no bench reaches."""
    module = __import__(f"cerbero_mcp.exchanges.{venue.name}.client", fromlist=["PACING"])
    for key in module.PACING:
        module.PACING[key] = Limit(10_000_000, 1.0, "lifted for the bench")


def serve_gateway(venue: BenchVenue, port: int, upstream: str) -> None:
    """Serve the real app pointed at the simulator (child process)."""
    lift_pacing(venue)
    settings = Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "STATE_DB": ":memory:",
            "DATA_DIR": tempfile.mkdtemp(prefix="cerbero-bench-"),
            **{name: value.replace("{url}", upstream) for name, value in venue.settings.items()},
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
    )
    # The production server configuration (h11 with the header deadline, limits), as `cerbero-mcp` runs it.
    uvicorn.Server(uvicorn_config(build_app(settings), settings)).run()


def serve_bare_proxy(venue: BenchVenue, port: int, upstream: str) -> None:
    """Serve the floor: one route making the same upstream call on the same transport (child process)."""
    http = UpstreamHTTP(venue.name, f"{upstream}{venue.api}")

    async def ticker(request: Request) -> Response:
        await request.body()
        upstream_response = await http.request("GET", venue.ticker_path, params=venue.ticker_params)
        return Response(json.dumps(upstream_response.json()["result"]), media_type="application/json")

    async def health(request: Request) -> Response:
        return Response("{}", media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = Starlette(
        routes=[Route(f"/mcp-{venue.name}/tools/get_ticker", ticker, methods=["POST"]), Route("/health", health)],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def main() -> None:
    """Start the three servers, load each, print the table and the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--venue", choices=sorted(BENCH_VENUES), default="deribit")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()
    venue = BENCH_VENUES[args.venue]

    sim_port = free_port()
    upstream = f"http://127.0.0.1:{sim_port}"
    simulator = start([sys.executable, __file__, "--serve-simulator", venue.name, str(sim_port)])
    children = [simulator]
    try:
        await wait_healthy(f"{upstream}{venue.health}")
        query = "&".join(f"{k}={v}" for k, v in venue.ticker_params.items())
        targets: dict[str, tuple[str, str, bytes | None, dict[str, str]]] = {
            "direct": ("GET", f"{upstream}{venue.api}{venue.ticker_path}?{query}", None, {}),
        }
        for name, flag in (("bare_proxy", "--serve-bare"), ("gateway", "--serve-gateway")):
            port = free_port()
            children.append(start([sys.executable, __file__, flag, venue.name, str(port), upstream]))
            await wait_healthy(f"http://127.0.0.1:{port}/health")
            headers = {"Content-Type": "application/json"}
            if name == "gateway":
                headers |= {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "bench"}
            path = f"/mcp-{venue.name}/tools/get_ticker"
            targets[name] = ("POST", f"http://127.0.0.1:{port}{path}", venue.tool_body, headers)
        rows: list[tuple[str, int, LoadResult]] = []
        for name, (method, url, body, headers) in targets.items():
            await load(method, url, 1, 0.5, body=body, headers=headers)  # warm-up: pools, auth, caches
            for clients in args.concurrency:
                rows.append((name, clients, await load(method, url, clients, args.seconds, body=body, headers=headers)))
    finally:
        for child in children:
            child.terminate()
            child.wait()
    print(f"venue: {venue.name} get_ticker")
    print_table(rows)
    by: dict[tuple[str, int], LoadResult] = {(name, clients): result for name, clients, result in rows}
    lowest, highest = min(args.concurrency), max(args.concurrency)
    added = by[("gateway", lowest)].p50_ms - by[("direct", lowest)].p50_ms
    share = by[("gateway", highest)].rps / by[("bare_proxy", highest)].rps
    print(f"\ngateway p50 over direct at {lowest} client(s): +{added:.3f} ms (target <= 1 ms)")
    print(f"gateway req/s vs bare proxy at {highest} clients: {share:.0%} (target >= 70%)")


def _dispatch(argv: list[str]) -> Any:
    if argv[:1] == ["--serve-simulator"]:
        return serve_simulator(BENCH_VENUES[argv[1]], int(argv[2]))
    if argv[:1] == ["--serve-gateway"]:
        return serve_gateway(BENCH_VENUES[argv[1]], int(argv[2]), argv[3])
    if argv[:1] == ["--serve-bare"]:
        return serve_bare_proxy(BENCH_VENUES[argv[1]], int(argv[2]), argv[3])
    return asyncio.run(main())


if __name__ == "__main__":
    _dispatch(sys.argv[1:])
