"""Alpaca tools: the common vocabulary (here) and Alpaca's own tools (`extras`).

The standard tools (environment_info, get_orderbook, get_bars, get_indicators,
get_orderbook_imbalance) come from `base.register_standard_tools` with this venue's PROFILE;
`cerbero_mcp.exchanges.registry.installed_toolsets()` imports this module for `TOOLS` (declared in
`toolset`); the import at its end declares the rest.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.alpaca import exposure
from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.client import to_decimal
from cerbero_mcp.exchanges.alpaca.mapping import OPEN_STATUSES, info_of, signed_qty, to_account, to_order, to_position
from cerbero_mcp.exchanges.alpaca.market import fetch_bars, fetch_book, snapshots_of
from cerbero_mcp.exchanges.alpaca.orders import (
    asset_rules,
    checked_body,
    dry_order,
    fills_of,
    read_back,
    replace_body,
    would_send,
)
from cerbero_mcp.exchanges.alpaca.rules import check_order
from cerbero_mcp.exchanges.alpaca.symbols import asset_class
from cerbero_mcp.exchanges.alpaca.toolset import TOOLS, client_of
from cerbero_mcp.exchanges.base import VenueProfile, default_capabilities, register_standard_tools
from cerbero_mcp.tooling import ToolContext

__all__ = ["TOOLS"]
PROFILE = VenueProfile(
    title="Alpaca",
    example_instrument="AAPL",
    fetch_bars=fetch_bars,
    fetch_book=fetch_book,
    capabilities=default_capabilities(
        post_only=False,  # Alpaca has no post-only orders
        reduce_only=True,  # no flag at Alpaca: checked against the position before sending
        trailing_stop=True,
        day_orders=True,
        bracket_orders=True,
        oco_orders=True,
        oto_orders=True,
        notional_orders=True,
        extended_hours=True,
        batch_orders=False,
        combo_orders=False,  # multi-leg option orders (order_class mleg) are not offered
        orderbook_depth=False,  # stocks and options: the NBBO only; crypto pairs: full depth
    ),
    info={
        "asset_classes": ["us_equity", "us_option", "crypto"],
        "symbols": "stocks AAPL, crypto BTC/USD, options OCC (AAPL270115C00200000)",
        "order_units": "shares (fractional where fractionable), option contracts (x100 shares), coins",
        "client_order_id": "Alpaca client_order_id: unique, at most 48 characters",
        "reduce_only": "Alpaca has no flag: a reduce_only order is checked against the position before sending",
        "amend_order": "a replace: Alpaca answers with a NEW order id (replaces = the old id)",
        "orderbook": "crypto: full depth; stocks and options: the latest NBBO quote as one level",
        "data_url": "market data comes from one host for paper and live (ALPACA_DATA_URL)",
    },
)
environment_info, get_orderbook, get_bars, get_indicators, get_orderbook_imbalance = register_standard_tools(
    TOOLS, PROFILE
)


# --- market data ------------------------------------------------------------------------------


@TOOLS.read("get_ticker")
async def get_ticker(ctx: ToolContext, req: s.AlpacaTickerRequest) -> v.Ticker:
    """Return the NBBO bid/ask and sizes, last trade and daily volume of one stock, option or crypto pair."""
    client = await client_of(ctx)
    snap = (await snapshots_of(client, [req.instrument])).get(req.instrument)
    if not snap:
        raise InvalidInputError(
            f"alpaca: instrument {req.instrument} not found (no market data)",
            details={"venue": "alpaca", "instrument": req.instrument},
        )
    quote, trade, daily = snap.get("latestQuote") or {}, snap.get("latestTrade") or {}, snap.get("dailyBar") or {}
    bid, ask, last = to_decimal(quote.get("bp")), to_decimal(quote.get("ap")), to_decimal(trade.get("p"))
    return v.Ticker(
        instrument=req.instrument,
        bid=bid,
        ask=ask,
        bid_size=to_decimal(quote.get("bs")),
        ask_size=to_decimal(quote.get("as")),
        last=last,
        mark=(bid + ask) / 2 if bid and ask else last,
        volume_24h=to_decimal(daily.get("v")),
        info={"asset_class": asset_class(req.instrument), "feed": client.feed, "snapshot": info_of(snap)},
        data_timestamp=utcnow(),
    )


# --- account ----------------------------------------------------------------------------------


@TOOLS.read("get_account")
async def get_account(ctx: ToolContext, req: s.AlpacaAccountRequest) -> v.Account:
    """Return equity, cash, buying power, day-trading buying power, pattern_day_trader and the day-trade count."""
    ctx.require_credentials()
    client = await client_of(ctx)
    raw = await client.account()
    unrealized = sum((to_decimal(p.get("unrealized_pl")) or Decimal(0) for p in await client.positions()), Decimal(0))
    return to_account(raw, unrealized)


@TOOLS.read("get_positions")
async def get_positions(ctx: ToolContext, req: s.AlpacaPositionsRequest) -> v.Positions:
    """Return open positions (stocks, options, crypto), or one instrument's."""
    ctx.require_credentials()
    client = await client_of(ctx)
    if req.instrument is not None:
        row = await client.position(req.instrument)
        rows = [row] if row else []
    else:
        rows = await client.positions()
    positions = [to_position(row) for row in rows if signed_qty(row)]
    return v.Positions(positions=positions, data_timestamp=utcnow())


def flatten(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return orders with their nested bracket/OTO/OCO legs as orders of their own (legs after parents)."""
    out: list[dict[str, Any]] = []
    for row in rows:
        out.append(row)
        out.extend(flatten([leg for leg in row.get("legs") or [] if isinstance(leg, dict)]))
    return out


@TOOLS.read("get_open_orders")
async def get_open_orders(ctx: ToolContext, req: s.AlpacaOpenOrdersRequest) -> v.Orders:
    """Return open orders, bracket and OCO legs included (held legs wait for their entry)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    params = {"status": "open", "limit": req.limit, "nested": True, "symbols": req.instrument}
    rows = await client.orders(params)
    orders = [to_order(row) for row in flatten(rows) if str(row.get("status")) in OPEN_STATUSES]
    return v.Orders(orders=orders, has_more=len(rows) >= req.limit, data_timestamp=utcnow())


# --- writes -----------------------------------------------------------------------------------


@TOOLS.write("place_order", risk="opens", legs=exposure.order_legs, target="instrument")
async def place_order(ctx: ToolContext, req: s.AlpacaPlaceOrderRequest) -> v.OrderResult:
    """Place an order: market, limit, stop, stop-limit, trailing stop; simple, bracket, OCO or OTO; notional."""
    ctx.require_credentials()
    client = await client_of(ctx)
    body = await checked_body(client, req)
    if req.dry_run:
        return v.OrderResult(
            order=dry_order(req),
            dry_run=True,
            would_send=would_send("POST", "/v2/orders", body),
            data_timestamp=utcnow(),
        )
    raw = await read_back(client, await client.create_order(body))
    order = to_order(raw)
    return v.OrderResult(
        order=order.model_copy(update={"reduce_only": True}) if req.reduce_only else order,
        fills=await fills_of(client, raw),
        info={"legs": [to_order(leg) for leg in raw.get("legs") or []]},
        data_timestamp=utcnow(),
    )


@TOOLS.write("amend_order", risk="opens", legs=exposure.amend_legs, target="order_id")
async def amend_order(ctx: ToolContext, req: s.AlpacaAmendOrderRequest) -> v.OrderResult:
    """Replace an open order (PATCH): Alpaca answers with a NEW order id; `replaces` names the old one."""
    ctx.require_credentials()
    client = await client_of(ctx)
    current_raw = await exposure.find_order(client, req.order_id)
    current = to_order(current_raw)
    if req.price is not None and current.type not in ("limit", "stop_limit"):
        raise InvalidInputError(
            f"order {req.order_id} is a {current.type} order: it has no limit price to amend",
            suggested_fix="amend quantity or stop_price instead",
        )
    if req.stop_price is not None and current.type not in ("stop_market", "stop_limit"):
        raise InvalidInputError(f"order {req.order_id} is a {current.type} order: it has no stop price to amend")
    if req.trail is not None and current.type != "trailing_stop":
        raise InvalidInputError(f"order {req.order_id} is a {current.type} order: it has no trail to amend")
    kind, asset = await asset_rules(client, current.instrument)
    check_order(
        kind,
        asset,
        quantity=req.quantity,
        notional=None,
        prices={"price": req.price, "stop_price": req.stop_price, "trail": req.trail},
        reference_price=req.price or current.price,
        time_in_force=req.time_in_force or current.time_in_force or "day",
    )
    raw = await client.replace_order(current.order_id, replace_body(req))
    return v.OrderResult(
        order=to_order(raw),
        info={
            "replaced": True,
            "replaces": raw.get("replaces") or current.order_id,
            "note": "Alpaca replaced the order: use the new order_id from now on; the old one is 'replaced'",
        },
        data_timestamp=utcnow(),
    )


@TOOLS.write("cancel_order", target="order_id")
async def cancel_order(ctx: ToolContext, req: s.AlpacaCancelOrderRequest) -> v.OrderResult:
    """Cancel one open order (by Alpaca id or client_order_id)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    current = to_order(await exposure.find_order(client, req.order_id))
    if current.status == "cancelled":
        # Already cancelled (or replaced, or expired): nothing is left to cancel; say so, do not fail.
        return v.OrderResult(
            order=current, info={"accepted": False, "already": current.info.get("status")}, data_timestamp=utcnow()
        )
    await client.cancel_order(current.order_id)
    try:
        order = to_order(await client.order(current.order_id))
    except CerberoError:  # the cancel was accepted (204); only the read-back failed
        order = current.model_copy(update={"info": {**current.info, "read_back": False}})
    return v.OrderResult(order=order, info={"accepted": True}, data_timestamp=utcnow())


@TOOLS.write("cancel_all_orders", target="instrument")
async def cancel_all_orders(ctx: ToolContext, req: s.AlpacaCancelAllRequest) -> s.AlpacaCancelAllResult:
    """Cancel every open order (Alpaca's 207: one status per order), or those of one instrument."""
    ctx.require_credentials()
    client = await client_of(ctx)
    results: list[s.CancelOutcome] = []
    if req.instrument is None:
        for row in await client.cancel_orders():
            status = int(row.get("status") or 0)
            body = row.get("body") if isinstance(row.get("body"), dict) else {}
            results.append(
                s.CancelOutcome(
                    order_id=str(row.get("id")),
                    status=status,
                    cancelled=200 <= status < 300,
                    message=str(body.get("message")) if body and body.get("message") else None,
                )
            )
    else:
        rows = await client.orders({"status": "open", "limit": s.OPEN_ORDERS_MAX, "symbols": req.instrument})
        for row in rows:
            try:
                await client.cancel_order(str(row.get("id")))
                results.append(s.CancelOutcome(order_id=str(row.get("id")), status=204, cancelled=True))
            except CerberoError as exc:
                if exc.status >= 500:
                    raise
                results.append(
                    s.CancelOutcome(order_id=str(row.get("id")), status=exc.status, cancelled=False, message=str(exc))
                )
    return s.AlpacaCancelAllResult(
        cancelled=sum(1 for r in results if r.cancelled), results=results, data_timestamp=utcnow()
    )


@TOOLS.write("close_position", target="instrument")
async def close_position(ctx: ToolContext, req: s.AlpacaClosePositionRequest) -> v.ClosePositionResult:
    """Flatten one position: market (Alpaca's DELETE /v2/positions/{symbol}) or an opposite limit order."""
    ctx.require_credentials()
    client = await client_of(ctx)
    row = await client.position(req.instrument)
    size = signed_qty(row) if row else Decimal(0)
    if not size:
        return v.ClosePositionResult(instrument=req.instrument, was_flat=True, data_timestamp=utcnow())
    if req.type == "market":
        raw = await read_back(client, await client.close_position(req.instrument))
    else:
        order = s.AlpacaPlaceOrderRequest(
            instrument=req.instrument,
            side="sell" if size > 0 else "buy",
            type="limit",
            quantity=abs(size),
            price=req.price,
            time_in_force="gtc" if asset_class(req.instrument) == "crypto" else "day",
            client_order_id=req.client_order_id,
        )
        raw = await client.create_order(await checked_body(client, order))
    # The closing order only ever reduces: Alpaca sizes it to the position (no reduce-only flag exists).
    closing = to_order(raw).model_copy(update={"reduce_only": True})
    result = v.OrderResult(
        order=closing, fills=await fills_of(client, raw), info={"position": info_of(row or {})}, data_timestamp=utcnow()
    )
    return v.ClosePositionResult(instrument=req.instrument, was_flat=False, order=result, data_timestamp=utcnow())


# Last, so /apidocs and MCP list the common vocabulary before Alpaca's own tools.
from cerbero_mcp.exchanges.alpaca import extras  # noqa: E402,F401
