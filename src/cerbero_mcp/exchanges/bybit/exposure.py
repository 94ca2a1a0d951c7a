"""What a Bybit write does to risk: its legs, and the unified account they are valued against.

Notional is in USD: linear contracts and spot are sized in the base coin and valued at their price
in USDT/USDC (taken 1:1 for USD); inverse contracts are sized in USD already; options are sized in
the base coin and valued at the underlying's index. Equity is the unified account's `totalEquity`
(USD). Positions are every linear (USDT and USDC), inverse and option position of the account.

The legs hooks run before `book` in the same task, so they leave the categories they resolved in a
context variable: a leg names only its symbol, and BTCUSDT is both a spot pair and a perpetual.
"""

from __future__ import annotations

from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import CerberoError
from cerbero_mcp.contracts import Book, Leg, ToolContext
from cerbero_mcp.exchanges.base import amended_leg, order_leg
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import BybitClient, to_decimal
from cerbero_mcp.exchanges.bybit.finder import find_order
from cerbero_mcp.exchanges.bybit.mapping import signed_size, to_order
from cerbero_mcp.exchanges.bybit.symbols import Category

LEG_CATEGORIES: ContextVar[dict[str, Category] | None] = ContextVar("bybit_leg_categories", default=None)
# Where the account's positions live: (category, settleCoin) pairs read for the leverage cap.
POSITION_SOURCES: tuple[tuple[Category, str | None], ...] = (
    ("linear", "USDT"),
    ("linear", "USDC"),
    ("inverse", None),
    ("option", None),
)


def _note(categories: dict[str, Category]) -> None:
    known = dict(LEG_CATEGORIES.get() or {})
    known.update(categories)
    LEG_CATEGORIES.set(known)


async def order_legs(ctx: ToolContext, req: s.BybitPlaceOrderRequest) -> list[Leg]:
    """Return the one leg of `place_order` (its take-profit/stop-loss only ever close it)."""
    client: BybitClient = await ctx.client()
    _note({req.instrument: await client.resolve_category(req.instrument, req.category)})
    return [order_leg(req)]


async def batch_legs(ctx: ToolContext, req: s.BybitBatchOrderRequest) -> list[Leg]:
    """Return every order of a batch as its own leg."""
    client: BybitClient = await ctx.client()
    category = req.category or next((o.category for o in req.orders if o.category), None)
    _note({o.instrument: await client.resolve_category(o.instrument, category) for o in req.orders})
    return [order_leg(order) for order in req.orders]


async def amend_legs(ctx: ToolContext, req: s.BybitAmendOrderRequest) -> list[Leg]:
    """Return the order as the amend would leave it (read from /v5/order/realtime)."""
    category, raw = await find_order(ctx, req.order_id, req.instrument, req.category)
    _note({str(raw["symbol"]): category})
    return [amended_leg(to_order(raw, category), req)]


def notional_usd(category: str, size: Decimal, price: Decimal | None, usd_price: Decimal | None) -> Decimal:
    """Return |size| in USD: inverse sizes are USD; options at the index; linear and spot at the price."""
    if category == "inverse":
        return abs(size)
    reference = usd_price if category in ("option", "spot") and usd_price else price
    return abs(size) * (reference or usd_price or Decimal(0))


async def book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """Read the unified account: USD equity, every derivatives position, and the legs' reference prices."""
    client: BybitClient = await ctx.client()
    categories: dict[str, Category] = dict(LEG_CATEGORIES.get() or {})
    for leg in legs:
        if leg.instrument not in categories:
            categories[leg.instrument] = await client.resolve_category(leg.instrument, prefer="linear")
    prices: dict[str, Decimal | None] = {}
    usd: dict[str, Decimal | None] = {}
    for leg in legs:
        ticker = await _ticker(client, categories[leg.instrument], leg.instrument)
        prices[leg.instrument] = to_decimal(ticker.get("markPrice")) or to_decimal(ticker.get("lastPrice"))
        usd[leg.instrument] = to_decimal(ticker.get("usdIndexPrice")) or to_decimal(ticker.get("indexPrice"))
    wallet = (await client.account_wallet_balance()).get("list") or [{}]
    equity = to_decimal(wallet[0].get("totalEquity")) or Decimal(0)
    positions: dict[str, Decimal] = {}
    for category, settle in POSITION_SOURCES:
        for row in await _positions(client, category, settle):
            size = signed_size(row)
            if not size:
                continue
            symbol = str(row["symbol"])
            positions[symbol] = positions.get(symbol, Decimal(0)) + size
            categories.setdefault(symbol, category)
            prices.setdefault(symbol, to_decimal(row.get("markPrice")))
            if category == "option" and symbol not in usd:
                ticker = await _ticker(client, "option", symbol)
                usd[symbol] = to_decimal(ticker.get("underlyingPrice")) or to_decimal(ticker.get("indexPrice"))

    def value(instrument: str, size: Decimal, price: Decimal | None) -> Decimal:
        category = categories.get(instrument, "linear")
        return notional_usd(category, size, price or prices.get(instrument), usd.get(instrument))

    return Book(positions=positions, equity=equity, value=value)


async def _ticker(client: BybitClient, category: str, symbol: str) -> dict[str, Any]:
    rows = (await client.market_tickers(category, symbol=symbol)).get("list") or [{}]
    return rows[0] if isinstance(rows[0], dict) else {}


async def _positions(client: BybitClient, category: str, settle: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10):  # 10 pages of 200: far beyond any real account; bounded all the same
        page = await client.position_list(category, settle_coin=settle, limit=200, cursor=cursor)
        rows.extend(row for row in page.get("list") or [] if isinstance(row, dict))
        cursor = page.get("nextPageCursor") or None
        if not cursor:
            break
    return rows


async def lookup(ctx: ToolContext, client_order_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Find the order a write gave `client_order_id` (orderLinkId) at Bybit (/v5/order/realtime)."""
    orders = params.get("orders")
    instrument = params.get("instrument") or (
        orders[0].get("instrument") if isinstance(orders, list) and orders and isinstance(orders[0], dict) else None
    )
    link_id = client_order_id.split(",")[0] if isinstance(orders, list) else client_order_id
    try:
        category, raw = await find_order(ctx, link_id, instrument, params.get("category"))
    except CerberoError:  # reconciliation answers "unknown" rather than failing the startup
        return None
    order = to_order(raw, category)
    return {
        "order_id": order.order_id,
        "instrument": order.instrument,
        "category": category,
        "status": order.status,
        "filled_quantity": str(order.filled_quantity),
    }
