"""Bybit order plumbing shared by the order tools: wire parameters, finding an order, reading its state.

Bybit answers create/amend/cancel with an acknowledgement (`orderId`, `orderLinkId`), not the order:
the tools read the order back from /v5/order/realtime (which also returns recently closed orders when
queried by id) and its fills from /v5/execution/list. The read happens after the write succeeded, so a
failed read never turns a placed order into an error: the answer then says the state is unread.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cerbero_mcp.common import clock
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import BybitClient, to_decimal
from cerbero_mcp.exchanges.bybit.mapping import info_of, to_fill, to_order
from cerbero_mcp.exchanges.bybit.symbols import Category
from cerbero_mcp.exchanges.bybit.toolset import check_order_values, resolve
from cerbero_mcp.tooling import ToolContext

# The acknowledged order is usually readable at once; Bybit processes it asynchronously, so a few
# short waits cover the gap before the answer says the state is unread.
READ_BACK_WAITS_S = (0.0, 0.05, 0.2, 0.5)


def order_params(req: s.BybitPlaceOrderRequest, category: Category) -> dict[str, Any]:
    """Return /v5/order/create's parameters for a request (None is never sent)."""
    if category == "spot" and req.reduce_only:
        raise InvalidInputError("reduce_only does not apply to spot orders", details={"field": "reduce_only"})
    stop = req.stop_price is not None
    if category == "option" and (stop or req.take_profit is not None or req.stop_loss is not None):
        raise InvalidInputError(
            "Bybit options take limit and market orders only (no triggers, take-profit or stop-loss)",
            details={"category": category},
        )
    link_id = req.client_order_id
    if link_id is None and category == "option":
        link_id = f"cmcp-{uuid.uuid4().hex[:24]}"  # Bybit requires an orderLinkId on options
    limit_like = req.type in ("limit", "stop_limit")
    params: dict[str, Any] = {
        "category": category,
        "symbol": req.instrument,
        "side": s.SIDE[req.side],
        "orderType": "Limit" if limit_like else "Market",
        "qty": req.quantity,
        "price": req.price,
        # A spot market order's qty is in the quote coin unless told otherwise: ours is base units.
        "marketUnit": "baseCoin" if category == "spot" and not limit_like else None,
        "triggerPrice": req.stop_price,
        # Derivatives stops say which way the price must cross: a buy stop triggers on the rise.
        "triggerDirection": (1 if req.side == "buy" else 2) if stop and category != "spot" else None,
        "triggerBy": "LastPrice" if stop and category != "spot" else None,
        "orderFilter": "StopOrder" if stop and category == "spot" else None,
        "timeInForce": ("PostOnly" if req.post_only else s.TIME_IN_FORCE[req.time_in_force]) if limit_like else None,
        "reduceOnly": True if req.reduce_only else None,
        "orderLinkId": link_id,
        "takeProfit": req.take_profit,
        "stopLoss": req.stop_loss,
        "tpTriggerBy": s.TRIGGER_BY[req.tp_trigger_by] if req.take_profit is not None and category != "spot" else None,
        "slTriggerBy": s.TRIGGER_BY[req.sl_trigger_by] if req.stop_loss is not None and category != "spot" else None,
    }
    return {key: value for key, value in params.items() if value is not None}


async def reference_price(client: BybitClient, category: str, symbol: str, req: s.BybitPlaceOrderRequest) -> Decimal:
    """Return the price an order is valued at for the minimum-notional check (its limit, trigger or last)."""
    if req.price is not None:
        return req.price
    if req.stop_price is not None:
        return req.stop_price
    rows = (await client.market_tickers(category, symbol=symbol)).get("list") or [{}]
    return to_decimal(rows[0].get("lastPrice")) or to_decimal(rows[0].get("markPrice")) or Decimal(0)


async def checked_params(ctx: ToolContext, req: s.BybitPlaceOrderRequest, category: str | None) -> dict[str, Any]:
    """Resolve the category, check every value against the instrument, and return the wire parameters."""
    client, resolved, meta = await resolve(ctx, req.instrument, category)
    price = await reference_price(client, resolved, req.instrument, req)
    check_order_values(
        meta,
        req.quantity,
        {"price": req.price, "stop_price": req.stop_price, "take_profit": req.take_profit, "stop_loss": req.stop_loss},
        price if price > 0 else None,
        reduce_only=req.reduce_only,
        market=req.type in ("market", "stop_market"),
    )
    return order_params(req, resolved)


def would_send(path: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return a dry run's exact request (numbers as the strings Bybit receives)."""
    from cerbero_mcp.exchanges.bybit.client import wire_text

    return {"method": "POST", "path": path, "body": wire_text(params)}


def dry_order(req: s.BybitPlaceOrderRequest) -> v.Order:
    """Return the order a dry run describes (nothing was sent)."""
    return v.Order(
        order_id="dry-run",
        client_order_id=req.client_order_id,
        instrument=req.instrument,
        side=req.side,
        type=req.type,
        status="open",
        price=req.price,
        stop_price=req.stop_price,
        quantity=req.quantity,
        filled_quantity=Decimal(0),
        time_in_force=req.time_in_force,
        post_only=req.post_only,
        reduce_only=req.reduce_only,
    )


async def read_order(client: BybitClient, category: str, symbol: str, order_id: str) -> dict[str, Any] | None:
    """Return an order's state from /v5/order/realtime by orderId, waiting briefly for Bybit to process it."""
    for wait in READ_BACK_WAITS_S:
        if wait:
            await clock.sleep(wait)
        rows = (await client.order_realtime(category, symbol=symbol, order_id=order_id)).get("list") or []
        found = next((row for row in rows if isinstance(row, dict) and str(row.get("orderId")) == order_id), None)
        if found is not None:
            return found
    return None


async def order_result(
    client: BybitClient,
    category: str,
    symbol: str,
    ack: dict[str, Any],
    fallback: v.Order,
    *,
    with_fills: bool = True,
) -> v.OrderResult:
    """Return the order an acknowledgement names, as Bybit now reports it, and its fills."""
    order_id = str(ack.get("orderId") or fallback.order_id)
    info: dict[str, Any] = {"category": category, "ack": info_of(ack)}
    try:
        raw = await read_order(client, category, symbol, order_id)
        fills: list[v.Fill] = []
        if raw is not None and with_fills and (to_decimal(raw.get("cumExecQty")) or 0) > 0:
            executions = await client.execution_list(category, symbol, order_id)
            fills = [to_fill(row) for row in executions.get("list") or [] if isinstance(row, dict)]
    except CerberoError as exc:
        # The write itself succeeded: report it, and say the state could not be read.
        raw, fills = None, []
        info["state_unread"] = f"{exc.code}: {exc.message}"
    if raw is None:
        info.setdefault("state_unread", "Bybit acknowledged the order; it was not yet visible in /v5/order/realtime")
        order = fallback.model_copy(update={"order_id": order_id, "info": {**fallback.info, **info}})
        return v.OrderResult(order=order, info=info, data_timestamp=utcnow())
    return v.OrderResult(order=to_order(raw, category), fills=fills, info=info, data_timestamp=utcnow())


async def open_orders(
    client: BybitClient, sources: Sequence[tuple[Category, str | None, str | None]], limit: int
) -> tuple[list[v.Order], bool]:
    """Return up to `limit` open orders from each (category, symbol, settleCoin) source, and whether more exist."""
    orders: list[v.Order] = []
    more = False
    for category, symbol, settle in sources:
        cursor: str | None = None
        while len(orders) < limit:
            page = await client.order_realtime(
                category, symbol=symbol, settle_coin=settle, limit=min(50, limit - len(orders) + 1), cursor=cursor
            )
            for row in page.get("list") or []:
                if isinstance(row, dict):
                    client.remember(row, category, str(row.get("symbol")))
                    orders.append(to_order(row, category))
            cursor = page.get("nextPageCursor") or None
            if not cursor:
                break
        if len(orders) > limit or (cursor and len(orders) >= limit):
            more = True
            break
    return orders[:limit], more or len(orders) > limit
