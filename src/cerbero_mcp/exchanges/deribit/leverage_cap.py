"""What a Deribit order would do, for the pipeline's limits and leverage cap (DERIBIT_MAX_LEVERAGE).

Notional is in USD: inverse instruments are sized in USD already; linear instruments and options
are sized in the base coin and valued at the index. Equity is the currency account's equity at
the index. The resulting notional is the sum over the account's positions after the order fills.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.write_pipeline import Exposure

if TYPE_CHECKING:
    from cerbero_mcp.tooling import ToolContext


def position_notional_usd(size: Decimal, meta: dict[str, Any], index_price: Decimal) -> Decimal:
    """Return |size| in USD for an instrument described by `meta`."""
    # Options are sized in the coin even though Deribit calls them "reversed"; only inverse
    # futures and perpetuals are sized in USD.
    if meta.get("kind") != "option" and meta.get("instrument_type") == "reversed":
        return abs(size)
    return abs(size) * index_price


async def order_exposure(ctx: ToolContext, req: v.PlaceOrderRequest) -> Exposure | None:
    """Return the account's notional after `req` fills, and its equity, in USD."""
    from cerbero_mcp.exchanges.deribit.client import DeribitClient, to_decimal

    client: DeribitClient = await ctx.client()
    meta = await client.instrument(req.instrument)
    currency = str(meta.get("settlement_currency") or meta.get("base_currency"))
    ticker = await client.public_ticker(req.instrument)
    index_price = to_decimal(ticker.get("index_price")) or to_decimal(ticker.get("mark_price")) or Decimal(0)
    summary = await client.private_get_account_summary(currency)
    equity_coin = to_decimal(summary.get("equity")) or Decimal(0)
    equity_usd = equity_coin if currency in ("USDC", "USDT", "USD") else equity_coin * index_price
    positions = await client.private_get_positions(currency)
    signed = {p["instrument_name"]: to_decimal(p.get("size")) or Decimal(0) for p in positions}
    metas = {req.instrument: meta}
    delta = req.quantity if req.side == "buy" else -req.quantity
    signed[req.instrument] = signed.get(req.instrument, Decimal(0)) + delta
    total = Decimal(0)
    for name, size in signed.items():
        if size == 0:
            continue
        if name not in metas:
            metas[name] = await client.instrument(name)
        total += position_notional_usd(size, metas[name], index_price)
    return Exposure(
        instrument=req.instrument,
        quantity=req.quantity,
        order_notional=position_notional_usd(req.quantity, meta, index_price),
        resulting_notional=total,
        equity=equity_usd,
        reduce_only=req.reduce_only,
        unit="USD",
    )
