"""Realized volatility estimators, volatility cones and GARCH(1,1) forecasts.

All volatilities are annualised: σ_annual = sqrt(variance per bar · periods_per_year), so pass
365 for daily crypto bars, 252 for daily equity bars, 365·24 for hourly crypto bars. Estimators
(variance per bar, n bars):

- close-to-close: sample variance (ddof 1) of log returns ln(Cₜ/Cₜ₋₁);
- Parkinson (1980): mean of ln(H/L)² / (4 ln 2);
- Garman–Klass (1980): mean of ½ ln(H/L)² − (2 ln 2 − 1) ln(C/O)²;
- Yang–Zhang (2000): σ²_overnight + k σ²_open-close + (1 − k) σ²_Rogers-Satchell with
  k = 0.34 / (1.34 + (n + 1)/(n − 1)), overnight = ln(Oₜ/Cₜ₋₁), both variances ddof 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cerbero_mcp.common._rolling import rolling_mean, rolling_var
from cerbero_mcp.common._validate import (
    FloatArray,
    fail,
    int_in_range,
    invalid,
    period,
    positive_number,
    same_length,
    series,
)

__all__ = [
    "GarchForecast",
    "VolCone",
    "close_to_close_vol",
    "garch11_forecast",
    "garman_klass_vol",
    "parkinson_vol",
    "rolling_realized_vol",
    "vol_cone",
    "yang_zhang_vol",
]

Method = Literal["close_to_close", "parkinson", "garman_klass", "yang_zhang"]
_LN2 = math.log(2.0)


def _px(x: ArrayLike | None, name: str, method: str) -> FloatArray:
    if x is None:
        fail(f"{method} volatility needs {name}", fix=f"send {name}", argument=name)
    return series(x, name, positive=True, leading_nan=False, min_len=2)


def _rolling_variance(
    method: Method,
    window: int,
    open_: ArrayLike | None,
    high: ArrayLike | None,
    low: ArrayLike | None,
    close: ArrayLike | None,
) -> FloatArray:
    """Per-bar variance over trailing windows, aligned to the window's last bar (NaN before)."""
    if method not in ("close_to_close", "parkinson", "garman_klass", "yang_zhang"):
        raise invalid(
            f"unknown method {method!r}; use close_to_close, parkinson, garman_klass or yang_zhang",
            argument="method",
        )
    if method == "close_to_close":
        c = _px(close, "close", method)
        w = period(window, c.size - 1, name="window", of="returns", minimum=2)
        out = np.full(c.size, np.nan)
        out[1:] = rolling_var(np.diff(np.log(c)), w)
        return out
    h, lo = _px(high, "high", method), _px(low, "low", method)
    if method == "parkinson":
        same_length(high=h, low=lo)
        _check_hl(h, lo)
        w = period(window, h.size, name="window", of="high")
        return rolling_mean(np.log(h / lo) ** 2 / (4.0 * _LN2), w)
    o, c = _px(open_, "open", method), _px(close, "close", method)
    same_length(open=o, high=h, low=lo, close=c)
    _check_hl(h, lo)
    if method == "garman_klass":
        w = period(window, c.size, name="window", of="close")
        return rolling_mean(0.5 * np.log(h / lo) ** 2 - (2.0 * _LN2 - 1.0) * np.log(c / o) ** 2, w)
    # yang_zhang
    w = period(window, c.size - 1, name="window", of="returns", minimum=2)
    overnight = np.log(o[1:] / c[:-1])
    intraday = np.log(c[1:] / o[1:])
    rs = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    k = 0.34 / (1.34 + (w + 1) / (w - 1))
    out = np.full(c.size, np.nan)
    out[1:] = rolling_var(overnight, w) + k * rolling_var(intraday, w) + (1 - k) * rolling_mean(rs[1:], w)
    return out


def _check_hl(h: FloatArray, lo: FloatArray) -> None:
    if (h < lo).any():
        i = int(np.argmax(h < lo))
        fail(f"high < low at index {i} ({h[i]} < {lo[i]})", index=i)


def _annualise(var: FloatArray | float, periods_per_year: float) -> FloatArray:
    ppy = positive_number(periods_per_year, "periods_per_year")
    return np.sqrt(np.asarray(var, dtype=np.float64) * ppy)


def rolling_realized_vol(
    method: Method,
    window: int,
    *,
    open: ArrayLike | None = None,
    high: ArrayLike | None = None,
    low: ArrayLike | None = None,
    close: ArrayLike | None = None,
    periods_per_year: float = 365.0,
) -> FloatArray:
    """Return annualised realized vol over trailing windows of `window` bars (returns for close-based)."""
    return _annualise(_rolling_variance(method, window, open, high, low, close), periods_per_year)


def _whole(method: Method, n: int, *args: ArrayLike | None, periods_per_year: float) -> float:
    window = n - 1 if method in ("close_to_close", "yang_zhang") else n
    var = _rolling_variance(method, window, *args)
    return float(_annualise(var[-1], periods_per_year))


def _length(x: ArrayLike) -> int:
    return int(np.size(x))


def close_to_close_vol(close: ArrayLike, periods_per_year: float = 365.0) -> float:
    """Return the annualised standard deviation of log returns over the whole series."""
    return _whole("close_to_close", _length(close), None, None, None, close, periods_per_year=periods_per_year)


def parkinson_vol(high: ArrayLike, low: ArrayLike, periods_per_year: float = 365.0) -> float:
    """Return Parkinson's high-low volatility over the whole series, annualised."""
    return _whole("parkinson", _length(high), None, high, low, None, periods_per_year=periods_per_year)


def garman_klass_vol(
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    periods_per_year: float = 365.0,
) -> float:
    """Return the Garman–Klass OHLC volatility over the whole series, annualised."""
    return _whole("garman_klass", _length(close), open, high, low, close, periods_per_year=periods_per_year)


def yang_zhang_vol(
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    periods_per_year: float = 365.0,
) -> float:
    """Return the Yang–Zhang OHLC volatility (overnight, open-close and Rogers–Satchell), annualised."""
    return _whole("yang_zhang", _length(close), open, high, low, close, periods_per_year=periods_per_year)


@dataclass(frozen=True)
class VolCone:
    """Distribution of rolling close-to-close vol per window: min, quartiles, max and the latest value."""

    windows: NDArray[np.int64]
    min: FloatArray
    q25: FloatArray
    median: FloatArray
    q75: FloatArray
    max: FloatArray
    current: FloatArray


def vol_cone(
    close: ArrayLike, windows: tuple[int, ...] | list[int] = (10, 20, 30, 60, 90), periods_per_year: float = 365.0
) -> VolCone:
    """Return the volatility cone of annualised close-to-close vol over overlapping windows."""
    c = series(close, "close", positive=True, leading_nan=False, min_len=3)
    if len(windows) == 0:
        fail("windows is empty", fix="send window lengths such as [10, 20, 30]", argument="windows")
    rows = []
    for w in windows:
        vol = rolling_realized_vol("close_to_close", w, close=c, periods_per_year=periods_per_year)
        v = vol[~np.isnan(vol)]
        rows.append((v.min(), *np.quantile(v, [0.25, 0.5, 0.75]), v.max(), vol[-1]))
    a = np.array(rows, dtype=np.float64)
    return VolCone(np.array(windows, dtype=np.int64), *(a[:, i] for i in range(6)))


@dataclass(frozen=True)
class GarchForecast:
    """GARCH(1,1) fit (parameters in return units, not scaled) and its variance forecast."""

    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float | None
    persistence: float
    long_run_vol_annualised: float
    conditional_vol: FloatArray
    variance_forecast: FloatArray
    vol_forecast_annualised: FloatArray
    annualised_forecast: float
    log_likelihood: float
    converged: bool


def garch11_forecast(
    returns: ArrayLike,
    horizon: int = 10,
    *,
    periods_per_year: float = 365.0,
    mean: Literal["constant", "zero"] = "constant",
    dist: Literal["normal", "t"] = "normal",
    scale: float = 100.0,
) -> GarchForecast:
    """Fit GARCH(1,1) with arch and forecast `horizon` periods of variance.

    Returns are multiplied by `scale` for the optimiser (arch's advice) and every output is
    converted back. `annualised_forecast` is sqrt(mean forecast variance over the horizon · ppy).
    """
    r = series(returns, "returns", leading_nan=False, min_len=50)
    h = int_in_range(horizon, "horizon", 1, 10_000)
    ppy = positive_number(periods_per_year, "periods_per_year")
    s = positive_number(scale, "scale")
    if mean not in ("constant", "zero") or dist not in ("normal", "t"):
        fail(f'mean must be "constant" or "zero" and dist "normal" or "t", got {mean!r}, {dist!r}')
    if float(np.std(r)) == 0.0:
        fail("returns are constant; GARCH needs varying returns", argument="returns")
    from arch import arch_model  # lazy: arch pulls in pandas and statsmodels (~1 s)

    model = arch_model(r * s, mean="Constant" if mean == "constant" else "Zero", vol="GARCH", p=1, q=1, dist=dist)
    res = model.fit(disp="off", show_warning=False)
    p = res.params
    omega, alpha, beta = float(p["omega"]) / s**2, float(p["alpha[1]"]), float(p["beta[1]"])
    var_fc = np.asarray(res.forecast(horizon=h, reindex=False).variance.values[-1], dtype=np.float64) / s**2
    persistence = alpha + beta
    long_run = math.sqrt(omega / (1 - persistence) * ppy) if persistence < 1 else math.inf
    return GarchForecast(
        mu=float(p["mu"]) / s if mean == "constant" else 0.0,
        omega=omega,
        alpha=alpha,
        beta=beta,
        nu=float(p["nu"]) if dist == "t" else None,
        persistence=persistence,
        long_run_vol_annualised=long_run,
        conditional_vol=np.asarray(res.conditional_volatility, dtype=np.float64) / s,
        variance_forecast=var_fc,
        vol_forecast_annualised=np.sqrt(var_fc * ppy),
        annualised_forecast=math.sqrt(float(var_fc.mean()) * ppy),
        log_likelihood=float(res.loglikelihood),
        converged=int(res.convergence_flag) == 0,
    )
