"""Time-series statistics: Hurst exponent, mean-reversion half-life, ADF and Engle–Granger tests.

Unit-root and cointegration tests are statsmodels' (`adfuller`, `coint`, MacKinnon p-values);
inputs are level series (prices or log prices), with no NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from cerbero_mcp.common._validate import FloatArray, fail, same_length, series

__all__ = [
    "AdfResult",
    "CointegrationResult",
    "adf_test",
    "cointegration_test",
    "half_life_mean_reversion",
    "hurst_exponent",
]

_MIN_OBS = 20


def _levels(x: ArrayLike, name: str, min_len: int = _MIN_OBS) -> FloatArray:
    a = series(x, name, leading_nan=False, min_len=min_len)
    if np.ptp(a) == 0:
        fail(f"{name} is constant; the statistic is undefined", fix=f"send a varying {name}", argument=name)
    return a


def hurst_exponent(x: ArrayLike, min_lag: int = 2, max_lag: int | None = None) -> float:
    """Estimate the Hurst exponent of a level series from the scaling of its lagged differences.

    Estimator: the standard deviation of x[t+τ] − x[t] grows like τ^H, so H is the OLS slope of
    log std against log τ over up to 50 log-spaced lags in [min_lag, max_lag] (default
    min(100, len/4)). H ≈ 0.5 for a random walk, < 0.5 mean-reverting, > 0.5 trending. Pass
    prices or log prices, not returns.
    """
    a = _levels(x, "x", min_len=32)
    hi = min(100, a.size // 4) if max_lag is None else max_lag
    if not 1 <= min_lag < hi <= a.size // 2:
        fail(
            f"need 1 <= min_lag < max_lag <= len(x)/2 = {a.size // 2}, got min_lag={min_lag}, max_lag={hi}",
            fix="lower max_lag or send a longer series",
        )
    lags = np.unique(np.geomspace(min_lag, hi, num=50).round().astype(np.int64))
    std = np.array([np.std(a[lag:] - a[:-lag]) for lag in lags])
    if (std == 0).any():
        fail("x has lags with no variation; the Hurst exponent is undefined", argument="x")
    slope = np.polyfit(np.log(lags), np.log(std), 1)[0]
    return float(slope)


def _ols_slope(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Return (slope, intercept) of y on x with a constant."""
    xm, ym = x.mean(), y.mean()
    dx = x - xm
    slope = float((dx * (y - ym)).sum() / (dx * dx).sum())
    return slope, float(ym - slope * xm)


def half_life_mean_reversion(x: ArrayLike) -> float:
    """Return −ln 2 / b from the OLS Δxₜ = a + b·xₜ₋₁ (in bars); inf when b >= 0 (no mean reversion)."""
    a = _levels(x, "x")
    b, _ = _ols_slope(a[:-1], np.diff(a))
    return -math.log(2.0) / b if b < 0 else math.inf


@dataclass(frozen=True)
class AdfResult:
    """Augmented Dickey–Fuller test of a unit root (null: non-stationary)."""

    t_stat: float
    p_value: float
    used_lag: int
    n_obs: int
    critical_values: dict[str, float]
    is_stationary: bool


def adf_test(
    x: ArrayLike,
    regression: Literal["c", "ct", "ctt", "n"] = "c",
    autolag: Literal["AIC", "BIC", "t-stat"] | None = "AIC",
    maxlag: int | None = None,
    significance: float = 0.05,
) -> AdfResult:
    """Run statsmodels' augmented Dickey–Fuller test; stationary when p < significance."""
    a = _levels(x, "x")
    if regression not in ("c", "ct", "ctt", "n"):
        fail(f'regression must be "c", "ct", "ctt" or "n", got {regression!r}', argument="regression")
    try:
        from statsmodels.tsa.stattools import adfuller  # lazy: statsmodels is slow to import

        res = adfuller(a, maxlag=maxlag, regression=regression, autolag=autolag, result_object=True)
    except (ValueError, np.linalg.LinAlgError) as exc:
        fail(f"the ADF test could not run on this input: {exc}", fix="send a longer or less degenerate series")
    p = float(res.pvalue)
    return AdfResult(
        t_stat=float(res.statistic),
        p_value=p,
        used_lag=int(res.lags),
        n_obs=int(res.nobs),
        critical_values={k: float(v) for k, v in res.critical_values.items()},
        is_stationary=p < significance,
    )


@dataclass(frozen=True)
class CointegrationResult:
    """Engle–Granger test of y against x, with the OLS hedge ratio and the spread's half-life."""

    t_stat: float
    p_value: float
    critical_values: dict[str, float]
    hedge_ratio: float
    intercept: float
    half_life: float
    is_cointegrated: bool


def cointegration_test(
    y: ArrayLike,
    x: ArrayLike,
    trend: Literal["c", "ct", "ctt", "n"] = "c",
    autolag: Literal["aic", "bic", "t-stat"] | None = "aic",
    significance: float = 0.05,
) -> CointegrationResult:
    """Run the Engle–Granger test (statsmodels `coint`); spread = y − hedge_ratio·x − intercept."""
    ya, xa = _levels(y, "y"), _levels(x, "x")
    same_length(y=ya, x=xa)
    if trend not in ("c", "ct", "ctt", "n"):
        fail(f'trend must be "c", "ct", "ctt" or "n", got {trend!r}', argument="trend")
    try:
        from statsmodels.tsa.stattools import coint  # lazy: statsmodels is slow to import

        t_stat, p_value, crit = coint(ya, xa, trend=trend, autolag=autolag)
    except (ValueError, np.linalg.LinAlgError) as exc:
        fail(f"the cointegration test could not run on this input: {exc}", fix="send longer series")
    beta, alpha = _ols_slope(xa, ya)
    spread = ya - beta * xa - alpha
    half_life = half_life_mean_reversion(spread) if np.ptp(spread) > 0 else 0.0
    p = float(p_value)
    return CointegrationResult(
        t_stat=float(t_stat),
        p_value=p,
        critical_values={k: float(v) for k, v in zip(("1%", "5%", "10%"), crit, strict=True)},
        hedge_ratio=beta,
        intercept=alpha,
        half_life=half_life,
        is_cointegrated=p < significance,
    )
