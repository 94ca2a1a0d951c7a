"""Venue-neutral tool logic: indicators over candles and order-book imbalance, for every venue's tools."""

from __future__ import annotations

import numpy as np

from cerbero_mcp.common import microstructure
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.indicators import INDICATORS, compute_indicator
from cerbero_mcp.common.indicators import Bars as IndicatorBars
from cerbero_mcp.exchanges import vocabulary as v


def indicators_from_bars(req: v.IndicatorsRequest, bars: v.Bars) -> v.Indicators:
    """Run every requested indicator over `bars` and keep the latest `points` values."""
    if not bars.bars:
        raise InvalidInputError(f"no candles for {req.instrument} at {req.resolution}")
    series = IndicatorBars(
        open=np.array([float(b.open) for b in bars.bars]),
        high=np.array([float(b.high) for b in bars.bars]),
        low=np.array([float(b.low) for b in bars.bars]),
        close=np.array([float(b.close) for b in bars.bars]),
        volume=np.array([float(b.volume) for b in bars.bars]),
    )
    results = []
    for item in req.indicators:
        outputs = compute_indicator(item.name, series, item.params)
        results.append(
            v.IndicatorValues(
                name=item.name,
                params=item.params,
                outputs={
                    key: [None if np.isnan(x) else float(x) for x in values[-req.points :]]
                    for key, values in outputs.items()
                },
            )
        )
    return v.Indicators(
        instrument=req.instrument,
        resolution=req.resolution,
        timestamps=[b.ts for b in bars.bars[-req.points :]],
        indicators=results,
        available=sorted(INDICATORS),
        data_timestamp=bars.bars[-1].ts,
    )


def imbalance_from_book(req: v.ImbalanceRequest, book: v.OrderBook) -> v.Imbalance:
    """Compute the imbalance numbers of a book with the microstructure library."""
    if not book.bids or not book.asks:
        raise InvalidInputError(f"the {req.instrument} book has an empty side; imbalance is undefined")
    bids = np.array([[float(level.price), float(level.size)] for level in book.bids])
    asks = np.array([[float(level.price), float(level.size)] for level in book.asks])
    imbalance = microstructure.orderbook_imbalance(bids, asks, req.levels)
    depth = microstructure.depth_within_bps(bids, asks, req.depth_bps)
    mid = (book.bids[0].price + book.asks[0].price) / 2
    return v.Imbalance(
        instrument=req.instrument,
        levels=req.levels,
        volume_imbalance=float(imbalance.volume_imbalance),
        weighted_imbalance=float(imbalance.weighted_imbalance),
        mid=mid,
        microprice=float(microstructure.microprice(bids, asks)),
        spread_bps=float(microstructure.spread_bps(bids, asks)),
        bid_depth_within_bps=float(depth.bid_depth),
        ask_depth_within_bps=float(depth.ask_depth),
        depth_bps=req.depth_bps,
        data_timestamp=book.data_timestamp,
    )
