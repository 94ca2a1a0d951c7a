"""Hyperliquid's market-data primitives for the standard tools: candles (candleSnapshot) and books (l2Book)."""

from __future__ import annotations

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.hyperliquid.client import to_decimal
from cerbero_mcp.exchanges.hyperliquid.mapping import dt_to_ms, ms_to_dt
from cerbero_mcp.exchanges.hyperliquid.schemas import CANDLES_SERVED, INTERVAL_MS
from cerbero_mcp.exchanges.hyperliquid.toolset import client_of
from cerbero_mcp.tooling import ToolContext

# l2Book answers 20 levels a side at full precision (nSigFigs unset).
BOOK_LEVELS = 20


async def fetch_book(ctx: ToolContext, instrument: str, depth: int) -> v.OrderBook:
    """Fetch the order book of one asset, best levels first (Hyperliquid serves 20 a side)."""
    client = await client_of(ctx)
    asset = await client.asset(instrument)
    raw = await client.l2_book(asset.coin)
    if raw is None:
        raise InvalidInputError(f"hyperliquid has no book for {instrument}", details={"instrument": instrument})
    levels = raw.get("levels") or [[], []]
    bids, asks = [*levels, [], []][:2]

    def side(rows: list[dict[str, str]]) -> list[v.BookLevel]:
        return [
            v.BookLevel(price=to_decimal(row["px"]) or 0, size=to_decimal(row["sz"]) or 0)
            for row in rows[:depth]
            if isinstance(row, dict)
        ]

    return v.OrderBook(
        instrument=instrument,
        bids=side(bids),
        asks=side(asks),
        info={"coin": asset.coin, "levels_served": BOOK_LEVELS},
        data_timestamp=ms_to_dt(raw["time"]) if raw.get("time") else utcnow(),
    )


async def fetch_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
    """Fetch candles oldest first (one candleSnapshot: Hyperliquid serves only the latest 5000)."""
    client = await client_of(ctx)
    asset = await client.asset(req.instrument)
    step = INTERVAL_MS[req.resolution]
    end_ms = dt_to_ms(req.end or utcnow())
    wanted = min(req.limit + 1, CANDLES_SERVED)  # one more than asked tells whether older candles exist
    start_ms = dt_to_ms(req.start) if req.start is not None else end_ms - wanted * step
    start_ms = max(start_ms, end_ms - wanted * step)
    rows = await client.candle_snapshot(asset.coin, req.resolution, start_ms, end_ms, step)
    rows = sorted((row for row in rows if "t" in row), key=lambda row: int(row["t"]))
    bars = [
        v.Bar(
            ts=ms_to_dt(row["t"]),
            open=to_decimal(row.get("o")) or 0,
            high=to_decimal(row.get("h")) or 0,
            low=to_decimal(row.get("l")) or 0,
            close=to_decimal(row.get("c")) or 0,
            volume=to_decimal(row.get("v")) or 0,
        )
        for row in rows
        if int(row["t"]) <= end_ms
    ]
    return v.Bars(
        instrument=req.instrument,
        resolution=req.resolution,
        bars=bars[-req.limit :],
        has_more=len(bars) > req.limit,
        data_timestamp=utcnow(),
    )
