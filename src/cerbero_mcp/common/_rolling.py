"""Rolling window sums, means and variances in O(n) with cumulative sums of centred data."""

from __future__ import annotations

import numpy as np

from cerbero_mcp.common._validate import FloatArray


def rolling_sum(x: FloatArray, window: int) -> FloatArray:
    """Return sums over trailing windows, aligned to the window's last element (NaN before)."""
    out = np.full(x.size, np.nan)
    if window > x.size:
        return out
    cs = np.cumsum(x)
    out[window - 1] = cs[window - 1]
    out[window:] = cs[window:] - cs[:-window]
    return out


def rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Return trailing-window means (NaN before the first full window)."""
    centre = float(np.mean(x)) if x.size else 0.0
    return rolling_sum(x - centre, window) / window + centre


def rolling_var(x: FloatArray, window: int, ddof: int = 1) -> FloatArray:
    """Return trailing-window variances with `ddof` (exactly 0 on constant windows, never negative)."""
    d = x - (float(np.mean(x)) if x.size else 0.0)
    s1 = rolling_sum(d, window)
    s2 = rolling_sum(d * d, window)
    var = (s2 - s1 * s1 / window) / (window - ddof)
    np.maximum(var, 0.0, where=~np.isnan(var), out=var)
    if window > 1:  # windows whose values never change have exactly zero variance
        changes = np.r_[0.0, (np.diff(x) != 0).astype(np.float64)]
        moved = rolling_sum(changes, window - 1)
        var[window - 1 :][moved[window - 1 :] == 0] = 0.0
    return var
