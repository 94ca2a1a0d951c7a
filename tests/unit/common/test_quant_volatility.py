"""Realized vol estimators against their formulas and simulated paths; GARCH against arch itself."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from arch import arch_model
from numpy.lib.stride_tricks import sliding_window_view

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.volatility import (
    close_to_close_vol,
    garch11_forecast,
    garman_klass_vol,
    parkinson_vol,
    rolling_realized_vol,
    vol_cone,
    yang_zhang_vol,
)

SIGMA_DAILY = 0.03


@pytest.fixture(scope="module")
def ohlc() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily bars of a driftless Brownian log price sampled 400 times a day, with a 1/4 overnight share."""
    rng = np.random.default_rng(11)
    days, steps = 800, 400
    day_var = 0.75 * SIGMA_DAILY**2
    intraday = np.cumsum(rng.normal(0, math.sqrt(day_var / steps), (days, steps)), axis=1)
    gaps = rng.normal(0, math.sqrt(0.25 * SIGMA_DAILY**2), days)
    start = np.cumsum(gaps + np.r_[0.0, intraday[:-1, -1]])
    paths = start[:, None] + np.concatenate([np.zeros((days, 1)), intraday], axis=1)
    px = 100 * np.exp(paths)
    return px[:, 0], px.max(axis=1), px.min(axis=1), px[:, -1]


def _yz_reference(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> float:
    on = np.log(o[1:] / c[:-1])
    oc = np.log(c[1:] / o[1:])
    rs = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    n = on.size
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    return float(np.var(on, ddof=1) + k * np.var(oc, ddof=1) + (1 - k) * rs[1:].mean())


def test_whole_sample_estimators_equal_their_formulas(ohlc: tuple[np.ndarray, ...]) -> None:
    o, h, lo, c = ohlc
    ppy = 252.0
    assert close_to_close_vol(c, ppy) == pytest.approx(np.std(np.diff(np.log(c)), ddof=1) * math.sqrt(ppy), rel=1e-10)
    park = np.mean(np.log(h / lo) ** 2) / (4 * math.log(2))
    assert parkinson_vol(h, lo, ppy) == pytest.approx(math.sqrt(park * ppy), rel=1e-10)
    gk = np.mean(0.5 * np.log(h / lo) ** 2 - (2 * math.log(2) - 1) * np.log(c / o) ** 2)
    assert garman_klass_vol(o, h, lo, c, ppy) == pytest.approx(math.sqrt(gk * ppy), rel=1e-10)
    assert yang_zhang_vol(o, h, lo, c, ppy) == pytest.approx(math.sqrt(_yz_reference(o, h, lo, c) * ppy), rel=1e-10)


def test_estimators_recover_the_simulated_volatility(ohlc: tuple[np.ndarray, ...]) -> None:
    o, h, lo, c = ohlc
    annual = SIGMA_DAILY * math.sqrt(365)
    assert close_to_close_vol(c) == pytest.approx(annual, rel=0.06)
    assert yang_zhang_vol(o, h, lo, c) == pytest.approx(annual, rel=0.06)
    # range estimators see only the intraday share (3/4 of the variance) and a discretised range
    intraday = annual * math.sqrt(0.75)
    assert parkinson_vol(h, lo) == pytest.approx(intraday, rel=0.06)
    assert garman_klass_vol(o, h, lo, c) == pytest.approx(intraday, rel=0.06)


@pytest.mark.parametrize("method", ["close_to_close", "parkinson", "garman_klass", "yang_zhang"])
def test_rolling_vol_equals_the_whole_sample_estimator_on_each_window(
    ohlc: tuple[np.ndarray, ...], method: str
) -> None:
    o, h, lo, c = (x[:120] for x in ohlc)
    w = 30
    whole: dict[str, Callable[..., float]] = {
        "close_to_close": lambda s: close_to_close_vol(c[s]),
        "parkinson": lambda s: parkinson_vol(h[s], lo[s]),
        "garman_klass": lambda s: garman_klass_vol(o[s], h[s], lo[s], c[s]),
        "yang_zhang": lambda s: yang_zhang_vol(o[s], h[s], lo[s], c[s]),
    }
    out = rolling_realized_vol(method, w, open=o, high=h, low=lo, close=c)  # type: ignore[arg-type]
    assert out.shape == c.shape
    uses_prev_close = method in ("close_to_close", "yang_zhang")
    first = w if uses_prev_close else w - 1
    assert np.isnan(out[:first]).all()
    for i in range(first, c.size):
        s = slice(i - w, i + 1) if uses_prev_close else slice(i - w + 1, i + 1)
        assert out[i] == pytest.approx(whole[method](s), rel=1e-9)


def test_vol_cone_summarises_rolling_vol(ohlc: tuple[np.ndarray, ...]) -> None:
    c = ohlc[3]
    cone = vol_cone(c, windows=[10, 30], periods_per_year=365)
    np.testing.assert_array_equal(cone.windows, [10, 30])
    for i, w in enumerate((10, 30)):
        rets = np.diff(np.log(c))
        ref = sliding_window_view(rets, w).std(axis=1, ddof=1) * math.sqrt(365)
        assert cone.min[i] == pytest.approx(ref.min(), rel=1e-9)
        assert cone.median[i] == pytest.approx(np.median(ref), rel=1e-9)
        assert cone.q75[i] == pytest.approx(np.quantile(ref, 0.75), rel=1e-9)
        assert cone.max[i] == pytest.approx(ref.max(), rel=1e-9)
        assert cone.current[i] == pytest.approx(ref[-1], rel=1e-9)


@pytest.mark.parametrize(("mean", "dist"), [("constant", "normal"), ("zero", "t")])
def test_garch_equals_the_arch_fit(mean: str, dist: str) -> None:
    rng = np.random.default_rng(3)
    n, omega, alpha, beta = 1500, 2e-6, 0.08, 0.9
    r = np.empty(n)
    var = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = math.sqrt(var) * rng.standard_normal()
        var = omega + alpha * r[t] ** 2 + beta * var
    out = garch11_forecast(r, horizon=5, periods_per_year=365, mean=mean, dist=dist)  # type: ignore[arg-type]
    ref = arch_model(100 * r, mean="Constant" if mean == "constant" else "Zero", vol="GARCH", p=1, q=1, dist=dist)
    res = ref.fit(disp="off", show_warning=False)
    assert out.alpha == pytest.approx(res.params["alpha[1]"], rel=1e-12)
    assert out.beta == pytest.approx(res.params["beta[1]"], rel=1e-12)
    assert out.omega == pytest.approx(res.params["omega"] / 1e4, rel=1e-12)
    if mean == "constant":
        assert out.mu == pytest.approx(res.params["mu"] / 100, rel=1e-12)
    else:
        assert out.nu == pytest.approx(res.params["nu"], rel=1e-12)
    np.testing.assert_allclose(out.conditional_vol, res.conditional_volatility / 100, rtol=1e-12)
    fc = res.forecast(horizon=5, reindex=False).variance.values[-1] / 1e4
    np.testing.assert_allclose(out.variance_forecast, fc, rtol=1e-12)
    assert out.annualised_forecast == pytest.approx(math.sqrt(fc.mean() * 365), rel=1e-12)
    assert out.log_likelihood == pytest.approx(res.loglikelihood)
    assert out.converged
    assert 0.8 < out.persistence < 1
    assert out.beta == pytest.approx(beta, abs=0.06)


ONES = np.full(40, 100.0)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: close_to_close_vol([100.0]), "close needs at least 2 values"),
        (lambda: close_to_close_vol(np.r_[ONES, np.nan, ONES]), "close has NaN at index 40"),
        (lambda: close_to_close_vol(np.r_[np.nan, ONES]), "close must not contain NaN"),
        (lambda: close_to_close_vol(np.r_[ONES, -3.0]), "close must be positive"),
        (lambda: close_to_close_vol(ONES, periods_per_year=0), "periods_per_year must be a finite positive"),
        (
            lambda: rolling_realized_vol("close_to_close", 80, close=ONES),
            r"window must be between 2 and len\(returns\)=39",
        ),
        (lambda: rolling_realized_vol("parkinson", 0, high=ONES, low=ONES), "window must be between 1"),
        (lambda: rolling_realized_vol("parkinson", 5, high=ONES), "parkinson volatility needs low"),
        (lambda: rolling_realized_vol("ewma", 5, close=ONES), "unknown method 'ewma'"),  # type: ignore[arg-type]
        (lambda: parkinson_vol(ONES, ONES * 1.1), "high < low at index 0"),
        (lambda: garman_klass_vol(ONES, ONES, ONES, ONES[:10]), "same length"),
        (lambda: vol_cone(ONES, windows=[]), "windows is empty"),
        (lambda: vol_cone(ONES, windows=[10, 60]), "window must be between 2"),
        (lambda: garch11_forecast(np.zeros(20)), "returns needs at least 50 values"),
        (lambda: garch11_forecast(np.zeros(100)), "returns are constant"),
        (lambda: garch11_forecast(np.ones(100) * 0.01, horizon=0), "horizon must be an integer between 1 and 10000"),
    ],
)
def test_volatility_bad_input_raises_invalid_input(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        call()
