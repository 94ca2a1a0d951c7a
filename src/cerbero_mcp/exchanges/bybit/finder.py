"""Find a Bybit order by its orderId or orderLinkId (for amend, cancel, the amend's legs and reconciliation).

Kept apart from the tool modules so the exposure hooks can use it without an import ring.
"""

from __future__ import annotations

import re
from typing import Any

from cerbero_mcp.common.errors import OrderNotFoundError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import BybitClient
from cerbero_mcp.exchanges.bybit.symbols import Category

# Where open orders live when nothing narrows the search: (category, settleCoin).
ORDER_SOURCES: tuple[tuple[Category, str | None], ...] = (
    ("linear", "USDT"),
    ("linear", "USDC"),
    ("inverse", None),
    ("spot", None),
    ("option", None),
)
_LINK_ID = re.compile(s.ORDER_LINK_ID_PATTERN)


async def find_order(
    ctx: ToolContext, order_id: str, instrument: str | None, category: str | None
) -> tuple[Category, dict[str, Any]]:
    """Find an order by Bybit orderId or by its orderLinkId: where it was placed, else every category."""
    client: BybitClient = await ctx.client()
    candidates: list[tuple[Category, str | None, str | None]] = []
    home = client.home_of(order_id)
    if home is not None:
        candidates.append((home[0], home[1], None))  # type: ignore[arg-type]
    if instrument is not None:
        candidates.append((await client.resolve_category(instrument, category), instrument, None))
    elif category is not None:
        candidates.extend((c, None, settle) for c, settle in ORDER_SOURCES if c == category)
    else:
        candidates.extend((c, None, settle) for c, settle in ORDER_SOURCES)
    tried: set[tuple[str, str | None, str | None]] = set()
    for where, symbol, settle in candidates:
        if (where, symbol, settle) in tried:
            continue
        tried.add((where, symbol, settle))
        queries: list[tuple[str | None, str | None]] = [(order_id, None)]
        if _LINK_ID.fullmatch(order_id):
            queries.append((None, order_id))
        for by_id, by_link in queries:
            page = await client.order_realtime(
                where, symbol=symbol, settle_coin=settle, order_id=by_id, order_link_id=by_link
            )
            for row in page.get("list") or []:
                if isinstance(row, dict) and order_id in (str(row.get("orderId")), str(row.get("orderLinkId"))):
                    client.remember(row, where, str(row["symbol"]))
                    return where, row
    raise OrderNotFoundError(
        f"bybit: order {order_id} not found",
        details={"venue": "bybit", "order_id": order_id, "searched": [c for c, _, _ in candidates]},
        suggested_fix="give the order's instrument and category, or check get_open_orders",
    )
