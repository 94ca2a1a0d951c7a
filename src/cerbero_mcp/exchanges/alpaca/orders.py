"""Alpaca order plumbing shared by the order tools: the asset's rules, the wire body, the reference price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common import clock
from cerbero_mcp.common.errors import CerberoError, InvalidOrderError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.client import AlpacaClient, to_decimal, wire_text
from cerbero_mcp.exchanges.alpaca.mapping import ORDER_TYPE, signed_qty
from cerbero_mcp.exchanges.alpaca.rules import check_order
from cerbero_mcp.exchanges.alpaca.symbols import AssetClass, asset_class, parse_occ


async def asset_rules(client: AlpacaClient, symbol: str) -> tuple[AssetClass, dict[str, Any]]:
    """Return the asset class of `symbol` and its rules (an option's contract; a stock's or pair's asset)."""
    kind = asset_class(symbol)
    if kind == "us_option":
        if parse_occ(symbol) is None:
            from cerbero_mcp.common.errors import InvalidInputError

            raise InvalidInputError(
                f"alpaca: {symbol} is not a valid OCC option symbol", details={"instrument": symbol}
            )
        return kind, await client.option_contract(symbol)
    return kind, await client.asset(symbol)


async def latest_price(client: AlpacaClient, symbol: str) -> Decimal | None:
    """Return the latest trade price of one instrument (else the quote's mid), None when Alpaca has none."""
    kind = asset_class(symbol)
    if kind == "crypto":
        snapshots = await client.crypto_snapshots([symbol])
    elif kind == "us_option":
        snapshots = await client.option_snapshots([symbol])
    else:
        snapshots = await client.stock_snapshots([symbol])
    snap = snapshots.get(symbol) or {}
    trade = snap.get("latestTrade") or {}
    price = to_decimal(trade.get("p"))
    if price:
        return price
    quote = snap.get("latestQuote") or {}
    bid, ask = to_decimal(quote.get("bp")), to_decimal(quote.get("ap"))
    return (bid + ask) / 2 if bid and ask else (bid or ask)


def order_body(req: s.AlpacaPlaceOrderRequest) -> dict[str, Any]:
    """Return POST /v2/orders' JSON for a request (None is never sent; Decimals become strings on the wire)."""
    body: dict[str, Any] = {
        "symbol": req.instrument,
        "qty": req.quantity,
        "notional": req.notional,
        "side": req.side,
        "type": ORDER_TYPE[req.type],
        "time_in_force": req.time_in_force,
        "limit_price": req.price,
        "stop_price": req.stop_price,
        "trail_price": req.trail_price,
        "trail_percent": req.trail_percent,
        "extended_hours": True if req.extended_hours else None,
        "client_order_id": req.client_order_id,
        "order_class": req.order_class if req.order_class != "simple" else None,
        # An option order that only reduces says so (Alpaca's position_intent); stocks have no such field.
        "position_intent": (
            ("buy_to_close" if req.side == "buy" else "sell_to_close")
            if req.reduce_only and asset_class(req.instrument) == "us_option"
            else None
        ),
        "take_profit": {"limit_price": req.take_profit.limit_price} if req.take_profit else None,
        "stop_loss": (
            {"stop_price": req.stop_loss.stop_price, "limit_price": req.stop_loss.limit_price}
            if req.stop_loss
            else None
        ),
    }
    return {key: value for key, value in body.items() if value is not None}


def replace_body(req: s.AlpacaAmendOrderRequest) -> dict[str, Any]:
    """Return PATCH /v2/orders/{id}'s JSON for an amend (None is never sent)."""
    body = {
        "qty": req.quantity,
        "limit_price": req.price,
        "stop_price": req.stop_price,
        "trail": req.trail,
        "time_in_force": req.time_in_force,
        # The replacement's own client id: idempotency and look-ups follow the NEW order.
        "client_order_id": req.client_order_id,
    }
    return {key: value for key, value in body.items() if value is not None}


async def reduce_only_guard(client: AlpacaClient, symbol: str, side: str, quantity: Decimal) -> dict[str, Any]:
    """Alpaca has no reduce-only flag: refuse here an order that would open, grow or flip the position."""
    row = await client.position(symbol)
    position = signed_qty(row) if row else Decimal(0)
    reduces = (position > 0 and side == "sell") or (position < 0 and side == "buy")
    if not reduces or quantity > abs(position):
        raise InvalidOrderError(
            f"reduce_only order would {'open' if position == 0 else 'grow or flip'} the position ({position})",
            details={"position": str(position), "quantity": str(quantity), "side": side},
            suggested_fix="send at most the position's size, on the closing side",
        )
    return row or {}


async def checked_body(client: AlpacaClient, req: s.AlpacaPlaceOrderRequest) -> dict[str, Any]:
    """Check the order against the asset's rules (and a reduce-only one against the position); return the body."""
    kind, asset = await asset_rules(client, req.instrument)
    if req.reduce_only and req.quantity is not None:
        await reduce_only_guard(client, req.instrument, req.side, req.quantity)
    reference = req.price or req.stop_price
    fractional = req.quantity is not None and req.quantity % 1 != 0
    if reference is None and (fractional or kind == "crypto"):
        reference = await latest_price(client, req.instrument)
    check_order(
        kind,
        asset,
        quantity=req.quantity,
        notional=req.notional,
        prices={
            "price": req.price,
            "stop_price": req.stop_price,
            "take_profit.limit_price": req.take_profit.limit_price if req.take_profit else None,
            "stop_loss.stop_price": req.stop_loss.stop_price if req.stop_loss else None,
            "stop_loss.limit_price": req.stop_loss.limit_price if req.stop_loss else None,
            "trail_price": req.trail_price,
        },
        reference_price=reference,
        time_in_force=req.time_in_force,
        order_class=req.order_class,
        extended_hours=req.extended_hours,
    )
    return order_body(req)


def would_send(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Return a dry run's exact request (numbers as the strings Alpaca receives)."""
    return {"method": method, "path": path, "body": wire_text(body)}


def dry_order(req: s.AlpacaPlaceOrderRequest) -> v.Order:
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
        quantity=req.quantity or Decimal(0),
        filled_quantity=Decimal(0),
        time_in_force=req.time_in_force,
        reduce_only=req.reduce_only,
        info={"order_class": req.order_class, "notional": req.notional},
    )


# Alpaca answers a market order "accepted" or "pending_new" and fills it within moments: a few short
# reads after the POST let the answer carry the fill, before it says the order is still working.
READ_BACK_WAITS_S = (0.0, 0.05, 0.2)
WORKING = frozenset({"new", "accepted", "pending_new", "accepted_for_bidding", "partially_filled"})


async def read_back(client: AlpacaClient, raw: dict[str, Any]) -> dict[str, Any]:
    """Return the order as Alpaca has it moments after a market order was accepted (the answer itself if unreadable).

    Read after the write succeeded: a failed read never turns a placed order into an error.
    """
    if raw.get("type") != "market" or str(raw.get("status")) not in WORKING or not raw.get("id"):
        return raw
    current = raw
    for wait in READ_BACK_WAITS_S:
        if wait:
            await clock.sleep(wait)
        try:
            current = await client.order(str(raw["id"]))
        except CerberoError:
            return current
        if str(current.get("status")) not in WORKING:
            return current
    return current


async def fills_of(client: AlpacaClient, raw: dict[str, Any]) -> list[v.Fill]:
    """Return the executions of an order (FILL activities with its id); [] when nothing filled.

    Read after the write succeeded: a failed read never turns a placed order into an error, and the
    order's own filled_qty / filled_avg_price then stand as one aggregate fill named by the order id.
    """
    filled = to_decimal(raw.get("filled_qty")) or Decimal(0)
    if filled <= 0:
        return []
    order_id = str(raw.get("id"))
    try:
        rows = await client.activities(
            {"activity_types": "FILL", "direction": "desc", "page_size": 100, "after": raw.get("submitted_at")}
        )
    except CerberoError:
        rows = []
    fills = [
        v.Fill(trade_id=str(row.get("id")), price=price, quantity=qty)
        for row in rows
        if isinstance(row, dict)
        and str(row.get("order_id")) == order_id
        and (price := to_decimal(row.get("price"))) is not None
        and (qty := to_decimal(row.get("qty"))) is not None
    ]
    average = to_decimal(raw.get("filled_avg_price"))
    if not fills and average is not None:
        fills = [v.Fill(trade_id=order_id, price=average, quantity=filled)]
    return list(reversed(fills))
