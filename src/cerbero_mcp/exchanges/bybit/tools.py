"""Bybit tools: the common vocabulary (here), Bybit's market analytics (`analytics`) and its order extras (`trading`).

The standard tools (environment_info, get_orderbook, get_bars, get_indicators,
get_orderbook_imbalance) come from `base.register_standard_tools` with this venue's PROFILE;
`cerbero_mcp.exchanges.registry.installed_toolsets()` imports this module for `TOOLS` (declared in
`toolset`); the imports at its end declare the rest.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.base import VenueProfile, default_capabilities, register_standard_tools
from cerbero_mcp.exchanges.bybit import exposure
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import to_decimal
from cerbero_mcp.exchanges.bybit.exposure import POSITION_SOURCES
from cerbero_mcp.exchanges.bybit.finder import ORDER_SOURCES, find_order
from cerbero_mcp.exchanges.bybit.mapping import info_of, signed_size, to_order, to_position
from cerbero_mcp.exchanges.bybit.market import fetch_bars, fetch_book
from cerbero_mcp.exchanges.bybit.orders import checked_params, dry_order, open_orders, order_result, would_send
from cerbero_mcp.exchanges.bybit.symbols import Category
from cerbero_mcp.exchanges.bybit.toolset import TOOLS, check_order_values, client_of, resolve
from cerbero_mcp.tooling import ToolContext

__all__ = ["TOOLS"]
PROFILE = VenueProfile(
    title="Bybit",
    example_instrument="BTCUSDT",
    fetch_bars=fetch_bars,
    fetch_book=fetch_book,
    capabilities=default_capabilities(
        trailing_stop=False,  # Bybit has trailing stops on positions; no tool offers them yet
        day_orders=False,  # time in force GTC, IOC, FOK, PostOnly: no day orders
        batch_orders=True,
        position_take_profit_stop_loss=True,
        combo_orders=False,
    ),
    info={
        "categories": ["linear", "inverse", "spot", "option"],
        "order_units": "linear, spot and options: base coin; inverse: USD contracts",
        "category_default": (
            "from the symbol where it is unambiguous (BTCUSD inverse, BTC-27MAR26 linear, BTC-27MAR26-100000-C option, "
            "or the only category listing it); BTCUSDT is spot and linear: give category. get_orderbook, get_bars, "
            "get_indicators and get_orderbook_imbalance have no category field and read linear for such symbols"
        ),
        "client_order_id": "Bybit orderLinkId: at most 36 characters of letters, digits, - and _",
        "demo_trading": "https://api-demo.bybit.com works as the testnet URL; batch orders there: linear and option",
    },
)
environment_info, get_orderbook, get_bars, get_indicators, get_orderbook_imbalance = register_standard_tools(
    TOOLS, PROFILE
)


# --- market data ------------------------------------------------------------------------------


@TOOLS.read("get_ticker")
async def get_ticker(ctx: ToolContext, req: s.BybitTickerRequest) -> v.Ticker:
    """Return best bid/ask, last, mark, index, 24 h volume, open interest and funding of one instrument."""
    client = await client_of(ctx)
    category = await client.resolve_category(req.instrument, req.category)
    rows = (await client.market_tickers(category, symbol=req.instrument)).get("list") or []
    raw = next((row for row in rows if isinstance(row, dict) and row.get("symbol") == req.instrument), None)
    if raw is None:
        raise InvalidInputError(
            f"bybit: instrument {req.instrument} not found in category {category}",
            details={"venue": "bybit", "instrument": req.instrument, "category": category},
        )
    return v.Ticker(
        instrument=str(raw["symbol"]),
        bid=to_decimal(raw.get("bid1Price")),
        ask=to_decimal(raw.get("ask1Price")),
        bid_size=to_decimal(raw.get("bid1Size")),
        ask_size=to_decimal(raw.get("ask1Size")),
        last=to_decimal(raw.get("lastPrice")),
        mark=to_decimal(raw.get("markPrice")) or (to_decimal(raw.get("lastPrice")) if category == "spot" else None),
        index=to_decimal(raw.get("indexPrice")) or to_decimal(raw.get("usdIndexPrice")),
        volume_24h=to_decimal(raw.get("volume24h")),
        open_interest=to_decimal(raw.get("openInterest")),
        funding_rate=to_decimal(raw.get("fundingRate")),
        info={**info_of(raw), "category": category},
        data_timestamp=utcnow(),
    )


# --- account ----------------------------------------------------------------------------------


@TOOLS.read("get_account")
async def get_account(ctx: ToolContext, req: s.BybitAccountRequest) -> v.Account:
    """Return the unified account's USD equity, balance, available funds and margin, or one coin of it."""
    ctx.require_credentials()
    client = await client_of(ctx)
    coin = req.currency.upper() if req.currency else None
    accounts = (await client.account_wallet_balance(coin)).get("list") or [{}]
    account = accounts[0] if isinstance(accounts[0], dict) else {}
    if coin is None:
        return v.Account(
            currency="USD",
            equity=to_decimal(account.get("totalEquity")) or Decimal(0),
            balance=to_decimal(account.get("totalWalletBalance")) or Decimal(0),
            available=to_decimal(account.get("totalAvailableBalance")) or Decimal(0),
            initial_margin=to_decimal(account.get("totalInitialMargin")) or Decimal(0),
            maintenance_margin=to_decimal(account.get("totalMaintenanceMargin")) or Decimal(0),
            unrealized_pnl=to_decimal(account.get("totalPerpUPL")) or Decimal(0),
            info=info_of(account),
            data_timestamp=utcnow(),
        )
    row = next((c for c in account.get("coin") or [] if isinstance(c, dict) and c.get("coin") == coin), None)
    if row is None:
        raise InvalidInputError(f"bybit: the unified account holds no {coin}", details={"currency": coin})
    wallet = to_decimal(row.get("walletBalance")) or Decimal(0)
    position_im = to_decimal(row.get("totalPositionIM")) or Decimal(0)
    order_im = to_decimal(row.get("totalOrderIM")) or Decimal(0)
    locked = to_decimal(row.get("locked")) or Decimal(0)
    return v.Account(
        currency=coin,
        equity=to_decimal(row.get("equity")) or Decimal(0),
        balance=wallet,
        # UTA margin is account-wide; per coin, what is neither locked by spot orders nor margin is free.
        available=max(Decimal(0), wallet - locked - position_im - order_im),
        initial_margin=position_im + order_im,
        maintenance_margin=to_decimal(row.get("totalPositionMM")) or Decimal(0),
        unrealized_pnl=to_decimal(row.get("unrealisedPnl")) or Decimal(0),
        realized_pnl=to_decimal(row.get("cumRealisedPnl")),
        info={**info_of(row), "account": info_of({k: x for k, x in account.items() if k != "coin"})},
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_positions")
async def get_positions(ctx: ToolContext, req: s.BybitPositionsRequest) -> v.Positions:
    """Return open derivatives positions: of one instrument, one settle coin, or the whole account."""
    ctx.require_credentials()
    client = await client_of(ctx)
    sources: list[tuple[Category, str | None, str | None]]
    if req.instrument is not None:
        category = await client.resolve_category(req.instrument, req.category)
        sources = [(category, req.instrument, None)]
    elif req.currency is not None:
        sources = [(req.category or "linear", None, req.currency.upper())]
    else:
        sources = [(c, None, settle) for c, settle in POSITION_SOURCES if req.category in (None, c)]
    positions: list[v.Position] = []
    for category, symbol, settle in sources:
        if category == "spot":
            raise InvalidInputError("spot holdings are balances, not positions: see get_account")
        page = await client.position_list(category, symbol=symbol, settle_coin=settle)
        positions.extend(
            to_position(row, category) for row in page.get("list") or [] if isinstance(row, dict) and signed_size(row)
        )
    return v.Positions(positions=positions, data_timestamp=utcnow())


@TOOLS.read("get_open_orders")
async def get_open_orders(ctx: ToolContext, req: s.BybitOpenOrdersRequest) -> v.Orders:
    """Return open orders of one instrument, one settle coin, or every category."""
    ctx.require_credentials()
    client = await client_of(ctx)
    sources: list[tuple[Category, str | None, str | None]]
    if req.instrument is not None:
        sources = [(await client.resolve_category(req.instrument, req.category), req.instrument, None)]
    elif req.currency is not None:
        sources = [(req.category or "linear", None, req.currency.upper())]
    else:
        sources = [(c, None, settle) for c, settle in ORDER_SOURCES if req.category in (None, c)]
    orders, more = await open_orders(client, sources, req.limit)
    return v.Orders(orders=orders, has_more=more, data_timestamp=utcnow())


# --- writes -----------------------------------------------------------------------------------


@TOOLS.write("place_order", risk="opens", legs=exposure.order_legs, target="instrument")
async def place_order(ctx: ToolContext, req: s.BybitPlaceOrderRequest) -> v.OrderResult:
    """Place an order (limit, market, stop-limit, stop-market; post-only, reduce-only; take-profit/stop-loss)."""
    ctx.require_credentials()
    params = await checked_params(ctx, req, req.category)
    if req.dry_run:
        return v.OrderResult(
            order=dry_order(req),
            dry_run=True,
            would_send=would_send("/v5/order/create", params),
            info={"category": params["category"]},
            data_timestamp=utcnow(),
        )
    client = await client_of(ctx)
    ack = await client.order_create(params)
    return await order_result(client, params["category"], req.instrument, ack, _placed(req, params))


def _placed(req: s.BybitPlaceOrderRequest, params: dict[str, Any]) -> v.Order:
    # What the answer says when Bybit acknowledged the order but its state could not be read yet.
    return dry_order(req).model_copy(
        update={"client_order_id": params.get("orderLinkId"), "info": {"acknowledged_only": True}}
    )


@TOOLS.write("amend_order", risk="opens", legs=exposure.amend_legs, target="order_id")
async def amend_order(ctx: ToolContext, req: s.BybitAmendOrderRequest) -> v.OrderResult:
    """Change the quantity, price or trigger price of an open order (by orderId or orderLinkId)."""
    ctx.require_credentials()
    category, current = await find_order(ctx, req.order_id, req.instrument, req.category)
    symbol = str(current["symbol"])
    client, _, meta = await resolve(ctx, symbol, category)
    order = to_order(current, category)
    if req.price is not None and order.type not in ("limit", "stop_limit"):
        raise InvalidInputError(
            f"order {req.order_id} is a {order.type} order: it has no limit price to amend",
            suggested_fix="amend quantity or stop_price instead",
        )
    check_order_values(
        meta,
        req.quantity,
        {"price": req.price, "stop_price": req.stop_price},
        req.price or order.price,
        reduce_only=order.reduce_only,
    )
    params = {
        "category": category,
        "symbol": symbol,
        "orderId": order.order_id,
        "qty": req.quantity,
        "price": req.price,
        "triggerPrice": req.stop_price,
    }
    ack = await client.order_amend({k: x for k, x in params.items() if x is not None})
    return await order_result(client, category, symbol, ack, order, with_fills=False)


@TOOLS.write("cancel_order", target="order_id")
async def cancel_order(ctx: ToolContext, req: s.BybitCancelOrderRequest) -> v.OrderResult:
    """Cancel one open order (by orderId or orderLinkId)."""
    ctx.require_credentials()
    category, current = await find_order(ctx, req.order_id, req.instrument, req.category)
    client = await client_of(ctx)
    symbol = str(current["symbol"])
    order = to_order(current, category)
    ack = await client.order_cancel({"category": category, "symbol": symbol, "orderId": order.order_id})
    return await order_result(client, category, symbol, ack, order, with_fills=False)


@TOOLS.write("cancel_all_orders", target="instrument")
async def cancel_all_orders(ctx: ToolContext, req: s.BybitCancelAllRequest) -> v.CancelAllResult:
    """Cancel every open order, or those of one instrument, or of one settle coin."""
    ctx.require_credentials()
    client = await client_of(ctx)
    calls: list[dict[str, Any]] = []
    if req.instrument is not None:
        category = await client.resolve_category(req.instrument, req.category)
        calls.append({"category": category, "symbol": req.instrument})
    elif req.currency is not None:
        calls.append({"category": req.category or "linear", "settleCoin": req.currency.upper()})
    else:
        # Linear and inverse cancel by symbol or coin only: cancel where open orders are.
        sources = [(c, None, settle) for c, settle in ORDER_SOURCES if req.category in (None, c)]
        orders, _ = await open_orders(client, sources, 1000)
        places = sorted({(str(o.info.get("category")), o.instrument) for o in orders})
        calls.extend({"category": category, "symbol": symbol} for category, symbol in places)
    cancelled = 0
    for params in calls:
        result = await client.order_cancel_all(params)
        cancelled += len(result.get("list") or [])
    return v.CancelAllResult(cancelled=cancelled, data_timestamp=utcnow())


@TOOLS.write("close_position", target="instrument")
async def close_position(ctx: ToolContext, req: s.BybitClosePositionRequest) -> v.ClosePositionResult:
    """Flatten one derivatives position with a reduce-only order (market by default)."""
    ctx.require_credentials()
    client, category, meta = await resolve(ctx, req.instrument, req.category)
    if category == "spot":
        raise InvalidInputError(
            "spot holdings are balances, not positions: sell them with place_order", details={"category": category}
        )
    rows = (await client.position_list(category, symbol=req.instrument)).get("list") or []
    row = next((r for r in rows if isinstance(r, dict) and signed_size(r)), None)
    if row is None:
        return v.ClosePositionResult(instrument=req.instrument, was_flat=True, data_timestamp=utcnow())
    size = signed_size(row)
    order = s.BybitPlaceOrderRequest(
        instrument=req.instrument,
        category=category,
        side="sell" if size > 0 else "buy",
        type=req.type,
        quantity=abs(size),
        price=req.price,
        reduce_only=True,
        client_order_id=req.client_order_id,
    )
    check_order_values(meta, None, {"price": req.price}, None)
    params = {**(await checked_params(ctx, order, category)), "positionIdx": int(row.get("positionIdx") or 0)}
    ack = await client.order_create(params)
    result = await order_result(client, category, req.instrument, ack, _placed(order, params))
    return v.ClosePositionResult(instrument=req.instrument, was_flat=False, order=result, data_timestamp=utcnow())


# Last, so /apidocs and MCP list the common vocabulary before Bybit's own tools.
from cerbero_mcp.exchanges.bybit import analytics, trading  # noqa: E402,F401
