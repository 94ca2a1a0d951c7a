"""What an IBKR write does to risk: its legs, and the account they are valued against.

Notional is in the account's base currency (USD for the accounts this gateway serves): quantity
times the limit price, or the last price for market and stop orders, times the contract's
multiplier (100 for US equity options, from info-and-rules). Equity is net liquidation;
positions are valued at IBKR's market value per unit (multiplier included).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import OrderNotFoundError, UpstreamError
from cerbero_mcp.contracts import Book, Leg, ToolContext
from cerbero_mcp.exchanges.base import amended_leg, exit_leg
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.client import SNAPSHOT_TRIES, IbkrClient
from cerbero_mcp.exchanges.ibkr.mapping import multiplier_of, to_order
from cerbero_mcp.exchanges.ibkr.status import working_row
from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal
from cerbero_mcp.exchanges.vocabulary import AmendOrderRequest

OCO_GROUP = "oco"


def amount(value: Any) -> Decimal:
    """Return a portfolio-summary amount (`{"amount": x}` or a bare number) as Decimal."""
    if isinstance(value, dict):
        value = value.get("amount")
    return Decimal(str(value)) if value is not None else Decimal(0)


async def reference_price(client: IbkrClient, conid: int) -> Decimal:
    """Return the last (else mid) price of a conid from a snapshot; refuse when IBKR gives none."""
    rows = await client.snapshot([conid])
    row = rows[0] if rows else {}
    last = field_decimal(row.get("31"))
    if last is not None and last > 0:
        return last
    bid, ask = field_decimal(row.get("84")), field_decimal(row.get("86"))
    if bid is not None and ask is not None and bid > 0 and ask > 0:
        return (bid + ask) / 2
    # Never a price of 0: it would value the order at nothing and wave it past the notional limit
    # and the leverage cap. No price, no risk check, no order.
    raise UpstreamError(
        f"ibkr gave no price for conid {conid} after {SNAPSHOT_TRIES} snapshots; nothing was sent",
        details={"venue": "ibkr", "conid": conid},
        suggested_fix="retry in a few seconds (market data may still be starting), or send a limit order",
    )


async def book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """Read positions (keyed like the legs where they match, else `conid:<n>`), marks and net liquidation."""
    client: IbkrClient = await ctx.client()
    by_conid: dict[int, str] = {}
    for leg in legs:
        by_conid.setdefault(await client.conid(leg.instrument), leg.instrument)
    positions: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    held: set[str] = set()
    for row in await client.positions():
        size = Decimal(str(row.get("position", 0) or 0))
        if not size:
            continue
        conid = int(row.get("conid", 0))
        name = by_conid.get(conid, f"conid:{conid}")
        positions[name] = size
        marks[name] = abs(Decimal(str(row.get("mktValue", 0) or 0)) / size)  # multiplier included
        held.add(name)
    for conid, name in by_conid.items():  # the leverage cap values the positions after the fills at these marks
        if name not in marks:
            marks[name] = await reference_price(client, conid)
    # A leg's price is per share or per contract: an option's notional carries its multiplier (×100).
    multipliers = {name: multiplier_of(await client.contract_rules(conid)) for conid, name in by_conid.items()}
    for name in held & set(multipliers):
        marks[name] /= multipliers[name]  # per unit, like the legs' prices
    equity = amount((await client.portfolio_summary()).get("netliquidation"))

    def value(instrument: str, size: Decimal, price: Decimal | None) -> Decimal:
        unit = price if price is not None else marks[instrument]
        return abs(size) * unit * multipliers.get(instrument, Decimal(1))

    return Book(positions=positions, equity=equity, value=value)


async def amend_legs(ctx: ToolContext, req: AmendOrderRequest) -> list[Leg]:
    """Return the working order as the amend would leave it."""
    client: IbkrClient = await ctx.client()
    try:
        row = await working_row(client, req.order_id)  # one order by its status, not the paced list
    except OrderNotFoundError:
        return []  # nothing to amend: the tool answers ORDER_NOT_FOUND and nothing is sent
    return [amended_leg(to_order(row), req)]


async def bracket_legs(ctx: ToolContext, req: s.BracketRequest) -> list[Leg]:
    """Return the entry, and the take-profit and stop-loss that can only close it."""
    return [
        Leg(instrument=req.instrument, side=req.side, quantity=req.quantity, price=req.entry_price),
        exit_leg(req.instrument, req.side, req.quantity, req.take_profit_price),
        exit_leg(req.instrument, req.side, req.quantity, req.stop_loss_price),
    ]


def simple_leg(order: s.SimpleOrder, *, one_of: str | None = None, reduce_only: bool = False) -> Leg:
    """Return one OCO/OTO order as a leg (a stop valued at its trigger)."""
    return Leg(
        instrument=order.instrument,
        side=order.side,
        quantity=order.quantity,
        price=order.price if order.price is not None else order.stop_price,
        reduce_only=reduce_only,
        one_of=one_of,
    )


async def oco_legs(ctx: ToolContext, req: s.OcoRequest) -> list[Leg]:
    """Return the OCO's orders as alternatives: the first to fill cancels the others."""
    return [simple_leg(order, one_of=OCO_GROUP) for order in req.orders]


async def oto_legs(ctx: ToolContext, req: s.OtoRequest) -> list[Leg]:
    """Return the trigger, and the child: an exit when it closes the trigger's fill, else an order of its own."""
    trigger, child = req.trigger, req.child
    exits = child.instrument == trigger.instrument and child.side != trigger.side and child.quantity <= trigger.quantity
    return [simple_leg(trigger), simple_leg(child, reduce_only=exits)]


async def lookup(ctx: ToolContext, client_order_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Find the working or recent order whose cOID is `client_order_id` (GET /iserver/account/orders)."""
    client: IbkrClient = await ctx.client()
    for row in await client.live_orders():
        order = to_order(row)
        if order.client_order_id == client_order_id:
            return {
                "order_id": order.order_id,
                "instrument": order.instrument,
                "status": order.status,
                "filled_quantity": str(order.filled_quantity),
            }
    return None
