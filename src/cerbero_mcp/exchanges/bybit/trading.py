"""Bybit's own order tools: batch orders, and take-profit / stop-loss on an open position."""

from __future__ import annotations

from typing import Any, cast

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError
from cerbero_mcp.exchanges.bybit import exposure
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import BybitClient
from cerbero_mcp.exchanges.bybit.mapping import positive, signed_size, to_order, to_position
from cerbero_mcp.exchanges.bybit.orders import checked_params, read_order, would_send
from cerbero_mcp.exchanges.bybit.symbols import Category
from cerbero_mcp.exchanges.bybit.toolset import TOOLS, check_order_values, client_of, resolve
from cerbero_mcp.tooling import ToolContext


async def batch_category(client: BybitClient, req: s.BybitBatchOrderRequest) -> Category:
    """Return the one category of a batch: the one given, or the one every order's symbol names."""
    given = req.category or next((o.category for o in req.orders if o.category), None)
    categories = {await client.resolve_category(order.instrument, given) for order in req.orders}
    if len(categories) != 1:
        raise InvalidInputError(
            f"one batch is one category; these orders are {', '.join(sorted(categories))}",
            details={"categories": sorted(categories)},
        )
    category = categories.pop()
    if len(req.orders) > s.BATCH_MAX[category]:
        raise InvalidInputError(
            f"Bybit takes at most {s.BATCH_MAX[category]} {category} orders in one batch, not {len(req.orders)}",
            details={"category": category, "maximum": s.BATCH_MAX[category], "orders": len(req.orders)},
            suggested_fix="split the batch",
        )
    return category


@TOOLS.write("place_batch_order", risk="opens", legs=exposure.batch_legs, target="category")
async def place_batch_order(ctx: ToolContext, req: s.BybitBatchOrderRequest) -> s.BybitBatchOrderResult:
    """Place up to 20 orders (10 on spot) of one category at once; each order gets its own result or error."""
    ctx.require_credentials()
    client = await client_of(ctx)
    category = await batch_category(client, req)
    wire: list[dict[str, Any]] = []
    for index, order in enumerate(req.orders):
        try:
            params = await checked_params(ctx, order, category)
        except InvalidInputError as exc:
            # Name the order: the caller fixes that one (nothing of the batch was sent).
            exc.details = {**(exc.details or {}), "order": index}
            exc.message = f"order {index}: {exc.message}"
            raise
        params.pop("category")
        wire.append(params)
    if req.dry_run:
        return s.BybitBatchOrderResult(
            category=category,
            placed=0,
            failed=0,
            partial=False,
            results=[
                s.BybitBatchItemResult(index=i, instrument=o.instrument, client_order_id=o.client_order_id, ok=True)
                for i, o in enumerate(req.orders)
            ],
            dry_run=True,
            would_send=would_send("/v5/order/create-batch", {"category": category, "request": wire}),
            data_timestamp=utcnow(),
        )
    envelope = await client.order_create_batch(category, wire)
    acks = client.result(envelope).get("list") or []
    ext = envelope.get("retExtInfo")
    codes = (ext.get("list") or []) if isinstance(ext, dict) else []
    results = []
    for index, order in enumerate(req.orders):
        ack = acks[index] if index < len(acks) and isinstance(acks[index], dict) else {}
        status = codes[index] if index < len(codes) and isinstance(codes[index], dict) else {}
        code = int(status.get("code", 0 if ack.get("orderId") else -1))
        link_id = wire[index].get("orderLinkId")
        if code != 0 or not ack.get("orderId"):
            message = str(status.get("msg") or "Bybit returned no order id for this order")
            results.append(
                s.BybitBatchItemResult(
                    index=index,
                    instrument=order.instrument,
                    client_order_id=link_id,
                    ok=False,
                    error=s.BybitBatchItemError(code=code if code != -1 else None, message=message),
                )
            )
            continue
        results.append(await _placed_item(client, category, index, order, ack, link_id))
    placed = sum(1 for r in results if r.ok)
    return s.BybitBatchOrderResult(
        category=category,
        placed=placed,
        failed=len(results) - placed,
        partial=0 < placed < len(results),
        results=results,
        data_timestamp=utcnow(),
    )


async def _placed_item(
    client: BybitClient, category: str, index: int, order: s.BybitBatchOrderItem, ack: dict[str, Any], link_id: Any
) -> s.BybitBatchItemResult:
    item = s.BybitBatchItemResult(index=index, instrument=order.instrument, client_order_id=link_id, ok=True)
    try:
        raw = await read_order(client, category, order.instrument, str(ack["orderId"]))
    except CerberoError:
        raw = None  # placed (Bybit said so); the state is simply not read
    if raw is not None:
        item.order = to_order(raw, category)
    return item


async def _trading_stop(ctx: ToolContext, req: s.BybitPositionStopRequest, kind: str) -> s.BybitPositionStop:
    client, category, meta = await resolve(ctx, req.instrument, req.category)
    if category not in ("linear", "inverse"):
        raise InvalidInputError(
            f"a position take-profit/stop-loss is for linear and inverse contracts, not {category}",
            details={"category": category},
        )
    check_order_values(meta, req.quantity, {"price": req.price or None}, None, reduce_only=True)
    prefix = "tp" if kind == "takeProfit" else "sl"
    params: dict[str, Any] = {
        "category": category,
        "symbol": req.instrument,
        kind: req.price,
        f"{prefix}TriggerBy": s.TRIGGER_BY[req.trigger_by],
        "tpslMode": "Partial" if req.quantity is not None else "Full",
        f"{prefix}Size": req.quantity,
        f"{prefix}OrderType": "Market",
        "positionIdx": req.position_idx,
    }
    await client.position_trading_stop({k: x for k, x in params.items() if x is not None})
    rows = (await client.position_list(category, symbol=req.instrument)).get("list") or []
    row = next((r for r in rows if isinstance(r, dict) and int(r.get("positionIdx") or 0) == req.position_idx), None)
    return s.BybitPositionStop(
        instrument=req.instrument,
        category=cast(Category, category),
        take_profit=positive(row.get("takeProfit")) if row else None,
        stop_loss=positive(row.get("stopLoss")) if row else None,
        position=to_position(row, category) if row and signed_size(row) else None,
        data_timestamp=utcnow(),
    )


@TOOLS.write("set_take_profit", risk="reduces", target="instrument")
async def set_take_profit(ctx: ToolContext, req: s.BybitTakeProfitRequest) -> s.BybitPositionStop:
    """Set (or with price 0 remove) the take-profit of an open linear/inverse position."""
    ctx.require_credentials()
    return await _trading_stop(ctx, req, "takeProfit")


@TOOLS.write("set_stop_loss", risk="reduces", target="instrument")
async def set_stop_loss(ctx: ToolContext, req: s.BybitStopLossRequest) -> s.BybitPositionStop:
    """Set (or with price 0 remove) the stop-loss of an open linear/inverse position."""
    ctx.require_credentials()
    return await _trading_stop(ctx, req, "stopLoss")
