"""A minimal test venue served through the simulation harness: a real wire, the shared transport.

Its simulator answers `GET /ticker` and `POST /order` as JSON; its client goes through
`common/http.py` exactly as a real venue client does, so faults injected at the simulator come
back through the same error mapping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import UpstreamAuthError
from cerbero_mcp.common.http import UpstreamHTTP, raise_for_transport_status
from cerbero_mcp.settings import Environment, Settings
from cerbero_mcp.simulators.engine.harness import SimulatorConfig, SimulatorSpec
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolResponse, ToolSet


def build_simulator(config: SimulatorConfig) -> Starlette:
    """Build the probe venue's app: a price that depends on the seed, orders that need the key."""
    ids = itertools.count(1)
    price = 100 + config.seed % 1000

    async def ticker(request: Request) -> JSONResponse:
        return JSONResponse({"symbol": request.query_params.get("symbol", "X"), "price": price, "env": config.env})

    async def order(request: Request) -> JSONResponse:
        if request.headers.get("x-api-key") != config.credentials["api_key"]:
            return JSONResponse({"error": "bad key"}, status_code=401)
        body = await request.json()
        return JSONResponse({"order_id": f"P-{next(ids)}", "symbol": body["symbol"], "env": config.env})

    return Starlette(routes=[Route("/ticker", ticker), Route("/order", order, methods=["POST"])])


SPEC = SimulatorSpec(
    venue="probe",
    build_app=build_simulator,
    settings_overrides=lambda env, url, creds: {f"PROBE_URL_{env.upper()}": url},
    credentials=lambda env: {"api_key": f"probe-key-{env}"},
)


class ProbeClient:
    """The probe venue's client on the shared transport."""

    def __init__(self, http: UpstreamHTTP, api_key: str) -> None:
        self.http = http
        self.api_key = api_key

    async def get_ticker(self, symbol: str) -> dict[str, Any]:
        """GET /ticker."""
        response = await self.http.request("GET", "/ticker", params={"symbol": symbol})
        raise_for_transport_status(response, "probe")
        result: dict[str, Any] = response.json()
        return result

    async def post_order(self, symbol: str) -> dict[str, Any]:
        """POST /order (a write: never retried)."""
        response = await self.http.request(
            "POST", "/order", json_body={"symbol": symbol}, headers={"X-Api-Key": self.api_key}, idempotent=False
        )
        raise_for_transport_status(response, "probe")
        if response.status == 401:
            raise UpstreamAuthError("probe rejected the api key")
        result: dict[str, Any] = response.json()
        return result

    async def aclose(self) -> None:
        """Close the pool."""
        await self.http.aclose()


def probe_toolset(urls: Mapping[str, str], keys: Callable[[str], str], read_timeout_s: float = 1.0) -> ToolSet:
    """Return the probe ToolSet whose clients go to `urls[env]`."""
    tools = ToolSet("probe", client_factory=_factory(urls, keys, read_timeout_s))

    @tools.read("get_price")
    async def get_price(ctx: ToolContext, req: PriceRequest) -> PriceResponse:
        """Return the probe venue's price."""
        client: ProbeClient = await ctx.client()
        raw = await client.get_ticker(req.symbol)
        return PriceResponse(price=Decimal(str(raw["price"])), env=raw["env"], data_timestamp=utcnow())

    @tools.write("place", risk="neutral", target="symbol")  # routing probe: no exposure to check
    async def place(ctx: ToolContext, req: PriceRequest) -> PlacedResponse:
        """Place a probe order."""
        client: ProbeClient = await ctx.client()
        raw = await client.post_order(req.symbol)
        return PlacedResponse(order_id=raw["order_id"], env=raw["env"], data_timestamp=utcnow())

    return tools


def _factory(
    urls: Mapping[str, str], keys: Callable[[str], str], read_timeout_s: float
) -> Callable[[Settings, Environment], Any]:
    async def build(settings: Settings, env: Environment) -> ProbeClient:
        http = UpstreamHTTP("probe", urls[env], connect_timeout_s=1.0, read_timeout_s=read_timeout_s)
        return ProbeClient(http, keys(env))

    return build


class PriceRequest(ToolRequest):
    """A symbol."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"symbol": "X"}]})
    symbol: str = Field("X", min_length=1, max_length=16)


class PriceResponse(ToolResponse):
    """A price and which instance answered."""

    price: Decimal
    env: str


class PlacedResponse(ToolResponse):
    """An order id and which instance took it."""

    order_id: str
    env: str
