"""Bybit's market-data primitives for the standard tools: candles (paged, newest first on the wire) and books.

The standard tools' requests have no `category` field, so a symbol listed as both spot and linear
(BTCUSDT) means the linear contract here — Bybit's own default for /v5/market/kline.
"""

from __future__ import annotations

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.bybit.client import to_decimal
from cerbero_mcp.exchanges.bybit.mapping import dt_to_ms, ms_to_dt
from cerbero_mcp.exchanges.bybit.schemas import BOOK_LIMITS, KLINE_INTERVAL, KLINE_MAX
from cerbero_mcp.exchanges.bybit.toolset import client_of
from cerbero_mcp.tooling import ToolContext


async def fetch_book(ctx: ToolContext, instrument: str, depth: int) -> v.OrderBook:
    """Fetch the order book of one instrument, best levels first, `depth` levels a side (Bybit's cap per category)."""
    client = await client_of(ctx)
    category = await client.resolve_category(instrument, prefer="linear")
    raw = await client.market_orderbook(category, instrument, min(depth, BOOK_LIMITS[category]))
    return v.OrderBook(
        instrument=str(raw.get("s") or instrument),
        bids=[v.BookLevel(price=to_decimal(p), size=to_decimal(q)) for p, q in (raw.get("b") or [])[:depth]],
        asks=[v.BookLevel(price=to_decimal(p), size=to_decimal(q)) for p, q in (raw.get("a") or [])[:depth]],
        info={"category": category, "u": raw.get("u"), "seq": raw.get("seq"), "cts": raw.get("cts")},
        data_timestamp=ms_to_dt(raw["ts"]) if raw.get("ts") else utcnow(),
    )


async def fetch_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Fetch candles oldest first, paging back from `end` (Bybit sends at most 1000 a call, newest first)."""
    client = await client_of(ctx)
    category = await client.resolve_category(req.instrument, prefer="linear")
    interval = KLINE_INTERVAL[req.resolution]
    start_ms = dt_to_ms(req.start) if req.start is not None else None
    end_ms = dt_to_ms(req.end or utcnow())
    wanted = req.limit + 1  # one more than asked tells whether older candles exist
    rows: dict[int, list[str]] = {}
    while len(rows) < wanted and (start_ms is None or end_ms >= start_ms):
        asked = min(KLINE_MAX, wanted - len(rows))
        result = await client.market_kline(category, req.instrument, interval, start_ms, end_ms, asked)
        page = result.get("list") or []
        for row in page:
            rows[int(row[0])] = row
        if len(page) < asked:
            break
        end_ms = min(int(row[0]) for row in page) - 1
    ordered = [rows[key] for key in sorted(rows)]
    bars = [
        v.Bar(
            ts=ms_to_dt(row[0]),
            open=to_decimal(row[1]),
            high=to_decimal(row[2]),
            low=to_decimal(row[3]),
            close=to_decimal(row[4]),
            volume=to_decimal(row[5]),
        )
        for row in ordered
    ]
    return v.Bars(
        instrument=req.instrument,
        resolution=req.resolution,
        bars=bars[-req.limit :],
        has_more=len(bars) > req.limit,
        data_timestamp=utcnow(),
    )
