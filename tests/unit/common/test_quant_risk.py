"""Rolling Sharpe, VaR/CVaR, drawdown and position sizing against direct computations."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import norm

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.risk import atr_stop, max_drawdown, position_size, rolling_sharpe, var_cvar

RETURNS = np.random.default_rng(2).normal(0.001, 0.02, 500)


def test_rolling_sharpe_equals_windowed_mean_over_std() -> None:
    w, rf = 60, 0.0001
    out = rolling_sharpe(RETURNS, w, periods_per_year=252, risk_free=rf)
    win = sliding_window_view(RETURNS - rf, w)
    ref = win.mean(axis=1) / win.std(axis=1, ddof=1) * math.sqrt(252)
    assert out.shape == RETURNS.shape
    assert np.isnan(out[: w - 1]).all()
    np.testing.assert_allclose(out[w - 1 :], ref, rtol=1e-9)


def test_rolling_sharpe_is_nan_on_flat_windows() -> None:
    r = np.r_[np.full(10, 0.01), RETURNS[:10]]
    out = rolling_sharpe(r, 5)
    assert np.isnan(out[4:10]).all()
    assert np.isfinite(out[14:]).all()


def test_historical_var_cvar() -> None:
    r = np.arange(-50, 50) / 1000.0  # -5 % … +4.9 %, 100 values
    res = var_cvar(r, level=0.95)
    q = np.quantile(r, 0.05)
    assert res.var == pytest.approx(-q)
    assert res.cvar == pytest.approx(-r[r <= q].mean())
    assert res.cvar >= res.var > 0


def test_parametric_var_cvar_is_gaussian() -> None:
    res = var_cvar(RETURNS, level=0.99, method="parametric")
    mu, sd = RETURNS.mean(), RETURNS.std(ddof=1)
    assert res.var == pytest.approx(-(mu + sd * norm.ppf(0.01)), rel=1e-12)
    assert res.cvar == pytest.approx(-mu + sd * norm.pdf(norm.ppf(0.99)) / 0.01, rel=1e-12)
    hist = var_cvar(RETURNS, level=0.99)
    assert hist.var == pytest.approx(res.var, rel=0.25)


def test_max_drawdown_indices_and_recovery() -> None:
    equity = np.array([100, 110, 120, 90, 60, 80, 125, 100.0])
    dd = max_drawdown(equity)
    assert dd.max_drawdown == pytest.approx(0.5)
    assert (dd.peak_index, dd.trough_index, dd.recovery_index) == (2, 4, 6)
    np.testing.assert_allclose(dd.drawdown, [0, 0, 0, 0.25, 0.5, 1 / 3, 0, 0.2])
    never = max_drawdown(np.array([100.0, 120, 90]))
    assert never.recovery_index is None
    rising = max_drawdown(np.array([1.0, 2.0, 3.0]))
    assert (rising.max_drawdown, rising.peak_index, rising.trough_index) == (0.0, 0, 0)


def test_position_size_risks_the_stated_share_of_equity() -> None:
    long = position_size(equity=10_000, risk_pct=1.0, entry=100.0, stop=95.0)
    assert long.quantity == pytest.approx(20.0)
    assert long.side == "long"
    assert long.risk_amount == pytest.approx(100.0)
    assert long.notional == pytest.approx(2000.0)
    assert long.leverage == pytest.approx(0.2)
    short = position_size(50_000, 0.5, entry=4000.0, stop=4010.0, contract_value=50.0)
    assert short.side == "short"
    assert short.quantity == pytest.approx(250.0 / (10.0 * 50.0))
    stop = atr_stop(100.0, atr=2.5, multiple=2.0)
    assert stop == 95.0
    assert position_size(10_000, 1.0, 100.0, stop).quantity == pytest.approx(20.0)
    assert atr_stop(100.0, 2.5, 2.0, side="short") == 105.0


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: rolling_sharpe(RETURNS, 1), "window must be between 2 and len"),
        (lambda: rolling_sharpe(RETURNS, 501), "window must be between 2 and len"),
        (lambda: rolling_sharpe(np.r_[RETURNS, np.nan, RETURNS], 20), "returns has NaN at index 500"),
        (lambda: rolling_sharpe([], 20), "returns needs at least 1 values"),
        (lambda: var_cvar(RETURNS, level=1.0), r"level must be in \[0.5, 1\)"),
        (lambda: var_cvar(RETURNS, method="mc"), "method must be"),  # type: ignore[arg-type]
        (lambda: max_drawdown([100.0, -5.0]), "equity must be positive"),
        (lambda: position_size(10_000, 150, 100, 95), "risk_pct is a percentage"),
        (lambda: position_size(10_000, 1, 100, 100), "stop equals entry"),
        (lambda: position_size(-1, 1, 100, 95), "equity must be a finite positive"),
        (lambda: position_size(10_000, 1, 100, 95, contract_value=0), "contract_value must be"),
        (lambda: atr_stop(10.0, 4.0, 3.0), "at or below zero"),
    ],
)
def test_risk_bad_input_raises_invalid_input(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        call()
