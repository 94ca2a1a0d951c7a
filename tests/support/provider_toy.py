"""A test-only data provider, "toyprov": an in-memory source that counts its calls, and two cached tools.

`get_rate` reads the source (same answer for both tokens, cached RATE_TTL_S); `get_toy_orders` reads
the toy venue's client for the caller's environment (cached VENUE_TTL_S per environment).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from pydantic import ConfigDict, Field

from cerbero_mcp.common import errors
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges.providers import (
    Observation,
    ProviderClient,
    ProviderResponse,
    Source,
    SourceBudget,
    cache_for,
)
from cerbero_mcp.settings import Environment, Settings
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolSet
from support.toy import ToyClient

RATE_TTL_S = 60.0
VENUE_TTL_S = 5.0
RATES_SOURCE = Source(name="ToyRates", url="https://toy.example/rates")
VENUE_SOURCE = Source(name="toy", url="https://toy.example/venue")
RATE_AGE = timedelta(seconds=30)  # the source publishes each rate half a minute after observing it


class ToySource:
    """An in-memory upstream: counts calls, fails when told to, holds calls until released when told to."""

    def __init__(self) -> None:
        self.rates = {"EURUSD": 1.08, "BTCUSD": 68_000.0}
        self.calls: Counter[str] = Counter()
        self.fail_next = 0
        self.hold: asyncio.Event | None = None
        self.budget = SourceBudget("ToyRates", calls=1000, per_s=60)

    async def rate(self, pair: str) -> Observation:
        """Return the rate of `pair`, observed RATE_AGE ago."""
        self.budget.spend()
        self.calls[pair] += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise errors.UpstreamError("ToyRates answered HTTP 503")
        if pair not in self.rates:
            raise errors.NotFoundError(f"ToyRates has no {pair}")
        return Observation(value=self.rates[pair], source=RATES_SOURCE, observed_at=utcnow() - RATE_AGE)


class ToyProviderClient(ProviderClient):
    """The provider's one client: the source, the cache, and a build counter."""

    builds = 0

    def __init__(self) -> None:
        super().__init__()
        self.source = ToySource()
        self.closed = False

    @classmethod
    async def build(cls, settings: Settings) -> ToyProviderClient:
        """Build one client (slowly, so concurrent first calls overlap)."""
        cls.builds += 1
        await asyncio.sleep(0.01)
        return cls()

    async def aclose(self) -> None:
        """Mark closed and drop the cache."""
        self.closed = True
        await super().aclose()


TOOLS = ToolSet(
    "toyprov", kind="provider", description="Test-only data provider.", client_factory=ToyProviderClient.build
)


class RateRequest(ToolRequest):
    """Ask for one rate."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"pair": "EURUSD"}]})
    pair: str = Field(min_length=6, max_length=6, pattern="^[A-Z]{6}$", description="Currency pair, e.g. EURUSD.")
    decimals: int = Field(6, ge=0, le=10, description="Round the rate to this many decimals.")


class RateResponse(ProviderResponse):
    """One rate with its source and observation time."""

    pair: str
    rate: Observation


class NoArgsRequest(ToolRequest):
    """No arguments."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ToyOrdersResponse(ProviderResponse):
    """How many orders the toy venue holds in the caller's environment."""

    environment: Environment
    orders: Observation


@TOOLS.read("get_rate")
@cache_for(RATE_TTL_S)
async def get_rate(ctx: ToolContext, req: RateRequest) -> RateResponse:
    """Return a currency rate from ToyRates."""
    client: ToyProviderClient = await ctx.client()
    observation = await client.source.rate(req.pair)
    rounded = observation.model_copy(update={"value": round(observation.value, req.decimals)})
    return RateResponse(pair=req.pair, rate=rounded)


@TOOLS.read("get_toy_orders")
@cache_for(VENUE_TTL_S, per_environment=True)
async def get_toy_orders(ctx: ToolContext, req: NoArgsRequest) -> ToyOrdersResponse:
    """Count the toy venue's orders in the caller's environment (cross-venue data)."""
    client: ToyProviderClient = await ctx.client()
    client.source.calls["toy_orders"] += 1
    venue: ToyClient = await ctx.venue_client("toy")
    orders = Observation(value=len(venue.orders), source=VENUE_SOURCE, observed_at=utcnow())
    return ToyOrdersResponse(environment=venue.env, orders=orders)
