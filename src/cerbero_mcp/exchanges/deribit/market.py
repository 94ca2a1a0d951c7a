"""Deribit's market-data primitives: candles (aggregated where Deribit lacks the resolution) and books."""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit.client import to_decimal
from cerbero_mcp.exchanges.deribit.mapping import dt_to_ms, ms_to_dt
from cerbero_mcp.exchanges.deribit.schemas import BOOK_DEPTHS, NATIVE_RESOLUTIONS
from cerbero_mcp.exchanges.deribit.toolset import client_of
from cerbero_mcp.tooling import ToolContext


async def fetch_book(ctx: ToolContext, instrument: str, depth: int) -> v.OrderBook:
    """Fetch the order book of one instrument, best levels first, `depth` levels a side."""
    asked = next(d for d in BOOK_DEPTHS if d >= depth)
    raw = await (await client_of(ctx)).public_get_order_book(instrument, asked)
    return v.OrderBook(
        instrument=raw["instrument_name"],
        bids=[v.BookLevel(price=to_decimal(p), size=to_decimal(s)) for p, s in raw.get("bids", [])[:depth]],
        asks=[v.BookLevel(price=to_decimal(p), size=to_decimal(s)) for p, s in raw.get("asks", [])[:depth]],
        info={k: raw.get(k) for k in ("change_id", "mark_price", "index_price", "state")},
        data_timestamp=ms_to_dt(raw.get("timestamp", utcnow().timestamp() * 1000)),
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
