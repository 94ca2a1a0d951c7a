"""IBKR's linked orders: brackets (parentId), OCO groups (isSingleGroup) and one-triggers-other."""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidOrderError
from cerbero_mcp.exchanges.ibkr import exposure
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.orders import accepted, check_ticks, ibkr_order
from cerbero_mcp.exchanges.ibkr.toolset import TOOLS, client_of
from cerbero_mcp.tooling import ToolContext


@TOOLS.write("place_bracket_order", risk="opens", legs=exposure.bracket_legs, target="instrument")
async def place_bracket_order(ctx: ToolContext, req: s.BracketRequest) -> s.LinkedOrders:
    """Entry plus take-profit and stop-loss: children carry parentId = the entry's cOID, opposite side."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    await check_ticks(
        client,
        conid,
        ("entry_price", req.entry_price),
        ("take_profit_price", req.take_profit_price),
        ("stop_loss_price", req.stop_loss_price),
    )
    exit_side = "sell" if req.side == "buy" else "buy"
    parent = ibkr_order(
        conid,
        req.side,
        req.entry_type,
        req.quantity,
        price=req.entry_price,
        tif=req.time_in_force,
        client_order_id=req.client_order_id,
    )
    take_profit = ibkr_order(
        conid, exit_side, "limit", req.quantity, price=req.take_profit_price, tif="gtc", parent_id=req.client_order_id
    )
    stop_loss = ibkr_order(
        conid,
        exit_side,
        "stop_market",
        req.quantity,
        stop_price=req.stop_loss_price,
        tif="gtc",
        parent_id=req.client_order_id,
    )
    orders = [parent, take_profit, stop_loss]
    rows = await client.place_orders(orders)
    return s.LinkedOrders(orders=accepted(rows, orders, req.instrument), info={"reply": rows}, data_timestamp=utcnow())


@TOOLS.write("place_oco_order", risk="opens", legs=exposure.oco_legs, target="client_order_id")
async def place_oco_order(ctx: ToolContext, req: s.OcoRequest) -> s.LinkedOrders:
    """Orders of which the first to fill cancels the others (isSingleGroup)."""
    client = await client_of(ctx)
    orders = []
    for index, leg in enumerate(req.orders):
        conid = await client.conid(leg.instrument)
        await check_ticks(client, conid, ("price", leg.price), ("stop_price", leg.stop_price))
        coid = leg.client_order_id or (f"{req.client_order_id}-{index}" if req.client_order_id else None)
        orders.append(
            ibkr_order(
                conid,
                leg.side,
                leg.type,
                leg.quantity,
                price=leg.price,
                stop_price=leg.stop_price,
                client_order_id=coid,
                single_group=True,
            )
        )
    rows = await client.place_orders(orders)
    return s.LinkedOrders(
        orders=accepted(rows, orders, req.orders[0].instrument), info={"reply": rows}, data_timestamp=utcnow()
    )


@TOOLS.write("place_oto_order", risk="opens", legs=exposure.oto_legs, target="client_order_id")
async def place_oto_order(ctx: ToolContext, req: s.OtoRequest) -> s.LinkedOrders:
    """A trigger and a child that works once it fills, sent together: `[trigger, child]` in one request."""
    client = await client_of(ctx)
    trigger_conid = await client.conid(req.trigger.instrument)
    child_conid = await client.conid(req.child.instrument)
    await check_ticks(client, trigger_conid, ("price", req.trigger.price), ("stop_price", req.trigger.stop_price))
    await check_ticks(client, child_conid, ("price", req.child.price), ("stop_price", req.child.stop_price))
    trigger = ibkr_order(
        trigger_conid,
        req.trigger.side,
        req.trigger.type,
        req.trigger.quantity,
        price=req.trigger.price,
        stop_price=req.trigger.stop_price,
        client_order_id=req.client_order_id,
    )
    child = ibkr_order(
        child_conid,
        req.child.side,
        req.child.type,
        req.child.quantity,
        price=req.child.price,
        stop_price=req.child.stop_price,
        parent_id=req.client_order_id,
    )
    orders = [trigger, child]
    # IBKR documents parentId only within one orders array, and a trigger sent alone could fill
    # before its child exists. Any failure of this POST (a timeout included) propagates as it is:
    # after the request left, the pipeline reports "may have been placed", never a refusal.
    rows = await client.place_orders(orders)
    if len(rows) < len(orders):
        await _cancel_lone_trigger(client, rows)
    return s.LinkedOrders(
        orders=accepted(rows, orders, req.trigger.instrument), info={"reply": rows}, data_timestamp=utcnow()
    )


async def _cancel_lone_trigger(client: IbkrClient, rows: list[dict[str, Any]]) -> None:
    """Cancel a trigger IBKR accepted without its child, and report what happened (the trigger may have filled)."""
    trigger_id = str(rows[0].get("order_id")) if rows else None
    if trigger_id is not None:
        await client.cancel_order(trigger_id)
    raise InvalidOrderError(
        f"ibkr accepted the OTO trigger without its child; the trigger order {trigger_id} was cancelled",
        details={"trigger_order_id": trigger_id, "trigger_cancelled": trigger_id is not None, "reply": rows,
                 "may_have_been_placed": True},
        suggested_fix="check get_positions: the trigger may have filled before it was cancelled",
    )  # fmt: skip
