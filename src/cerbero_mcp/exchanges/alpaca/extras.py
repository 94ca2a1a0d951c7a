"""Alpaca's own tools: snapshots, option chains with greeks, the market clock and calendar, activities, close-all."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import UpstreamError
from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.client import to_decimal
from cerbero_mcp.exchanges.alpaca.mapping import info_of, parse_time, to_order
from cerbero_mcp.exchanges.alpaca.market import snapshots_of, to_bar
from cerbero_mcp.exchanges.alpaca.symbols import parse_occ
from cerbero_mcp.exchanges.alpaca.toolset import TOOLS, client_of
from cerbero_mcp.tooling import ToolContext

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)
CALENDAR_DAYS_DEFAULT = 14


def to_snapshot(symbol: str, raw: dict[str, Any]) -> s.InstrumentSnapshot:
    """Return one instrument's snapshot from Alpaca's latestTrade, latestQuote, minuteBar, dailyBar, prevDailyBar."""
    trade, quote = raw.get("latestTrade") or {}, raw.get("latestQuote") or {}
    price, size = to_decimal(trade.get("p")), to_decimal(trade.get("s"))
    return s.InstrumentSnapshot(
        instrument=symbol,
        latest_trade=s.Trade(price=price, size=size, time=parse_time(trade.get("t"))) if price and size else None,
        latest_quote=(
            s.Quote(
                bid=to_decimal(quote.get("bp")),
                bid_size=to_decimal(quote.get("bs")),
                ask=to_decimal(quote.get("ap")),
                ask_size=to_decimal(quote.get("as")),
                time=parse_time(quote.get("t")),
            )
            if quote
            else None
        ),
        minute_bar=to_bar(raw["minuteBar"]) if isinstance(raw.get("minuteBar"), dict) else None,
        daily_bar=to_bar(raw["dailyBar"]) if isinstance(raw.get("dailyBar"), dict) else None,
        prev_daily_bar=to_bar(raw["prevDailyBar"]) if isinstance(raw.get("prevDailyBar"), dict) else None,
        info=info_of({"trade": trade, "quote": quote}),
    )


@TOOLS.read("get_snapshot")
async def get_snapshot(ctx: ToolContext, req: s.AlpacaSnapshotRequest) -> s.Snapshots:
    """Return latest trade, quote, minute bar, daily bar and previous daily bar of up to 50 instruments."""
    client = await client_of(ctx)
    symbols = list(dict.fromkeys(req.instruments))
    raw = await snapshots_of(client, symbols)
    found = [to_snapshot(symbol, raw[symbol]) for symbol in symbols if isinstance(raw.get(symbol), dict)]
    return s.Snapshots(
        snapshots=found, missing=[symbol for symbol in symbols if not raw.get(symbol)], data_timestamp=utcnow()
    )


def to_chain_option(symbol: str, raw: dict[str, Any]) -> s.ChainOption:
    """Return one contract of an option-chain snapshot (greeks and implied volatility as Alpaca computes them)."""
    parts = parse_occ(symbol)
    quote, trade, greeks = raw.get("latestQuote") or {}, raw.get("latestTrade") or {}, raw.get("greeks")
    return s.ChainOption(
        symbol=symbol,
        expiry=parts.expiry if parts else None,
        right=parts.right if parts else None,
        strike=parts.strike if parts else None,
        bid=to_decimal(quote.get("bp")),
        ask=to_decimal(quote.get("ap")),
        last=to_decimal(trade.get("p")),
        implied_volatility=to_decimal(raw.get("impliedVolatility")),
        greeks=(
            s.Greeks(**{key: to_decimal(greeks.get(key)) for key in ("delta", "gamma", "theta", "vega", "rho")})
            if isinstance(greeks, dict)
            else None
        ),
        info=info_of({"quote": quote, "trade": trade}),
    )


@TOOLS.read("get_option_chain")
async def get_option_chain(ctx: ToolContext, req: s.AlpacaOptionChainRequest) -> s.AlpacaOptionChain:
    """Return an underlying's option contracts with quotes, greeks and implied volatility, by expiry and strike."""
    client = await client_of(ctx)
    params = {
        "feed": req.feed,
        "type": req.type,
        "expiration_date": req.expiration_date.isoformat() if req.expiration_date else None,
        "expiration_date_gte": req.expiration_date_gte.isoformat() if req.expiration_date_gte else None,
        "expiration_date_lte": req.expiration_date_lte.isoformat() if req.expiration_date_lte else None,
        "strike_price_gte": req.strike_price_gte,
        "strike_price_lte": req.strike_price_lte,
        "limit": req.limit,
        "page_token": req.page_token,
    }
    page = await client.option_chain(req.underlying.upper(), params)
    snapshots = page.get("snapshots") or {}
    options = [to_chain_option(symbol, raw) for symbol, raw in snapshots.items() if isinstance(raw, dict)]
    options.sort(key=lambda o: (o.expiry or date.max, o.strike if o.strike is not None else 0, o.right or ""))
    return s.AlpacaOptionChain(
        underlying=req.underlying.upper(),
        options=options,
        next_page_token=page.get("next_page_token") or None,
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_clock")
async def get_clock(ctx: ToolContext, req: s.AlpacaClockRequest) -> s.AlpacaClock:
    """Say whether the US equity market is open now, and when it next opens and closes (UTC)."""
    client = await client_of(ctx)
    raw = await client.clock()
    if "is_open" not in raw:
        raise UpstreamError("alpaca: /v2/clock answered without is_open", details={"venue": "alpaca"})
    stamp = parse_time(raw.get("timestamp"))
    return s.AlpacaClock(
        is_open=bool(raw["is_open"]),
        timestamp=stamp,
        next_open=parse_time(raw.get("next_open")),
        next_close=parse_time(raw.get("next_close")),
        data_timestamp=stamp or utcnow(),
    )


def _new_york(day: date, clock: str | None) -> datetime | None:
    """Return a New York wall time ("09:30" or "0930") on `day` as UTC."""
    if not clock:
        return None
    digits = clock.replace(":", "")
    if len(digits) != 4 or not digits.isdigit():
        return None
    local = datetime.combine(day, time(int(digits[:2]), int(digits[2:])), tzinfo=NEW_YORK)
    return local.astimezone(UTC)


def to_trading_day(raw: dict[str, Any]) -> s.TradingDay | None:
    """Return one calendar day (New York times on the wire) in UTC, None when malformed."""
    try:
        day = date.fromisoformat(str(raw.get("date")))
    except ValueError:
        return None
    opens, closes = _new_york(day, raw.get("open")), _new_york(day, raw.get("close"))
    if opens is None or closes is None:
        return None
    return s.TradingDay(
        date=day,
        open=opens,
        close=closes,
        session_open=_new_york(day, raw.get("session_open")),
        session_close=_new_york(day, raw.get("session_close")),
        early_close=closes.astimezone(NEW_YORK).time() < REGULAR_CLOSE,
    )


@TOOLS.read("get_calendar")
async def get_calendar(ctx: ToolContext, req: s.CalendarRequest) -> s.Calendar:
    """Return the trading days of a window with their sessions and early closes (UTC times)."""
    client = await client_of(ctx)
    start = req.start or utcnow().astimezone(NEW_YORK).date()
    end = req.end or start + timedelta(days=CALENDAR_DAYS_DEFAULT)
    rows = await client.calendar(start.isoformat(), end.isoformat())
    days = [day for row in rows if isinstance(row, dict) and (day := to_trading_day(row)) is not None]
    return s.Calendar(days=days, data_timestamp=utcnow())


def to_activity(raw: dict[str, Any]) -> s.Activity:
    """Return one account activity: a fill (FILL) or a non-trade activity (dividends, fees, transfers...)."""
    stamp = parse_time(raw.get("transaction_time"))
    if stamp is None and raw.get("date"):
        try:
            stamp = datetime.combine(date.fromisoformat(str(raw["date"])[:10]), time(), tzinfo=UTC)
        except ValueError:
            stamp = None
    return s.Activity(
        activity_id=str(raw.get("id")),
        activity_type=str(raw.get("activity_type")),
        time=stamp,
        instrument=raw.get("symbol"),
        side=raw.get("side"),
        quantity=to_decimal(raw.get("qty")),
        price=to_decimal(raw.get("price")),
        order_id=raw.get("order_id"),
        net_amount=to_decimal(raw.get("net_amount")),
        info=info_of(raw, "id", "activity_type", "symbol", "side", "qty", "price"),
    )


@TOOLS.read("get_activities")
async def get_activities(ctx: ToolContext, req: s.AlpacaActivitiesRequest) -> s.AlpacaActivities:
    """Return account activities (fills by default: price, quantity, side, order), newest first, paged."""
    ctx.require_credentials()
    client = await client_of(ctx)
    params = {
        "activity_types": ",".join(req.activity_types),
        "after": req.after.strftime("%Y-%m-%dT%H:%M:%SZ") if req.after else None,
        "until": req.until.strftime("%Y-%m-%dT%H:%M:%SZ") if req.until else None,
        "direction": req.direction,
        "page_size": req.page_size,
        "page_token": req.page_token,
    }
    rows = [row for row in await client.activities(params) if isinstance(row, dict)]
    # Alpaca pages by the last activity's id: a full page may have a next one.
    token = str(rows[-1].get("id")) if len(rows) >= req.page_size and rows[-1].get("id") else None
    activities = [to_activity(row) for row in rows]
    return s.AlpacaActivities(activities=activities, next_page_token=token, data_timestamp=utcnow())


@TOOLS.write("close_all_positions", risk="reduces", target="client_order_id")
async def close_all_positions(ctx: ToolContext, req: s.AlpacaCloseAllRequest) -> s.AlpacaCloseAllResult:
    """Flatten every position with market orders (Alpaca's 207: one status per position)."""
    ctx.require_credentials()
    client = await client_of(ctx)
    results = []
    for row in await client.close_all_positions(req.cancel_orders):
        status = int(row.get("status") or 0)
        body: dict[str, Any] = row["body"] if isinstance(row.get("body"), dict) else {}
        ok = 200 <= status < 300 and bool(body.get("id"))
        results.append(
            s.CloseOutcome(
                instrument=str(row.get("symbol")),
                status=status,
                order=to_order(body) if ok else None,
                message=None if ok else str(body.get("message") or f"HTTP {status}"),
            )
        )
    return s.AlpacaCloseAllResult(results=results, data_timestamp=utcnow())
