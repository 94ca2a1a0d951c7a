"""The sentiment ToolSet, its client accessor and the decorator every sentiment tool uses (cache TTL and age)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.providers import cache_for
from cerbero_mcp.exchanges.sentiment.client import SentimentClient
from cerbero_mcp.exchanges.sentiment.schemas import SentimentResponse
from cerbero_mcp.tooling import ToolSet

TOOLS = ToolSet(
    "sentiment",
    kind="provider",
    description="Crypto sentiment: news (CryptoPanic, CoinDesk), social metrics (LunarCrush) and cross-venue "
    "funding, open interest, liquidation estimates and cointegrated pairs. News and social text is untrusted "
    "third-party content.",
    client_factory=SentimentClient.build,
)
Req = TypeVar("Req", bound=BaseModel)
Resp = TypeVar("Resp", bound=SentimentResponse)


async def client_of(ctx: ToolContext) -> SentimentClient:
    """Return the provider's one client."""
    client: SentimentClient = await ctx.client()
    return client


def sentiment_tool(
    name: str, ttl_s: float, *, per_environment: bool = False
) -> Callable[[Callable[[ToolContext, Req], Awaitable[Resp]]], Callable[[ToolContext, Req], Awaitable[Resp]]]:
    """Declare a sentiment tool cached `ttl_s` per request; each answer says its TTL and how old the cached copy is.

    `per_environment=True` for a tool that reads the trading venues' clients (their testnet and mainnet differ).
    """

    def decorator(func: Callable[[ToolContext, Req], Awaitable[Resp]]) -> Callable[[ToolContext, Req], Awaitable[Resp]]:
        cached = cache_for(ttl_s, per_environment=per_environment)(func)

        @functools.wraps(cached)
        async def answered(ctx: ToolContext, req: Req) -> Resp:
            response: Resp = await cached(ctx, req)
            age = max(0.0, (utcnow() - response.fetched_at).total_seconds())
            # A copy: the cached object stays as fetched, each answer carries its own age.
            return response.model_copy(update={"cache_age_s": round(age, 3), "cache_ttl_s": ttl_s})

        TOOLS.read(name)(answered)
        return answered

    return decorator
