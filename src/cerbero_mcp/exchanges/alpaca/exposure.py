"""What an Alpaca write does to risk: its legs, and the account they are valued against.

Notional is in USD: shares and coins at their price, options at their premium x 100 (the contract
multiplier). Equity is /v2/account `equity`; positions are /v2/positions with their current price.
A bracket's exits and an OTO's exit only close the entry (reduce-only legs); an OCO's two orders are
alternatives (one `one_of` group: at most one fills). A notional order's quantity is its dollars over
the latest price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import CerberoError
from cerbero_mcp.contracts import Book, Leg, ToolContext
from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.client import AlpacaClient, to_decimal
from cerbero_mcp.exchanges.alpaca.mapping import signed_qty, to_order
from cerbero_mcp.exchanges.alpaca.symbols import multiplier, pair_symbol
from cerbero_mcp.exchanges.base import amended_leg, exit_leg


async def _client(ctx: ToolContext) -> AlpacaClient:
    client: AlpacaClient = await ctx.client()
    return client


async def order_legs(ctx: ToolContext, req: s.AlpacaPlaceOrderRequest) -> list[Leg]:
    """Return every order `place_order` could place: the entry and its exits, or an OCO's alternatives."""
    from cerbero_mcp.exchanges.alpaca.orders import latest_price

    price = req.price if req.price is not None else req.stop_price
    quantity = req.quantity
    if quantity is None:
        assert req.notional is not None  # the request model demands one of them
        reference = price or await latest_price(await _client(ctx), req.instrument)
        # Unknown price: value the dollars as one unit each, a bound Alpaca's own $ amount never exceeds.
        quantity = req.notional / reference if reference else req.notional
        price = reference or Decimal(1)
    if req.order_class == "oco":
        group = f"oco:{req.instrument}"
        legs = []
        if req.take_profit is not None:
            legs.append(Leg(req.instrument, req.side, quantity, req.take_profit.limit_price, one_of=group))
        if req.stop_loss is not None:
            legs.append(Leg(req.instrument, req.side, quantity, req.stop_loss.stop_price, one_of=group))
        return legs
    legs = [Leg(req.instrument, req.side, quantity, price, reduce_only=req.reduce_only)]
    if req.take_profit is not None:
        legs.append(exit_leg(req.instrument, req.side, quantity, req.take_profit.limit_price))
    if req.stop_loss is not None:
        legs.append(exit_leg(req.instrument, req.side, quantity, req.stop_loss.stop_price))
    return legs


async def find_order(client: AlpacaClient, order_id: str) -> dict[str, Any]:
    """Return an order by Alpaca id, or by client_order_id when it is not a UUID Alpaca knows."""
    try:
        return await client.order(order_id)
    except CerberoError as exc:
        if exc.status not in (404, 400, 422):
            raise
        return await client.order_by_client_id(order_id)


async def amend_legs(ctx: ToolContext, req: s.AlpacaAmendOrderRequest) -> list[Leg]:
    """Return the order as the replace would leave it (read from /v2/orders/{id})."""
    current = to_order(await find_order(await _client(ctx), req.order_id))
    return [amended_leg(current, req)]


async def book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """Read the account: USD equity, every position with its price, and the legs' latest prices."""
    from cerbero_mcp.exchanges.alpaca.orders import latest_price

    client = await _client(ctx)
    account = await client.account()
    equity = to_decimal(account.get("equity")) or Decimal(0)
    positions: dict[str, Decimal] = {}
    prices: dict[str, Decimal | None] = {}
    for row in await client.positions():
        # One name per instrument, so a BTC/USD leg nets against the BTCUSD position it trades.
        symbol = pair_symbol(str(row.get("symbol")), row.get("asset_class"))
        positions[symbol] = positions.get(symbol, Decimal(0)) + signed_qty(row)
        prices[symbol] = to_decimal(row.get("current_price"))
    for leg in legs:
        # The resulting positions are valued at the market (value(..., None)): every leg's instrument
        # needs a reference price, its own limit price standing in when Alpaca has none.
        if prices.get(leg.instrument) is None:
            prices[leg.instrument] = await latest_price(client, leg.instrument) or leg.price

    def value(instrument: str, size: Decimal, price: Decimal | None) -> Decimal:
        reference = price if price is not None else prices.get(instrument)
        return abs(size) * (reference or Decimal(0)) * multiplier(instrument)

    return Book(positions=positions, equity=equity, value=value)


async def lookup(ctx: ToolContext, client_order_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Find the order a write gave `client_order_id` at Alpaca (GET /v2/orders:by_client_order_id)."""
    try:
        raw = await (await _client(ctx)).order_by_client_id(client_order_id)
    except CerberoError:  # reconciliation answers "unknown" rather than failing the startup
        return None
    order = to_order(raw)
    return {
        "order_id": order.order_id,
        "instrument": order.instrument,
        "status": order.status,
        "filled_quantity": str(order.filled_quantity),
        "replaced_by": raw.get("replaced_by"),
    }
