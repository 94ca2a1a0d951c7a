"""Order-book microstructure: imbalance, microprice, spread and depth near the mid.

A book side is an (N, 2) array of [price, size] rows, in any order (bids are sorted by price
descending and asks ascending here). Sizes are in the venue's units (contracts or coins);
notionals are price × size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cerbero_mcp.common._validate import FloatArray, as_float, fail, int_in_range, positive_number

__all__ = [
    "Depth",
    "Imbalance",
    "depth_within_bps",
    "microprice",
    "mid_price",
    "orderbook_imbalance",
    "spread_bps",
]


def _side(levels: ArrayLike, name: str) -> FloatArray:
    a = as_float(levels, name)
    if a.size == 0:
        fail(f"{name} is empty; the book needs at least one level per side", argument=name)
    if a.ndim != 2 or a.shape[1] != 2:
        fail(f"{name} must be rows of [price, size], got shape {a.shape}", argument=name)
    if not np.isfinite(a).all():
        fail(f"{name} contains NaN or infinity", argument=name)
    if (a[:, 0] <= 0).any() or (a[:, 1] < 0).any():
        i = int(np.argmax((a[:, 0] <= 0) | (a[:, 1] < 0)))
        fail(f"{name}[{i}] must have price > 0 and size >= 0, got {a[i].tolist()}", argument=name, index=i)
    return a


def _book(bids: ArrayLike, asks: ArrayLike) -> tuple[FloatArray, FloatArray]:
    b, a = _side(bids, "bids"), _side(asks, "asks")
    return b[np.argsort(-b[:, 0], kind="stable")], a[np.argsort(a[:, 0], kind="stable")]


def _ratio(bid: float, ask: float) -> float:
    total = bid + ask
    return (bid - ask) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Imbalance:
    """Bid/ask volume imbalance of the top levels, plain and weighted 1/k by level rank k."""

    volume_imbalance: float
    weighted_imbalance: float
    bid_volume: float
    ask_volume: float
    levels_used: int


def orderbook_imbalance(bids: ArrayLike, asks: ArrayLike, levels: int = 10) -> Imbalance:
    """Return (Vb − Va)/(Vb + Va) over the top `levels` per side, in [−1, 1]; 0 for an empty book.

    The depth-weighted variant weights the k-th level of each side by 1/k, so the touch counts most.
    """
    b, a = _book(bids, asks)
    n = int_in_range(levels, "levels", 1, 10_000)
    b, a = b[:n, 1], a[:n, 1]
    wb = 1.0 / np.arange(1, b.size + 1)
    wa = 1.0 / np.arange(1, a.size + 1)
    vb, va = float(b.sum()), float(a.sum())
    return Imbalance(_ratio(vb, va), _ratio(float(wb @ b), float(wa @ a)), vb, va, max(b.size, a.size))


def mid_price(bids: ArrayLike, asks: ArrayLike) -> float:
    """Return the mean of the best bid and best ask."""
    b, a = _book(bids, asks)
    return 0.5 * float(b[0, 0] + a[0, 0])


def microprice(bids: ArrayLike, asks: ArrayLike) -> float:
    """Return the size-weighted touch price (Pb·Va + Pa·Vb)/(Vb + Va); the mid when both sizes are 0."""
    b, a = _book(bids, asks)
    (pb, vb), (pa, va) = b[0], a[0]
    total = vb + va
    return float((pb * va + pa * vb) / total) if total > 0 else 0.5 * float(pb + pa)


def spread_bps(bids: ArrayLike, asks: ArrayLike) -> float:
    """Return (best ask − best bid) / mid in basis points (negative for a crossed book)."""
    b, a = _book(bids, asks)
    pb, pa = float(b[0, 0]), float(a[0, 0])
    return (pa - pb) / (0.5 * (pa + pb)) * 1e4


@dataclass(frozen=True)
class Depth:
    """Resting size (depth) and notional within `bps` of the mid on each side."""

    bps: float
    mid: float
    bid_depth: float
    ask_depth: float
    bid_notional: float
    ask_notional: float
    imbalance: float


def depth_within_bps(bids: ArrayLike, asks: ArrayLike, bps: float) -> Depth:
    """Return bid size priced >= mid·(1 − bps/10⁴) and ask size priced <= mid·(1 + bps/10⁴)."""
    b, a = _book(bids, asks)
    x = positive_number(bps, "bps")
    if x >= 1e4:
        fail(f"bps must be below 10000, got {bps}", argument="bps")
    mid = 0.5 * float(b[0, 0] + a[0, 0])
    bsel = b[b[:, 0] >= mid * (1 - x / 1e4)]
    asel = a[a[:, 0] <= mid * (1 + x / 1e4)]
    bs, as_ = float(bsel[:, 1].sum()), float(asel[:, 1].sum())
    return Depth(
        x,
        mid,
        bs,
        as_,
        float(bsel[:, 0] @ bsel[:, 1]),
        float(asel[:, 0] @ asel[:, 1]),
        _ratio(bs, as_),
    )
