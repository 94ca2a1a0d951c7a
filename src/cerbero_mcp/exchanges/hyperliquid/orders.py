"""Hyperliquid order plumbing shared by the order tools: wire orders, placing one, finding one, reading the answer.

An order answer is HTTP 200 `{"status": "ok", "response": {"type": "order", "data": {"statuses": [...]}}}`
with one entry per order: `{"resting": {"oid"}}`, `{"filled": {"totalSz", "avgPx", "oid"}}` or
`{"error": text}` (a definite refusal of that order). A market order is an IOC limit at the mid ±
the slippage bound (the SDK's own `market_open`); its remainder is cancelled, not left resting.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError, OrderNotFoundError, UpstreamError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient, raise_status_error, statuses, to_decimal
from cerbero_mcp.exchanges.hyperliquid.rules import Asset, check_order, round_price
from cerbero_mcp.exchanges.hyperliquid.signing import CLOID_PATTERN, cloid_for, new_cloid, wire_number

OID_PATTERN = re.compile(r"^\d{1,20}$")


async def mid_of(client: HyperliquidClient, asset: Asset) -> Decimal:
    """Return the asset's mid (allMids); a clear 4xx when the venue has none."""
    mid = to_decimal((await client.all_mids()).get(asset.coin))
    if mid is None or mid <= 0:
        raise InvalidInputError(f"hyperliquid has no mid price for {asset.name}", details={"instrument": asset.name})
    return mid


def slippage_price(asset: Asset, reference: Decimal, is_buy: bool, slippage: Decimal) -> Decimal:
    """Return the worst price an aggressive order accepts: reference × (1 ± slippage), rounded away from the book."""
    bound = reference * (1 + slippage) if is_buy else reference * (1 - slippage)
    return round_price(asset, bound, up=is_buy)


def order_wire(
    asset: Asset,
    side: str,
    quantity: Decimal,
    *,
    order_type: str,
    price: Decimal | None,
    stop_price: Decimal | None,
    mid: Decimal | None,
    slippage: Decimal,
    time_in_force: str = "gtc",
    post_only: bool = False,
    reduce_only: bool = False,
    cloid: str | None = None,
    tpsl: str = "sl",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return one order as the /exchange wire wants it (SDK key order) and what the gateway chose for it."""
    is_buy = side == "buy"
    chosen: dict[str, Any] = {}
    if order_type == "market":
        if mid is None:
            raise ValueError("a market order needs the mid")
        limit_px = slippage_price(asset, mid, is_buy, slippage)
        kind: dict[str, Any] = {"limit": {"tif": "Ioc"}}
        chosen = {"market_price_bound": limit_px, "slippage": slippage, "reference_mid": mid}
    elif order_type == "limit":
        assert price is not None
        limit_px = price
        kind = {"limit": {"tif": "Alo" if post_only else s.TIME_IN_FORCE[time_in_force]}}
    else:
        assert stop_price is not None
        is_market = order_type == "stop_market"
        if is_market:
            limit_px = slippage_price(asset, stop_price, is_buy, slippage)
            chosen = {"market_price_bound": limit_px, "slippage": slippage}
        else:
            assert price is not None
            limit_px = price
        kind = {"trigger": {"isMarket": is_market, "triggerPx": wire_number(stop_price), "tpsl": tpsl}}
    wire: dict[str, Any] = {
        "a": asset.asset_id,
        "b": is_buy,
        "p": wire_number(limit_px),
        "s": wire_number(quantity),
        "r": reduce_only,
        "t": kind,
    }
    if cloid is not None:
        wire["c"] = cloid
    return wire, chosen


async def checked_wire(
    client: HyperliquidClient, req: s.HyperliquidPlaceOrderRequest
) -> tuple[Asset, dict[str, Any], dict[str, Any], str | None]:
    """Resolve the asset, check every value against its rules, and return (asset, wire order, choices, cloid)."""
    asset = await client.asset(req.instrument)
    if req.reduce_only and asset.spot:
        raise InvalidInputError("reduce_only does not apply to spot orders", details={"field": "reduce_only"})
    mid = await mid_of(client, asset) if req.type == "market" else None
    reference = req.price or req.stop_price or mid
    check_order(
        asset,
        req.quantity,
        {"price": req.price, "stop_price": req.stop_price},
        reference,
        reduce_only=req.reduce_only,
    )
    cloid = cloid_for(req.client_order_id) if req.client_order_id else new_cloid()
    wire, chosen = order_wire(
        asset,
        req.side,
        req.quantity,
        order_type=req.type,
        price=req.price,
        stop_price=req.stop_price,
        mid=mid,
        slippage=client.slippage,
        time_in_force=req.time_in_force,
        post_only=req.post_only,
        reduce_only=req.reduce_only,
        cloid=cloid,
    )
    return asset, wire, chosen, cloid


def order_action(wires: list[dict[str, Any]], grouping: str = "na") -> dict[str, Any]:
    """Return the `order` action (the SDK's order_wires_to_order_action key order)."""
    return {"type": "order", "orders": wires, "grouping": grouping}


def would_send(action: dict[str, Any]) -> dict[str, Any]:
    """Return a dry run's request: the unsigned action (nonce and signature are made at send time)."""
    return {
        "method": "POST",
        "path": "/exchange",
        "body": {"action": action, "vaultAddress": None, "expiresAfter": None},
    }


def planned_order(
    asset: Asset,
    req: s.HyperliquidPlaceOrderRequest,
    wire: dict[str, Any],
    cloid: str | None,
    order_id: str = "dry-run",
) -> v.Order:
    """Return the order as sent (before the venue's answer)."""
    return v.Order(
        order_id=order_id,
        client_order_id=req.client_order_id,
        instrument=req.instrument,
        side=req.side,
        type=req.type,
        status="open",
        price=req.price,
        stop_price=req.stop_price,
        quantity=req.quantity,
        filled_quantity=Decimal(0),
        time_in_force="ioc" if req.type == "market" else req.time_in_force,
        post_only=req.post_only,
        reduce_only=req.reduce_only,
        info={"asset": asset.asset_id, "coin": asset.coin, "cloid": cloid, "wire": wire},
    )


def answered_order(planned: v.Order, entry: Any, *, trigger: bool) -> v.Order:
    """Return the order as one `statuses` entry reports it (resting, filled, or waiting for its trigger)."""
    raise_status_error(entry)
    if isinstance(entry, dict) and isinstance(entry.get("resting"), dict):
        oid = entry["resting"].get("oid")
        return planned.model_copy(update={"order_id": str(oid), "status": "untriggered" if trigger else "open"})
    if isinstance(entry, dict) and isinstance(entry.get("filled"), dict):
        filled = entry["filled"]
        size = to_decimal(filled.get("totalSz")) or Decimal(0)
        # An IOC order's unfilled remainder is cancelled, never left resting.
        status: v.OrderStatus = "filled" if size >= planned.quantity else "cancelled"
        return planned.model_copy(
            update={
                "order_id": str(filled.get("oid")),
                "status": status,
                "filled_quantity": size,
                "average_fill_price": to_decimal(filled.get("avgPx")),
            }
        )
    if entry in ("waitingForTrigger", "waitingForFill"):
        return planned.model_copy(update={"status": "untriggered" if entry == "waitingForTrigger" else "open"})
    raise UpstreamError(
        "hyperliquid accepted the order action but its status is unreadable (the order may have been placed)",
        details={"venue": "hyperliquid", "status": str(entry)[:200]},
    )


async def place(
    client: HyperliquidClient,
    asset: Asset,
    planned: v.Order,
    wire: dict[str, Any],
    chosen: dict[str, Any],
    grouping: str = "na",
) -> v.OrderResult:
    """Send one order and return it as the venue answered."""
    cloid = wire.get("c")
    if cloid and planned.client_order_id:
        client.remember_client_id(str(cloid), planned.client_order_id)
    response = await client.order([wire], grouping)
    found = statuses(response)
    if not found:
        raise UpstreamError(
            "hyperliquid answered the order without statuses (the order may have been placed)",
            details={"venue": "hyperliquid", "cloid": cloid},
        )
    order = answered_order(planned, found[0], trigger="trigger" in wire["t"])
    info: dict[str, Any] = {"asset": asset.asset_id, "cloid": cloid, **chosen}
    if isinstance(found[0], str) and cloid:
        # "waitingForTrigger"/"waitingForFill" carry no oid (the venue assigns it later): look it up by cloid.
        try:
            raw, _ = await find_order(client, str(cloid))
            order = order.model_copy(update={"order_id": str(raw["oid"])})
        except CerberoError as exc:
            info["oid_unread"] = f"{exc.code}: {exc.message}"
    fills: list[v.Fill] = []
    if order.filled_quantity > 0:
        try:
            fills = await fills_of(client, order.order_id)
        except CerberoError as exc:
            # The order itself went through (the venue said so): report it, and that its fills are unread.
            info["fills_unread"] = f"{exc.code}: {exc.message}"
    return v.OrderResult(order=order, fills=fills, info=info, data_timestamp=utcnow())


async def fills_of(client: HyperliquidClient, order_id: str) -> list[v.Fill]:
    """Return the fills of one order (userFills, matched by oid)."""
    rows = [row for row in await client.user_fills() if str(row.get("oid")) == order_id]
    return [
        v.Fill(
            trade_id=str(row.get("tid")),
            price=to_decimal(row.get("px")) or Decimal(0),
            quantity=to_decimal(row.get("sz")) or Decimal(0),
            fee=to_decimal(row.get("fee")),
            liquidity=None if row.get("crossed") is None else ("taker" if row.get("crossed") else "maker"),
        )
        for row in sorted(rows, key=lambda r: int(r.get("time", 0)))
    ]


def oid_or_cloid(order_id: str) -> int | str:
    """Return what orderStatus/modify take for an order id: the oid, a cloid, or the cloid of a client_order_id."""
    if OID_PATTERN.fullmatch(order_id):
        return int(order_id)
    if CLOID_PATTERN.fullmatch(order_id):
        return order_id.lower()
    return cloid_for(order_id)


async def find_order(client: HyperliquidClient, order_id: str) -> tuple[dict[str, Any], str]:
    """Return an order (orderStatus's `order.order`) and its status, by oid, cloid or client_order_id."""
    key = oid_or_cloid(order_id)
    answer = await client.order_status(key)
    found = answer.get("order") if answer.get("status") == "order" else None
    if not isinstance(found, dict) or not isinstance(found.get("order"), dict):
        raise OrderNotFoundError(
            f"hyperliquid: no order {order_id}",
            details={"venue": "hyperliquid", "order_id": order_id, "looked_up": str(key)},
        )
    return found["order"], str(found.get("status", "open"))


def client_id_of(client: HyperliquidClient, raw: dict[str, Any]) -> str | None:
    """Return the caller's client_order_id of a venue order, when this client derived its cloid."""
    cloid = raw.get("cloid")
    return client.client_ids.get(str(cloid)) if cloid else None
