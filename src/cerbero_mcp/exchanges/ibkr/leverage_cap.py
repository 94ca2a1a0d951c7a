"""What an IBKR order would do, for the pipeline's limits and leverage cap (IBKR_MAX_LEVERAGE).

Notional is in the account's base currency (USD for the accounts this gateway serves): quantity
times the limit price, or the last price for market and stop orders. Equity is net liquidation;
the resulting notional is the gross market value of every position after the order fills.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal
from cerbero_mcp.write_pipeline import Exposure

if TYPE_CHECKING:
    from cerbero_mcp.exchanges.ibkr.client import IbkrClient
    from cerbero_mcp.exchanges.ibkr.schemas import IbkrPlaceOrderRequest
    from cerbero_mcp.tooling import ToolContext


def amount(value: Any) -> Decimal:
    """Return a portfolio-summary amount (`{"amount": x}` or a bare number) as Decimal."""
    if isinstance(value, dict):
        value = value.get("amount")
    return Decimal(str(value)) if value is not None else Decimal(0)


async def reference_price(client: IbkrClient, conid: int) -> Decimal:
    """Return the last (else mid) price of a conid from a snapshot."""
    rows = await client.snapshot([conid])
    row = rows[0] if rows else {}
    last = field_decimal(row.get("31"))
    if last is not None:
        return last
    bid, ask = field_decimal(row.get("84")), field_decimal(row.get("86"))
    return (bid + ask) / 2 if bid is not None and ask is not None else Decimal(0)


async def order_exposure(ctx: ToolContext, req: IbkrPlaceOrderRequest) -> Exposure:
    """Return this order's notional, the account's gross notional after it fills, and net liquidation."""
    client: IbkrClient = await ctx.client()
    conid = await client.conid(req.instrument)
    price = req.price or req.stop_price or await reference_price(client, conid)
    summary = await client.portfolio_summary()
    equity = amount(summary.get("netliquidation"))
    signed = Decimal(0)
    gross_others = Decimal(0)
    for row in await client.positions():
        if int(row.get("conid", 0)) == conid:
            signed = Decimal(str(row.get("position", 0)))
        else:
            gross_others += abs(Decimal(str(row.get("mktValue", 0))))
    delta = req.quantity if req.side == "buy" else -req.quantity
    after = abs(signed + delta) * price
    return Exposure(
        instrument=req.instrument,
        quantity=req.quantity,
        order_notional=req.quantity * price,
        resulting_notional=gross_others + after,
        equity=equity,
        reduce_only=req.reduce_only,
    )
