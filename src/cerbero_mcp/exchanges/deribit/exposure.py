"""What a Deribit write does to risk: its legs, and the account they are valued against.

Notional is in USD: inverse futures and perpetuals are sized in USD already; linear instruments and
options are sized in the base coin and valued at the index. Equity is the currency account's equity
at the index; positions are that account's (Deribit keeps one margin account per currency).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.contracts import Book, Leg, ToolContext
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.base import amended_leg, opposite
from cerbero_mcp.exchanges.deribit import schemas as s
from cerbero_mcp.exchanges.deribit.client import DeribitClient, to_decimal
from cerbero_mcp.exchanges.deribit.mapping import to_order

STABLE = ("USDC", "USDT", "USD")


def position_notional_usd(size: Decimal, meta: dict[str, Any], index_price: Decimal) -> Decimal:
    """Return |size| in USD for an instrument described by `meta`."""
    # Options are sized in the coin even though Deribit calls them "reversed"; only inverse
    # futures and perpetuals are sized in USD.
    if meta.get("kind") != "option" and meta.get("instrument_type") == "reversed":
        return abs(size)
    return abs(size) * index_price


def _currency(meta: dict[str, Any]) -> str:
    return str(meta.get("settlement_currency") or meta.get("base_currency"))


async def book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """Read the margin account of the legs' currency: positions, equity and the index, in USD."""
    client: DeribitClient = await ctx.client()
    metas = {leg.instrument: await client.instrument(leg.instrument) for leg in legs}
    currencies = {_currency(meta) for meta in metas.values()}
    if len(currencies) != 1:
        raise InvalidInputError(
            f"the legs settle in several currencies ({', '.join(sorted(currencies))}); send one currency at a time"
        )
    currency = currencies.pop()
    summary = await client.private_get_account_summary(currency)
    equity_coin = to_decimal(summary.get("equity")) or Decimal(0)
    positions: dict[str, Decimal] = {}
    for row in await client.private_get_positions(currency):
        size = to_decimal(row.get("size")) or Decimal(0)
        if size:
            positions[str(row["instrument_name"])] = size
            if row["instrument_name"] not in metas:
                metas[row["instrument_name"]] = await client.instrument(str(row["instrument_name"]))
    # One margin account holds instruments on several indices (USDC: BTC_USDC and ETH_USDC linear
    # perpetuals, ...): each is valued at its own index, read once per index from one of its instruments.
    indices: dict[str, Decimal] = {}
    for instrument, meta in metas.items():
        key = _index_of(meta)
        if key not in indices:
            ticker = await client.public_ticker(instrument)
            indices[key] = to_decimal(ticker.get("index_price")) or to_decimal(ticker.get("mark_price")) or Decimal(0)

    def value(instrument: str, size: Decimal, price: Decimal | None) -> Decimal:
        meta = metas[instrument]
        return position_notional_usd(size, meta, indices[_index_of(meta)])

    # A coin account's equity is in the coin: its own index (every instrument of a coin account is on it).
    coin_index = indices[_index_of(metas[legs[0].instrument])]
    equity = equity_coin if currency in STABLE else equity_coin * coin_index
    return Book(positions=positions, equity=equity, value=value)


def _index_of(meta: dict[str, Any]) -> str:
    # Deribit names the index an instrument is priced against (btc_usd, eth_usdc); older answers
    # without it fall back to the base currency's USD index.
    return str(meta.get("price_index") or f"{str(meta.get('base_currency', '')).lower()}_usd")


async def amend_legs(ctx: ToolContext, req: v.AmendOrderRequest) -> list[Leg]:
    """Return the order as the amend would leave it (read from private/get_order_state)."""
    client: DeribitClient = await ctx.client()
    return [amended_leg(to_order(await client.private_get_order_state(req.order_id)), req)]


async def combo_legs(ctx: ToolContext, req: s.ComboOrderRequest) -> list[Leg]:
    """Return what a combo trades: each leg times the combo quantity, flipped when the combo is sold."""
    return [
        Leg(
            instrument=leg.instrument,
            side=leg.side if req.side == "buy" else opposite(leg.side),
            quantity=leg.quantity * req.quantity,
        )
        for leg in req.legs
    ]


async def lookup(ctx: ToolContext, client_order_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Find the order a write labelled `client_order_id` placed (private/get_order_state_by_label)."""
    client: DeribitClient = await ctx.client()
    legs = params.get("legs")
    instrument = params.get("instrument") or (legs[0].get("instrument") if isinstance(legs, list) and legs else None)
    if not instrument:
        return None
    currency = _currency(await client.instrument(str(instrument)))
    found = await client.private_get_order_state_by_label(currency, client_order_id)
    if not found:
        return None
    order = to_order(found[-1])
    return {
        "order_id": order.order_id,
        "instrument": order.instrument,
        "status": order.status,
        "filled_quantity": str(order.filled_quantity),
    }
