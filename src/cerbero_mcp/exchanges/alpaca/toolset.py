"""The Alpaca ToolSet every Alpaca tool module declares on, and the helper reaching the client."""

from __future__ import annotations

from cerbero_mcp.exchanges.alpaca import exposure
from cerbero_mcp.exchanges.alpaca.client import AlpacaClient
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "alpaca",
    description="Alpaca: US stocks and ETFs, options and crypto; paper and live accounts.",
    client_factory=AlpacaClient.build,
    book=exposure.book,
    lookup=exposure.lookup,
)


async def client_of(ctx: ToolContext) -> AlpacaClient:
    """Return the Alpaca client of the caller's environment."""
    client: AlpacaClient = await ctx.client()
    return client
