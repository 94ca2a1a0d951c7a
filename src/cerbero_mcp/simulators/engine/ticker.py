"""A venue-neutral ticker: what most venues' ticker endpoints report, from the market model."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cerbero_mcp.simulators.engine.instruments import InstrumentKind
from cerbero_mcp.simulators.engine.market import MarketModel

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Ticker:
    """Prices at `time`, rolling 24-hour statistics, and funding/open interest where they apply."""

    symbol: str
    time: float
    mid: float
    mark: float
    index: float
    last: float  # the mid on the tick grid: the simulator prints no trades of its own
    best_bid: float | None
    best_ask: float | None
    bid_qty: float | None
    ask_qty: float | None
    open_24h: float
    high_24h: float
    low_24h: float
    volume_24h: float
    open_interest: float
    funding_rate: float | None
    next_funding_time: float | None


def ticker(market: MarketModel, symbol: str, t: float) -> Ticker:
    """Return the ticker of `symbol` at `t` (24-hour figures from 1-minute candles up to `t`)."""
    inst = market.instrument(symbol)
    mid = market.mid(symbol, t)
    book = market.book(symbol, t, depth=1)
    day = market.candles(symbol, t - DAY, t + 1, 60, now=t)
    bids, asks = book.bids(), book.asks()
    funding = next_funding = None
    if inst.kind is InstrumentKind.PERPETUAL:
        interval = inst.funding_interval or 8 * 3600
        funding = market.funding_rate(symbol, t)
        next_funding = float((math.floor(t / interval) + 1) * interval)
    return Ticker(
        symbol=symbol,
        time=t,
        mid=mid,
        mark=mid,
        index=market.index(inst.underlying, t),
        last=float(inst.round_price(mid)),
        best_bid=float(bids[0][0]) if bids else None,
        best_ask=float(asks[0][0]) if asks else None,
        bid_qty=float(bids[0][1]) if bids else None,
        ask_qty=float(asks[0][1]) if asks else None,
        open_24h=float(day.open[0]),
        high_24h=float(day.high.max()),
        low_24h=float(day.low.min()),
        volume_24h=float(day.volume.sum()),
        open_interest=market.open_interest(symbol, t) if inst.kind is not InstrumentKind.SPOT else 0.0,
        funding_rate=funding,
        next_funding_time=next_funding,
    )
