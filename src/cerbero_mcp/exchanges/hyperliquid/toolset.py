"""The Hyperliquid ToolSet every Hyperliquid tool module declares on, and the helper they share."""

from __future__ import annotations

from cerbero_mcp.exchanges.hyperliquid import exposure
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "hyperliquid",
    description="Hyperliquid: USDC perpetuals (BTC, ETH) and spot pairs (PURR/USDC, @107), agent-wallet signed.",
    client_factory=HyperliquidClient.build,
    book=exposure.book,
    lookup=exposure.lookup,
)


async def client_of(ctx: ToolContext) -> HyperliquidClient:
    """Return the Hyperliquid client of the caller's environment."""
    client: HyperliquidClient = await ctx.client()
    return client
