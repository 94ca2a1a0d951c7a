"""Market tools: equity index futures and asset prices (latest, change, observation time) and the economic calendar.

Sources chosen (official APIs only):
- ES, NQ, YM, RTY: Finnhub /quote of the ETF that tracks each future's index (SPY, QQQ, DIA, IWM). No
  official free API serves the futures themselves (Finnhub's futures data is not on its quote endpoint, CME's
  is licensed), so each answer says `proxy: true` and names the symbol it read.
- US2Y, US10Y, US30Y: the Treasury's daily par yield curve (keyless, end of day).
- DOLLAR (DTWEXBGS, broad dollar index), WTI (DCOILWTICO), VIX (VIXCLS), BTC (CBBTCUSD, Coinbase): FRED daily
  series, end of day and published a day or more later; each answer says so (`end_of_day`, `age_s`).
- GOLD: Finnhub /quote of GLD (an ETF proxy; FRED's London gold fixes were discontinued in 2022).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import NotConfiguredError, NotFoundError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.macro.client import FINNHUB, MacroClient
from cerbero_mcp.exchanges.macro.parsing import parse_finnhub_calendar, parse_finnhub_quote
from cerbero_mcp.exchanges.macro.rates import LATEST_LOOKBACK_DAYS, page_of, too_long
from cerbero_mcp.exchanges.macro.schemas import (
    MAX_CALENDAR_RANGE_DAYS,
    AssetPricesRequest,
    CalendarEvent,
    EconomicCalendar,
    EconomicCalendarRequest,
    EquityFuturesRequest,
    Quote,
    Quotes,
)
from cerbero_mcp.exchanges.macro.sources import (
    TREASURY_SOURCE,
    curve_days,
    day_start,
    fred_page,
    fred_source,
)
from cerbero_mcp.exchanges.macro.toolset import client_of, macro_tool
from cerbero_mcp.exchanges.providers import Source

# Quotes move by the second and Finnhub's free plan allows 60 calls a minute: a minute of cache keeps a
# burst of agents within it. The calendar's actuals arrive at release time: five minutes.
QUOTES_TTL_S = 60.0
CALENDAR_TTL_S = 300.0
FUTURE_PROXIES = {"ES": "SPY", "NQ": "QQQ", "YM": "DIA", "RTY": "IWM"}
TREASURY_TENORS = {"US2Y": ("2Y", "BC_2YEAR"), "US10Y": ("10Y", "BC_10YEAR"), "US30Y": ("30Y", "BC_30YEAR")}
FRED_ASSETS = {
    "DOLLAR": ("DTWEXBGS", "index"),
    "WTI": ("DCOILWTICO", "USD"),
    "VIX": ("VIXCLS", "index"),
    "BTC": ("CBBTCUSD", "USD"),
}
FINNHUB_ASSETS = {"GOLD": "GLD"}
# FRED publishes these daily closes the next business day at the earliest.
FRED_DAILY_DELAY_S = 86400.0
FRED_RECENT_POINTS = 10
FINNHUB_QUOTE_SOURCE = Source(name=FINNHUB.name, url=FINNHUB.url)
FINNHUB_CALENDAR_SOURCE = Source(name=FINNHUB.name, url="https://finnhub.io/docs/api/economic-calendar")


def _age(observed_at: datetime) -> float:
    return round(max(0.0, (utcnow() - observed_at).total_seconds()), 3)


async def finnhub_quote(client: MacroClient, instrument: str, symbol: str, note: str) -> Quote:
    """Return the Finnhub quote of `symbol` as the quote of `instrument` (an ETF proxy)."""
    quote = parse_finnhub_quote(symbol, await client.finnhub_quote(symbol))
    return Quote(
        instrument=instrument,
        symbol=symbol,
        proxy=True,
        value=quote.last,
        unit="USD",
        change=quote.change,
        change_pct=quote.change_pct,
        previous=quote.previous_close,
        end_of_day=False,
        source=FINNHUB_QUOTE_SOURCE,
        observed_at=quote.observed_at,
        age_s=_age(quote.observed_at),
        note=note,
    )


@macro_tool("get_equity_futures", QUOTES_TTL_S)
async def get_equity_futures(ctx: ToolContext, req: EquityFuturesRequest) -> Quotes:
    """Return ES, NQ, YM and RTY: latest value, change and observation time (needs FINNHUB_API_KEY).

    Each future is read through the ETF tracking its index on Finnhub (SPY, QQQ, DIA, IWM), flagged `proxy`.
    """
    client = await client_of(ctx)
    client.finnhub.secret()
    quotes = [
        await finnhub_quote(client, contract, FUTURE_PROXIES[contract], f"ETF proxy for the {contract} future's index")
        for contract in dict.fromkeys(req.contracts)
    ]
    return Quotes(quotes=quotes)


def _require(client: MacroClient, assets: Sequence[str]) -> None:
    missing: dict[str, list[str]] = {}
    for asset in assets:
        if asset in FRED_ASSETS and not client.fred.configured:
            missing.setdefault("FRED_API_KEY", []).append(asset)
        if asset in FINNHUB_ASSETS and not client.finnhub.configured:
            missing.setdefault("FINNHUB_API_KEY", []).append(asset)
    if missing:
        names = ", ".join(missing)
        raise NotConfiguredError(
            f"macro: set {names} for {', '.join(a for v in missing.values() for a in v)}",
            details={"missing": list(missing), "assets": missing},
            suggested_fix=f"add {names} to .env and restart, or ask only for assets whose source is configured"
            " (US2Y, US10Y and US30Y need no key)",
        )


async def _fred_quote(client: MacroClient, asset: str) -> Quote:
    series_id, unit = FRED_ASSETS[asset]
    page = await fred_page(client, {"series_id": series_id, "sort_order": "desc", "limit": FRED_RECENT_POINTS})
    known = [point for point in page.points if point.value is not None]
    if not known:
        raise NotFoundError(f"FRED: {series_id} has no recent value", details={"series_id": series_id})
    latest, previous = known[0], (known[1] if len(known) > 1 else None)
    return _daily_quote(
        asset,
        series_id,
        latest.value,
        previous.value if previous else None,
        latest.day,
        unit,
        fred_source(series_id),
        FRED_DAILY_DELAY_S,
        "FRED daily close, published with a delay",
    )


def _daily_quote(
    asset: str,
    symbol: str,
    value: float | None,
    previous: float | None,
    day: object,
    unit: str,
    source: Source,
    delay_s: float | None,
    note: str,
) -> Quote:
    assert value is not None  # callers pass known values
    observed_at = day_start(day)  # type: ignore[arg-type]
    change = round(value - previous, 6) if previous is not None else None
    change_pct = round(change / previous * 100, 4) if change is not None and previous else None
    return Quote(
        instrument=asset,
        symbol=symbol,
        proxy=False,
        value=value,
        unit=unit,
        change=change,
        change_pct=change_pct,
        previous=previous,
        end_of_day=True,
        source=source,
        observed_at=observed_at,
        delay_s=delay_s,
        age_s=_age(observed_at),
        note=note,
    )


@macro_tool("get_asset_prices", QUOTES_TTL_S)
async def get_asset_prices(ctx: ToolContext, req: AssetPricesRequest) -> Quotes:
    """Return Treasury yields, the dollar, gold, oil, VIX and BTC: latest value, change, observation time, delay.

    US2Y/US10Y/US30Y from the Treasury curve (no key); DOLLAR, WTI, VIX, BTC from FRED daily series (FRED_API_KEY);
    GOLD from Finnhub's GLD quote (FINNHUB_API_KEY). End-of-day values say so (`end_of_day`, `age_s`).
    """
    client = await client_of(ctx)
    assets = list(dict.fromkeys(req.assets))
    _require(client, assets)
    quotes: list[Quote] = []
    if any(asset in TREASURY_TENORS for asset in assets):
        today = utcnow().date()
        days = await curve_days(ctx, client, today - timedelta(days=LATEST_LOOKBACK_DAYS), today)
    for asset in assets:
        fetch: Callable[[], Awaitable[Quote]] | None = None
        if asset in TREASURY_TENORS:
            tenor, field = TREASURY_TENORS[asset]
            known = [(day.day, value) for day in days if (value := day.get(tenor)) is not None]
            if not known:
                raise NotFoundError(f"US Treasury: no {tenor} yield in the last {LATEST_LOOKBACK_DAYS} days")
            (day, value), previous = known[-1], (known[-2][1] if len(known) > 1 else None)
            quotes.append(
                _daily_quote(
                    asset,
                    field,
                    value,
                    previous,
                    day,
                    "percent",
                    TREASURY_SOURCE,
                    None,
                    "Treasury par yield at the close of its date",
                )
            )
        elif asset in FRED_ASSETS:
            fetch = lambda asset=asset: _fred_quote(client, asset)  # noqa: E731
        else:
            symbol = FINNHUB_ASSETS[asset]
            fetch = lambda asset=asset, symbol=symbol: finnhub_quote(client, asset, symbol, "ETF proxy (GLD) for gold")  # noqa: E731
        if fetch is not None:
            quotes.append(await fetch())
    return Quotes(quotes=quotes)


@macro_tool("get_economic_calendar", CALENDAR_TTL_S)
async def get_economic_calendar(ctx: ToolContext, req: EconomicCalendarRequest) -> EconomicCalendar:
    """Return economic releases in a date window with actual, estimate, previous and importance (needs FINNHUB_API_KEY).

    Times are UTC; the window is at most 31 days; filter by country codes and importance; events earliest first.
    """
    client = await client_of(ctx)
    client.finnhub.secret()
    start = req.start or utcnow().date()
    end = req.end or start + timedelta(days=7)
    if (end - start).days > MAX_CALENDAR_RANGE_DAYS:
        raise too_long("end", (end - start).days, MAX_CALENDAR_RANGE_DAYS)
    events = parse_finnhub_calendar(await client.finnhub_economic_calendar(start.isoformat(), end.isoformat()))
    countries = {code.upper() for code in req.countries} if req.countries else None
    importance = set(req.importance) if req.importance else None
    now = utcnow()
    chosen = [
        event
        for event in events
        if start <= event.time.date() <= end
        and (countries is None or event.country in countries)
        and (importance is None or event.impact in importance)
    ]
    page = chosen[req.offset : req.offset + req.limit]
    return EconomicCalendar(
        start=start,
        end=end,
        events=[
            CalendarEvent(
                time=event.time,
                country=event.country,
                event=event.event,
                importance=event.impact,
                actual=event.actual,
                estimate=event.estimate,
                previous=event.previous,
                unit=event.unit,
                released=event.time <= now,
                source=FINNHUB_CALENDAR_SOURCE,
                observed_at=now,
            )
            for event in page
        ],
        page=page_of(len(chosen), req.offset, len(page)),
    )
