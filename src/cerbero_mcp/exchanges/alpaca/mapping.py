"""Alpaca wire objects → the common vocabulary's models, shared by the tools and the exposure."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.alpaca.client import to_decimal

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
SIDE: dict[str, v.Side] = {"buy": "buy", "sell": "sell"}
# The vocabulary's types → Alpaca's `type`; trailing_stop is Alpaca's own extra.
ORDER_TYPE: dict[str, str] = {
    "market": "market",
    "limit": "limit",
    "stop_market": "stop",
    "stop_limit": "stop_limit",
    "trailing_stop": "trailing_stop",
}
ORDER_TYPE_BACK: dict[str, str] = {wire: ours for ours, wire in ORDER_TYPE.items()}
TIME_IN_FORCE_BACK: dict[str, v.TimeInForce] = {"gtc": "gtc", "ioc": "ioc", "fok": "fok", "day": "day"}
ORDER_STATUS: dict[str, v.OrderStatus] = {
    "new": "open",
    "accepted": "open",
    "pending_new": "open",
    "accepted_for_bidding": "open",
    "pending_replace": "open",
    "pending_cancel": "open",
    "calculated": "open",
    "done_for_day": "open",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "cancelled",
    "expired": "cancelled",
    "replaced": "cancelled",
    "stopped": "open",
    "suspended": "open",
    "rejected": "rejected",
    # A bracket's or OTO's exit waits, held, until its entry fills.
    "held": "untriggered",
}
OPEN_STATUSES = frozenset(
    k for k, status in ORDER_STATUS.items() if status in ("open", "partially_filled", "untriggered")
)


def parse_time(value: Any) -> datetime | None:
    """Return an RFC 3339 time (`...Z`, with or without fraction) as an aware UTC datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    # Alpaca sends nanoseconds at times ("2024-05-01T14:00:00.123456789Z"): keep microseconds.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]  # the fraction only, not the offset
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clean(raw: Any, key: str = "") -> Any:
    """Return a wire value for an `info` field in the one response format: numbers as Decimals, times as UTC.

    Alpaca writes money as strings ("100.50") and times as RFC 3339 with offsets or nanoseconds; the
    response format writes decimals canonically and times as UTC with milliseconds. Ids stay as sent.
    """
    if isinstance(raw, dict):
        return {k: clean(value, str(k)) for k, value in raw.items()}
    if isinstance(raw, list):
        return [clean(item, key) for item in raw]
    if isinstance(raw, str) and not key.lower().endswith(("id", "number")):
        if _NUMBER.fullmatch(raw):
            return Decimal(raw)
        if _TIMESTAMP.match(raw):
            return parse_time(raw) or raw
    return raw


def info_of(raw: dict[str, Any], *skip: str) -> dict[str, Any]:
    """Return the venue's raw fields not already mapped (kept in `info`, nothing lost), in the response format."""
    return {key: clean(value, key) for key, value in raw.items() if key not in skip}


def to_order(raw: dict[str, Any]) -> v.Order:
    """Return the vocabulary's Order for an Alpaca order object (legs kept in `info`)."""
    wire_type = str(raw.get("type") or raw.get("order_type") or "market")
    tif = str(raw.get("time_in_force") or "")
    quantity = to_decimal(raw.get("qty"))
    info = info_of(
        raw, "id", "client_order_id", "symbol", "side", "qty", "filled_qty", "filled_avg_price", "limit_price"
    )
    info["order_class"] = raw.get("order_class") or "simple"
    if quantity is None:
        info["notional"] = raw.get("notional")
    return v.Order(
        order_id=str(raw.get("id")),
        client_order_id=raw.get("client_order_id"),
        instrument=str(raw.get("symbol")),
        side=SIDE.get(str(raw.get("side")), "buy"),
        type=ORDER_TYPE_BACK.get(wire_type, wire_type),
        status=ORDER_STATUS.get(str(raw.get("status")), "open"),
        price=to_decimal(raw.get("limit_price")),
        stop_price=to_decimal(raw.get("stop_price")),
        quantity=quantity if quantity is not None else Decimal(0),
        filled_quantity=to_decimal(raw.get("filled_qty")) or Decimal(0),
        average_fill_price=to_decimal(raw.get("filled_avg_price")),
        time_in_force=TIME_IN_FORCE_BACK.get(tif),
        # Options carry position_intent (buy_to_close, sell_to_close): a closing intent only reduces.
        reduce_only=str(raw.get("position_intent") or "").endswith("_to_close"),
        created_at=parse_time(raw.get("created_at")),
        updated_at=parse_time(raw.get("updated_at")),
        info=info,
    )


def signed_qty(raw: dict[str, Any]) -> Decimal:
    """Return a position's signed quantity (Alpaca sends qty negative for shorts, and `side`)."""
    qty = to_decimal(raw.get("qty")) or Decimal(0)
    return -abs(qty) if raw.get("side") == "short" else qty


def to_position(raw: dict[str, Any]) -> v.Position:
    """Return the vocabulary's Position for an Alpaca position object."""
    size = signed_qty(raw)
    return v.Position(
        instrument=str(raw.get("symbol")),
        side="long" if size > 0 else "short" if size < 0 else "flat",
        size=abs(size),
        average_price=to_decimal(raw.get("avg_entry_price")),
        mark_price=to_decimal(raw.get("current_price")),
        unrealized_pnl=to_decimal(raw.get("unrealized_pl")),
        info=info_of(raw, "symbol", "qty", "side", "avg_entry_price", "current_price", "unrealized_pl"),
    )


def to_account(raw: dict[str, Any], unrealized: Decimal) -> v.Account:
    """Return the vocabulary's Account for Alpaca's /v2/account (buying powers and PDT facts in `info`)."""
    equity = to_decimal(raw.get("equity")) or Decimal(0)
    last_equity = to_decimal(raw.get("last_equity"))
    return v.Account(
        currency=str(raw.get("currency") or "USD"),
        equity=equity,
        balance=to_decimal(raw.get("cash")) or Decimal(0),
        available=to_decimal(raw.get("buying_power")) or Decimal(0),
        initial_margin=to_decimal(raw.get("initial_margin")) or Decimal(0),
        maintenance_margin=to_decimal(raw.get("maintenance_margin")) or Decimal(0),
        unrealized_pnl=unrealized,
        # Alpaca reports no realized P&L on the account; today's equity change is in info.day_change.
        realized_pnl=None,
        data_timestamp=utcnow(),
        info={
            "buying_power": to_decimal(raw.get("buying_power")),
            "daytrading_buying_power": to_decimal(raw.get("daytrading_buying_power")),
            "regt_buying_power": to_decimal(raw.get("regt_buying_power")),
            "non_marginable_buying_power": to_decimal(raw.get("non_marginable_buying_power")),
            "pattern_day_trader": bool(raw.get("pattern_day_trader")),
            "daytrade_count": raw.get("daytrade_count"),
            "multiplier": raw.get("multiplier"),
            "trading_blocked": raw.get("trading_blocked"),
            "account_blocked": raw.get("account_blocked"),
            "shorting_enabled": raw.get("shorting_enabled"),
            "status": raw.get("status"),
            "day_change": equity - last_equity if last_equity is not None else None,
            "account_number": raw.get("account_number"),
            "raw": clean(raw),
        },
    )
