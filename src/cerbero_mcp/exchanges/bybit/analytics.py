"""Bybit's own market tools: instruments, funding, open interest, basis and its term structure."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import BybitClient, to_decimal
from cerbero_mcp.exchanges.bybit.mapping import dt_to_ms, maybe_dt, ms_to_dt, to_instrument
from cerbero_mcp.exchanges.bybit.toolset import TOOLS, client_of
from cerbero_mcp.tooling import ToolContext

DAYS_PER_YEAR = 365
HOURS_PER_YEAR = Decimal(24 * 365)


@TOOLS.read("get_instruments")
async def get_instruments(ctx: ToolContext, req: s.BybitInstrumentsRequest) -> s.BybitInstruments:
    """List instruments of a category with their tick size, quantity step and minimums (one page)."""
    client = await client_of(ctx)
    page = await client.market_instruments_info(
        req.category, symbol=req.instrument, base_coin=req.base_coin, limit=req.limit, cursor=req.cursor
    )
    rows = [row for row in page.get("list") or [] if isinstance(row, dict)]
    cursor = page.get("nextPageCursor") or None
    return s.BybitInstruments(
        category=req.category,
        instruments=[to_instrument(row, req.category) for row in rows[: req.limit]],
        has_more=cursor is not None or len(rows) > req.limit,
        next_cursor=cursor,
        data_timestamp=utcnow(),
    )


async def _perpetual(client: BybitClient, instrument: str, category: str | None) -> str:
    resolved = await client.resolve_category(instrument, category, prefer="linear")
    if resolved not in ("linear", "inverse"):
        raise InvalidInputError(f"{instrument} is {resolved}: funding and open interest are for linear or inverse")
    return resolved


@TOOLS.read("get_funding_rate")
async def get_funding_rate(ctx: ToolContext, req: s.BybitFundingRateRequest) -> s.BybitFundingRate:
    """Return a perpetual's current funding rate, next funding time and its funding history (newest last)."""
    client = await client_of(ctx)
    category = await _perpetual(client, req.instrument, req.category)
    rows = (await client.market_tickers(category, symbol=req.instrument)).get("list") or []
    ticker = next((r for r in rows if isinstance(r, dict) and r.get("symbol") == req.instrument), None)
    if ticker is None:
        raise InvalidInputError(f"bybit: instrument {req.instrument} not found in category {category}")
    history: list[s.BybitFundingPoint] = []
    if req.history:
        page = await client.market_funding_history(
            category,
            req.instrument,
            dt_to_ms(req.start) if req.start else None,
            dt_to_ms(req.end) if req.end else None,
            req.history,
        )
        history = sorted(
            (
                s.BybitFundingPoint(ts=ms_to_dt(r["fundingRateTimestamp"]), rate=to_decimal(r.get("fundingRate")))
                for r in page.get("list") or []
                if isinstance(r, dict) and r.get("fundingRate") not in (None, "")
            ),
            key=lambda point: point.ts,
        )
    rate = to_decimal(ticker.get("fundingRate"))
    hours = to_decimal(ticker.get("fundingIntervalHour"))
    if hours is None:
        meta = await client.instrument(category, req.instrument)
        minutes = to_decimal(meta.get("fundingInterval"))
        hours = minutes / 60 if minutes else None
    return s.BybitFundingRate(
        instrument=req.instrument,
        category=category,
        current_rate=rate,
        next_funding_time=maybe_dt(ticker.get("nextFundingTime")),
        interval_hours=hours,
        annualized=rate * HOURS_PER_YEAR / hours if rate is not None and hours else None,
        mark=to_decimal(ticker.get("markPrice")),
        index=to_decimal(ticker.get("indexPrice")),
        history=history,
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_open_interest")
async def get_open_interest(ctx: ToolContext, req: s.BybitOpenInterestRequest) -> s.BybitOpenInterest:
    """Return a contract's open interest history at one interval, oldest first, one page (next_cursor for more)."""
    client = await client_of(ctx)
    category = await _perpetual(client, req.instrument, req.category)
    page = await client.market_open_interest(
        category,
        req.instrument,
        req.interval,
        dt_to_ms(req.start) if req.start else None,
        dt_to_ms(req.end) if req.end else None,
        req.limit,
        req.cursor,
    )
    points = sorted(
        (
            s.BybitOpenInterestPoint(ts=ms_to_dt(r["timestamp"]), open_interest=to_decimal(r.get("openInterest")))
            for r in page.get("list") or []
            if isinstance(r, dict)
        ),
        key=lambda point: point.ts,
    )
    cursor = page.get("nextPageCursor") or None
    return s.BybitOpenInterest(
        instrument=req.instrument,
        category=category,
        interval=req.interval,
        unit="USD contracts" if category == "inverse" else "base coin",
        points=points,
        has_more=cursor is not None,
        next_cursor=cursor,
        data_timestamp=utcnow(),
    )


def _price(ticker: dict[str, Any]) -> Decimal | None:
    # Mark price: Bybit's fair price of a contract, steadier than the last trade of a thin future.
    return to_decimal(ticker.get("markPrice")) or to_decimal(ticker.get("lastPrice"))


def _spot_price(ticker: dict[str, Any]) -> Decimal | None:
    bid, ask = to_decimal(ticker.get("bid1Price")), to_decimal(ticker.get("ask1Price"))
    if bid and ask:
        return (bid + ask) / 2
    return to_decimal(ticker.get("lastPrice"))


def basis_point(
    instrument: str,
    price: Decimal,
    spot: Decimal,
    expiry: datetime | None,
    now: datetime,
    funding_rate: Decimal | None = None,
    funding_hours: Decimal | None = None,
) -> s.BybitBasisPoint:
    """Return one contract's basis against spot: absolute, percent, and annualised (futures by expiry)."""
    basis = price - spot
    pct = float(basis / spot * 100)
    if expiry is None:
        days = None
        annualized = (
            float(funding_rate * HOURS_PER_YEAR / funding_hours * 100)
            if funding_rate is not None and funding_hours
            else None
        )
    else:
        days = max((expiry - now).total_seconds() / 86400, 1 / 24)  # no division by zero on expiry day
        annualized = pct * DAYS_PER_YEAR / days
    return s.BybitBasisPoint(
        instrument=instrument,
        kind="perpetual" if expiry is None else "future",
        expiry=expiry,
        days_to_expiry=days,
        price=price,
        basis=basis,
        basis_pct=pct,
        annualized_pct=annualized,
    )


async def _basis(client: BybitClient, coin: str, quote: str) -> tuple[str, Decimal, list[s.BybitBasisPoint]]:
    spot_symbol = f"{coin}{quote}"
    spot_rows = (await client.market_tickers("spot", symbol=spot_symbol)).get("list") or []
    spot = _spot_price(spot_rows[0]) if spot_rows and isinstance(spot_rows[0], dict) else None
    if not spot:
        raise InvalidInputError(f"bybit: no spot price for {spot_symbol}", details={"instrument": spot_symbol})
    # The USDC perpetual is spelled BTCPERP on Bybit, the USDT one like the spot pair.
    perpetuals = {spot_symbol, f"{coin}PERP"} if quote == "USDC" else {spot_symbol}
    listed = (await client.market_instruments_info("linear", base_coin=coin, limit=1000)).get("list") or []
    contracts = {
        str(row["symbol"]): row
        for row in listed
        if isinstance(row, dict)
        and row.get("status") in (None, "Trading")
        and (
            (row.get("contractType") == "LinearPerpetual" and row.get("symbol") in perpetuals)
            or row.get("contractType") == "LinearFutures"
        )
    }
    tickers = {
        str(row["symbol"]): row
        for row in (await client.market_tickers("linear")).get("list") or []
        if isinstance(row, dict) and row.get("symbol") in contracts
    }
    now = utcnow()
    points = []
    for symbol, meta in contracts.items():
        ticker = tickers.get(symbol)
        price = _price(ticker) if ticker else None
        if price is None:
            continue
        expiry = maybe_dt(meta.get("deliveryTime")) if meta.get("contractType") == "LinearFutures" else None
        minutes = to_decimal(meta.get("fundingInterval"))
        points.append(
            basis_point(
                symbol,
                price,
                spot,
                expiry,
                now,
                to_decimal(ticker.get("fundingRate")) if ticker else None,
                minutes / 60 if minutes else None,
            )
        )
    points.sort(key=lambda p: (p.expiry is not None, p.expiry or now))
    return spot_symbol, spot, points


@TOOLS.read("get_basis")
async def get_basis(ctx: ToolContext, req: s.BybitBasisRequest) -> s.BybitBasis:
    """Return spot vs the perpetual and vs each dated future of a coin: absolute, percent and annualised basis."""
    client = await client_of(ctx)
    spot_symbol, spot, points = await _basis(client, req.coin, req.quote)
    return s.BybitBasis(coin=req.coin, spot_instrument=spot_symbol, spot=spot, points=points, data_timestamp=utcnow())


@TOOLS.read("get_basis_term_structure")
async def get_basis_term_structure(ctx: ToolContext, req: s.BybitBasisRequest) -> s.BybitBasisTermStructure:
    """Return the annualised basis across every listed expiry of a coin, nearest first, and its slope."""
    client = await client_of(ctx)
    _, spot, points = await _basis(client, req.coin, req.quote)
    futures = [p for p in points if p.kind == "future"]
    slope = None
    if len(futures) >= 2:
        first, last = futures[0], futures[-1]
        years = ((last.days_to_expiry or 0) - (first.days_to_expiry or 0)) / DAYS_PER_YEAR
        if years > 0 and first.annualized_pct is not None and last.annualized_pct is not None:
            slope = (last.annualized_pct - first.annualized_pct) / years
    return s.BybitBasisTermStructure(
        coin=req.coin, spot=spot, points=futures, slope_pct_per_year=slope, data_timestamp=utcnow()
    )
