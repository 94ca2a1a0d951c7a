"""Deribit tools: the common vocabulary (here) and Deribit's own analytics (`analytics.py`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit import leverage_cap
from cerbero_mcp.exchanges.deribit.client import DeribitClient, to_decimal
from cerbero_mcp.exchanges.deribit.schemas import (
    BOOK_DEPTHS,
    NATIVE_RESOLUTIONS,
    ORDER_STATE,
    TIME_IN_FORCE,
    TIME_IN_FORCE_BACK,
)
from cerbero_mcp.exchanges.shared import imbalance_from_book, indicators_from_bars
from cerbero_mcp.exchanges.validation import check_increment
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "deribit",
    description="Deribit: BTC/ETH perpetuals, dated futures and options (API v2, JSON-RPC).",
    client_factory=DeribitClient.build,
)
CAPABILITIES: dict[str, bool] = {
    **dict.fromkeys(v.Capability.__args__, True),  # type: ignore[attr-defined]
    "trailing_stop": False,
    "combo_orders": True,
}
OPEN_ORDER_CURRENCIES = ("BTC", "ETH", "USDC")


def ms_to_dt(ms: Any) -> datetime:
    """Return a UTC datetime for epoch milliseconds."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def dt_to_ms(value: datetime) -> int:
    """Return epoch milliseconds for a datetime."""
    return int(value.timestamp() * 1000)


async def client_of(ctx: ToolContext) -> DeribitClient:
    """Return the Deribit client of the caller's environment."""
    client: DeribitClient = await ctx.client()
    return client


async def instrument_meta(ctx: ToolContext, instrument: str) -> dict[str, Any]:
    """Return Deribit's description of `instrument` (a clear 4xx when it does not exist)."""
    client = await client_of(ctx)
    return await client.instrument(instrument)


# --- environment and market data --------------------------------------------------------------


@TOOLS.read("environment_info")
async def environment_info(ctx: ToolContext, req: v.EnvironmentInfoRequest) -> v.EnvironmentInfo:
    """Say which Deribit environment the token picked, its URL, credentials and capabilities."""
    settings = ctx.state.settings
    missing = settings.missing_credentials("deribit", ctx.environment)
    return v.EnvironmentInfo(
        venue="deribit",
        environment=ctx.environment,
        base_url=settings.venue_url("deribit", ctx.environment),
        credentials_configured=not missing,
        missing_credentials=missing,
        capabilities=CAPABILITIES,
        max_leverage=settings.max_leverage("deribit"),
        info={"order_units": "inverse futures: USD (multiples of contract_size); options: base coin"},
        data_timestamp=utcnow(),
    )


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
        data_timestamp=ms_to_dt(raw.get("timestamp", time.time() * 1000)),
    )


@TOOLS.read("get_orderbook")
async def get_orderbook(ctx: ToolContext, req: v.OrderBookRequest) -> v.OrderBook:
    """Return the order book of one instrument, best levels first."""
    depth = next(d for d in BOOK_DEPTHS if d >= req.depth)
    raw = await (await client_of(ctx)).public_get_order_book(req.instrument, depth)
    return v.OrderBook(
        instrument=raw["instrument_name"],
        bids=[v.BookLevel(price=to_decimal(p), size=to_decimal(s)) for p, s in raw.get("bids", [])[: req.depth]],
        asks=[v.BookLevel(price=to_decimal(p), size=to_decimal(s)) for p, s in raw.get("asks", [])[: req.depth]],
        info={k: raw.get(k) for k in ("change_id", "mark_price", "index_price", "state")},
        data_timestamp=ms_to_dt(raw.get("timestamp", time.time() * 1000)),
    )


async def fetch_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Fetch candles, aggregating from a native resolution when Deribit lacks the one asked."""
    seconds = v.RESOLUTION_SECONDS[req.resolution]
    native = max(s for s in NATIVE_RESOLUTIONS if seconds % s == 0)
    end = req.end or utcnow()
    start = req.start
    end_ms = dt_to_ms(end)
    start_ms = dt_to_ms(start) if start else end_ms - (req.limit + 1) * seconds * 1000
    raw = await (await client_of(ctx)).public_get_tradingview_chart_data(
        req.instrument, start_ms, end_ms, NATIVE_RESOLUTIONS[native]
    )
    bars: list[v.Bar] = []
    if raw.get("status") != "no_data":
        ticks = raw.get("ticks", [])
        columns = [raw.get(k, []) for k in ("open", "high", "low", "close", "volume")]
        rows = list(zip(ticks, *columns, strict=True))
        group = seconds // native
        if group > 1:
            rows = _aggregate(rows, seconds * 1000)
        bars = [
            v.Bar(
                ts=ms_to_dt(t),
                open=to_decimal(o),
                high=to_decimal(h),
                low=to_decimal(lo),
                close=to_decimal(c),
                volume=to_decimal(vol),
            )
            for t, o, h, lo, c, vol in rows
        ]
    has_more = len(bars) > req.limit or start is None
    return v.Bars(
        instrument=req.instrument,
        resolution=req.resolution,
        bars=bars[-req.limit :],
        has_more=has_more,
        data_timestamp=utcnow(),
    )


def _aggregate(rows: list[tuple[Any, ...]], bucket_ms: int) -> list[tuple[Any, ...]]:
    # Exact OHLCV aggregation of native candles into longer ones aligned on the bucket.
    out: list[list[Any]] = []
    for t, o, h, lo, c, vol in rows:
        bucket = int(t) // bucket_ms * bucket_ms
        if out and out[-1][0] == bucket:
            last = out[-1]
            last[2], last[3], last[4] = max(last[2], h), min(last[3], lo), c
            last[5] += vol
        else:
            out.append([bucket, o, h, lo, c, vol])
    return [tuple(row) for row in out]


@TOOLS.read("get_bars")
async def get_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Return OHLCV candles of one instrument, oldest first."""
    return await fetch_bars(ctx, req)


@TOOLS.read("get_indicators")
async def get_indicators(ctx: ToolContext, req: v.IndicatorsRequest) -> v.Indicators:
    """Compute technical indicators (the shared INDICATORS registry) on an instrument's candles."""
    bars = await fetch_bars(
        ctx, v.BarsRequest(instrument=req.instrument, resolution=req.resolution, limit=req.lookback)
    )
    return indicators_from_bars(req, bars)


@TOOLS.read("get_orderbook_imbalance")
async def get_orderbook_imbalance(ctx: ToolContext, req: v.ImbalanceRequest) -> v.Imbalance:
    """Return volume and depth-weighted imbalance, microprice, spread and depth near mid."""
    book = await get_orderbook(ctx, v.OrderBookRequest(instrument=req.instrument, depth=max(req.levels, 20)))
    return imbalance_from_book(req, book)


# --- account ----------------------------------------------------------------------------------


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


@TOOLS.read("get_positions")
async def get_positions(ctx: ToolContext, req: v.PositionsRequest) -> v.Positions:
    """Return open positions, optionally of one currency or instrument."""
    ctx.require_credentials()
    raw = await (await client_of(ctx)).private_get_positions(req.currency)
    positions = [to_position(p) for p in raw if (to_decimal(p.get("size")) or 0) != 0]
    if req.instrument is not None:
        positions = [p for p in positions if p.instrument == req.instrument]
    return v.Positions(positions=positions, data_timestamp=utcnow())


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
        "reduce_only": req.reduce_only or None,
        "label": req.client_order_id,
    }
    return {key: value for key, value in params.items() if value is not None}


async def validate_order(ctx: ToolContext, req: v.PlaceOrderRequest) -> dict[str, Any]:
    """Check tick and lot sizes against the instrument before anything is sent; return its metadata."""
    meta = await instrument_meta(ctx, req.instrument)
    tick = to_decimal(meta.get("tick_size"))
    lot = to_decimal(meta.get("min_trade_amount"))
    check_increment("quantity", req.quantity, lot, minimum=lot)
    check_increment("price", req.price, tick)
    check_increment("stop_price", req.stop_price, tick)
    return meta


@TOOLS.write("place_order", target="instrument", exposure=leverage_cap.order_exposure)
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


@TOOLS.write("amend_order", target="order_id")
async def amend_order(ctx: ToolContext, req: v.AmendOrderRequest) -> v.OrderResult:
    """Change the quantity, price or trigger price of an open order."""
    ctx.require_credentials()
    client = await client_of(ctx)
    current = await client.private_get_order_state(req.order_id)
    meta = await instrument_meta(ctx, current["instrument_name"])
    check_increment("quantity", req.quantity, to_decimal(meta.get("min_trade_amount")))
    check_increment("price", req.price, to_decimal(meta.get("tick_size")))
    check_increment("stop_price", req.stop_price, to_decimal(meta.get("tick_size")))
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
    check_increment("price", req.price, to_decimal(meta.get("tick_size")))
    params = order_params(order)
    raw = await (client.private_sell(params) if size > 0 else client.private_buy(params))
    return v.ClosePositionResult(
        instrument=req.instrument, was_flat=False, order=to_result(raw), data_timestamp=utcnow()
    )


from cerbero_mcp.exchanges.deribit import analytics as _analytics  # noqa: E402,F401  registers the analytics tools
