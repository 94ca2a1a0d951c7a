"""Client Portal order bodies and replies: build an order, check its ticks, read what IBKR accepted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError, InvalidOrderError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.mapping import increment_at
from cerbero_mcp.exchanges.ibkr.status import order_now
from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal
from cerbero_mcp.exchanges.validation import check_increment

LOT = Decimal("1")


def ibkr_order(
    conid: int,
    side: str,
    order_type: str,
    quantity: Decimal,
    *,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    trailing_amount: Decimal | None = None,
    trailing_type: str = "amt",
    tif: str = "gtc",
    client_order_id: str | None = None,
    parent_id: str | None = None,
    single_group: bool = False,
    outside_rth: bool = False,
) -> dict[str, Any]:
    """Build one Client Portal order (STP's stop in `price`, STOP_LIMIT's in `auxPrice`, trails in `trailingAmt`)."""
    kind = s.ORDER_TYPE[order_type]
    body: dict[str, Any] = {
        "conid": conid,
        "side": side.upper(),
        "orderType": kind,
        "quantity": float(quantity),
        "tif": s.TIME_IN_FORCE.get(tif, "GTC"),
        "outsideRTH": outside_rth,
    }
    if kind == "STP":
        body["price"] = float(stop_price) if stop_price is not None else None
    elif kind == "STOP_LIMIT":
        body["price"], body["auxPrice"] = float(price or 0), float(stop_price or 0)
    elif kind in ("TRAIL", "TRAILLMT"):
        # IBKR: "You must specify both trailingType and trailingAmt for TRAIL and TRAILLMT order".
        if trailing_amount is None:
            raise InvalidInputError(f"a trailing amount is required for {order_type} orders")
        body["trailingAmt"], body["trailingType"] = float(trailing_amount), trailing_type
        if price is not None:
            body["price"] = float(price)
    elif price is not None:
        body["price"] = float(price)
    if client_order_id:
        body["cOID"] = client_order_id
    if parent_id:
        body["parentId"] = parent_id
    if single_group:
        body["isSingleGroup"] = True
    return {k: x for k, x in body.items() if x is not None}


async def check_ticks(client: IbkrClient, conid: int, *pairs: tuple[str, Decimal | None]) -> None:
    """Refuse prices off the contract's own increment at that price (IBKR's info-and-rules) before sending."""
    if all(value is None for _, value in pairs):
        return
    info = await client.contract_rules(conid)
    for name, value in pairs:
        if value is not None:
            # A trailing amount is a distance, not a price: the finest increment of the contract applies.
            at = Decimal(0) if name == "trailing_amount" else value
            check_increment(name, value, increment_at(info, at))


async def reduce_only_guard(client: IbkrClient, conid: int, side: str, quantity: Decimal) -> None:
    """IBKR has no reduce-only flag: refuse here an order that would grow or flip the position."""
    position = await client.position_size(conid)
    reduces = (position > 0 and side == "sell") or (position < 0 and side == "buy")
    if not reduces or quantity > abs(position):
        raise InvalidOrderError(
            f"reduce_only order would {'open' if position == 0 else 'grow or flip'} the position ({position})",
            details={"position": str(position), "quantity": str(quantity), "side": side},
        )


def accepted(rows: list[dict[str, Any]], req_orders: list[dict[str, Any]], instrument: str) -> list[v.Order]:
    """Describe what IBKR accepted (one row per order, in request order)."""
    orders = []
    for row, sent in zip(rows, req_orders, strict=False):
        status = s.ORDER_STATUS.get(str(row.get("order_status", "")).replace(" ", "").lower(), "open")
        orders.append(
            v.Order(
                order_id=str(row.get("order_id")),
                client_order_id=sent.get("cOID"),
                instrument=instrument,
                side="buy" if sent["side"] == "BUY" else "sell",
                type=s.ORDER_TYPE_BACK.get(sent["orderType"], sent["orderType"].lower()),
                status=status,
                price=Decimal(str(sent["price"]))
                if sent.get("price") is not None and sent["orderType"] != "STP"
                else None,
                stop_price=Decimal(str(sent.get("auxPrice") or sent.get("price")))
                if sent["orderType"] in ("STP", "STOP_LIMIT")
                else None,
                quantity=Decimal(str(sent["quantity"])),
                filled_quantity=Decimal(0),
                info={
                    "conid": sent["conid"],
                    "parentId": sent.get("parentId"),
                    "isSingleGroup": sent.get("isSingleGroup", False),
                    **({"trailingAmt": sent["trailingAmt"]} if "trailingAmt" in sent else {}),
                },
            )
        )
    return orders


async def with_fills(client: IbkrClient, placed: v.Order, reply: list[dict[str, Any]]) -> v.OrderResult:
    """Complete an accepted order with its current state and executions (the reply carries neither)."""
    # The order's own status, not the live-orders list (paced at 1 per 5 s, empty on its pre-flight).
    order = placed
    if placed.order_id:
        state = await order_now(client, placed.order_id)
        order = placed.model_copy(
            update={
                "status": state.status,
                "filled_quantity": state.filled_quantity,
                "average_fill_price": state.average_fill_price,
            }
        )
    fills = []
    if order.filled_quantity > 0:
        for row in await client.trades(1):
            if str(row.get("order_id")) == order.order_id:
                fills.append(
                    v.Fill(
                        trade_id=str(row.get("execution_id")),
                        price=Decimal(str(row.get("price"))),
                        quantity=Decimal(str(row.get("size"))),
                        fee=field_decimal(row.get("commission")),
                    )
                )
    return v.OrderResult(order=order, fills=fills, info={"reply": reply}, data_timestamp=utcnow())
