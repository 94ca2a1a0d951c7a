"""Hyperliquid tools: the common vocabulary (here); funding and basis (`analytics`); TP/SL, leverage, dead-man switch.

The standard tools (environment_info, get_orderbook, get_bars, get_indicators,
get_orderbook_imbalance) come from `base.register_standard_tools` with this venue's PROFILE.
"""

from __future__ import annotations

from decimal import Decimal

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError, OrderNotFoundError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.base import VenueProfile, default_capabilities, register_standard_tools
from cerbero_mcp.exchanges.hyperliquid import exposure
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import raise_status_error, statuses, to_decimal
from cerbero_mcp.exchanges.hyperliquid.mapping import info_of, positions_of, to_order, to_position
from cerbero_mcp.exchanges.hyperliquid.market import fetch_bars, fetch_book
from cerbero_mcp.exchanges.hyperliquid.orders import (
    answered_order,
    checked_wire,
    client_id_of,
    find_order,
    order_action,
    order_wire,
    place,
    planned_order,
    would_send,
)
from cerbero_mcp.exchanges.hyperliquid.rules import check_order
from cerbero_mcp.exchanges.hyperliquid.toolset import TOOLS, client_of
from cerbero_mcp.tooling import ToolContext

__all__ = ["TOOLS"]
PROFILE = VenueProfile(
    title="Hyperliquid",
    example_instrument="BTC",
    fetch_bars=fetch_bars,
    fetch_book=fetch_book,
    capabilities=default_capabilities(
        trailing_stop=False,  # no trailing stops on Hyperliquid
        day_orders=False,  # time in force Gtc, Ioc, Alo (post-only): no day orders
        fok_orders=False,  # no fill-or-kill
        batch_orders=False,  # the action takes batches; no tool offers them yet
        position_take_profit_stop_loss=True,
        combo_orders=False,
        schedule_cancel=True,
        spot_trading=True,
    ),
    info={
        "instruments": "perpetuals by coin (BTC, ETH, HYPE); spot by pair (PURR/USDC, HYPE/USDC) or @index (@107)",
        "order_units": "size in the coin; prices in USDC",
        "increments": (
            "size: szDecimals; price: 5 significant figures and 6 − szDecimals decimals (spot 8 − szDecimals), "
            "integers always; order value at least $10"
        ),
        "market_orders": "IOC limit at mid ± HYPERLIQUID_MARKET_SLIPPAGE (the bound is in the answer's info)",
        "client_order_id": "sent as cloid: a 0x + 32 hex id as is, any other id as 0x + 32 hex of its SHA-256",
        "cancel_all_orders": "one signed batch cancel of every open order (Hyperliquid has no cancel-all action)",
        "funding": "hourly",
    },
)
environment_info, get_orderbook, get_bars, get_indicators, get_orderbook_imbalance = register_standard_tools(
    TOOLS, PROFILE
)


# --- market data ------------------------------------------------------------------------------


@TOOLS.read("get_ticker")
async def get_ticker(ctx: ToolContext, req: s.HyperliquidTickerRequest) -> v.Ticker:
    """Return best bid/ask, mid, mark, oracle, 24 h volume, open interest and funding of one perp or spot pair."""
    client = await client_of(ctx)
    asset = await client.asset(req.instrument)
    if asset.spot:
        _, contexts = await client.spot_meta_and_asset_ctxs()
        raw = next((c for c in contexts if c.get("coin") == asset.coin), {})
    else:
        _, contexts = await client.meta_and_asset_ctxs()
        raw = contexts[asset.asset_id] if asset.asset_id < len(contexts) else {}
    book = await client.l2_book(asset.coin) or {}
    levels = (book.get("levels") or []) + [[], []]
    best_bid = levels[0][0] if levels[0] else {}
    best_ask = levels[1][0] if levels[1] else {}
    return v.Ticker(
        instrument=req.instrument,
        bid=to_decimal(best_bid.get("px")),
        ask=to_decimal(best_ask.get("px")),
        bid_size=to_decimal(best_bid.get("sz")),
        ask_size=to_decimal(best_ask.get("sz")),
        last=to_decimal(raw.get("midPx")) or to_decimal(raw.get("markPx")),
        mark=to_decimal(raw.get("markPx")),
        index=to_decimal(raw.get("oraclePx")),
        volume_24h=to_decimal(raw.get("dayBaseVlm")),
        open_interest=to_decimal(raw.get("openInterest")),
        funding_rate=to_decimal(raw.get("funding")),
        info={**info_of(raw), "coin": asset.coin, "asset": asset.asset_id, "spot": asset.spot, "last_is": "mid"},
        data_timestamp=utcnow(),
    )


# --- account ----------------------------------------------------------------------------------


@TOOLS.read("get_account")
async def get_account(ctx: ToolContext, req: s.HyperliquidAccountRequest) -> v.Account:
    """Return the perpetuals account (USDC: value, withdrawable, margin, unrealized PnL), or one spot balance."""
    ctx.require_credentials()
    client = await client_of(ctx)
    coin = req.currency.upper() if req.currency else None
    if coin in (None, "USDC", "USD"):
        state = await client.clearinghouse_state()
        summary = state.get("marginSummary") or {}
        unrealized = sum((to_decimal(p.get("unrealizedPnl")) or Decimal(0) for p in positions_of(state)), Decimal(0))
        equity = to_decimal(summary.get("accountValue")) or Decimal(0)
        return v.Account(
            currency="USDC",
            equity=equity,
            balance=equity - unrealized,
            available=to_decimal(state.get("withdrawable")) or Decimal(0),
            initial_margin=to_decimal(summary.get("totalMarginUsed")) or Decimal(0),
            maintenance_margin=to_decimal(state.get("crossMaintenanceMarginUsed")) or Decimal(0),
            unrealized_pnl=unrealized,
            info=info_of({k: x for k, x in state.items() if k != "assetPositions"}),
            data_timestamp=utcnow(),
        )
    spot = await client.spot_clearinghouse_state()
    row = next(
        (b for b in spot.get("balances") or [] if isinstance(b, dict) and str(b.get("coin")).upper() == coin), None
    )
    if row is None:
        tokens = {
            str(t.get("name")).upper() for t in (await client.spot_meta()).get("tokens") or [] if isinstance(t, dict)
        }
        if coin not in tokens:
            raise InvalidInputError(f"hyperliquid: no spot token {coin}", details={"currency": coin})
        row = {"coin": coin, "total": "0", "hold": "0"}  # a listed token the account does not hold
    total = to_decimal(row.get("total")) or Decimal(0)
    hold = to_decimal(row.get("hold")) or Decimal(0)
    return v.Account(
        currency=coin,
        equity=total,
        balance=total,
        available=total - hold,
        initial_margin=Decimal(0),
        maintenance_margin=Decimal(0),
        unrealized_pnl=Decimal(0),
        info=info_of(row),
        data_timestamp=utcnow(),
    )


def _check_currency(currency: str | None) -> None:
    if currency is not None and currency.upper() not in ("USDC", "USD"):
        raise InvalidInputError(
            "every Hyperliquid perpetual is margined in USDC",
            details={"currency": currency},
            suggested_fix="leave currency out",
        )


@TOOLS.read("get_positions")
async def get_positions(ctx: ToolContext, req: s.HyperliquidPositionsRequest) -> v.Positions:
    """Return open perpetual positions: all, or of one coin."""
    ctx.require_credentials()
    _check_currency(req.currency)
    client = await client_of(ctx)
    coin = (await client.asset(req.instrument)).coin if req.instrument else None
    rows = positions_of(await client.clearinghouse_state())
    return v.Positions(
        positions=[to_position(row) for row in rows if coin is None or row.get("coin") == coin], data_timestamp=utcnow()
    )


@TOOLS.read("get_open_orders")
async def get_open_orders(ctx: ToolContext, req: s.HyperliquidOpenOrdersRequest) -> v.Orders:
    """Return open orders (trigger orders included): all, or of one instrument."""
    ctx.require_credentials()
    _check_currency(req.currency)
    client = await client_of(ctx)
    coin = (await client.asset(req.instrument)).coin if req.instrument else None
    rows = [row for row in await client.frontend_open_orders() if coin is None or row.get("coin") == coin]
    orders = [to_order(row, "open", client_id_of(client, row)) for row in rows[: req.limit]]
    return v.Orders(orders=orders, has_more=len(rows) > req.limit, data_timestamp=utcnow())


# --- writes -----------------------------------------------------------------------------------


@TOOLS.write("place_order", risk="opens", legs=exposure.order_legs, target="instrument")
async def place_order(ctx: ToolContext, req: s.HyperliquidPlaceOrderRequest) -> v.OrderResult:
    """Place an order (limit, market = IOC within the slippage bound, stop-market, stop-limit)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    asset, wire, chosen, cloid = await checked_wire(client, req)
    planned = planned_order(asset, req, wire, cloid)
    if req.dry_run:
        return v.OrderResult(
            order=planned,
            dry_run=True,
            would_send=would_send(order_action([wire])),
            info={"asset": asset.asset_id, "cloid": cloid, **chosen},
            data_timestamp=utcnow(),
        )
    return await place(client, asset, planned, wire, chosen)


@TOOLS.write("amend_order", risk="opens", legs=exposure.amend_legs, target="order_id")
async def amend_order(ctx: ToolContext, req: s.HyperliquidAmendOrderRequest) -> v.OrderResult:
    """Change an open order's size, price or trigger (Hyperliquid modify: the order gets a new oid)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    raw, status = await find_order(client, req.order_id)
    current = to_order(raw, status, client_id_of(client, raw))
    if current.status not in ("open", "partially_filled", "untriggered"):
        raise OrderNotFoundError(
            f"hyperliquid: order {req.order_id} is {current.status}, not open", details={"order_id": req.order_id}
        )
    if req.price is not None and current.type not in ("limit", "stop_limit"):
        raise InvalidInputError(f"order {req.order_id} is a {current.type} order: it has no limit price to amend")
    if req.stop_price is not None and current.stop_price is None:
        raise InvalidInputError(f"order {req.order_id} has no trigger price to amend")
    asset = await client.asset(current.instrument)
    quantity = req.quantity or (current.quantity - current.filled_quantity)
    price = req.price or current.price
    stop = req.stop_price or current.stop_price
    check_order(
        asset,
        quantity,
        {"price": req.price, "stop_price": req.stop_price},
        price or stop,
        reduce_only=current.reduce_only,
    )
    tpsl = "tp" if str(raw.get("orderType", "")).startswith("Take Profit") else "sl"
    wire, chosen = order_wire(
        asset,
        current.side,
        quantity,
        order_type=current.type,
        price=price,
        stop_price=stop,
        mid=None,
        slippage=client.slippage,
        time_in_force=current.time_in_force or "gtc",
        post_only=current.post_only,
        reduce_only=current.reduce_only,
        cloid=raw.get("cloid") or None,
        tpsl=tpsl,
    )
    response = await client.exchange(
        {"type": "batchModify", "modifies": [{"oid": int(current.order_id), "order": wire}]}
    )
    planned = current.model_copy(
        update={"quantity": quantity, "price": price, "stop_price": stop, "filled_quantity": Decimal(0)}
    )
    found = statuses(response)
    order = answered_order(planned, found[0], trigger="trigger" in wire["t"]) if found else planned
    info = {"asset": asset.asset_id, "previous_oid": current.order_id, **chosen}
    return v.OrderResult(order=order, info=info, data_timestamp=utcnow())


@TOOLS.write("cancel_order", target="order_id")
async def cancel_order(ctx: ToolContext, req: s.HyperliquidCancelOrderRequest) -> v.OrderResult:
    """Cancel one open order (by oid, cloid or client_order_id)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    raw, status = await find_order(client, req.order_id)
    current = to_order(raw, status, client_id_of(client, raw))
    asset = await client.asset(current.instrument)
    response = await client.cancel([{"a": asset.asset_id, "o": int(current.order_id)}])
    for entry in statuses(response)[:1]:
        raise_status_error(entry)
    order = current.model_copy(update={"status": "cancelled"})
    return v.OrderResult(order=order, info={"asset": asset.asset_id}, data_timestamp=utcnow())


@TOOLS.write("cancel_all_orders", target="instrument")
async def cancel_all_orders(ctx: ToolContext, req: s.HyperliquidCancelAllRequest) -> v.CancelAllResult:
    """Cancel every open order, or those of one instrument, in one signed batch cancel."""
    ctx.require_credentials()
    client = await client_of(ctx)
    coin = (await client.asset(req.instrument)).coin if req.instrument else None
    rows = [row for row in await client.frontend_open_orders() if coin is None or row.get("coin") == coin]
    if not rows:
        return v.CancelAllResult(cancelled=0, data_timestamp=utcnow())
    cancels = []
    for row in rows:
        asset = await client.asset(str(row["coin"]))
        cancels.append({"a": asset.asset_id, "o": int(row["oid"])})
    response = await client.cancel(cancels)
    # An order that filled or was cancelled meanwhile answers an error entry; the others are cancelled.
    cancelled = sum(1 for entry in statuses(response) if entry == "success")
    return v.CancelAllResult(cancelled=cancelled, data_timestamp=utcnow())


@TOOLS.write("close_position", target="instrument")
async def close_position(ctx: ToolContext, req: s.HyperliquidClosePositionRequest) -> v.ClosePositionResult:
    """Flatten one perpetual position with a reduce-only order (market: IOC within the slippage bound)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    asset = await client.asset(req.instrument)
    if asset.spot:
        raise InvalidInputError("spot holdings are balances, not positions: sell them with place_order")
    row = next((p for p in positions_of(await client.clearinghouse_state()) if p.get("coin") == asset.coin), None)
    if row is None:
        return v.ClosePositionResult(instrument=req.instrument, was_flat=True, data_timestamp=utcnow())
    size = to_decimal(row.get("szi")) or Decimal(0)
    order = s.HyperliquidPlaceOrderRequest(
        instrument=req.instrument,
        side="sell" if size > 0 else "buy",
        type=req.type,
        quantity=abs(size),
        price=req.price,
        reduce_only=True,
        client_order_id=req.client_order_id,
    )
    asset, wire, chosen, cloid = await checked_wire(client, order)
    result = await place(client, asset, planned_order(asset, order, wire, cloid), wire, chosen)
    return v.ClosePositionResult(instrument=req.instrument, was_flat=False, order=result, data_timestamp=utcnow())


# Last, so /apidocs and MCP list the common vocabulary before Hyperliquid's own tools.
from cerbero_mcp.exchanges.hyperliquid import analytics, trading  # noqa: E402,F401
