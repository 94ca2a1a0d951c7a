"""One IBKR order read by its status (`GET /iserver/account/order/status/{orderId}`), not from the list.

The live-orders list is paced at one request per five seconds and answers nothing on its first
request of a session; the status endpoint reads one order at any time. Its answer names the fields
differently (`order_id`, `order_status`, `total_size`, `cum_fill`, `side` "B"/"S", `limit_price`,
`stop_price`, `average_price`); `live_row` renames them as the list spells them, so one mapping
(`mapping.to_order`) reads both.
"""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common.errors import CerberoError, OrderNotFoundError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.mapping import to_order

WORKING: set[str] = {"open", "partially_filled", "untriggered"}
# Answers to a cancel that say the order is already cancelled (a bracket's children go with their parent).
ALREADY_CANCELLED = ("is cancelled", "state: cancelled", "already cancelled", "already canceled", "state: apicancelled")
# Answers that say the order finished otherwise (filled while the cancel was on its way).
ALREADY_DONE = ("is filled", "state: filled", "is inactive", "state: inactive")


def live_row(status: dict[str, Any]) -> dict[str, Any]:
    """Return an order-status answer as a live-orders row."""
    kind = str(status.get("order_type") or status.get("origOrderType") or "")
    row: dict[str, Any] = {
        "orderId": status.get("order_id"),
        "conid": status.get("conid"),
        "ticker": status.get("symbol") or status.get("contract_description_1") or status.get("conid"),
        "side": "BUY" if str(status.get("side", "")).upper().startswith("B") else "SELL",
        "origOrderType": kind,
        "status": status.get("order_status"),
        "totalSize": status.get("total_size"),
        "filledQuantity": status.get("cum_fill"),
        "remainingQuantity": status.get("size"),
        "timeInForce": status.get("tif"),
    }
    limit, stop = status.get("limit_price"), status.get("stop_price")
    if kind.upper() in ("STOP", "STP"):
        row["price"] = stop  # the live list shows a stop order's trigger as its price
    else:
        row["price"], row["auxPrice"] = limit, stop
    optional = {"average_price": "avgPrice", "order_ref": "order_ref", "parent_order_id": "parentId"}
    for src, dst in optional.items():
        if status.get(src) is not None:
            row[dst] = status[src]
    for name in ("trailingAmount", "trailingType", "trailing_amount", "trailing_type"):
        if status.get(name) is not None:
            row[name] = status[name]
    return {k: x for k, x in row.items() if x is not None}


async def order_now(client: IbkrClient, order_id: str) -> v.Order:
    """Return one order as IBKR has it now."""
    return to_order(live_row(await client.order_status(order_id)))


async def working_row(client: IbkrClient, order_id: str) -> dict[str, Any]:
    """Return one working order as a live-orders row, or raise ORDER_NOT_FOUND."""
    row = live_row(await client.order_status(order_id))
    state = to_order(row).status
    if state not in WORKING:
        raise OrderNotFoundError(
            f"ibkr: no working order {order_id} (it is {state})", suggested_fix="list them with get_open_orders"
        )
    return row


def cancel_outcome(error: CerberoError) -> str | None:
    """Return "cancelled" or "done" when a cancel's refusal says the order already ended, else None."""
    text = str(error).lower()
    if any(fragment in text for fragment in ALREADY_CANCELLED):
        return "cancelled"
    if any(fragment in text for fragment in ALREADY_DONE):
        return "done"
    return None
