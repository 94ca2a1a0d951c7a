"""IBKR's Client Portal rows → the common vocabulary's models (orders, positions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal


def to_position(row: dict[str, Any]) -> v.Position:
    """Map an IBKR position row to the common model."""
    size = Decimal(str(row.get("position", 0)))
    return v.Position(
        instrument=str(row.get("ticker") or row.get("contractDesc") or row.get("conid")),
        side="flat" if size == 0 else ("long" if size > 0 else "short"),
        size=abs(size),
        average_price=field_decimal(row.get("avgPrice") or row.get("avgCost")),
        mark_price=field_decimal(row.get("mktPrice")),
        unrealized_pnl=field_decimal(row.get("unrealizedPnl")),
        realized_pnl=field_decimal(row.get("realizedPnl")),
        info={"conid": row.get("conid"), "asset_class": row.get("assetClass"), "currency": row.get("currency")},
    )


ORDER_INFO = ("conid", "parentId", "status", "orderType", "trailingAmount", "trailingType")


def to_order(row: dict[str, Any]) -> v.Order:
    """Map an IBKR order (live orders list) to the common model."""
    status = s.ORDER_STATUS.get(str(row.get("status", "")).replace(" ", "").lower(), "open")
    filled = Decimal(str(row.get("filledQuantity", 0) or 0))
    total = Decimal(str(row.get("totalSize", 0) or 0))
    if status == "open" and filled > 0:
        status = "partially_filled"
    order_type = str(row.get("origOrderType") or row.get("orderType", ""))
    kind = s.ORDER_TYPE_BACK.get(order_type.upper().replace(" ", "_"), order_type.lower())
    price = field_decimal(row.get("price"))
    aux = field_decimal(row.get("auxPrice"))
    if kind == "stop_market":
        price, aux = None, price if price is not None else aux
    tif = str(row.get("timeInForce", "")).lower() or None
    return v.Order(
        order_id=str(row.get("orderId")),
        client_order_id=row.get("order_ref") or row.get("cOID"),
        instrument=str(row.get("ticker") or row.get("conid")),
        side="buy" if str(row.get("side", "")).upper().startswith("B") else "sell",
        type=kind,
        status=status,
        price=price,
        stop_price=aux if kind in ("stop_market", "stop_limit") else None,
        quantity=total or filled + Decimal(str(row.get("remainingQuantity", 0) or 0)),
        filled_quantity=filled,
        average_fill_price=field_decimal(row.get("avgPrice")),
        time_in_force=s.TIME_IN_FORCE_BACK.get(tif or ""),
        info={k: row[k] for k in ORDER_INFO if k in row},
    )


# --- contract info-and-rules (`/iserver/contract/{conid}/info-and-rules`) ------------------------

DEFAULT_INCREMENT = Decimal("0.01")
US_STOCK_SIZE_LOT = Decimal(100)


def increment_rules(info: dict[str, Any]) -> list[tuple[Decimal, Decimal]]:
    """Return a contract's (lower edge, increment) rules, lowest edge first (0.01 when IBKR gives none)."""
    raw = info.get("rules")
    rules: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parsed = []
    for rule in rules.get("incrementRules") or []:
        edge, step = field_decimal(rule.get("lowerEdge")), field_decimal(rule.get("increment"))
        if edge is not None and step is not None and step > 0:
            parsed.append((edge, step))
    if not parsed:
        single = field_decimal(rules.get("increment"))
        parsed = [(Decimal(0), single if single is not None and single > 0 else DEFAULT_INCREMENT)]
    return sorted(parsed)


def increment_at(info: dict[str, Any], price: Decimal) -> Decimal:
    """Return the price increment that applies at `price` (the rule with the highest edge at or below it)."""
    rules = increment_rules(info)
    return next((step for edge, step in reversed(rules) if price >= edge), rules[0][1])


def multiplier_of(info: dict[str, Any]) -> Decimal:
    """Return a contract's multiplier (100 for US equity options; 1 when IBKR gives none)."""
    value = field_decimal(info.get("multiplier"))
    return value if value is not None and value > 0 else Decimal(1)


def size_lot_of(info: dict[str, Any]) -> Decimal:
    """Return the unit of snapshot sizes 88/85: lots of 100 shares for US stocks, else 1."""
    # IBKR: "For US stocks, the number displayed is divided by 100."
    us_stock = str(info.get("instrument_type", "")).upper() == "STK" and str(info.get("currency", "")).upper() == "USD"
    return US_STOCK_SIZE_LOT if us_stock else Decimal(1)
