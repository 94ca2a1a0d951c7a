"""Hyperliquid's wire objects → the common vocabulary's models (orders, positions, times)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import to_decimal

_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
# Keys whose values are names, not numbers.
_ID_KEYS = frozenset({"oid", "cloid", "coin", "tid", "hash", "user"})
ORDER_TYPES: dict[str, str] = {
    "Limit": "limit",
    "Market": "market",
    "Stop Market": "stop_market",
    "Stop Limit": "stop_limit",
    "Take Profit Market": "stop_market",
    "Take Profit Limit": "stop_limit",
}


def info_of(raw: Any) -> Any:
    """Return a Hyperliquid payload for an `info` field: numeric strings as Decimals, ids as sent."""
    if isinstance(raw, dict):
        return {key: value if key in _ID_KEYS else info_of(value) for key, value in raw.items()}
    if isinstance(raw, list):
        return [info_of(item) for item in raw]
    if isinstance(raw, str) and _NUMBER.fullmatch(raw):
        return Decimal(raw)
    return raw


def ms_to_dt(ms: Any) -> datetime:
    """Return a UTC datetime for epoch milliseconds."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def dt_to_ms(value: datetime) -> int:
    """Return epoch milliseconds for a datetime."""
    return int(value.timestamp() * 1000)


def positive(value: Any) -> Decimal | None:
    """Return a Decimal, or None for absent or zero ("0.0" is Hyperliquid's "no trigger")."""
    number = to_decimal(value)
    return number if number else None


def to_order(raw: dict[str, Any], status: str = "open", client_order_id: str | None = None) -> v.Order:
    """Map an order (frontendOpenOrders, or orderStatus's `order.order`) to the common model."""
    remaining = to_decimal(raw.get("sz")) or Decimal(0)
    quantity = to_decimal(raw.get("origSz")) or remaining
    kind = ORDER_TYPES.get(str(raw.get("orderType", "Limit")), "limit")
    tif = raw.get("tif")
    mapped = s.ORDER_STATUS.get(status, "open")
    filled = quantity - remaining if mapped != "filled" else quantity
    if mapped == "open" and raw.get("isTrigger"):
        mapped = "untriggered"
    elif mapped == "open" and filled > 0:
        mapped = "partially_filled"
    cloid = raw.get("cloid") or None
    return v.Order(
        order_id=str(raw["oid"]),
        client_order_id=client_order_id or cloid,
        instrument=str(raw.get("coin")),
        side=s.SIDE_BACK.get(str(raw.get("side")), "buy"),
        type=kind,
        status=mapped,
        price=to_decimal(raw.get("limitPx")) if kind in ("limit", "stop_limit") else None,
        stop_price=positive(raw.get("triggerPx")) if raw.get("isTrigger") else None,
        quantity=quantity,
        filled_quantity=filled,
        time_in_force=s.TIME_IN_FORCE_BACK.get(str(tif)) if tif else None,
        post_only=tif == "Alo",
        reduce_only=bool(raw.get("reduceOnly", False)),
        created_at=ms_to_dt(raw["timestamp"]) if raw.get("timestamp") else None,
        info={**info_of(raw), "cloid": cloid, "status": status},
    )


def to_position(raw: dict[str, Any]) -> v.Position:
    """Map one clearinghouseState `assetPositions[].position` to the common model."""
    size = to_decimal(raw.get("szi")) or Decimal(0)
    value = to_decimal(raw.get("positionValue"))
    return v.Position(
        instrument=str(raw.get("coin")),
        side="flat" if size == 0 else ("long" if size > 0 else "short"),
        size=abs(size),
        average_price=positive(raw.get("entryPx")),
        # Hyperliquid reports the position's value at mark, not the mark itself.
        mark_price=(value / abs(size)) if value is not None and size else None,
        unrealized_pnl=to_decimal(raw.get("unrealizedPnl")),
        liquidation_price=positive(raw.get("liquidationPx")),
        info=info_of(raw),
    )


def positions_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the non-empty `position` objects of a clearinghouseState."""
    found = []
    for row in state.get("assetPositions") or []:
        position = row.get("position") if isinstance(row, dict) else None
        if isinstance(position, dict) and to_decimal(position.get("szi")):
            found.append(position)
    return found
