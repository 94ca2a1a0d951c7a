"""The sentiment provider's cross-venue tools, read through the product's own venue clients (no extra keys).

Each venue is asked concurrently, within a stated time budget (asyncio.wait_for): a venue that fails or is
slower is reported in `venues` and the others still answer; only when every venue fails is the call an error.
Answers are cached per environment (a testnet token reads the venues' testnets). The computations are in
`crossvenue` (pure functions).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import statistics
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError, UpstreamError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.bybit import market as bybit_market
from cerbero_mcp.exchanges.bybit.client import BybitClient
from cerbero_mcp.exchanges.deribit import market as deribit_market
from cerbero_mcp.exchanges.deribit.client import DeribitClient
from cerbero_mcp.exchanges.hyperliquid import market as hyperliquid_market
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient
from cerbero_mcp.exchanges.providers import Source
from cerbero_mcp.exchanges.sentiment import crossvenue as cv
from cerbero_mcp.exchanges.sentiment import crossvenue_schemas as s
from cerbero_mcp.exchanges.sentiment.toolset import sentiment_tool

T = TypeVar("T")

# Funding and open interest move by the minute; the heatmap's bars and the pair tests by the hour.
FUNDING_TTL_S = 60.0
OI_TTL_S = 60.0
ARB_TTL_S = 60.0
HEATMAP_TTL_S = 300.0
PAIRS_TTL_S = 900.0

VENUE_TITLES = {"deribit": "Deribit", "bybit": "Bybit", "hyperliquid": "Hyperliquid"}
BAR_FETCHERS: dict[str, Callable[[ToolContext, v.BarsRequest], Awaitable[v.Bars]]] = {
    "deribit": deribit_market.fetch_bars,
    "bybit": bybit_market.fetch_bars,
    "hyperliquid": hyperliquid_market.fetch_bars,
}
# Deribit's BTC and ETH perpetuals are inverse (sized in USD); its other coins trade as USDC-settled linear perpetuals.
DERIBIT_INVERSE = frozenset({"BTC", "ETH"})
HYPERLIQUID_FUNDING_PAGE = 500  # /info fundingHistory answers at most 500 points a call
BYBIT_PAGE = 200  # funding/history, open-interest and kline pages used here (the venue's maxima are 200/200/1000)
OI_KLINE = {"5min": "5", "15min": "15", "30min": "30", "1h": "60", "4h": "240", "1d": "D"}
OI_SECONDS = {"5min": 300, "15min": 900, "30min": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
MIN_ALIGNED_BARS = 50
ERROR_PRONE = (KeyError, ValueError, TypeError, IndexError, ArithmeticError)

FUNDING_METHOD = (
    "Each venue's rate is for its own funding period, read from the venue: Deribit's funding_8h (its perpetual "
    "accrues continuously, quoted per 8 h) and interest_1h history; Bybit's fundingRate per the instrument's "
    "fundingInterval; Hyperliquid's hourly funding. Normalised to 8 h (rate × 8 / period hours) and annualised as "
    "rate per period × periods per year (365 days). Fractions: 0.1 = 10%."
)
OI_METHOD = (
    "Current open interest from each venue's ticker/context (Deribit's inverse perpetuals count USD, converted to "
    "coin at the mark); history only where the venue publishes it (Bybit /v5/market/open-interest, valued at the "
    "candle close of the same time). Totals sum the current values of the venues that answered."
)
FEE_ASSUMPTION = (
    "Base-tier (non-VIP, tier 0) taker fees from each venue's fee page: Deribit perpetuals 0.05%, Bybit "
    "perpetuals non-VIP 0.055%, Hyperliquid perps tier 0 0.045%; paid on entry and exit of both legs, per unit of "
    "notional on each leg. Funding is assumed to stay at the compared rates for the holding period."
)
HEATMAP_METHOD = (
    "Estimate, not observed liquidations. Each venue's current open interest (USD) is split half long, half "
    "short, spread over entry prices = the typical price (H+L+C)/3 of its recent 1-hour bars weighted by volume, "
    "and evenly over leverages 2, 3, 5, 10, 20, 25, 50, 75, 100× up to the venue's maximum leverage. Long "
    "liquidation = entry × (1 − 1/L + mmr), short = entry × (1 + 1/L − mmr), mmr = 1 / (2 × max leverage) "
    "(Hyperliquid's rule; Bybit's first risk tier and Deribit are close). Levels already crossed by the reference "
    "price (median of the venues' marks) are left out: those positions would be gone."
)
PAIRS_METHOD = (
    "Engle–Granger (statsmodels coint, constant, AIC lags) of log close prices of each pair (y = the first coin of "
    "the pair in universe order) on the bars' common timestamps; hedge ratio by OLS of log y on log x; half-life "
    "−ln 2 / b of the AR(1) Δspread = a + b·spread; p-values corrected for multiple testing with "
    "Benjamini–Hochberg (FDR, statsmodels multipletests fdr_bh)."
)
CORRECTION = "Benjamini–Hochberg false discovery rate (statsmodels.stats.multitest.multipletests, method fdr_bh)"


# --- venues: instruments, contexts, the budgeted fan-out -------------------------------------------------


def instrument_of(venue: str, coin: str) -> str:
    """Return the venue's USD-margined perpetual of a coin."""
    if venue == "deribit":
        return f"{coin}-PERPETUAL" if coin in DERIBIT_INVERSE else f"{coin}_USDC-PERPETUAL"
    if venue == "bybit":
        return f"{coin}USDT"
    return coin


def venue_context(ctx: ToolContext, venue: str) -> ToolContext:
    """Return the call's context aimed at a venue: its client for the caller's environment, its market helpers."""
    return dataclasses.replace(ctx, venue=venue)


async def venue_client(ctx: ToolContext, venue: str) -> Any:
    """Return a trading venue's client for the caller's environment."""
    return await ctx.venue_client(venue)


def source_of(venue: str, client: Any) -> Source:
    """Return the source of a venue's numbers: the venue and the URL its client reads."""
    return Source(name=VENUE_TITLES[venue], url=str(client.http.base_url))


def ms_to_dt(ms: Any) -> datetime:
    """Return epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def dt_to_ms(value: datetime) -> int:
    """Return an aware datetime as epoch milliseconds."""
    return int(value.timestamp() * 1000)


def dec(value: Any) -> Decimal | None:
    """Return a venue's number (string or JSON number) as a Decimal; None when absent or empty."""
    if value is None or value == "":
        return None
    result = Decimal(str(value))
    return result if result.is_finite() else None


def q(value: Decimal, places: int = 12) -> Decimal:
    """Return a computed value (a mean, a quotient) to `places` decimals: the venues quote rates to 10 or fewer."""
    return value.quantize(Decimal(1).scaleb(-places))


def need(value: Decimal | None, what: str) -> Decimal:
    """Return a number the venue must send, or fail as a malformed answer."""
    if value is None:
        raise ValueError(f"the answer has no {what}")
    return value


async def fan_out(
    ctx: ToolContext,
    venues: list[s.VenueName],
    coin: str | None,
    budget_s: float,
    fetch: Callable[[ToolContext, s.VenueName], Awaitable[T]],
) -> tuple[dict[s.VenueName, T], dict[s.VenueName, s.CrossVenueStatus]]:
    """Ask every venue concurrently, each within `budget_s`; return the answers and every venue's status.

    When no venue answers the call fails: 422 INVALID_INPUT when every venue refused the request (e.g. a
    coin none of them lists), else 502 UPSTREAM_ERROR; either way with every venue's reason.
    """
    chosen = list(dict.fromkeys(venues))

    async def one(venue: s.VenueName) -> tuple[s.VenueName, T | None, s.CrossVenueStatus, bool]:
        """Return the venue's answer, its status, and whether a failure was the request's fault (a 4xx)."""
        instrument = instrument_of(venue, coin) if coin else None
        try:
            value = await asyncio.wait_for(fetch(venue_context(ctx, venue), venue), budget_s)
        except TimeoutError:
            status = s.CrossVenueStatus(
                venue=venue,
                status="timed_out",
                instrument=instrument,
                error_code="UPSTREAM_TIMEOUT",
                message=f"{venue} did not answer within the {budget_s:g} s budget",
            )
            return venue, None, status, False
        except CerberoError as exc:
            status = s.CrossVenueStatus(
                venue=venue, status="error", instrument=instrument, error_code=exc.code, message=exc.message
            )
            return venue, None, status, exc.status < 500
        except ERROR_PRONE as exc:  # a venue answer missing what its documentation promises
            status = s.CrossVenueStatus(
                venue=venue,
                status="error",
                instrument=instrument,
                error_code=UpstreamError.code,
                message=f"{venue}: malformed answer ({type(exc).__name__}: {exc})"[:300],
            )
            return venue, None, status, False
        return venue, value, s.CrossVenueStatus(venue=venue, status="ok", instrument=instrument), False

    results = await asyncio.gather(*(one(venue) for venue in chosen))
    answers = {venue: value for venue, value, _, _ in results if value is not None}
    statuses = {venue: status for venue, _, status, _ in results}
    if not answers:
        # Nothing to show: an error (not cached), with every venue's reason.
        reasons = "; ".join(f"{st.venue}: {st.message}" for st in statuses.values())
        details = {"venues": [st.model_dump() for st in statuses.values()]}
        if all(refused for _, _, _, refused in results):
            raise InvalidInputError(
                f"every venue refused the request: {reasons}",
                details=details,
                suggested_fix="ask for a coin the venues list (BTC, ETH) or other venues",
            )
        raise UpstreamError(
            f"no venue answered: {reasons}",
            details=details,
            suggested_fix="retry; a larger venue_budget_s gives slow venues more time",
        )
    return answers, statuses


def with_note(status: s.CrossVenueStatus, note: str | None) -> s.CrossVenueStatus:
    """Return the status with a note added."""
    return status.model_copy(update={"note": note}) if note else status


# --- funding --------------------------------------------------------------------------------------------


def funding_now(
    venue: s.VenueName,
    client: Any,
    instrument: str,
    rate: Decimal,
    interval_hours: Decimal,
    mark: Decimal | None,
    history: list[s.NormalisedFundingPoint],
    include_history: bool,
    observed_at: datetime,
) -> s.VenueFundingNow:
    """Return a venue's funding answer from its current rate and its normalised history."""
    mean = q(sum((p.rate_8h for p in history), Decimal(0)) / len(history)) if history else None
    return s.VenueFundingNow(
        source=source_of(venue, client),
        observed_at=observed_at,
        venue=venue,
        instrument=instrument,
        interval_hours=interval_hours,
        rate=rate,
        rate_8h=cv.normalise(rate, interval_hours),
        annualised=cv.annualise(rate, interval_hours),
        mark_price=mark,
        history_mean_8h=mean,
        history_annualised=cv.annualise(mean, cv.NORMALISED_HOURS) if mean is not None else None,
        history_points=len(history),
        history=history if include_history else [],
    )


def point(ts_ms: Any, rate: Decimal, hours: Decimal) -> s.NormalisedFundingPoint:
    """Return one funding point restated per 8 hours."""
    return s.NormalisedFundingPoint(
        ts=ms_to_dt(ts_ms), rate=rate, interval_hours=hours, rate_8h=cv.normalise(rate, hours)
    )


async def deribit_funding(ctx: ToolContext, coin: str, hours: int, include: bool) -> s.VenueFundingNow:
    """Deribit: funding_8h of the ticker (the perpetual accrues continuously) and the hourly interest_1h history."""
    client: DeribitClient = await venue_client(ctx, "deribit")
    instrument = instrument_of("deribit", coin)
    ticker = await client.public_ticker(instrument)
    end = utcnow()
    rows = await client.public_get_funding_rate_history(
        instrument, dt_to_ms(end - timedelta(hours=hours)), dt_to_ms(end)
    )
    history = [
        point(row["timestamp"], need(dec(row.get("interest_1h")), "interest_1h"), Decimal(1))
        for row in sorted(rows, key=lambda r: int(r.get("timestamp", 0)))
        if "timestamp" in row and row.get("interest_1h") is not None
    ]
    stamp = ticker.get("timestamp")
    return funding_now(
        "deribit",
        client,
        instrument,
        need(dec(ticker.get("funding_8h")), "funding_8h"),
        Decimal(8),
        dec(ticker.get("mark_price")),
        history,
        include,
        ms_to_dt(stamp) if stamp is not None else utcnow(),
    )


async def bybit_interval_hours(client: BybitClient, ticker: dict[str, Any], instrument: str) -> Decimal:
    """Return a linear perpetual's funding interval: the ticker's fundingIntervalHour, else the instrument's minutes."""
    hours = dec(ticker.get("fundingIntervalHour"))
    if hours:
        return hours
    minutes = dec((await client.instrument("linear", instrument)).get("fundingInterval"))
    return need(minutes, "fundingInterval") / 60


async def bybit_ticker(client: BybitClient, instrument: str) -> dict[str, Any]:
    """Return a linear perpetual's ticker row, or INVALID_INPUT when Bybit does not list it."""
    rows = (await client.market_tickers("linear", symbol=instrument)).get("list") or []
    found = next((r for r in rows if isinstance(r, dict) and r.get("symbol") == instrument), None)
    if found is None:
        raise InvalidInputError(f"bybit: instrument {instrument} not found in category linear")
    return found


async def bybit_funding(ctx: ToolContext, coin: str, hours: int, include: bool) -> s.VenueFundingNow:
    """Bybit: the ticker's fundingRate per the instrument's funding interval, and the settled rates' history."""
    client: BybitClient = await venue_client(ctx, "bybit")
    instrument = instrument_of("bybit", coin)
    ticker = await bybit_ticker(client, instrument)
    interval = await bybit_interval_hours(client, ticker, instrument)
    start_ms, end_ms = dt_to_ms(utcnow() - timedelta(hours=hours)), dt_to_ms(utcnow())
    settled: dict[int, dict[str, Any]] = {}
    # Newest first, 200 a page: page back from the end until the window is covered (an hourly-funded
    # symbol over 480 hours needs three pages).
    for _ in range(-(-hours // BYBIT_PAGE) + 1):
        page = await client.market_funding_history("linear", instrument, start_ms, end_ms, BYBIT_PAGE)
        rows = [r for r in page.get("list") or [] if isinstance(r, dict) and r.get("fundingRate") not in (None, "")]
        settled.update({int(r["fundingRateTimestamp"]): r for r in rows})
        if len(rows) < BYBIT_PAGE:
            break
        end_ms = min(int(r["fundingRateTimestamp"]) for r in rows) - 1
    history = [point(ts, need(dec(settled[ts]["fundingRate"]), "fundingRate"), interval) for ts in sorted(settled)]
    return funding_now(
        "bybit",
        client,
        instrument,
        need(dec(ticker.get("fundingRate")), "fundingRate"),
        interval,
        dec(ticker.get("markPrice")),
        history,
        include,
        utcnow(),
    )


async def hyperliquid_context(client: HyperliquidClient, coin: str) -> tuple[Any, dict[str, Any]]:
    """Return a perpetual's asset and its context (funding, openInterest, markPx) from metaAndAssetCtxs."""
    asset = await client.asset(coin)
    if asset.spot:
        raise InvalidInputError(f"hyperliquid: {coin} is a spot pair, not a perpetual")
    _, contexts = await client.meta_and_asset_ctxs()
    if asset.asset_id >= len(contexts):
        raise ValueError(f"no context for {coin}")
    return asset, contexts[asset.asset_id]


async def hyperliquid_funding(ctx: ToolContext, coin: str, hours: int, include: bool) -> s.VenueFundingNow:
    """Hyperliquid: the context's hourly funding and the fundingHistory points (hourly)."""
    client: HyperliquidClient = await venue_client(ctx, "hyperliquid")
    _, context = await hyperliquid_context(client, coin)
    end = utcnow()
    rows = await client.funding_history(coin, dt_to_ms(end - timedelta(hours=hours)), dt_to_ms(end))
    history = [
        point(row["time"], need(dec(row.get("fundingRate")), "fundingRate"), Decimal(1))
        for row in sorted(rows, key=lambda r: int(r.get("time", 0)))
        if "time" in row
    ][-HYPERLIQUID_FUNDING_PAGE:]
    return funding_now(
        "hyperliquid",
        client,
        coin,
        need(dec(context.get("funding")), "funding"),
        Decimal(1),
        dec(context.get("markPx")),
        history,
        include,
        utcnow(),
    )


FUNDING_FETCHERS: dict[str, Callable[[ToolContext, str, int, bool], Awaitable[s.VenueFundingNow]]] = {
    "deribit": deribit_funding,
    "bybit": bybit_funding,
    "hyperliquid": hyperliquid_funding,
}


async def funding_by_venue(
    ctx: ToolContext, coin: str, venues: list[s.VenueName], hours: int, include: bool, budget_s: float
) -> tuple[dict[s.VenueName, s.VenueFundingNow], dict[s.VenueName, s.CrossVenueStatus]]:
    """Return each venue's funding within the budget, and every venue's status."""

    async def fetch(venue_ctx: ToolContext, venue: s.VenueName) -> s.VenueFundingNow:
        return await FUNDING_FETCHERS[venue](venue_ctx, coin, hours, include)

    return await fan_out(ctx, venues, coin, budget_s, fetch)


@sentiment_tool("get_funding_multi_exchange", FUNDING_TTL_S, per_environment=True)
async def get_funding_multi_exchange(ctx: ToolContext, req: s.FundingMultiRequest) -> s.FundingMulti:
    """Return a coin's perpetual funding at Deribit, Bybit and Hyperliquid, per 8 h and annualised (365 d).

    Current rate and the mean over lookback_hours, per venue, from the venue's own funding period
    (Deribit 8 h reference, Bybit per instrument, Hyperliquid hourly); a failing or slow venue is
    reported in `venues` and the others still answer.
    """
    answers, statuses = await funding_by_venue(
        ctx, req.coin, req.venues, req.lookback_hours, req.include_history, req.venue_budget_s
    )
    return s.FundingMulti(
        coin=req.coin,
        lookback_hours=req.lookback_hours,
        funding=[answers[venue] for venue in statuses if venue in answers],
        venues=list(statuses.values()),
        venue_budget_s=req.venue_budget_s,
        method=FUNDING_METHOD,
    )


# --- open interest --------------------------------------------------------------------------------------

OI_NOTES = {
    "deribit": "Deribit publishes no open-interest history: current value only.",
    "hyperliquid": "Hyperliquid publishes no open-interest history: current value only.",
}


async def deribit_oi(ctx: ToolContext, coin: str) -> s.VenueOpenInterest:
    """Deribit: the ticker's open_interest (USD for the inverse BTC/ETH perpetuals, coin for USDC linear ones)."""
    client: DeribitClient = await venue_client(ctx, "deribit")
    instrument = instrument_of("deribit", coin)
    ticker = await client.public_ticker(instrument)
    mark = need(dec(ticker.get("mark_price")), "mark_price")
    raw = need(dec(ticker.get("open_interest")), "open_interest")
    in_usd = coin in DERIBIT_INVERSE
    stamp = ticker.get("timestamp")
    return s.VenueOpenInterest(
        source=source_of("deribit", client),
        observed_at=ms_to_dt(stamp) if stamp is not None else utcnow(),
        venue="deribit",
        instrument=instrument,
        oi_coin=q(raw / mark, 8) if in_usd else raw,
        oi_usd=raw if in_usd else raw * mark,
        mark_price=mark,
        history_available=False,
    )


async def bybit_oi(ctx: ToolContext, coin: str, interval: str, points: int) -> s.VenueOpenInterest:
    """Bybit: the ticker's openInterest (coin) and openInterestValue (USD), and /v5/market/open-interest history.

    `points=0` reads the current value only.
    """
    client: BybitClient = await venue_client(ctx, "bybit")
    instrument = instrument_of("bybit", coin)
    ticker = await bybit_ticker(client, instrument)
    mark = need(dec(ticker.get("markPrice")), "markPrice")
    oi = need(dec(ticker.get("openInterest")), "openInterest")
    value = dec(ticker.get("openInterestValue"))
    current = s.VenueOpenInterest(
        source=source_of("bybit", client),
        observed_at=utcnow(),
        venue="bybit",
        instrument=instrument,
        oi_coin=oi,
        oi_usd=value if value is not None else oi * mark,
        mark_price=mark,
        history_available=True,
    )
    if points == 0:
        return current
    end = utcnow()
    start = end - timedelta(seconds=OI_SECONDS[interval] * points)
    page = await client.market_open_interest(
        "linear", instrument, interval, dt_to_ms(start), dt_to_ms(end), min(points, BYBIT_PAGE), None
    )
    rows = [r for r in page.get("list") or [] if isinstance(r, dict) and "timestamp" in r]
    klines = await client.market_kline(
        "linear", instrument, OI_KLINE[interval], dt_to_ms(start), dt_to_ms(end), min(points + 1, BYBIT_PAGE)
    )
    closes = {int(row[0]): dec(row[4]) for row in klines.get("list") or [] if isinstance(row, list) and len(row) > 4}
    history = []
    for row in sorted(rows, key=lambda r: int(r["timestamp"])):
        amount = need(dec(row.get("openInterest")), "openInterest")
        close = closes.get(int(row["timestamp"]))
        history.append(
            s.OiPoint(ts=ms_to_dt(row["timestamp"]), oi_coin=amount, oi_usd=amount * close if close else None)
        )
    return current.model_copy(update={"history": history[-points:]})


async def hyperliquid_oi(ctx: ToolContext, coin: str) -> s.VenueOpenInterest:
    """Hyperliquid: the context's openInterest (coin), valued at markPx."""
    client: HyperliquidClient = await venue_client(ctx, "hyperliquid")
    _, context = await hyperliquid_context(client, coin)
    mark = need(dec(context.get("markPx")), "markPx")
    oi = need(dec(context.get("openInterest")), "openInterest")
    return s.VenueOpenInterest(
        source=source_of("hyperliquid", client),
        observed_at=utcnow(),
        venue="hyperliquid",
        instrument=coin,
        oi_coin=oi,
        oi_usd=oi * mark,
        mark_price=mark,
        history_available=False,
    )


async def oi_by_venue(
    ctx: ToolContext, coin: str, venues: list[s.VenueName], interval: str, points: int, budget_s: float
) -> tuple[dict[s.VenueName, s.VenueOpenInterest], dict[s.VenueName, s.CrossVenueStatus]]:
    """Return each venue's open interest within the budget, and every venue's status (with its history note)."""

    async def fetch(venue_ctx: ToolContext, venue: s.VenueName) -> s.VenueOpenInterest:
        if venue == "bybit":
            return await bybit_oi(venue_ctx, coin, interval, points)
        if venue == "deribit":
            return await deribit_oi(venue_ctx, coin)
        return await hyperliquid_oi(venue_ctx, coin)

    answers, statuses = await fan_out(ctx, venues, coin, budget_s, fetch)
    return answers, {venue: with_note(status, OI_NOTES.get(venue)) for venue, status in statuses.items()}


@sentiment_tool("get_oi_history", OI_TTL_S, per_environment=True)
async def get_oi_history(ctx: ToolContext, req: s.OiHistoryRequest) -> s.OiHistory:
    """Return a coin's open interest per venue and summed, in coin and USD, with history where published.

    Bybit publishes open-interest history (points × interval, at most 200 points); Deribit and
    Hyperliquid publish only the current value, which the answer says per venue. Totals sum the
    current values of the venues that answered.
    """
    answers, statuses = await oi_by_venue(ctx, req.coin, req.venues, req.interval, req.points, req.venue_budget_s)
    kept = [answers[venue] for venue in statuses if venue in answers]
    return s.OiHistory(
        coin=req.coin,
        interval=req.interval,
        open_interest=kept,
        total_oi_coin=sum((item.oi_coin for item in kept), Decimal(0)),
        total_oi_usd=sum((item.oi_usd for item in kept), Decimal(0)),
        summed_venues=[item.venue for item in kept],
        venues=list(statuses.values()),
        venue_budget_s=req.venue_budget_s,
        method=OI_METHOD,
    )


# --- funding arbitrage ------------------------------------------------------------------------------------


@sentiment_tool("get_funding_arb_spread", ARB_TTL_S, per_environment=True)
async def get_funding_arb_spread(ctx: ToolContext, req: s.FundingArbRequest) -> s.FundingArbSpread:
    """Return every venue pair's annualised funding difference, its legs (long lower, short higher) and net carry.

    Fees assumed: each venue's base-tier taker fee (Deribit 0.05%, Bybit non-VIP 0.055%, Hyperliquid
    tier 0 0.045%), on entry and exit of both legs; net carry over holding_days and annualised.
    """
    recent = req.basis == "recent"
    answers, statuses = await funding_by_venue(ctx, req.coin, req.venues, req.lookback_hours, False, req.venue_budget_s)
    annual: dict[str, Decimal] = {}
    for venue, item in answers.items():
        value = item.history_annualised if recent else item.annualised
        if value is not None:
            annual[venue] = value
        else:
            statuses[venue] = with_note(statuses[venue], "no funding points in the lookback: left out of the pairs")
    pairs = cv.funding_pairs(annual, cv.TAKER_FEES, Decimal(req.holding_days))
    return s.FundingArbSpread(
        coin=req.coin,
        basis=req.basis,
        holding_days=req.holding_days,
        fee_assumption=FEE_ASSUMPTION,
        fees=[
            s.VenueFee(venue=venue, tier="base (non-VIP, tier 0) taker", taker_fee=cv.TAKER_FEES[venue])
            for venue in statuses
        ],
        funding=[answers[venue] for venue in statuses if venue in answers],
        pairs=[
            s.FundingArbPair(
                long_venue=p.long_venue,
                short_venue=p.short_venue,
                long_instrument=instrument_of(p.long_venue, req.coin),
                short_instrument=instrument_of(p.short_venue, req.coin),
                long_annualised=p.long_annualised,
                short_annualised=p.short_annualised,
                spread_annualised=p.spread_annualised,
                gross_carry=q(p.gross_carry),
                fees=p.fees,
                net_carry=q(p.net_carry),
                net_annualised=q(p.net_annualised),
                breakeven_days=q(p.breakeven_days, 4) if p.breakeven_days is not None else None,
            )
            for p in pairs
        ],
        venues=list(statuses.values()),
        venue_budget_s=req.venue_budget_s,
        method=FUNDING_METHOD,
    )


# --- liquidation heatmap ------------------------------------------------------------------------------------


async def max_leverage(ctx: ToolContext, venue: str, coin: str) -> float:
    """Return the venue's maximum leverage for the coin's perpetual, from its instrument description."""
    instrument = instrument_of(venue, coin)
    if venue == "deribit":
        deribit: DeribitClient = await venue_client(ctx, venue)
        meta = await deribit.instrument(instrument)
        return float(need(dec(meta.get("max_leverage")), "max_leverage"))
    if venue == "bybit":
        bybit: BybitClient = await venue_client(ctx, venue)
        meta = await bybit.instrument("linear", instrument)
        return float(need(dec((meta.get("leverageFilter") or {}).get("maxLeverage")), "maxLeverage"))
    hyperliquid: HyperliquidClient = await venue_client(ctx, venue)
    asset = await hyperliquid.asset(coin)
    if asset.max_leverage is None:
        raise ValueError("the answer has no maxLeverage")
    return float(asset.max_leverage)


async def heatmap_input(
    ctx: ToolContext, venue: s.VenueName, coin: str, hours: int
) -> tuple[s.HeatmapVenueInput, list[cv.Entry]]:
    """Return what one venue contributes: its open interest, maximum leverage and volume-weighted entries."""
    if venue == "deribit":
        oi = await deribit_oi(ctx, coin)
    elif venue == "bybit":
        oi = await bybit_oi(ctx, coin, "1h", 0)
    else:
        oi = await hyperliquid_oi(ctx, coin)
    leverage = await max_leverage(ctx, venue, coin)
    bars = await BAR_FETCHERS[venue](
        ctx, v.BarsRequest(instrument=instrument_of(venue, coin), resolution="1h", limit=hours)
    )
    entries = cv.volume_profile(
        [float((b.high + b.low + b.close) / 3) for b in bars.bars], [float(b.volume) for b in bars.bars]
    )
    return (
        s.HeatmapVenueInput(
            source=oi.source,
            observed_at=oi.observed_at,
            venue=venue,
            instrument=oi.instrument,
            oi_usd=oi.oi_usd,
            mark_price=oi.mark_price,
            max_leverage=leverage,
            maintenance_rate=cv.maintenance_rate(leverage),
            leverages=cv.leverage_buckets(leverage),
            bars=len(bars.bars),
        ),
        entries,
    )


@sentiment_tool("get_liquidation_heatmap", HEATMAP_TTL_S, per_environment=True)
async def get_liquidation_heatmap(ctx: ToolContext, req: s.LiquidationHeatmapRequest) -> s.LiquidationHeatmap:
    """Return ESTIMATED liquidation levels by price band (not observed liquidations).

    Method: each venue's open interest, half long and half short, spread over entry prices from its
    recent 1-hour bars weighted by volume and evenly over leverages up to the venue's maximum; long
    liquidation = entry × (1 − 1/L + mmr), short = entry × (1 + 1/L − mmr), mmr = 1/(2 × max leverage).
    """

    async def fetch(venue_ctx: ToolContext, venue: s.VenueName) -> tuple[s.HeatmapVenueInput, list[cv.Entry]]:
        return await heatmap_input(venue_ctx, venue, req.coin, req.lookback_hours)

    answers, statuses = await fan_out(ctx, req.venues, req.coin, req.venue_budget_s, fetch)
    inputs = [answers[venue] for venue in statuses if venue in answers]
    reference = statistics.median(float(item.mark_price) for item, _ in inputs)
    bands = await asyncio.to_thread(
        cv.liquidation_heatmap,
        [(float(item.oi_usd), entries, item.max_leverage) for item, entries in inputs],
        reference,
        req.range_pct / 100,
        req.bands,
    )
    return s.LiquidationHeatmap(
        coin=req.coin,
        reference_price=reference,
        inputs=[item for item, _ in inputs],
        bands=[
            s.LiquidationBand(
                low=round(b.low, 8),
                high=round(b.high, 8),
                long_liquidations_usd=round(b.long_usd, 2),
                short_liquidations_usd=round(b.short_usd, 2),
            )
            for b in bands
        ],
        venues=list(statuses.values()),
        venue_budget_s=req.venue_budget_s,
        method=HEATMAP_METHOD,
    )


# --- cointegration ----------------------------------------------------------------------------------------------


async def default_universe(ctx: ToolContext, venue: str, size: int) -> list[str]:
    """Return the venue's most traded perpetuals (24 h notional volume), at most `size` coins."""
    ranked: list[tuple[float, str]] = []
    if venue == "hyperliquid":
        hyperliquid: HyperliquidClient = await venue_client(ctx, venue)
        meta, contexts = await hyperliquid.meta_and_asset_ctxs()
        for row, context in zip(meta.get("universe") or [], contexts, strict=False):
            if isinstance(row, dict) and not row.get("isDelisted") and row.get("name"):
                ranked.append((float(dec(context.get("dayNtlVlm")) or 0), str(row["name"])))
    elif venue == "bybit":
        bybit: BybitClient = await venue_client(ctx, venue)
        for row in (await bybit.market_tickers("linear")).get("list") or []:
            symbol = str(row.get("symbol", "")) if isinstance(row, dict) else ""
            if symbol.endswith("USDT") and symbol[:-4].isalnum():
                ranked.append((float(dec(row.get("turnover24h")) or 0), symbol[:-4]))
    else:
        deribit: DeribitClient = await venue_client(ctx, venue)
        for currency in ("BTC", "ETH", "USDC"):
            for row in await deribit.public_get_book_summary_by_currency(currency, "future"):
                name = str(row.get("instrument_name", ""))
                coin = name.removesuffix("-PERPETUAL").removesuffix("_USDC")
                if name.endswith("-PERPETUAL") and instrument_of("deribit", coin) == name:
                    ranked.append((float(dec(row.get("volume_usd")) or 0), coin))
    seen: dict[str, float] = {}
    for volume, coin in ranked:
        if coin.isalnum() and coin.upper() == coin and 2 <= len(coin) <= 10:
            seen[coin] = max(volume, seen.get(coin, 0.0))
    return [coin for coin, _ in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))][:size]


async def closes_of(
    ctx: ToolContext, venue: s.VenueName, coins: list[str], resolution: v.Resolution, bars: int
) -> tuple[dict[str, dict[datetime, float]], dict[str, str]]:
    """Return each coin's close prices by bar time from the venue, and the coins that failed with why."""

    async def one(coin: str) -> tuple[str, dict[datetime, float] | str]:
        try:
            answer = await BAR_FETCHERS[venue](
                ctx, v.BarsRequest(instrument=instrument_of(venue, coin), resolution=resolution, limit=bars)
            )
        except CerberoError as exc:
            return coin, f"{exc.code}: {exc.message}"[:300]
        return coin, {b.ts: float(b.close) for b in answer.bars if b.close > 0}

    closes: dict[str, dict[datetime, float]] = {}
    skipped: dict[str, str] = {}
    for coin, result in await asyncio.gather(*(one(coin) for coin in coins)):
        if isinstance(result, str):
            skipped[coin] = result
        else:
            closes[coin] = result
    return closes, skipped


HOURS_OF = {"1h": 1.0, "4h": 4.0, "1d": 24.0}


@sentiment_tool("get_cointegration_pairs", PAIRS_TTL_S, per_environment=True)
async def get_cointegration_pairs(ctx: ToolContext, req: s.CointegrationRequest) -> s.CointegrationPairs:
    """Return Engle–Granger tests of every pair of a coin universe on log prices from one venue's bars, ranked.

    Hedge ratio (OLS), half-life (AR(1) of the spread) and p-value per pair, corrected for multiple
    testing with Benjamini–Hochberg; default universe: the venue's most traded perpetuals.
    """

    async def fetch(
        venue_ctx: ToolContext, venue: s.VenueName
    ) -> tuple[list[str], dict[str, dict[datetime, float]], dict[str, str]]:
        coins = (
            list(dict.fromkeys(req.coins)) if req.coins else await default_universe(venue_ctx, venue, req.universe_size)
        )
        closes, skipped = await closes_of(venue_ctx, venue, coins, req.resolution, req.bars)
        return coins, closes, skipped

    answers, statuses = await fan_out(ctx, [req.venue], None, req.venue_budget_s, fetch)
    coins, closes, skipped = answers[req.venue]
    common = sorted(set.intersection(*(set(series) for series in closes.values()))) if closes else []
    kept = [coin for coin in coins if coin in closes]
    if len(kept) < 2 or len(common) < MIN_ALIGNED_BARS:
        raise InvalidInputError(
            f"{req.venue}: {len(kept)} coins with {len(common)} common bars; need 2 coins and {MIN_ALIGNED_BARS} bars",
            details={"coins": coins, "skipped": skipped, "common_bars": len(common)},
            suggested_fix="name coins the venue lists, or ask for more bars",
        )
    log_prices = {coin: np.log(np.array([closes[coin][ts] for ts in common])) for coin in kept}
    for coin, series in list(log_prices.items()):
        if np.ptp(series) == 0:  # a flat series has no statistic; say so instead of failing the universe
            skipped[coin] = "constant price over the window"
            del log_prices[coin]
    if len(log_prices) < 2:
        raise InvalidInputError(f"{req.venue}: fewer than 2 coins with varying prices", details={"skipped": skipped})
    tests = await asyncio.to_thread(cv.cointegration_pairs, log_prices, req.alpha)
    hours = HOURS_OF[req.resolution]
    return s.CointegrationPairs(
        venue=req.venue,
        coins=list(log_prices),
        skipped=skipped,
        bars_used=len(common),
        first_bar=common[0],
        last_bar=common[-1],
        correction=CORRECTION,
        pairs=[
            s.CointegratedPair(
                y=t.y,
                x=t.x,
                p_value=t.p_value,
                p_adjusted=t.p_adjusted,
                significant=t.significant,
                t_stat=t.t_stat,
                hedge_ratio=t.hedge_ratio,
                intercept=t.intercept,
                half_life_hours=t.half_life_bars * hours if math.isfinite(t.half_life_bars) else None,
            )
            for t in tests
        ],
        venues=list(statuses.values()),
        venue_budget_s=req.venue_budget_s,
        method=PAIRS_METHOD,
        data_timestamp=common[-1],
    )
