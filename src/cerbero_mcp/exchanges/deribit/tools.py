"""Deribit tools: the common vocabulary (here) and Deribit's own analytics and combos (`analytics`).

The standard tools (environment_info, get_orderbook, get_bars, get_indicators,
get_orderbook_imbalance) come from `base.register_standard_tools` with this venue's PROFILE;
`cerbero_mcp.exchanges.registry.installed_toolsets()` imports this module for `TOOLS` (declared in
`toolset`); the import of `analytics` at its end declares the rest.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.base import VenueProfile, default_capabilities, order_legs, register_standard_tools
from cerbero_mcp.exchanges.deribit import exposure
from cerbero_mcp.exchanges.deribit.client import to_decimal
from cerbero_mcp.exchanges.deribit.mapping import ms_to_dt, to_order, to_position, to_result
from cerbero_mcp.exchanges.deribit.market import fetch_bars, fetch_book
from cerbero_mcp.exchanges.deribit.schemas import TIME_IN_FORCE
from cerbero_mcp.exchanges.deribit.toolset import TOOLS, check_price, client_of, instrument_meta, validate_order
from cerbero_mcp.exchanges.validation import check_increment
from cerbero_mcp.tooling import ToolContext

__all__ = ["TOOLS"]
OPEN_ORDER_CURRENCIES = ("BTC", "ETH", "USDC")
PROFILE = VenueProfile(
    title="Deribit",
    example_instrument="BTC-PERPETUAL",
    fetch_bars=fetch_bars,
    fetch_book=fetch_book,
    capabilities=default_capabilities(trailing_stop=False, combo_orders=True),
    info={"order_units": "inverse futures: USD (multiples of contract_size); options: base coin"},
)
environment_info, get_orderbook, get_bars, get_indicators, get_orderbook_imbalance = register_standard_tools(
    TOOLS, PROFILE
)


# --- market data ------------------------------------------------------------------------------


@TOOLS.read("get_ticker")
async def get_ticker(ctx: ToolContext, req: v.InstrumentRequest) -> v.Ticker:
    """Return best bid/ask, last, mark, index, open interest and funding of one instrument."""
    raw = await (await client_of(ctx)).public_ticker(req.instrument)
    stats = raw.get("stats") or {}
    return v.Ticker(
        instrument=raw["instrument_name"],
        bid=to_decimal(raw.get("best_bid_price")),
        ask=to_decimal(raw.get("best_ask_price")),
        bid_size=to_decimal(raw.get("best_bid_amount")),
        ask_size=to_decimal(raw.get("best_ask_amount")),
        last=to_decimal(raw.get("last_price")),
        mark=to_decimal(raw.get("mark_price")),
        index=to_decimal(raw.get("index_price")),
        volume_24h=to_decimal(stats.get("volume")),
        open_interest=to_decimal(raw.get("open_interest")),
        funding_rate=to_decimal(raw.get("funding_8h")),
        info=raw,
        data_timestamp=ms_to_dt(raw.get("timestamp", utcnow().timestamp() * 1000)),
    )


@TOOLS.read("get_account")
async def get_account(ctx: ToolContext, req: v.AccountRequest) -> v.Account:
    """Return equity, balance, available funds and margin of one currency account."""
    ctx.require_credentials()
    currency = (req.currency or "BTC").upper()
    raw = await (await client_of(ctx)).private_get_account_summary(currency)
    return v.Account(
        currency=raw.get("currency", currency),
        equity=to_decimal(raw.get("equity")) or Decimal(0),
        balance=to_decimal(raw.get("balance")) or Decimal(0),
        available=to_decimal(raw.get("available_funds")) or Decimal(0),
        initial_margin=to_decimal(raw.get("initial_margin")) or Decimal(0),
        maintenance_margin=to_decimal(raw.get("maintenance_margin")) or Decimal(0),
        unrealized_pnl=to_decimal(raw.get("session_upl")) or Decimal(0),
        realized_pnl=to_decimal(raw.get("session_rpl")),
        info=raw,
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_positions")
async def get_positions(ctx: ToolContext, req: v.PositionsRequest) -> v.Positions:
    """Return open positions, optionally of one currency or instrument."""
    ctx.require_credentials()
    raw = await (await client_of(ctx)).private_get_positions(req.currency)
    positions = [to_position(p) for p in raw if (to_decimal(p.get("size")) or 0) != 0]
    if req.instrument is not None:
        positions = [p for p in positions if p.instrument == req.instrument]
    return v.Positions(positions=positions, data_timestamp=utcnow())


@TOOLS.read("get_open_orders")
async def get_open_orders(ctx: ToolContext, req: v.OpenOrdersRequest) -> v.Orders:
    """Return open orders of one instrument, one currency, or every currency."""
    ctx.require_credentials()
    client = await client_of(ctx)
    if req.instrument is not None:
        raw = await client.private_get_open_orders_by_instrument(req.instrument)
    else:
        currencies = [req.currency.upper()] if req.currency else list(OPEN_ORDER_CURRENCIES)
        raw = [order for currency in currencies for order in await client.private_get_open_orders_by_currency(currency)]
    orders = [to_order(o) for o in raw]
    return v.Orders(orders=orders[: req.limit], has_more=len(orders) > req.limit, data_timestamp=utcnow())


# --- writes -----------------------------------------------------------------------------------


def order_params(req: v.PlaceOrderRequest) -> dict[str, Any]:
    """Return Deribit's private/buy|sell parameters for a request (None never sent)."""
    params: dict[str, Any] = {
        "instrument_name": req.instrument,
        "amount": req.quantity,
        "type": req.type,
        "price": req.price,
        "trigger_price": req.stop_price,
        "trigger": "last_price" if req.stop_price is not None else None,
        "time_in_force": TIME_IN_FORCE[req.time_in_force],
        "post_only": req.post_only or None,
        # Without it Deribit moves a crossing post-only order inside the spread instead of refusing it,
        # so the order would rest at a price the caller did not send (ccxt always sends it).
        "reject_post_only": True if req.post_only else None,
        "reduce_only": req.reduce_only or None,
        "label": req.client_order_id,
    }
    return {key: value for key, value in params.items() if value is not None}


@TOOLS.write("place_order", risk="opens", legs=order_legs, target="instrument")
async def place_order(ctx: ToolContext, req: v.PlaceOrderRequest) -> v.OrderResult:
    """Place an order: limit, market, stop-limit or stop-market; post-only, reduce-only, time in force."""
    ctx.require_credentials()
    await validate_order(ctx, req)
    params = order_params(req)
    method = "private/buy" if req.side == "buy" else "private/sell"
    if req.dry_run:
        order = v.Order(
            order_id="dry-run",
            client_order_id=req.client_order_id,
            instrument=req.instrument,
            side=req.side,
            type=req.type,
            status="open",
            price=req.price,
            stop_price=req.stop_price,
            quantity=req.quantity,
            filled_quantity=Decimal(0),
            time_in_force=req.time_in_force,
            post_only=req.post_only,
            reduce_only=req.reduce_only,
        )
        return v.OrderResult(
            order=order,
            dry_run=True,
            would_send={
                "method": method,
                "params": {k: str(x) if isinstance(x, Decimal) else x for k, x in params.items()},
            },
            data_timestamp=utcnow(),
        )
    client = await client_of(ctx)
    raw = await (client.private_buy(params) if req.side == "buy" else client.private_sell(params))
    return to_result(raw)


@TOOLS.write("amend_order", risk="opens", legs=exposure.amend_legs, target="order_id")
async def amend_order(ctx: ToolContext, req: v.AmendOrderRequest) -> v.OrderResult:
    """Change the quantity, price or trigger price of an open order."""
    ctx.require_credentials()
    client = await client_of(ctx)
    current = await client.private_get_order_state(req.order_id)
    meta = await instrument_meta(ctx, current["instrument_name"])
    check_increment("quantity", req.quantity, to_decimal(meta.get("min_trade_amount")))
    check_price(meta, "price", req.price)
    check_price(meta, "stop_price", req.stop_price)
    # Market and stop-market orders carry "price": "market_price": only a limit price is resent.
    current_price = current.get("price")
    has_limit = current.get("order_type") in ("limit", "stop_limit") and isinstance(
        current_price, int | float | Decimal
    )
    if req.price is not None and not has_limit:
        raise InvalidInputError(
            f"order {req.order_id} is a {current.get('order_type')} order: it has no limit price to amend",
            suggested_fix="amend quantity or stop_price instead",
        )
    params = {
        "order_id": req.order_id,
        "amount": req.quantity if req.quantity is not None else to_decimal(current.get("amount")),
        "price": req.price if req.price is not None else (to_decimal(current_price) if has_limit else None),
        "trigger_price": req.stop_price,
        # A post-only order stays post-only only if the edit says so, and must be refused, not moved.
        "post_only": True if current.get("post_only") else None,
        "reject_post_only": True if current.get("post_only") else None,
    }
    return to_result(await client.private_edit({k: x for k, x in params.items() if x is not None}))


@TOOLS.write("cancel_order", target="order_id")
async def cancel_order(ctx: ToolContext, req: v.CancelOrderRequest) -> v.OrderResult:
    """Cancel one open order."""
    ctx.require_credentials()
    raw = await (await client_of(ctx)).private_cancel(req.order_id)
    return v.OrderResult(order=to_order(raw), data_timestamp=utcnow())


@TOOLS.write("cancel_all_orders", target="instrument")
async def cancel_all_orders(ctx: ToolContext, req: v.CancelAllRequest) -> v.CancelAllResult:
    """Cancel every open order, or those of one instrument or currency."""
    ctx.require_credentials()
    client = await client_of(ctx)
    if req.instrument is not None:
        count = await client.private_cancel_all_by_instrument(req.instrument)
    elif req.currency is not None:
        count = await client.private_cancel_all_by_currency(req.currency.upper())
    else:
        count = await client.private_cancel_all()
    return v.CancelAllResult(cancelled=count, data_timestamp=utcnow())


@TOOLS.write("close_position", target="instrument")
async def close_position(ctx: ToolContext, req: v.ClosePositionRequest) -> v.ClosePositionResult:
    """Flatten one position with a reduce-only order (market by default)."""
    ctx.require_credentials()
    meta = await instrument_meta(ctx, req.instrument)
    client = await client_of(ctx)
    positions = await client.private_get_positions(meta.get("settlement_currency") or meta.get("base_currency"))
    size = next(
        (to_decimal(p.get("size")) or Decimal(0) for p in positions if p.get("instrument_name") == req.instrument),
        Decimal(0),
    )
    if size == 0:
        return v.ClosePositionResult(instrument=req.instrument, was_flat=True, data_timestamp=utcnow())
    order = v.PlaceOrderRequest(
        instrument=req.instrument,
        side="sell" if size > 0 else "buy",
        type=req.type,
        quantity=abs(size),
        price=req.price,
        reduce_only=True,
        client_order_id=req.client_order_id,
    )
    check_price(meta, "price", req.price)
    params = order_params(order)
    raw = await (client.private_sell(params) if size > 0 else client.private_buy(params))
    return v.ClosePositionResult(
        instrument=req.instrument, was_flat=False, order=to_result(raw), data_timestamp=utcnow()
    )


# Last, so /apidocs and MCP list the common vocabulary before Deribit's own tools.
from cerbero_mcp.exchanges.deribit import analytics  # noqa: E402,F401
