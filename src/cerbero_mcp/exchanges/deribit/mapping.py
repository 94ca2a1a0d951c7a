"""Deribit's wire objects → the common vocabulary's models (orders, positions, fills, times)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit.client import to_decimal
from cerbero_mcp.exchanges.deribit.schemas import ORDER_STATE, TIME_IN_FORCE_BACK


def ms_to_dt(ms: Any) -> datetime:
    """Return a UTC datetime for epoch milliseconds."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def dt_to_ms(value: datetime) -> int:
    """Return epoch milliseconds for a datetime."""
    return int(value.timestamp() * 1000)


def to_position(raw: dict[str, Any]) -> v.Position:
    """Map a Deribit position to the common model."""
    size = to_decimal(raw.get("size")) or Decimal(0)
    side = "flat" if size == 0 else ("long" if size > 0 else "short")
    return v.Position(
        instrument=raw["instrument_name"],
        side=side,
        size=abs(size),
        average_price=to_decimal(raw.get("average_price")),
        mark_price=to_decimal(raw.get("mark_price")),
        unrealized_pnl=to_decimal(raw.get("floating_profit_loss")),
        realized_pnl=to_decimal(raw.get("realized_profit_loss")),
        liquidation_price=to_decimal(raw.get("estimated_liquidation_price")),
        info=raw,
    )


def to_order(raw: dict[str, Any]) -> v.Order:
    """Map a Deribit order to the common model."""
    filled = to_decimal(raw.get("filled_amount")) or Decimal(0)
    state = ORDER_STATE.get(str(raw.get("order_state")), "open")
    if state == "open" and filled > 0:
        state = "partially_filled"
    average = to_decimal(raw.get("average_price"))
    price = raw.get("price")
    return v.Order(
        order_id=str(raw["order_id"]),
        client_order_id=raw.get("label") or None,
        instrument=raw["instrument_name"],
        side=raw["direction"],
        type=str(raw.get("order_type", "limit")),
        status=state,
        price=to_decimal(price) if isinstance(price, int | float | Decimal) else None,
        stop_price=to_decimal(raw.get("trigger_price")),
        quantity=to_decimal(raw.get("amount")) or Decimal(0),
        filled_quantity=filled,
        average_fill_price=average if average else None,
        time_in_force=TIME_IN_FORCE_BACK.get(str(raw.get("time_in_force"))),
        post_only=bool(raw.get("post_only", False)),
        reduce_only=bool(raw.get("reduce_only", False)),
        created_at=ms_to_dt(raw["creation_timestamp"]) if raw.get("creation_timestamp") else None,
        updated_at=ms_to_dt(raw["last_update_timestamp"]) if raw.get("last_update_timestamp") else None,
        info=raw,
    )


def to_result(raw: dict[str, Any]) -> v.OrderResult:
    """Map Deribit's `{order, trades}` to the common result."""
    return v.OrderResult(
        order=to_order(raw["order"]),
        fills=[
            v.Fill(
                trade_id=str(t.get("trade_id")),
                price=to_decimal(t.get("price")),
                quantity=to_decimal(t.get("amount")),
                fee=to_decimal(t.get("fee")),
                liquidity={"M": "maker", "T": "taker"}.get(str(t.get("liquidity"))),
            )
            for t in raw.get("trades", [])
        ],
        data_timestamp=utcnow(),
    )
