"""The IBKR ToolSet every IBKR tool module declares on, and the client accessor they share."""

from __future__ import annotations

from cerbero_mcp.exchanges.ibkr import exposure, relay
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "ibkr",
    description="Interactive Brokers: stocks and options through the Client Portal Web API (OAuth 1.0a).",
    # The relayed client is the plain one unless replicas elect an IBKR session owner (session_owner.py);
    # the router is key rotation's plus the owner's /internal/ibkr route.
    client_factory=relay.RelayedIbkrClient.build,
    admin_router=relay.router,
    book=exposure.book,
    lookup=exposure.lookup,
)


async def client_of(ctx: ToolContext) -> IbkrClient:
    """Return the IBKR client of the caller's environment."""
    client: IbkrClient = await ctx.client()
    return client
