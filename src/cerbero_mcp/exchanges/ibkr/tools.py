"""IBKR tools: the common vocabulary on the Client Portal API, streaming, and linked orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError, InvalidOrderError, OrderNotFoundError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr import key_rotation, leverage_cap
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal
from cerbero_mcp.exchanges.shared import imbalance_from_book, indicators_from_bars
from cerbero_mcp.exchanges.validation import check_increment
from cerbero_mcp.tooling import ToolContext, ToolSet

TOOLS = ToolSet(
    "ibkr",
    description="Interactive Brokers: stocks and options through the Client Portal Web API (OAuth 1.0a).",
    client_factory=IbkrClient.build,
    admin_router=key_rotation.router,
)
TICK = Decimal("0.01")
LOT = Decimal("1")
CAPABILITIES: dict[str, bool] = {
    **dict.fromkeys(v.Capability.__args__, True),  # type: ignore[attr-defined]
    "post_only": False,
    "trailing_stop": True,
    "bracket_orders": True,
    "oco_orders": True,
    "oto_orders": True,
    "streaming": True,
}
LIVE = {"open", "partially_filled", "untriggered"}


async def client_of(ctx: ToolContext) -> IbkrClient:
    """Return the IBKR client of the caller's environment."""
    client: IbkrClient = await ctx.client()
    return client


def ticker_from_row(instrument: str, row: dict[str, Any]) -> v.Ticker:
    """Map a snapshot row to the common ticker."""
    updated = row.get("_updated")
    return v.Ticker(
        instrument=instrument,
        bid=field_decimal(row.get("84")),
        ask=field_decimal(row.get("86")),
        bid_size=field_decimal(row.get("88")),
        ask_size=field_decimal(row.get("85")),
        last=field_decimal(row.get("31")),
        mark=field_decimal(row.get("31")),
        info={k: row[k] for k in row if k in ("conid", "55", "7295", "7296", "_updated")},
        data_timestamp=datetime.fromtimestamp(int(updated) / 1000, UTC) if updated else utcnow(),
    )


# --- environment and market data --------------------------------------------------------------


@TOOLS.read("environment_info")
async def environment_info(ctx: ToolContext, req: v.EnvironmentInfoRequest) -> v.EnvironmentInfo:
    """Say which IBKR environment the token picked, its URL, credentials and capabilities."""
    settings = ctx.state.settings
    missing = settings.missing_credentials("ibkr", ctx.environment)
    return v.EnvironmentInfo(
        venue="ibkr",
        environment=ctx.environment,
        base_url=settings.venue_url("ibkr", ctx.environment),
        credentials_configured=not missing,
        missing_credentials=missing,
        capabilities=CAPABILITIES,
        max_leverage=settings.max_leverage("ibkr"),
        info={"instruments": "stock symbols (AAPL) or conid:<n>", "time_in_force": ["gtc", "day", "ioc"]},
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_ticker")
async def get_ticker(ctx: ToolContext, req: s.IbkrInstrumentRequest) -> v.Ticker:
    """Return last, bid, ask and sizes of one instrument from a market-data snapshot."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    rows = await client.snapshot([conid])
    return ticker_from_row(req.instrument, rows[0] if rows else {"conid": conid})


@TOOLS.read("get_snapshot")
async def get_snapshot(ctx: ToolContext, req: s.SnapshotRequest) -> s.Snapshot:
    """Return snapshots of several instruments in one call."""
    client = await client_of(ctx)
    conids = [await client.conid(name) for name in req.instruments]
    rows = {int(row.get("conid", 0)): row for row in await client.snapshot(conids)}
    quotes = [ticker_from_row(name, rows.get(c, {"conid": c})) for name, c in zip(req.instruments, conids, strict=True)]
    return s.Snapshot(quotes=quotes, data_timestamp=utcnow())


@TOOLS.read("get_orderbook")
async def get_orderbook(ctx: ToolContext, req: s.IbkrOrderBookRequest) -> v.OrderBook:
    """Return order-book depth of one instrument from the streaming socket."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    stream = await client.stream()
    rows = await stream.depth(await client.account_id(), conid)
    return book_from_depth(req.instrument, rows, req.depth)


def book_from_depth(instrument: str, rows: list[dict[str, Any]], depth: int) -> v.OrderBook:
    """Turn socket depth rows into a book, best levels first."""
    bids = sorted(
        (r for r in rows if str(r.get("side", "")).lower() in ("bid", "buy", "b")),
        key=lambda r: Decimal(str(r["price"])),
        reverse=True,
    )
    asks = sorted(
        (r for r in rows if str(r.get("side", "")).lower() in ("ask", "sell", "a")),
        key=lambda r: Decimal(str(r["price"])),
    )
    return v.OrderBook(
        instrument=instrument,
        bids=[v.BookLevel(price=Decimal(str(r["price"])), size=Decimal(str(r["size"]))) for r in bids[:depth]],
        asks=[v.BookLevel(price=Decimal(str(r["price"])), size=Decimal(str(r["size"]))) for r in asks[:depth]],
        data_timestamp=utcnow(),
    )


async def fetch_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Fetch candles from the history endpoint (period sized to the limit)."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    seconds = v.RESOLUTION_SECONDS[req.resolution]
    span = seconds * req.limit
    period = f"{max(1, -(-span // 86400))}d" if span < 86400 * 365 else f"{max(1, span // (86400 * 365))}y"
    raw = await client.history(conid, period, s.RESOLUTION_BAR[req.resolution])
    rows = sorted(raw.get("data", []), key=lambda row: int(row["t"]))
    bars = [
        v.Bar(
            ts=datetime.fromtimestamp(int(r["t"]) / 1000, UTC),
            open=Decimal(str(r["o"])),
            high=Decimal(str(r["h"])),
            low=Decimal(str(r["l"])),
            close=Decimal(str(r["c"])),
            volume=Decimal(str(r.get("v", 0))),
        )
        for r in rows
    ]
    if req.start is not None:
        bars = [b for b in bars if b.ts >= req.start]
    if req.end is not None:
        bars = [b for b in bars if b.ts <= req.end]
    return v.Bars(
        instrument=req.instrument,
        resolution=req.resolution,
        bars=bars[-req.limit :],
        has_more=len(bars) > req.limit,
        data_timestamp=bars[-1].ts if bars else utcnow(),
    )


@TOOLS.read("get_bars")
async def get_bars(ctx: ToolContext, req: s.IbkrBarsRequest) -> v.Bars:
    """Return OHLCV candles of one instrument, oldest first."""
    return await fetch_bars(ctx, req)


@TOOLS.read("get_indicators")
async def get_indicators(ctx: ToolContext, req: s.IbkrIndicatorsRequest) -> v.Indicators:
    """Compute technical indicators (the shared INDICATORS registry) on an instrument's candles."""
    bars = await fetch_bars(
        ctx, v.BarsRequest(instrument=req.instrument, resolution=req.resolution, limit=req.lookback)
    )
    return indicators_from_bars(req, bars)


@TOOLS.read("get_orderbook_imbalance")
async def get_orderbook_imbalance(ctx: ToolContext, req: s.IbkrImbalanceRequest) -> v.Imbalance:
    """Return volume and depth-weighted imbalance, microprice, spread and depth near mid."""
    book = await get_orderbook(ctx, s.IbkrOrderBookRequest(instrument=req.instrument, depth=max(req.levels, 20)))
    return imbalance_from_book(req, book)


@TOOLS.read("search_contracts")
async def search_contracts(ctx: ToolContext, req: s.SearchRequest) -> s.Contracts:
    """Find contracts by symbol or company name."""
    rows = await (await client_of(ctx)).search(req.query)
    contracts = [
        s.Contract(
            conid=int(r["conid"]),
            symbol=r.get("symbol"),
            description=r.get("companyName") or r.get("description"),
            sec_types=[str(sec.get("secType")) for sec in r.get("sections", []) if sec.get("secType")],
            info={k: r[k] for k in ("companyHeader", "description") if k in r},
        )
        for r in rows
        if r.get("conid") is not None
    ]
    return s.Contracts(contracts=contracts, data_timestamp=utcnow())


@TOOLS.read("get_option_chain")
async def get_option_chain(ctx: ToolContext, req: s.OptionChainRequest) -> s.OptionChain:
    """Return the listed options of one month around the money (strikes, conids)."""
    client = await client_of(ctx)
    conid = await client.conid(req.symbol)
    found = next((r for r in await client.search(req.symbol) if int(r.get("conid", 0)) == conid), {})
    months: list[str] = []
    for section in found.get("sections", []):
        if section.get("secType") == "OPT":
            months = [m for m in str(section.get("months", "")).split(";") if m]
    month = req.month or (months[0] if months else None)
    if month is None:
        raise InvalidInputError(f"ibkr lists no options for {req.symbol}")
    strikes = await client.secdef_strikes(conid, month)
    spot = await leverage_cap.reference_price(client, conid)
    chosen: list[tuple[str, Decimal]] = []
    for right, key in (("C", "call"), ("P", "put")):
        listed = sorted(Decimal(str(x)) for x in strikes.get(key, []))
        listed.sort(key=lambda k: abs(k - spot))
        chosen.extend((right, k) for k in sorted(listed[: 2 * req.strikes]))
    options: list[s.ChainOption] = []
    for right, strike in chosen:
        for info in await client.secdef_info(conid, month, format(strike, "f"), right):
            options.append(
                s.ChainOption(
                    conid=int(info["conid"]),
                    symbol=str(info.get("symbol", req.symbol)),
                    strike=strike,
                    right="call" if right == "C" else "put",
                    expiry=info.get("maturityDate"),
                    info={k: info[k] for k in ("multiplier", "tradingClass", "exchange") if k in info},
                )
            )
    return s.OptionChain(
        symbol=req.symbol, underlying_conid=conid, month=month, months=months, options=options, data_timestamp=utcnow()
    )


@TOOLS.read("get_clock")
async def get_clock(ctx: ToolContext, req: s.ClockRequest) -> s.Clock:
    """Say whether the instrument's market is open now, and when it next opens and closes (IBKR schedule)."""
    client = await client_of(ctx)
    raw = await client.schedule(req.instrument.upper())
    return clock_from_schedule(req.instrument, raw, utcnow())


def clock_from_schedule(instrument: str, raw: Any, now: datetime) -> s.Clock:
    """Read IBKR's trading schedule (days with regular `tradingTimes` in the exchange's time zone)."""
    entry = raw[0] if isinstance(raw, list) and raw else raw if isinstance(raw, dict) else {}
    zone_name = str(entry.get("timezone") or "America/New_York")
    zone = ZoneInfo(zone_name)
    sessions: list[tuple[datetime, datetime]] = []
    for day in entry.get("schedules", []):
        date = str(day.get("tradingScheduleDate", ""))
        for times in day.get("tradingTimes", []):
            try:
                opens = datetime.strptime(date + str(times["openingTime"]), "%Y%m%d%H%M").replace(tzinfo=zone)
                closes = datetime.strptime(date + str(times["closingTime"]), "%Y%m%d%H%M").replace(tzinfo=zone)
            except (KeyError, ValueError):
                continue
            sessions.append((opens, closes))
    sessions.sort()
    is_open = any(o <= now < c for o, c in sessions)
    next_open = min((o for o, _ in sessions if o > now), default=None)
    next_close = min((c for _, c in sessions if c > now), default=None)
    return s.Clock(
        instrument=instrument,
        timezone=zone_name,
        is_open=is_open,
        next_open=next_open.isoformat() if next_open else None,
        next_close=next_close.isoformat() if next_close else None,
        sessions=[{"open": o.isoformat(), "close": c.isoformat()} for o, c in sessions],
        data_timestamp=now,
    )


# --- streaming ----------------------------------------------------------------------------------


@TOOLS.read("subscribe_tick")
async def subscribe_tick(ctx: ToolContext, req: s.TickRequest) -> s.Subscription:
    """Start streaming an instrument's quote (get_tick then reads it without a REST call)."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    stream = await client.stream()
    await stream.subscribe_tick(conid)
    return s.Subscription(
        instrument=req.instrument, conid=conid, subscribed=True, active=stream.subscriptions(), data_timestamp=utcnow()
    )


@TOOLS.read("unsubscribe")
async def unsubscribe(ctx: ToolContext, req: s.TickRequest) -> s.Subscription:
    """Stop streaming an instrument's quote."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    stream = await client.stream()
    await stream.unsubscribe(conid)
    return s.Subscription(
        instrument=req.instrument, conid=conid, subscribed=False, active=stream.subscriptions(), data_timestamp=utcnow()
    )


@TOOLS.read("get_tick")
async def get_tick(ctx: ToolContext, req: s.TickRequest) -> s.StreamTick:
    """Return the streamed quote (bid, ask, last, sizes) of an instrument, subscribing on first use."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    tick = await (await client.stream()).tick(conid)
    return s.StreamTick(
        instrument=req.instrument,
        conid=conid,
        last=tick.last,
        bid=tick.bid,
        ask=tick.ask,
        bid_size=tick.bid_size,
        ask_size=tick.ask_size,
        data_timestamp=datetime.fromtimestamp(tick.updated_ms / 1000, UTC) if tick.updated_ms else utcnow(),
    )


@TOOLS.read("get_depth")
async def get_depth(ctx: ToolContext, req: s.DepthRequest) -> v.OrderBook:
    """Return order-book depth of an instrument from the socket."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    rows = await (await client.stream()).depth(await client.account_id(), conid, exchange=req.exchange)
    return book_from_depth(req.instrument, rows, 50)


# --- account ----------------------------------------------------------------------------------


@TOOLS.read("get_account")
async def get_account(ctx: ToolContext, req: s.IbkrAccountRequest) -> v.Account:
    """Return net liquidation, cash, available funds and margin of the account."""
    summary = await (await client_of(ctx)).portfolio_summary()
    amount = leverage_cap.amount
    return v.Account(
        currency=str((summary.get("netliquidation") or {}).get("currency", "USD"))
        if isinstance(summary.get("netliquidation"), dict)
        else "USD",
        equity=amount(summary.get("netliquidation")),
        balance=amount(summary.get("totalcashvalue")),
        available=amount(summary.get("availablefunds")),
        initial_margin=amount(summary.get("initmarginreq")),
        maintenance_margin=amount(summary.get("maintmarginreq")),
        unrealized_pnl=amount(summary.get("unrealizedpnl")),
        realized_pnl=amount(summary.get("realizedpnl")) if "realizedpnl" in summary else None,
        info={k: summary[k] for k in list(summary)[:40]},
        data_timestamp=utcnow(),
    )


def to_position(row: dict[str, Any]) -> v.Position:
    """Map an IBKR position row to the common model."""
    size = Decimal(str(row.get("position", 0)))
    return v.Position(
        instrument=str(row.get("ticker") or row.get("contractDesc") or row.get("conid")),
        side="flat" if size == 0 else ("long" if size > 0 else "short"),
        size=abs(size),
        average_price=field_decimal(row.get("avgPrice") or row.get("avgCost")),
        mark_price=field_decimal(row.get("mktPrice")),
        unrealized_pnl=field_decimal(row.get("unrealizedPnl")),
        realized_pnl=field_decimal(row.get("realizedPnl")),
        info={"conid": row.get("conid"), "asset_class": row.get("assetClass"), "currency": row.get("currency")},
    )


@TOOLS.read("get_positions")
async def get_positions(ctx: ToolContext, req: s.IbkrPositionsRequest) -> v.Positions:
    """Return open positions, optionally of one instrument."""
    rows = await (await client_of(ctx)).positions()
    positions = [to_position(r) for r in rows if Decimal(str(r.get("position", 0))) != 0]
    if req.instrument is not None:
        positions = [p for p in positions if p.instrument.upper() == req.instrument.upper()]
    return v.Positions(positions=positions, data_timestamp=utcnow())


@TOOLS.read("get_activities")
async def get_activities(ctx: ToolContext, req: s.ActivitiesRequest) -> s.Activities:
    """Return executions of the last days."""
    rows = await (await client_of(ctx)).trades(req.days)
    executions = [
        s.Execution(
            execution_id=str(r.get("execution_id")),
            instrument=str(r.get("symbol") or r.get("conid")),
            side="buy" if str(r.get("side", "")).upper().startswith("B") else "sell",
            quantity=Decimal(str(r.get("size", 0))),
            price=Decimal(str(r.get("price", 0))),
            time=r.get("trade_time"),
            order_id=str(r["order_id"]) if r.get("order_id") is not None else None,
            client_order_id=r.get("order_ref"),
            commission=field_decimal(r.get("commission")),
            info={k: r[k] for k in ("conid", "exchange", "account") if k in r},
        )
        for r in rows
    ]
    return s.Activities(executions=executions, data_timestamp=utcnow())


def to_order(row: dict[str, Any]) -> v.Order:
    """Map an IBKR order (live orders list) to the common model."""
    status = s.ORDER_STATUS.get(str(row.get("status", "")).replace(" ", "").lower(), "open")
    filled = Decimal(str(row.get("filledQuantity", 0) or 0))
    total = Decimal(str(row.get("totalSize", 0) or 0))
    if status == "open" and filled > 0:
        status = "partially_filled"
    order_type = str(row.get("origOrderType") or row.get("orderType", ""))
    kind = s.ORDER_TYPE_BACK.get(order_type.upper().replace(" ", "_"), order_type.lower())
    price = field_decimal(row.get("price"))
    aux = field_decimal(row.get("auxPrice"))
    if kind == "stop_market":
        price, aux = None, price if price is not None else aux
    tif = str(row.get("timeInForce", "")).lower() or None
    return v.Order(
        order_id=str(row.get("orderId")),
        client_order_id=row.get("order_ref") or row.get("cOID"),
        instrument=str(row.get("ticker") or row.get("conid")),
        side="buy" if str(row.get("side", "")).upper().startswith("B") else "sell",
        type=kind,
        status=status,
        price=price,
        stop_price=aux if kind in ("stop_market", "stop_limit") else None,
        quantity=total or filled + Decimal(str(row.get("remainingQuantity", 0) or 0)),
        filled_quantity=filled,
        average_fill_price=field_decimal(row.get("avgPrice")),
        time_in_force=s.TIME_IN_FORCE_BACK.get(tif or ""),
        info={k: row[k] for k in ("conid", "parentId", "status", "orderType") if k in row},
    )


@TOOLS.read("get_open_orders")
async def get_open_orders(ctx: ToolContext, req: s.IbkrOpenOrdersRequest) -> v.Orders:
    """Return working orders (including bracket children waiting for their parent)."""
    rows = await (await client_of(ctx)).live_orders()
    orders = [to_order(r) for r in rows]
    orders = [o for o in orders if o.status in LIVE]
    if req.instrument is not None:
        orders = [o for o in orders if o.instrument.upper() == req.instrument.upper()]
    return v.Orders(orders=orders[: req.limit], has_more=len(orders) > req.limit, data_timestamp=utcnow())


# --- writes -----------------------------------------------------------------------------------


def ibkr_order(
    conid: int,
    side: str,
    order_type: str,
    quantity: Decimal,
    *,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    trailing_amount: Decimal | None = None,
    tif: str = "gtc",
    client_order_id: str | None = None,
    parent_id: str | None = None,
    single_group: bool = False,
    outside_rth: bool = False,
) -> dict[str, Any]:
    """Build one Client Portal order (STP's stop in `price`, STOP_LIMIT's stop and trailing amounts in `auxPrice`)."""
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
        body["auxPrice"] = float(trailing_amount or 0)
        if price is not None:
            body["price"] = float(price)
        body["trailingType"] = "amt"
    elif price is not None:
        body["price"] = float(price)
    if client_order_id:
        body["cOID"] = client_order_id
    if parent_id:
        body["parentId"] = parent_id
    if single_group:
        body["isSingleGroup"] = True
    return {k: x for k, x in body.items() if x is not None}


def check_ticks(*pairs: tuple[str, Decimal | None]) -> None:
    """Refuse prices off the 0.01 tick before anything is sent."""
    for name, value in pairs:
        check_increment(name, value, TICK)


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
                info={"parentId": sent.get("parentId"), "isSingleGroup": sent.get("isSingleGroup", False)},
            )
        )
    return orders


@TOOLS.write("place_order", target="instrument", exposure=leverage_cap.order_exposure)
async def place_order(ctx: ToolContext, req: s.IbkrPlaceOrderRequest) -> v.OrderResult:
    """Place an order: LMT, MKT, STP, STOP_LIMIT, TRAIL or TRAILLMT; client_order_id is IBKR's cOID."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    check_ticks(("price", req.price), ("stop_price", req.stop_price))
    check_increment("quantity", req.quantity, LOT, minimum=LOT)
    if req.reduce_only:
        await reduce_only_guard(client, conid, req.side, req.quantity)
    order = ibkr_order(
        conid,
        req.side,
        req.type,
        req.quantity,
        price=req.price,
        stop_price=req.stop_price,
        trailing_amount=req.trailing_amount,
        tif=req.time_in_force,
        client_order_id=req.client_order_id,
        outside_rth=req.outside_rth,
    )
    if req.dry_run:
        preview = accepted([{"order_id": "dry-run", "order_status": "PreSubmitted"}], [order], req.instrument)[0]
        return v.OrderResult(order=preview, dry_run=True, would_send={"orders": [order]}, data_timestamp=utcnow())
    rows = await client.place_orders([order])
    return await with_fills(client, accepted(rows, [order], req.instrument)[0], rows)


async def with_fills(client: IbkrClient, placed: v.Order, reply: list[dict[str, Any]]) -> v.OrderResult:
    """Complete an accepted order with its current state and executions (the reply carries neither)."""
    live = next((r for r in await client.live_orders() if str(r.get("orderId")) == placed.order_id), None)
    order = placed
    if live is not None:
        state = to_order(live)
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


async def _live_order(client: IbkrClient, order_id: str) -> dict[str, Any]:
    row = next((r for r in await client.live_orders() if str(r.get("orderId")) == order_id), None)
    if row is None:
        raise OrderNotFoundError(f"ibkr: no working order {order_id}", suggested_fix="list them with get_open_orders")
    return row


@TOOLS.write("amend_order", target="order_id")
async def amend_order(ctx: ToolContext, req: s.IbkrAmendOrderRequest) -> v.OrderResult:
    """Change the quantity or prices of a working order (IBKR takes the whole order again)."""
    client = await client_of(ctx)
    current = to_order(await _live_order(client, req.order_id))
    check_ticks(("price", req.price), ("stop_price", req.stop_price))
    conid = int(current.info.get("conid") or await client.conid(current.instrument))
    order = ibkr_order(
        conid,
        current.side,
        current.type if current.type in s.ORDER_TYPE else "limit",
        req.quantity or current.quantity,
        price=req.price or current.price,
        stop_price=req.stop_price or current.stop_price,
        tif=current.time_in_force or "gtc",
    )
    rows = await client.modify_order(req.order_id, order)
    result = accepted([{**rows[0], "order_id": req.order_id}], [order], current.instrument)[0]
    return v.OrderResult(order=result, info={"reply": rows}, data_timestamp=utcnow())


@TOOLS.write("cancel_order", target="order_id", reduces_risk=True)
async def cancel_order(ctx: ToolContext, req: s.IbkrCancelOrderRequest) -> v.OrderResult:
    """Cancel one working order."""
    client = await client_of(ctx)
    current = to_order(await _live_order(client, req.order_id))
    answer = await client.cancel_order(req.order_id)
    return v.OrderResult(
        order=current.model_copy(update={"status": "cancelled"}), info={"reply": answer}, data_timestamp=utcnow()
    )


@TOOLS.write("cancel_all_orders", target="instrument", reduces_risk=True)
async def cancel_all_orders(ctx: ToolContext, req: s.IbkrCancelAllRequest) -> v.CancelAllResult:
    """Cancel every working order, or those of one instrument."""
    client = await client_of(ctx)
    count = 0
    for row in await client.live_orders():
        order = to_order(row)
        if order.status not in LIVE:
            continue
        if req.instrument is not None and order.instrument.upper() != req.instrument.upper():
            continue
        await client.cancel_order(order.order_id)
        count += 1
    return v.CancelAllResult(cancelled=count, data_timestamp=utcnow())


async def _close(
    client: IbkrClient, instrument: str, conid: int, size: Decimal, client_order_id: str | None
) -> v.ClosePositionResult:
    if size == 0:
        return v.ClosePositionResult(instrument=instrument, was_flat=True, data_timestamp=utcnow())
    order = ibkr_order(
        conid, "sell" if size > 0 else "buy", "market", abs(size), tif="day", client_order_id=client_order_id
    )
    rows = await client.place_orders([order])
    placed = accepted(rows, [order], instrument)[0].model_copy(update={"reduce_only": True})
    result = await with_fills(client, placed, rows)
    return v.ClosePositionResult(
        instrument=instrument,
        was_flat=False,
        order=result.model_copy(update={"order": result.order.model_copy(update={"reduce_only": True})}),
        data_timestamp=utcnow(),
    )


@TOOLS.write("close_position", target="instrument", reduces_risk=True)
async def close_position(ctx: ToolContext, req: s.IbkrClosePositionRequest) -> v.ClosePositionResult:
    """Flatten one position with a market order for its exact size."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    size = await client.position_size(conid)
    if req.type == "limit":
        raise InvalidInputError("ibkr closes with market orders; send a reduce_only limit place_order instead")
    return await _close(client, req.instrument, conid, size, req.client_order_id)


@TOOLS.write("close_all_positions", target="client_order_id", reduces_risk=True)
async def close_all_positions(ctx: ToolContext, req: s.CloseAllRequest) -> s.CloseAllResult:
    """Flatten every position with market orders."""
    client = await client_of(ctx)
    results = []
    for index, row in enumerate(await client.positions()):
        size = Decimal(str(row.get("position", 0)))
        if size == 0:
            continue
        coid = f"{req.client_order_id}-{index}" if req.client_order_id else None
        results.append(await _close(client, to_position(row).instrument, int(row["conid"]), size, coid))
    return s.CloseAllResult(results=results, data_timestamp=utcnow())


@TOOLS.write("place_bracket_order", target="instrument")
async def place_bracket_order(ctx: ToolContext, req: s.BracketRequest) -> s.LinkedOrders:
    """Entry plus take-profit and stop-loss: children carry parentId = the entry's cOID, opposite side."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    check_ticks(
        ("entry_price", req.entry_price),
        ("take_profit_price", req.take_profit_price),
        ("stop_loss_price", req.stop_loss_price),
    )
    exit_side = "sell" if req.side == "buy" else "buy"
    parent = ibkr_order(
        conid,
        req.side,
        req.entry_type,
        req.quantity,
        price=req.entry_price,
        tif=req.time_in_force,
        client_order_id=req.client_order_id,
    )
    take_profit = ibkr_order(
        conid, exit_side, "limit", req.quantity, price=req.take_profit_price, tif="gtc", parent_id=req.client_order_id
    )
    stop_loss = ibkr_order(
        conid,
        exit_side,
        "stop_market",
        req.quantity,
        stop_price=req.stop_loss_price,
        tif="gtc",
        parent_id=req.client_order_id,
    )
    orders = [parent, take_profit, stop_loss]
    rows = await client.place_orders(orders)
    return s.LinkedOrders(orders=accepted(rows, orders, req.instrument), info={"reply": rows}, data_timestamp=utcnow())


@TOOLS.write("place_oco_order", target="client_order_id")
async def place_oco_order(ctx: ToolContext, req: s.OcoRequest) -> s.LinkedOrders:
    """Orders of which the first to fill cancels the others (isSingleGroup)."""
    client = await client_of(ctx)
    orders = []
    for index, leg in enumerate(req.orders):
        check_ticks(("price", leg.price), ("stop_price", leg.stop_price))
        coid = leg.client_order_id or (f"{req.client_order_id}-{index}" if req.client_order_id else None)
        orders.append(
            ibkr_order(
                await client.conid(leg.instrument),
                leg.side,
                leg.type,
                leg.quantity,
                price=leg.price,
                stop_price=leg.stop_price,
                client_order_id=coid,
                single_group=True,
            )
        )
    rows = await client.place_orders(orders)
    return s.LinkedOrders(
        orders=accepted(rows, orders, req.orders[0].instrument), info={"reply": rows}, data_timestamp=utcnow()
    )


@TOOLS.write("place_oto_order", target="client_order_id")
async def place_oto_order(ctx: ToolContext, req: s.OtoRequest) -> s.LinkedOrders:
    """A trigger and a child that works once it fills; if the child is refused the trigger is cancelled."""
    client = await client_of(ctx)
    trigger_conid = await client.conid(req.trigger.instrument)
    check_ticks(("price", req.trigger.price), ("stop_price", req.trigger.stop_price))
    check_ticks(("price", req.child.price), ("stop_price", req.child.stop_price))
    trigger = ibkr_order(
        trigger_conid,
        req.trigger.side,
        req.trigger.type,
        req.trigger.quantity,
        price=req.trigger.price,
        stop_price=req.trigger.stop_price,
        client_order_id=req.client_order_id,
    )
    child = ibkr_order(
        await client.conid(req.child.instrument),
        req.child.side,
        req.child.type,
        req.child.quantity,
        price=req.child.price,
        stop_price=req.child.stop_price,
        parent_id=req.client_order_id,
    )
    trigger_rows = await client.place_orders([trigger])
    try:
        child_rows = await client.place_orders([child])
    except Exception as exc:
        trigger_id = str(trigger_rows[0].get("order_id"))
        await client.cancel_order(trigger_id)
        message = getattr(exc, "message", str(exc))
        raise InvalidOrderError(
            f"the OTO child was refused ({message}); the trigger order {trigger_id} was cancelled",
            details={"trigger_order_id": trigger_id, "trigger_cancelled": True},
        ) from exc
    return s.LinkedOrders(
        orders=accepted(trigger_rows + child_rows, [trigger, child], req.trigger.instrument),
        info={"reply": trigger_rows + child_rows},
        data_timestamp=utcnow(),
    )
