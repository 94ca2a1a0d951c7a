"""Hurst, half-life, ADF and Engle–Granger against statsmodels and simulated processes."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.tsa.stattools import adfuller, coint

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.stats import adf_test, cointegration_test, half_life_mean_reversion, hurst_exponent


def _ou(n: int, theta: float, seed: int, mu: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    eps = rng.normal(0, 1, n)
    x = np.empty(n)
    x[0] = mu
    for t in range(1, n):
        x[t] = x[t - 1] + theta * (mu - x[t - 1]) + eps[t]
    return x


def _pair(seed: int, cointegrated: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = 50 + np.cumsum(rng.normal(0, 1, 1000))
    noise = _ou(1000, 0.3, seed + 1) if cointegrated else np.cumsum(rng.normal(0, 1, 1000))
    return 3.0 + 1.5 * x + noise, x


@pytest.mark.parametrize("cointegrated", [True, False])
@pytest.mark.parametrize("trend", ["c", "ct"])
def test_engle_granger_equals_statsmodels_coint(cointegrated: bool, trend: str) -> None:
    y, x = _pair(5, cointegrated)
    res = cointegration_test(y, x, trend=trend)  # type: ignore[arg-type]
    t_stat, p_value, crit = coint(y, x, trend=trend, autolag="aic")
    assert res.t_stat == t_stat
    assert res.p_value == p_value
    assert list(res.critical_values.values()) == list(crit)
    assert list(res.critical_values) == ["1%", "5%", "10%"]
    assert res.is_cointegrated is cointegrated
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    assert res.hedge_ratio == pytest.approx(fit.params[1], rel=1e-10)
    assert res.intercept == pytest.approx(fit.params[0], rel=1e-8)
    if cointegrated:
        assert res.hedge_ratio == pytest.approx(1.5, abs=0.02)
        assert res.half_life == pytest.approx(math.log(2) / 0.3, rel=0.25)


def test_adf_equals_statsmodels_adfuller() -> None:
    walk = np.cumsum(np.random.default_rng(1).normal(size=600))
    for series, stationary in ((walk, False), (_ou(600, 0.4, 2), True)):
        res = adf_test(series)
        ref = adfuller(series, regression="c", autolag="AIC", result_object=True)
        assert (res.t_stat, res.p_value, res.used_lag, res.n_obs) == (ref.statistic, ref.pvalue, ref.lags, ref.nobs)
        assert res.critical_values == ref.critical_values
        assert res.is_stationary is stationary
    fixed = adf_test(walk, regression="ct", autolag=None, maxlag=3)
    ref = adfuller(walk, maxlag=3, regression="ct", autolag=None, result_object=True)
    assert (fixed.t_stat, fixed.p_value, fixed.used_lag) == (ref.statistic, ref.pvalue, 3)


def test_half_life_is_minus_ln2_over_the_ols_slope() -> None:
    x = _ou(5000, 0.1, 9, mu=10.0)
    fit = sm.OLS(np.diff(x), sm.add_constant(x[:-1])).fit()
    assert half_life_mean_reversion(x) == pytest.approx(-math.log(2) / fit.params[1], rel=1e-10)
    assert half_life_mean_reversion(x) == pytest.approx(math.log(2) / 0.1, rel=0.2)


def test_half_life_is_infinite_without_mean_reversion() -> None:
    explosive = 1.01 ** np.arange(200)
    assert half_life_mean_reversion(explosive) == math.inf


def test_hurst_separates_random_walk_mean_reversion_and_trend() -> None:
    rng = np.random.default_rng(4)
    steps = rng.normal(size=20_000)
    walk = np.cumsum(steps)
    assert hurst_exponent(walk) == pytest.approx(0.5, abs=0.05)
    assert hurst_exponent(steps) == pytest.approx(0.0, abs=0.05)  # white noise levels: fully mean-reverting
    assert hurst_exponent(_ou(20_000, 0.2, 3)) < 0.3
    assert hurst_exponent(np.cumsum(walk)) > 0.9


def test_hurst_follows_its_stated_estimator() -> None:
    walk = np.cumsum(np.random.default_rng(8).normal(size=3000))
    lags = np.unique(np.geomspace(2, 40, num=50).round().astype(int))
    std = [np.std(walk[lag:] - walk[:-lag]) for lag in lags]
    slope = np.polyfit(np.log(lags), np.log(std), 1)[0]
    assert hurst_exponent(walk, min_lag=2, max_lag=40) == pytest.approx(slope, rel=1e-12)


WALK = np.cumsum(np.random.default_rng(0).normal(size=100)) + 100


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: hurst_exponent(WALK[:10]), "x needs at least 32 values, got 10"),
        (lambda: hurst_exponent(WALK, max_lag=90), r"max_lag <= len\(x\)/2 = 50"),
        (lambda: hurst_exponent(np.ones(100)), "x is constant"),
        (lambda: half_life_mean_reversion(np.r_[WALK, np.nan, WALK]), "x has NaN at index 100"),
        (lambda: adf_test(WALK[:5]), "x needs at least 20 values"),
        (lambda: adf_test(WALK, regression="q"), "regression must be"),  # type: ignore[arg-type]
        (lambda: cointegration_test(WALK, WALK[:50]), r"len\(y\)=100, len\(x\)=50"),
        (lambda: cointegration_test(WALK, np.ones(100)), "x is constant"),
        (lambda: cointegration_test([], WALK), "y needs at least 20 values, got 0"),
    ],
)
def test_stats_bad_input_raises_invalid_input(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        call()
