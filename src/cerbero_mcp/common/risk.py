"""Risk measures: rolling Sharpe, value at risk, drawdown and stop-based position sizing.

Returns are simple per-period returns (0.01 = 1 %); VaR and CVaR are reported as positive loss
fractions; drawdowns as positive fractions of the running peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from cerbero_mcp.common._rolling import rolling_mean, rolling_var
from cerbero_mcp.common._validate import FloatArray, fail, period, positive_number, series

__all__ = [
    "Drawdown",
    "PositionSize",
    "VarCvar",
    "atr_stop",
    "max_drawdown",
    "position_size",
    "rolling_sharpe",
    "var_cvar",
]


def rolling_sharpe(
    returns: ArrayLike, window: int, periods_per_year: float = 365.0, risk_free: float = 0.0
) -> FloatArray:
    """Return mean(r − risk_free)/std(r, ddof 1)·sqrt(periods_per_year) over trailing windows.

    `risk_free` is per period. NaN before the first full window and where the window's returns
    do not vary.
    """
    r = series(returns, "returns", leading_nan=False)
    w = period(window, r.size, name="window", of="returns", minimum=2)
    ppy = positive_number(periods_per_year, "periods_per_year")
    excess = r - float(risk_free)
    std = np.sqrt(rolling_var(excess, w))
    flat = std == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = rolling_mean(excess, w) / std * math.sqrt(ppy)
    out[flat] = np.nan
    return out


@dataclass(frozen=True)
class VarCvar:
    """Value at risk and expected shortfall at `level`, as positive loss fractions."""

    var: float
    cvar: float
    level: float
    method: Literal["historical", "parametric"]


def var_cvar(
    returns: ArrayLike, level: float = 0.95, method: Literal["historical", "parametric"] = "historical"
) -> VarCvar:
    """Return VaR and CVaR of one period's return.

    historical: VaR = −quantile(returns, 1 − level) (linear interpolation), CVaR = −mean of the
    returns at or below −VaR. parametric (Gaussian, sample mean and std): VaR = −(μ + σ·z₁₋ₗ),
    CVaR = −μ + σ·φ(zₗ)/(1 − level).
    """
    r = series(returns, "returns", leading_nan=False, min_len=2)
    if not 0.5 <= level < 1:
        fail(f"level must be in [0.5, 1), got {level}", fix="e.g. 0.95 or 0.99", argument="level")
    if method == "historical":
        var = -float(np.quantile(r, 1.0 - level))
        cvar = -float(r[r <= -var].mean())
    elif method == "parametric":
        mu, sigma = float(r.mean()), float(r.std(ddof=1))
        from scipy.stats import norm  # lazy: scipy.stats costs ~0.5 s to import

        z = float(norm.ppf(level))
        var = -mu + sigma * z
        cvar = -mu + sigma * float(norm.pdf(z)) / (1.0 - level)
    else:
        fail(f'method must be "historical" or "parametric", got {method!r}', argument="method")
    return VarCvar(var, cvar, float(level), method)


@dataclass(frozen=True)
class Drawdown:
    """Largest peak-to-trough fall of an equity curve, where it happened and the drawdown series."""

    max_drawdown: float
    peak_index: int
    trough_index: int
    recovery_index: int | None
    drawdown: FloatArray


def max_drawdown(equity: ArrayLike) -> Drawdown:
    """Return the maximum drawdown of an equity (or price) curve, e.g. cumprod(1 + returns).

    recovery_index is the first index after the trough back at the peak's level (None if never).
    A curve that never falls has max_drawdown 0 with peak and trough at index 0.
    """
    x = series(equity, "equity", positive=True, leading_nan=False)
    peak = np.maximum.accumulate(x)
    dd = 1.0 - x / peak
    trough = int(np.argmax(dd))
    if dd[trough] == 0:
        return Drawdown(0.0, 0, 0, None, dd)
    peak_i = int(np.argmax(x[: trough + 1]))
    after = np.flatnonzero(x[trough:] >= x[peak_i])
    recovery = int(trough + after[0]) if after.size else None
    return Drawdown(float(dd[trough]), peak_i, trough, recovery, dd)


@dataclass(frozen=True)
class PositionSize:
    """Size that loses `risk_amount` if the stop is hit."""

    quantity: float
    side: Literal["long", "short"]
    risk_amount: float
    stop_distance: float
    notional: float
    leverage: float


def position_size(
    equity: float, risk_pct: float, entry: float, stop: float, contract_value: float = 1.0
) -> PositionSize:
    """Return the quantity whose loss from `entry` to `stop` is `risk_pct` percent of `equity`.

    quantity = equity·risk_pct/100 / (|entry − stop|·contract_value); `contract_value` is the
    value of one contract per unit of price (1 for spot units, 50 for an ES future). The side is
    long when the stop is below the entry. Derive the stop from ATR with `atr_stop`.
    """
    eq = positive_number(equity, "equity")
    pct = positive_number(risk_pct, "risk_pct")
    if pct > 100:
        fail(f"risk_pct is a percentage in (0, 100], got {risk_pct}", fix="send 1.0 for 1 %", argument="risk_pct")
    e, s = positive_number(entry, "entry"), positive_number(stop, "stop")
    cv = positive_number(contract_value, "contract_value")
    distance = abs(e - s)
    if distance == 0:
        fail("stop equals entry; the risk per contract would be zero", fix="place the stop away from entry")
    risk_amount = eq * pct / 100.0
    qty = risk_amount / (distance * cv)
    notional = qty * e * cv
    return PositionSize(qty, "long" if s < e else "short", risk_amount, distance, notional, notional / eq)


def atr_stop(entry: float, atr: float, multiple: float = 2.0, side: Literal["long", "short"] = "long") -> float:
    """Return the stop `multiple` ATRs below (long) or above (short) `entry`."""
    e = positive_number(entry, "entry")
    dist = positive_number(atr, "atr") * positive_number(multiple, "multiple")
    if side not in ("long", "short"):
        fail(f'side must be "long" or "short", got {side!r}', argument="side")
    stop = e - dist if side == "long" else e + dist
    if stop <= 0:
        fail(f"the stop {stop:.10g} would be at or below zero", fix="lower the ATR multiple", argument="multiple")
    return stop
