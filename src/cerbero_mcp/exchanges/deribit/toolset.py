"""The Deribit ToolSet every Deribit tool module declares on, and the helpers those modules share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import InvalidOrderError
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


def tick_at(meta: dict[str, Any], price: Decimal | None) -> Decimal | None:
    """Return the tick that applies at `price`: `tick_size`, or the `tick_size_steps` tier the price is above."""
    tick = to_decimal(meta.get("tick_size"))
    if price is None:
        return tick
    steps = meta.get("tick_size_steps") or []
    for step in sorted(steps, key=lambda s: to_decimal(s.get("above_price")) or Decimal(0)):
        above, size = to_decimal(step.get("above_price")), to_decimal(step.get("tick_size"))
        if above is not None and size is not None and abs(price) > above:
            tick = size
    return tick


def check_price(meta: dict[str, Any], field: str, price: Decimal | None) -> None:
    """Refuse a price off its tick tier, naming the nearest valid prices (never rounded)."""
    check_increment(field, price, tick_at(meta, price))


def check_post_only(req: v.PlaceOrderRequest) -> None:
    """Refuse post-only with a time in force Deribit does not take it with (only good_til_cancelled)."""
    if req.post_only and req.time_in_force != "gtc":
        raise InvalidOrderError(
            f"deribit takes post_only only with time_in_force gtc, not {req.time_in_force}",
            details={"field": "time_in_force", "value": req.time_in_force},
            suggested_fix="send time_in_force gtc with post_only, or drop post_only",
        )


async def validate_order(ctx: ToolContext, req: v.PlaceOrderRequest) -> dict[str, Any]:
    """Check tick and lot sizes against the instrument before anything is sent; return its metadata."""
    check_post_only(req)
    meta = await instrument_meta(ctx, req.instrument)
    lot = to_decimal(meta.get("min_trade_amount"))
    check_increment("quantity", req.quantity, lot, minimum=lot)
    check_price(meta, "price", req.price)
    check_price(meta, "stop_price", req.stop_price)
    return meta
