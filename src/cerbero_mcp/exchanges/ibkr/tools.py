"""IBKR tools: the common vocabulary on the Client Portal API, streaming, and linked orders.

The standard tools (environment_info, get_orderbook, get_bars, get_indicators,
get_orderbook_imbalance) come from `base.register_standard_tools` with this venue's PROFILE;
`cerbero_mcp.exchanges.registry.installed_toolsets()` imports this module for `TOOLS` (declared in `toolset`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.base import VenueProfile, default_capabilities, order_legs, register_standard_tools
from cerbero_mcp.exchanges.ibkr import exposure
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.ibkr.mapping import size_lot_of, to_order, to_position
from cerbero_mcp.exchanges.ibkr.market import book_from_depth, fetch_bars, fetch_book
from cerbero_mcp.exchanges.ibkr.orders import LOT, accepted, check_ticks, ibkr_order, reduce_only_guard, with_fills
from cerbero_mcp.exchanges.ibkr.status import cancel_outcome, order_now, working_row
from cerbero_mcp.exchanges.ibkr.toolset import TOOLS, client_of
from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal
from cerbero_mcp.exchanges.validation import check_increment
from cerbero_mcp.tooling import ToolContext

__all__ = ["TOOLS"]
LIVE = {"open", "partially_filled", "untriggered"}
PROFILE = VenueProfile(
    title="IBKR",
    example_instrument="AAPL",
    fetch_bars=fetch_bars,
    fetch_book=fetch_book,
    capabilities=default_capabilities(
        post_only=False, trailing_stop=True, bracket_orders=True, oco_orders=True, oto_orders=True, streaming=True
    ),
    info={"instruments": "stock symbols (AAPL) or conid:<n>", "time_in_force": ["gtc", "day", "ioc"]},
)
environment_info, get_orderbook, get_bars, get_indicators, get_orderbook_imbalance = register_standard_tools(
    TOOLS, PROFILE
)


# --- market data --------------------------------------------------------------------------------


def scaled(value: Decimal | None, lot: Decimal) -> Decimal | None:
    """Return a size in shares or contracts from IBKR's displayed size (US stocks show lots of 100)."""
    return value * lot if value is not None else None


def ticker_from_row(instrument: str, row: dict[str, Any], size_lot: Decimal = Decimal(1)) -> v.Ticker:
    """Map a snapshot row to the common ticker (sizes 88/85 times `size_lot`, the conid chosen in `info`)."""
    updated = row.get("_updated")
    return v.Ticker(
        instrument=instrument,
        bid=field_decimal(row.get("84")),
        ask=field_decimal(row.get("86")),
        bid_size=scaled(field_decimal(row.get("88")), size_lot),
        ask_size=scaled(field_decimal(row.get("85")), size_lot),
        last=field_decimal(row.get("31")),
        mark=field_decimal(row.get("31")),
        # The raw sizes stay in info with the unit they were read in (IBKR shows US stocks in lots of 100).
        info={k: row[k] for k in row if k in ("conid", "55", "88", "85", "7295", "7296", "_updated")}
        | {"size_lot": size_lot},
        data_timestamp=datetime.fromtimestamp(int(updated) / 1000, UTC) if updated else utcnow(),
    )


async def size_lot(client: IbkrClient, conid: int) -> Decimal:
    """Return the unit of a conid's snapshot sizes (info-and-rules, cached)."""
    return size_lot_of(await client.contract_rules(conid))


@TOOLS.read("get_ticker")
async def get_ticker(ctx: ToolContext, req: s.IbkrInstrumentRequest) -> v.Ticker:
    """Return last, bid, ask and sizes (in shares or contracts) of one instrument from a market-data snapshot."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    rows = await client.snapshot([conid])
    row = {**(rows[0] if rows else {}), "conid": conid}
    return ticker_from_row(req.instrument, row, await size_lot(client, conid))


@TOOLS.read("get_snapshot")
async def get_snapshot(ctx: ToolContext, req: s.SnapshotRequest) -> s.Snapshot:
    """Return snapshots of several instruments in one call."""
    client = await client_of(ctx)
    conids = [await client.conid(name) for name in req.instruments]
    rows = {int(row.get("conid", 0)): row for row in await client.snapshot(conids)}
    quotes = [
        ticker_from_row(name, {**rows.get(c, {}), "conid": c}, await size_lot(client, c))
        for name, c in zip(req.instruments, conids, strict=True)
    ]
    return s.Snapshot(quotes=quotes, data_timestamp=utcnow())


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
            # Search's `description` of a hit is its listing exchange: several listings share a symbol.
            info={"exchange": r.get("description"), **{k: r[k] for k in ("companyHeader",) if k in r}},
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
    spot = await exposure.reference_price(client, conid)
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
        next_open=next_open.astimezone(UTC) if next_open else None,
        next_close=next_close.astimezone(UTC) if next_close else None,
        sessions=[s.ClockSession(open=o.astimezone(UTC), close=c.astimezone(UTC)) for o, c in sessions],
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
    lot = await size_lot(client, conid)
    return s.StreamTick(
        instrument=req.instrument,
        conid=conid,
        last=tick.last,
        bid=tick.bid,
        ask=tick.ask,
        bid_size=scaled(tick.bid_size, lot),
        ask_size=scaled(tick.ask_size, lot),
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
    amount = exposure.amount
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
    client = await client_of(ctx)
    rows = await client.trades(req.days)
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


@TOOLS.read("get_open_orders")
async def get_open_orders(ctx: ToolContext, req: s.IbkrOpenOrdersRequest) -> v.Orders:
    """Return working orders (including bracket children waiting for their parent)."""
    client = await client_of(ctx)
    rows = await client.live_orders()  # IBKR allows 1 read per 5 s: a second read waits for its window
    orders = [to_order(r) for r in rows]
    orders = [o for o in orders if o.status in LIVE]
    if req.instrument is not None:
        orders = [o for o in orders if o.instrument.upper() == req.instrument.upper()]
    return v.Orders(orders=orders[: req.limit], has_more=len(orders) > req.limit, data_timestamp=utcnow())


# --- writes -----------------------------------------------------------------------------------


@TOOLS.write("place_order", risk="opens", legs=order_legs, target="instrument")
async def place_order(ctx: ToolContext, req: s.IbkrPlaceOrderRequest) -> v.OrderResult:
    """Place an order: LMT, MKT, STP, STOP_LIMIT, TRAIL or TRAILLMT; client_order_id is IBKR's cOID."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    await check_ticks(
        client, conid, ("price", req.price), ("stop_price", req.stop_price), ("trailing_amount", req.trailing_amount)
    )
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


async def _live_order(client: IbkrClient, order_id: str) -> dict[str, Any]:
    # One order by its status: the list needs a pre-flight and is paced at 1 request per 5 s.
    return await working_row(client, order_id)


TRAILING = ("trailing_stop", "trailing_limit")


def _trail_from(row: dict[str, Any]) -> tuple[Decimal, str] | None:
    amount = field_decimal(row.get("trailingAmount", row.get("trailing_amount")))
    kind = str(row.get("trailingType", row.get("trailing_type")) or "amt").lower()
    return (amount, kind) if amount is not None and amount > 0 else None


async def _trail_of(
    client: IbkrClient, order_id: str, row: dict[str, Any], requested: Decimal | None
) -> tuple[Decimal, str]:
    """Return the trail an amend sends: the one asked for, else the working order's own."""
    if requested is not None:
        return requested, "amt"
    trail = _trail_from(row)
    if trail is None:  # the order's status may not carry it; the live list does
        listed = next((r for r in await client.live_orders() if str(r.get("orderId")) == order_id), {})
        trail = _trail_from(listed)
    if trail is None:
        raise InvalidInputError(
            f"ibkr did not say the trailing amount of order {order_id}", suggested_fix="send trailing_amount"
        )
    return trail


def _amended_price(kind: str, requested: Decimal | None, current: Decimal | None) -> Decimal | None:
    """Return the price an amend repeats (a trailing stop has none; a trailing limit's is its offset)."""
    if kind == "trailing_stop":
        if requested is not None:
            raise InvalidInputError("price does not apply to a trailing_stop order")
        return None
    if kind == "trailing_limit":
        if requested is None:
            # The list shows the current limit, not the offset IBKR was sent: repeating it would move the limit.
            raise InvalidInputError("send price (the limit offset) when amending a trailing_limit order")
        return requested
    return requested or current


@TOOLS.write("amend_order", risk="opens", legs=exposure.amend_legs, target="order_id")
async def amend_order(ctx: ToolContext, req: s.IbkrAmendOrderRequest) -> v.OrderResult:
    """Change the quantity or prices of a working order (IBKR takes the whole order again)."""
    client = await client_of(ctx)
    row = await _live_order(client, req.order_id)
    current = to_order(row)
    conid = int(current.info.get("conid") or await client.conid(current.instrument))
    await check_ticks(
        client, conid, ("price", req.price), ("stop_price", req.stop_price), ("trailing_amount", req.trailing_amount)
    )
    kind = current.type if current.type in s.ORDER_TYPE else "limit"
    trail: tuple[Decimal, str] | None = None
    if kind in TRAILING:
        # IBKR takes the whole order again: a trail left out would be sent as none at all.
        trail = await _trail_of(client, req.order_id, row, req.trailing_amount)
        if req.stop_price is not None:
            raise InvalidInputError(f"stop_price does not apply to a {kind} order: send trailing_amount")
    elif req.trailing_amount is not None:
        raise InvalidInputError(f"trailing_amount does not apply to a {kind} order")
    order = ibkr_order(
        conid,
        current.side,
        kind,
        req.quantity or current.quantity,
        price=_amended_price(kind, req.price, current.price),
        stop_price=(req.stop_price or current.stop_price) if kind not in TRAILING else None,
        trailing_amount=trail[0] if trail else None,
        trailing_type=trail[1] if trail else "amt",
        tif=current.time_in_force or "gtc",
    )
    rows = await client.modify_order(req.order_id, order)
    result = accepted([{**rows[0], "order_id": req.order_id}], [order], current.instrument)[0]
    return v.OrderResult(order=result, info={"reply": rows}, data_timestamp=utcnow())


@TOOLS.write("cancel_order", target="order_id")
async def cancel_order(ctx: ToolContext, req: s.IbkrCancelOrderRequest) -> v.OrderResult:
    """Cancel one working order."""
    client = await client_of(ctx)
    current = to_order(await _live_order(client, req.order_id))
    # Straight to DELETE: IBKR answers "Request was submitted", so the order's status is read again.
    answer = await client.cancel_order(req.order_id)
    try:
        after = await order_now(client, req.order_id)
    except CerberoError:
        # The cancel went out and was accepted; only its confirmation could not be read.
        after = current.model_copy(update={"info": {**current.info, "status_unconfirmed": True}})
    return v.OrderResult(order=after, info={"reply": answer}, data_timestamp=utcnow())


@TOOLS.write("cancel_all_orders", target="instrument")
async def cancel_all_orders(ctx: ToolContext, req: s.IbkrCancelAllRequest) -> v.CancelAllResult:
    """Cancel every working order, or those of one instrument."""
    client = await client_of(ctx)
    count = 0
    for row in await client.live_orders():  # read now (after the list's pre-flight): nothing missed
        order = to_order(row)
        if order.status not in LIVE:
            continue
        if req.instrument is not None and order.instrument.upper() != req.instrument.upper():
            continue
        try:
            await client.cancel_order(order.order_id)
        except CerberoError as exc:
            # Cancelling a bracket's parent cancels its children, still listed: "already cancelled" is done.
            outcome = cancel_outcome(exc)
            if outcome is None:
                raise
            if outcome == "done":
                continue  # it filled meanwhile: nothing left to cancel, and nothing was cancelled
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


@TOOLS.write("close_position", target="instrument")
async def close_position(ctx: ToolContext, req: s.IbkrClosePositionRequest) -> v.ClosePositionResult:
    """Flatten one position with a market order for its exact size."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    size = await client.position_size(conid)
    if req.type == "limit":
        raise InvalidInputError("ibkr closes with market orders; send a reduce_only limit place_order instead")
    return await _close(client, req.instrument, conid, size, req.client_order_id)


@TOOLS.write("close_all_positions", target="client_order_id")
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


# Registered after the common vocabulary, so /apidocs and MCP list the common tools first.
from cerbero_mcp.exchanges.ibkr import linked as _linked  # noqa: E402,F401  registers the linked-order tools
