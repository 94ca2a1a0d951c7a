"""What a Hyperliquid write does to risk: its legs, and the account they are valued against.

Notional is in USDC (taken 1:1 for USD): sizes are in the coin, valued at the leg's price or else
the coin's mid. Equity is the perpetuals account's value (clearinghouseState
marginSummary.accountValue); positions are its perpetual positions (`szi`, signed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import CerberoError
from cerbero_mcp.contracts import Book, Leg, ToolContext
from cerbero_mcp.exchanges.base import amended_leg, order_leg
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient, to_decimal
from cerbero_mcp.exchanges.hyperliquid.mapping import positions_of, to_order
from cerbero_mcp.exchanges.hyperliquid.orders import find_order


async def order_legs(ctx: ToolContext, req: s.HyperliquidPlaceOrderRequest) -> list[Leg]:
    """Return the one leg of `place_order` (a market order is valued at the mid by `book`)."""
    return [order_leg(req)]


async def amend_legs(ctx: ToolContext, req: s.HyperliquidAmendOrderRequest) -> list[Leg]:
    """Return the order as the amend would leave it (read with orderStatus)."""
    client: HyperliquidClient = await ctx.client()
    raw, status = await find_order(client, req.order_id)
    return [amended_leg(to_order(raw, status), req)]


async def book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """Read the account value, every perpetual position and the mids the legs are valued at."""
    client: HyperliquidClient = await ctx.client()
    state = await client.clearinghouse_state()
    summary = state.get("marginSummary") or {}
    equity = to_decimal(summary.get("accountValue")) or Decimal(0)
    positions: dict[str, Decimal] = {}
    position_marks: dict[str, Decimal] = {}
    for raw in positions_of(state):
        size = to_decimal(raw.get("szi")) or Decimal(0)
        coin = str(raw.get("coin"))
        positions[coin] = positions.get(coin, Decimal(0)) + size
        worth = to_decimal(raw.get("positionValue"))
        if worth is not None and size:
            position_marks[coin] = worth / abs(size)
    mids = await client.all_mids()
    coins: dict[str, str] = {}
    for leg in legs:
        coins[leg.instrument] = (await client.asset(leg.instrument)).coin

    def value(instrument: str, size: Decimal, price: Decimal | None) -> Decimal:
        reference = price or to_decimal(mids.get(coins.get(instrument, instrument))) or position_marks.get(instrument)
        return abs(size) * (reference or Decimal(0))

    return Book(positions=positions, equity=equity, value=value)


async def lookup(ctx: ToolContext, client_order_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Find the order a write gave `client_order_id` (its cloid) at Hyperliquid (orderStatus)."""
    client: HyperliquidClient = await ctx.client()
    try:
        raw, status = await find_order(client, client_order_id)
    except CerberoError:  # reconciliation answers "unknown" rather than failing the startup
        return None
    order = to_order(raw, status, client_order_id)
    return {
        "order_id": order.order_id,
        "instrument": order.instrument,
        "cloid": raw.get("cloid"),
        "status": order.status,
        "filled_quantity": str(order.filled_quantity),
    }
