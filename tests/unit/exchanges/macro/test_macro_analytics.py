"""The macro analytics on small inputs whose answers are computed by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cerbero_mcp.exchanges.macro.analytics import (
    class_history,
    current_inversion,
    percentile_rank,
    spread_bp,
    zscore,
)
from cerbero_mcp.exchanges.macro.parsing import ClassPosition, CotRow, CurveDay, TenorYield
from cerbero_mcp.exchanges.macro.sources import market_filter, publication_time

D0 = date(2024, 1, 1)


def test_percentile_is_the_share_at_or_below() -> None:
    window = [1.0, 2.0, 3.0, 4.0]
    assert percentile_rank(window, 3.0) == 75.0  # 3 of 4 at or below
    assert percentile_rank(window, 4.0) == 100.0
    assert percentile_rank(window, 0.5) == 0.0
    assert percentile_rank([], 1.0) is None


def test_zscore_uses_the_sample_standard_deviation() -> None:
    # mean 5, sample sd of [2, 4, 4, 4, 5, 5, 7, 9] = sqrt(32 / 7) = 2.13809
    assert zscore([2, 4, 4, 4, 5, 5, 7, 9], 9) == pytest.approx((9 - 5) / (32 / 7) ** 0.5, abs=1e-4)
    assert zscore([3.0, 3.0], 3.0) is None
    assert zscore([1.0], 1.0) is None


def test_current_inversion_start_and_length() -> None:
    values = [10.0, -1.0, 5.0, -2.0, -3.0, -0.5]
    points = [(D0 + timedelta(days=i), v) for i, v in enumerate(values)]
    inversion = current_inversion(points)
    assert inversion is not None
    assert inversion.start == D0 + timedelta(days=3)
    assert (inversion.observations, inversion.calendar_days, inversion.started_before_window) == (3, 3, False)
    assert current_inversion([(D0, -1.0), (D0 + timedelta(days=7), -2.0)]).started_before_window is True  # type: ignore[union-attr]
    assert current_inversion([*points, (D0 + timedelta(days=9), 0.0)]) is None  # back to zero ends it


def test_spread_in_basis_points_and_missing_tenor() -> None:
    day = CurveDay(D0, (TenorYield("2Y", 2.0, 4.18), TenorYield("10Y", 10.0, 4.63)))
    assert spread_bp(day, "10Y", "2Y") == 45.0
    assert spread_bp(day, "10Y", "3M") is None


def row(day: date, long: int, short: int) -> CotRow:
    """Return a report with one class."""
    return CotRow(day, "M", "000001", None, {"managed_money": ClassPosition(long, short, None)})


def test_cot_net_and_weekly_changes() -> None:
    rows = [row(D0, 100, 40), row(D0 + timedelta(days=7), 90, 50), row(D0 + timedelta(days=14), 120, 20)]
    history = class_history(rows, "managed_money")
    assert [(p.net, p.change) for p in history] == [(60, None), (40, -20), (100, 60)]


def test_cot_release_is_friday_1530_new_york() -> None:
    # Tuesday 2025-08-05 (EDT): Friday 2025-08-08 15:30 EDT = 19:30 UTC; in January (EST) 20:30 UTC.
    assert publication_time(date(2025, 8, 5)).isoformat() == "2025-08-08T19:30:00+00:00"
    assert publication_time(date(2025, 1, 7)).isoformat() == "2025-01-10T20:30:00+00:00"


def test_market_filter_by_key_code_known_name_or_fragment() -> None:
    assert market_filter("gold", "disaggregated") == "cftc_contract_market_code='088691'"
    assert market_filter("13874a", "tff") == "cftc_contract_market_code='13874A'"
    assert market_filter("euro fx", "tff") == "cftc_contract_market_code='099741'"  # one known name holds it
    assert market_filter("ust", "tff") == "upper(market_and_exchange_names) like '%UST%'"  # three do: ask the CFTC
