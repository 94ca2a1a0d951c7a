"""The Bybit ToolSet every Bybit tool module declares on, and the helpers those modules share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges.bybit import exposure
from cerbero_mcp.exchanges.bybit.client import BybitClient, to_decimal
from cerbero_mcp.exchanges.bybit.mapping import min_notional, qty_step
from cerbero_mcp.exchanges.bybit.symbols import Category
from cerbero_mcp.exchanges.validation import check_increment, check_min_notional, plain
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "bybit",
    description="Bybit v5 unified account: USDT/USDC perpetuals and futures, inverse contracts, spot and options.",
    client_factory=BybitClient.build,
    book=exposure.book,
    lookup=exposure.lookup,
)


async def client_of(ctx: ToolContext) -> BybitClient:
    """Return the Bybit client of the caller's environment."""
    client: BybitClient = await ctx.client()
    return client


async def resolve(ctx: ToolContext, symbol: str, category: str | None) -> tuple[BybitClient, Category, dict[str, Any]]:
    """Return the client, the symbol's category and its instrument rules (a clear 4xx when unknown)."""
    client = await client_of(ctx)
    resolved = await client.resolve_category(symbol, category)
    return client, resolved, await client.instrument(resolved, symbol)


def check_order_values(
    meta: dict[str, Any],
    quantity: Decimal | None,
    prices: dict[str, Decimal | None],
    reference_price: Decimal | None,
    *,
    reduce_only: bool = False,
    market: bool = False,
) -> None:
    """Refuse a quantity or price off the instrument's increments or under its minimums (nearest valid values)."""
    lots = meta.get("lotSizeFilter") or {}
    tick = to_decimal((meta.get("priceFilter") or {}).get("tickSize"))
    minimum = to_decimal(lots.get("minOrderQty"))
    step = qty_step(meta)
    if quantity is not None:
        # A reduce-only order may close a remainder under the minimum; its step still applies.
        check_increment("quantity", quantity, step, minimum=None if reduce_only else minimum)
        # Market orders have their own, lower cap (maxMktOrderQty; spot: maxMarketOrderQty).
        market_cap = to_decimal(lots.get("maxMktOrderQty")) or to_decimal(lots.get("maxMarketOrderQty"))
        maximum = market_cap if market and market_cap else to_decimal(lots.get("maxOrderQty"))
        if maximum is not None and quantity > maximum:
            raise InvalidInputError(
                f"quantity {quantity} is above the instrument's maximum {plain(maximum)}"
                + (" for a market order" if market and market_cap else ""),
                details={"field": "quantity", "value": str(quantity), "maximum": plain(maximum)},
                suggested_fix="split the order",
            )
    for field, value in prices.items():
        check_increment(field, value, tick)
    floor = min_notional(meta)
    if quantity is not None and reference_price is not None and not reduce_only and floor is not None:
        if meta.get("contractType", "").startswith("Inverse"):
            return  # inverse quantities are USD already: the minimum quantity is the minimum value
        check_min_notional(quantity * reference_price, floor, {"instrument": meta.get("symbol")})
