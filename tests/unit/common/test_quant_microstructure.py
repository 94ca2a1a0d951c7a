"""Order-book measures on a hand-computed book."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.microstructure import (
    depth_within_bps,
    microprice,
    mid_price,
    orderbook_imbalance,
    spread_bps,
)

# deliberately unsorted: the functions sort each side themselves
BIDS = [[99.0, 4.0], [100.0, 3.0], [98.0, 10.0]]
ASKS = [[101.0, 1.0], [103.0, 2.0], [102.0, 5.0]]


def test_imbalance_over_all_and_top_levels() -> None:
    full = orderbook_imbalance(BIDS, ASKS, levels=10)
    assert (full.bid_volume, full.ask_volume, full.levels_used) == (17.0, 8.0, 3)
    assert full.volume_imbalance == pytest.approx((17 - 8) / 25)
    wb = 3 + 4 / 2 + 10 / 3
    wa = 1 + 5 / 2 + 2 / 3
    assert full.weighted_imbalance == pytest.approx((wb - wa) / (wb + wa))
    top = orderbook_imbalance(BIDS, ASKS, levels=1)
    assert top.volume_imbalance == pytest.approx((3 - 1) / 4)
    assert top.weighted_imbalance == pytest.approx(top.volume_imbalance)
    assert -1 <= full.volume_imbalance <= 1


def test_imbalance_of_an_empty_book_is_zero() -> None:
    assert orderbook_imbalance([[100.0, 0.0]], [[101.0, 0.0]]).volume_imbalance == 0.0


def test_mid_microprice_and_spread() -> None:
    assert mid_price(BIDS, ASKS) == 100.5
    # touch: bid 100 x 3, ask 101 x 1 → the price leans to the ask
    assert microprice(BIDS, ASKS) == pytest.approx((100 * 1 + 101 * 3) / 4)
    assert spread_bps(BIDS, ASKS) == pytest.approx(1 / 100.5 * 1e4)
    assert microprice([[100.0, 0.0]], [[101.0, 0.0]]) == 100.5


def test_depth_within_bps() -> None:
    d = depth_within_bps(np.array(BIDS), np.array(ASKS), bps=150)  # mid 100.5 → [98.9925, 102.0075]
    assert (d.bid_depth, d.ask_depth) == (7.0, 6.0)
    assert d.bid_notional == pytest.approx(100 * 3 + 99 * 4)
    assert d.ask_notional == pytest.approx(101 * 1 + 102 * 5)
    assert d.imbalance == pytest.approx(1 / 13)
    tight = depth_within_bps(BIDS, ASKS, bps=50)  # [99.9975, 101.0025]
    assert (tight.bid_depth, tight.ask_depth) == (3.0, 1.0)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: orderbook_imbalance([], ASKS), "bids is empty"),
        (lambda: orderbook_imbalance(BIDS, [[101.0, 1.0, 7.0]]), r"asks must be rows of \[price, size\]"),
        (lambda: spread_bps([[-1.0, 2.0]], ASKS), r"bids\[0\] must have price > 0"),
        (lambda: microprice(BIDS, [[101.0, -2.0]]), "size >= 0"),
        (lambda: mid_price([[np.nan, 1.0]], ASKS), "NaN or infinity"),
        (lambda: orderbook_imbalance(BIDS, ASKS, levels=0), "levels must be an integer between 1 and 10000, got 0"),
        (lambda: depth_within_bps(BIDS, ASKS, bps=0), "bps must be a finite positive"),
    ],
)
def test_microstructure_bad_input_raises_invalid_input(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        call()
