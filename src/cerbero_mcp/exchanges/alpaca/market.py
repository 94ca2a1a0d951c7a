"""Alpaca's market-data primitives for the standard tools: candles (paged) and books.

Alpaca publishes full order books for crypto only (/v1beta3/crypto/us/latest/orderbooks); for stocks
and options the book is the National Best Bid and Offer from the latest quote: one level a side
(environment_info says so).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.alpaca.client import AlpacaClient, to_decimal
from cerbero_mcp.exchanges.alpaca.mapping import info_of, parse_time
from cerbero_mcp.exchanges.alpaca.schemas import BARS_PAGE_MAX, TIMEFRAME
from cerbero_mcp.exchanges.alpaca.symbols import asset_class
from cerbero_mcp.exchanges.alpaca.toolset import client_of
from cerbero_mcp.tooling import ToolContext

# How much wall time `limit` candles span at most: stocks trade 6.5 of 24 hours, 5 of 7 days, with
# holidays; crypto trades around the clock. The window is wide enough, `limit` keeps the answer short.
SPAN_FACTOR = {"crypto": 1.2, "intraday": 6.0, "daily": 1.6}
PAGES_MAX = 10


def to_bar(raw: dict[str, Any]) -> v.Bar | None:
    """Return a candle from Alpaca's `{t, o, h, l, c, v}` (None when a field is missing)."""
    ts = parse_time(raw.get("t"))
    o, h, low, c, vol = (to_decimal(raw.get(key)) for key in ("o", "h", "l", "c", "v"))
    if ts is None or o is None or h is None or low is None or c is None or vol is None:
        return None
    return v.Bar(ts=ts, open=o, high=h, low=low, close=c, volume=vol)


async def bars_page(client: AlpacaClient, symbol: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fetch one page of candles of one symbol from the endpoint of its asset class."""
    kind = asset_class(symbol)
    query = {"symbols": symbol, **params}
    if kind == "crypto":
        return await client.crypto_bars(query)
    if kind == "us_option":
        return await client.option_bars(query)
    return await client.stock_bars(query)


async def fetch_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Fetch candles oldest first: the most recent `limit` before `end`, newest pages first (sort=desc)."""
    client = await client_of(ctx)
    seconds = v.RESOLUTION_SECONDS[req.resolution]
    end = req.end or utcnow()
    kind = asset_class(req.instrument)
    factor = SPAN_FACTOR["crypto" if kind == "crypto" else "daily" if req.resolution == "1d" else "intraday"]
    start = req.start or end - timedelta(seconds=seconds * (req.limit + 1) * factor + 4 * 86400)
    wanted = req.limit + 1  # one more than asked tells whether older candles exist
    params: dict[str, Any] = {
        "timeframe": TIMEFRAME[req.resolution],
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "limit": min(BARS_PAGE_MAX, wanted),
        "sort": "desc",
    }
    collected: dict[Any, v.Bar] = {}
    token: str | None = None
    for _ in range(PAGES_MAX):
        page = await bars_page(client, req.instrument, {**params, "page_token": token})
        rows = (page.get("bars") or {}).get(req.instrument) or []
        for row in rows:
            bar = to_bar(row) if isinstance(row, dict) else None
            if bar is not None:
                collected[bar.ts] = bar
        token = page.get("next_page_token") or None
        if token is None or len(collected) >= wanted:
            break
    ordered = [collected[key] for key in sorted(collected)]
    return v.Bars(
        instrument=req.instrument,
        resolution=req.resolution,
        bars=ordered[-req.limit :],
        has_more=len(ordered) > req.limit or token is not None,
        data_timestamp=utcnow(),
    )


async def fetch_book(ctx: ToolContext, instrument: str, depth: int) -> v.OrderBook:
    """Fetch a crypto pair's book (`depth` levels a side), or a stock's/option's NBBO as one level."""
    client = await client_of(ctx)
    kind = asset_class(instrument)
    if kind == "crypto":
        raw = (await client.crypto_orderbooks([instrument])).get(instrument) or {}
        return v.OrderBook(
            instrument=instrument,
            bids=_levels(raw.get("b"), depth),
            asks=_levels(raw.get("a"), depth),
            info={"source": "crypto orderbook"},
            data_timestamp=parse_time(raw.get("t")) or utcnow(),
        )
    snapshots = await (client.option_snapshots if kind == "us_option" else client.stock_snapshots)([instrument])
    quote = (snapshots.get(instrument) or {}).get("latestQuote") or {}
    bids = [{"p": quote.get("bp"), "s": quote.get("bs")}] if to_decimal(quote.get("bp")) else []
    asks = [{"p": quote.get("ap"), "s": quote.get("as")}] if to_decimal(quote.get("ap")) else []
    return v.OrderBook(
        instrument=instrument,
        bids=_levels(bids, depth),
        asks=_levels(asks, depth),
        info={
            "source": "latest quote (NBBO): Alpaca publishes no depth for stocks and options",
            "quote": info_of(quote),
        },
        data_timestamp=parse_time(quote.get("t")) or utcnow(),
    )


def _levels(rows: Any, depth: int) -> list[v.BookLevel]:
    levels = []
    for row in (rows or [])[:depth]:
        price, size = to_decimal(row.get("p")), to_decimal(row.get("s"))
        if price is not None and size is not None:
            levels.append(v.BookLevel(price=price, size=size))
    return levels


async def snapshots_of(client: AlpacaClient, symbols: list[str]) -> dict[str, Any]:
    """Return the snapshots of symbols of one asset class, keyed by symbol."""
    kinds = {asset_class(symbol) for symbol in symbols}
    if len(kinds) > 1:
        raise InvalidInputError(
            "alpaca: one asset class per call (stocks, crypto pairs or options)", details={"instruments": symbols}
        )
    kind = kinds.pop()
    if kind == "crypto":
        return await client.crypto_snapshots(symbols)
    if kind == "us_option":
        return await client.option_snapshots(symbols)
    return await client.stock_snapshots(symbols)
