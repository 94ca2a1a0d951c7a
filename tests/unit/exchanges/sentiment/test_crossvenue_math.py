"""The cross-venue computations on hand-checked numbers: funding, pair carry and fees, heatmap, cointegration, BH."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from cerbero_mcp.exchanges.sentiment import crossvenue as cv


def test_funding_is_normalised_to_8h_and_annualised_on_a_365_day_year() -> None:
    assert cv.normalise(Decimal("0.0001"), Decimal(1)) == Decimal("0.0008")
    assert cv.normalise(Decimal("0.0004"), Decimal(4)) == Decimal("0.0008")
    assert cv.annualise(Decimal("0.0001"), Decimal(8)) == Decimal("0.1095")  # 0.0001 × 1095 periods
    assert cv.annualise(Decimal("0.0000125"), Decimal(1)) == Decimal("0.1095")  # the same carry, hourly
    with pytest.raises(ValueError, match="positive"):
        cv.annualise(Decimal("0.0001"), Decimal(0))


def test_pairs_go_long_the_lower_short_the_higher_and_pay_four_taker_fees() -> None:
    annual = {"deribit": Decimal("0.10"), "bybit": Decimal("0.05"), "hyperliquid": Decimal("0.20")}
    pairs = cv.funding_pairs(annual, cv.TAKER_FEES, Decimal(30))
    assert [(p.long_venue, p.short_venue) for p in pairs] == [
        ("bybit", "hyperliquid"),
        ("deribit", "hyperliquid"),
        ("bybit", "deribit"),
    ]
    best = pairs[0]
    assert best.spread_annualised == Decimal("0.15")
    assert best.fees == Decimal("0.0020")  # 2 × 0.055% + 2 × 0.045%
    assert float(best.gross_carry) == pytest.approx(0.15 * 30 / 365)
    assert float(best.net_carry) == pytest.approx(0.15 * 30 / 365 - 0.002)
    assert float(best.net_annualised) == pytest.approx(0.15 - 0.002 * 365 / 30)
    assert float(best.breakeven_days or 0) == pytest.approx(0.002 * 365 / 0.15)
    assert pairs[1].fees == Decimal("0.0019")
    assert float(pairs[2].net_annualised) == pytest.approx(0.05 - 0.0021 * 365 / 30)


def test_equal_funding_never_breaks_even() -> None:
    pairs = cv.funding_pairs(
        {"a": Decimal("0.1"), "b": Decimal("0.1")}, {"a": Decimal(0), "b": Decimal("0.001")}, Decimal(7)
    )
    assert pairs[0].breakeven_days is None
    assert pairs[0].net_carry == Decimal("-0.002")


def test_liquidation_prices() -> None:
    assert cv.liquidation_price(100.0, 10, 0.005, "long") == pytest.approx(90.5)
    assert cv.liquidation_price(100.0, 10, 0.005, "short") == pytest.approx(109.5)
    assert cv.maintenance_rate(100) == pytest.approx(0.005)
    assert cv.leverage_buckets(10) == [2, 3, 5, 10]
    assert cv.leverage_buckets(1) == [1]


def test_heatmap_on_one_entry_places_every_bucket_in_its_band() -> None:
    # OI 1000 USD at entry 100, max 10× (mmr 5%): 125 USD per side per bucket (2, 3, 5, 10×).
    bands = cv.liquidation_heatmap([(1000.0, [cv.Entry(100.0, 1.0)], 10.0)], mark=100.0, range_fraction=0.5, bands=10)
    assert [b.low for b in bands][:2] == pytest.approx([50.0, 60.0])
    longs = [b.long_usd for b in bands]
    shorts = [b.short_usd for b in bands]
    # longs liquidate at 55, 71.67, 85, 95; shorts at 145, 128.33, 115, 105
    assert longs == pytest.approx([125, 0, 125, 125, 125, 0, 0, 0, 0, 0])
    assert shorts == pytest.approx([0, 0, 0, 0, 0, 125, 125, 125, 0, 125])


def test_heatmap_leaves_out_levels_already_crossed_or_out_of_range() -> None:
    # Entry 120 above the mark: longs at 5× (102) and 10× (114) would already be liquidated; shorts at
    # 2× (174) and 3× (154) are beyond the 150 edge.
    bands = cv.liquidation_heatmap([(1000.0, [cv.Entry(120.0, 1.0)], 10.0)], mark=100.0, range_fraction=0.5, bands=10)
    assert sum(b.long_usd for b in bands) == pytest.approx(250)
    assert sum(b.short_usd for b in bands) == pytest.approx(250)
    assert bands[1].long_usd == pytest.approx(125)  # 66
    assert bands[3].long_usd == pytest.approx(125)  # 86
    assert bands[7].short_usd == pytest.approx(125)  # 126
    assert bands[8].short_usd == pytest.approx(125)  # 138


def test_volume_profile_weights_by_volume() -> None:
    entries = cv.volume_profile([100.0, 200.0, 300.0], [1.0, 3.0, 0.0])
    assert [(e.price, e.weight) for e in entries] == [(100.0, 0.25), (200.0, 0.75)]
    assert [e.weight for e in cv.volume_profile([1.0, 2.0], [0.0, 0.0])] == [0.5, 0.5]


def test_benjamini_hochberg_by_hand() -> None:
    rejected, adjusted = cv.benjamini_hochberg([0.01, 0.04, 0.03, 0.20], alpha=0.05)
    # sorted p·m/rank: 0.04, 0.06, 0.0533, 0.20 → step-up minimum: 0.04, 0.0533, 0.0533, 0.20
    assert adjusted == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert rejected == [True, False, False, False]


def test_a_constructed_cointegrated_pair_ranks_first_and_random_walks_do_not_pass() -> None:
    rng = np.random.default_rng(7)
    n = 500
    x = np.cumsum(rng.normal(0, 0.01, n)) + 4.0
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.5 * noise[t - 1] + rng.normal(0, 0.005)  # AR(1), φ = 0.5: half-life ln 2 / 0.5 bars
    y = 0.5 + 1.5 * x + noise
    w1 = np.cumsum(rng.normal(0, 0.01, n)) + 3.0
    w2 = np.cumsum(rng.normal(0, 0.01, n)) + 2.0
    tests = cv.cointegration_pairs({"Y": y, "X": x, "W1": w1, "W2": w2}, alpha=0.05)
    assert len(tests) == 6
    first = tests[0]
    assert (first.y, first.x) == ("Y", "X")
    assert first.significant
    assert first.p_adjusted < 0.01
    assert first.hedge_ratio == pytest.approx(1.5, abs=0.05)
    assert first.half_life_bars == pytest.approx(math.log(2) / 0.5, rel=0.25)
    assert first.p_adjusted >= first.p_value
    walks = [t for t in tests if {t.y, t.x} == {"W1", "W2"}]
    assert walks
    assert not walks[0].significant
