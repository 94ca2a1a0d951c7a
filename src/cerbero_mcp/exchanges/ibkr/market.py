"""IBKR's market-data primitives: candles from the history endpoint, books from the streaming socket."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr.schemas import RESOLUTION_BAR
from cerbero_mcp.exchanges.ibkr.toolset import client_of
from cerbero_mcp.tooling import ToolContext


async def fetch_book(ctx: ToolContext, instrument: str, depth: int) -> v.OrderBook:
    """Fetch the order book of one instrument from the socket, `depth` levels a side."""
    client = await client_of(ctx)
    conid = await client.conid(instrument)
    stream = await client.stream()
    rows = await stream.depth(await client.account_id(), conid)
    return book_from_depth(instrument, rows, depth)


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


# Resolutions IBKR has no bar size for, built from a smaller one (schemas.RESOLUTION_BAR names it).
AGGREGATED = frozenset({"12h"})


def aggregate_bars(bars: list[v.Bar], seconds: int) -> list[v.Bar]:
    """Merge time-ordered bars into bars of `seconds`, aligned on the epoch (12h: 00:00 and 12:00 UTC)."""
    merged: list[v.Bar] = []
    for bar in bars:
        start = datetime.fromtimestamp(int(bar.ts.timestamp()) // seconds * seconds, UTC)
        if merged and merged[-1].ts == start:
            last = merged[-1]
            merged[-1] = last.model_copy(
                update={
                    "high": max(last.high, bar.high),
                    "low": min(last.low, bar.low),
                    "close": bar.close,
                    "volume": last.volume + bar.volume,
                }
            )
        else:
            merged.append(bar.model_copy(update={"ts": start}))
    return merged


async def fetch_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Fetch candles from the history endpoint (period sized to the limit); 12h bars are built from 4h ones."""
    client = await client_of(ctx)
    conid = await client.conid(req.instrument)
    seconds = v.RESOLUTION_SECONDS[req.resolution]
    span = seconds * req.limit
    period = f"{max(1, -(-span // 86400))}d" if span < 86400 * 365 else f"{max(1, span // (86400 * 365))}y"
    bar_size = RESOLUTION_BAR[req.resolution]
    raw = await client.history(conid, period, bar_size)
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
    if req.resolution in AGGREGATED:
        bars = aggregate_bars(bars, seconds)
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
