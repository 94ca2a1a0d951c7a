"""The macro ToolSet, its client accessor and the one decorator every macro tool uses (cache TTL and cache age)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.macro.client import MacroClient
from cerbero_mcp.exchanges.macro.schemas import MacroResponse
from cerbero_mcp.exchanges.providers import cache_for
from cerbero_mcp.tooling import ToolSet

TOOLS = ToolSet(
    "macro",
    kind="provider",
    description="Macro data: US Treasury curve, FRED series, Finnhub quotes and calendar, CFTC Commitments of Traders.",
    client_factory=MacroClient.build,
)
Req = TypeVar("Req", bound=BaseModel)
Resp = TypeVar("Resp", bound=MacroResponse)


async def client_of(ctx: ToolContext) -> MacroClient:
    """Return the provider's one client."""
    client: MacroClient = await ctx.client()
    return client


def macro_tool(
    name: str, ttl_s: float
) -> Callable[[Callable[[ToolContext, Req], Awaitable[Resp]]], Callable[[ToolContext, Req], Awaitable[Resp]]]:
    """Declare a macro tool cached `ttl_s` per request; each answer says its TTL and how old the cached copy is."""

    def decorator(func: Callable[[ToolContext, Req], Awaitable[Resp]]) -> Callable[[ToolContext, Req], Awaitable[Resp]]:
        cached = cache_for(ttl_s)(func)

        @functools.wraps(cached)
        async def answered(ctx: ToolContext, req: Req) -> Resp:
            response: Resp = await cached(ctx, req)
            age = max(0.0, (utcnow() - response.fetched_at).total_seconds())
            # A copy: the cached object stays as fetched, each answer carries its own age.
            return response.model_copy(update={"cache_age_s": round(age, 3), "cache_ttl_s": ttl_s})

        TOOLS.read(name)(answered)
        return answered

    return decorator
