"""The Deribit ToolSet every Deribit tool module declares on, and the helpers those modules share."""

from __future__ import annotations

from typing import Any

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit import exposure
from cerbero_mcp.exchanges.deribit.client import DeribitClient, to_decimal
from cerbero_mcp.exchanges.validation import check_increment
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "deribit",
    description="Deribit: BTC/ETH perpetuals, dated futures and options (API v2, JSON-RPC).",
    client_factory=DeribitClient.build,
    book=exposure.book,
    lookup=exposure.lookup,
)


async def client_of(ctx: ToolContext) -> DeribitClient:
    """Return the Deribit client of the caller's environment."""
    client: DeribitClient = await ctx.client()
    return client


async def instrument_meta(ctx: ToolContext, instrument: str) -> dict[str, Any]:
    """Return Deribit's description of `instrument` (a clear 4xx when it does not exist)."""
    client = await client_of(ctx)
    return await client.instrument(instrument)


async def validate_order(ctx: ToolContext, req: v.PlaceOrderRequest) -> dict[str, Any]:
    """Check tick and lot sizes against the instrument before anything is sent; return its metadata."""
    meta = await instrument_meta(ctx, req.instrument)
    tick = to_decimal(meta.get("tick_size"))
    lot = to_decimal(meta.get("min_trade_amount"))
    check_increment("quantity", req.quantity, lot, minimum=lot)
    check_increment("price", req.price, tick)
    check_increment("stop_price", req.stop_price, tick)
    return meta
