"""Black–Scholes and Black-76 pricing, greeks and implied volatility (public via `options`).

Every function broadcasts its arguments with numpy rules and returns float64 arrays (0-d arrays
when every input is a scalar; `float(x)` turns one into a Python float). `kind` is "call" or
"put" (case-insensitive, "c"/"p" accepted), an array of such strings, or a boolean array that is
True for calls.

Units follow QuantLib: vega and vanna are per 1.00 of volatility (divide by 100 for one vol
point), theta and charm are per year of calendar time (divide by 365 for one day), rho is per
1.00 of rate. Theta is dV/dt as time passes (−∂V/∂T); charm is d(delta)/dt likewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from cerbero_mcp.common._validate import FloatArray, as_float, fail, invalid

__all__ = [
    "Greeks",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "bs_greeks",
    "bs_implied_vol",
    "bs_price",
    "implied_vol",
    "parse_kind",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    """Price and sensitivities of European options (arrays of the broadcast shape)."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    vanna: FloatArray
    charm: FloatArray
    rho: FloatArray


def parse_kind(kind: ArrayLike) -> NDArray[np.bool_]:
    """Return a boolean array that is True for calls, from "call"/"put" strings or booleans."""
    if isinstance(kind, str):
        k = kind.strip().lower()
        if k in ("call", "c"):
            return np.array(True)
        if k in ("put", "p"):
            return np.array(False)
        fail(f'kind must be "call" or "put", got {kind!r}', fix='use "call" or "put"', argument="kind")
    arr = np.asarray(kind)
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind in "UO" and arr.size > 0:
        calls = arr == "call"
        if (calls | (arr == "put")).all():  # fast path for the canonical spelling
            return np.asarray(calls, dtype=np.bool_)
        low = np.char.lower(np.char.strip(arr.astype(str)))
        calls = (low == "call") | (low == "c")
        puts = (low == "put") | (low == "p")
        if (calls | puts).all():
            return np.asarray(calls, dtype=np.bool_)
        idx = int(np.argmin((calls | puts).reshape(-1)))
        fail(
            f'kind must be "call" or "put", got {str(arr.reshape(-1)[idx])!r} at flat index {idx}',
            fix='use "call" or "put"',
            argument="kind",
            index=idx,
        )
    raise invalid(f'kind must be "call"/"put" or booleans (True = call), got {kind!r}', argument="kind")


def _check(name: str, arr: FloatArray, *, positive: bool) -> None:
    ok = np.isfinite(arr) & (arr > 0) if positive else np.isfinite(arr)
    if not ok.all():
        idx = int(np.argmin(ok.reshape(-1)))
        value = arr.reshape(-1)[idx]
        must = "finite and > 0" if positive else "finite"
        fail(
            f"{name} must be {must}, got {value} at flat index {idx}",
            fix=f"send {name} > 0" if positive else f"send a finite {name}",
            argument=name,
            index=idx,
        )


def _inputs(
    named: dict[str, ArrayLike], positive: tuple[str, ...], kind: ArrayLike
) -> tuple[list[FloatArray], NDArray[np.bool_]]:
    arrays = []
    for name, value in named.items():
        arr = as_float(value, name)
        if arr.size == 0:
            fail(f"{name} is empty", argument=name)
        _check(name, arr, positive=name in positive)
        arrays.append(arr)
    is_call = parse_kind(kind)
    try:
        *out, calls = np.broadcast_arrays(*arrays, is_call)
    except ValueError:
        shapes = {n: list(np.shape(a)) for n, a in zip(named, arrays, strict=True)}
        shapes["kind"] = list(is_call.shape)
        fail(f"arguments cannot be broadcast together: {shapes}", fix="send equal-length arrays")
    return out, calls


def _bs(
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    r: FloatArray,
    sigma: FloatArray,
    q: FloatArray,
    is_call: NDArray[np.bool_],
    greeks: bool,
) -> Greeks | FloatArray:
    """Black–Scholes–Merton price (and greeks) on already validated, broadcast arrays."""
    theta_sign = np.where(is_call, 1.0, -1.0)
    sqrt_t = np.sqrt(T)
    vol_t = sigma * sqrt_t
    d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / vol_t
    d2 = d1 - vol_t
    df_q = np.exp(-q * T)
    df_r = np.exp(-r * T)
    n1 = ndtr(theta_sign * d1)
    n2 = ndtr(theta_sign * d2)
    s_fwd = S * df_q
    k_disc = K * df_r
    price = theta_sign * (s_fwd * n1 - k_disc * n2)
    if not greeks:
        return np.asarray(price, dtype=np.float64)
    pdf = np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
    delta = theta_sign * df_q * n1
    gamma = df_q * pdf / (S * vol_t)
    vega = s_fwd * pdf * sqrt_t
    theta = -s_fwd * pdf * sigma / (2.0 * sqrt_t) - theta_sign * (r * k_disc * n2 - q * s_fwd * n1)
    vanna = -df_q * pdf * d2 / sigma
    charm = theta_sign * q * df_q * n1 - df_q * pdf * (2.0 * (r - q) * T - d2 * vol_t) / (2.0 * T * vol_t)
    rho = theta_sign * k_disc * T * n2
    return Greeks(price, delta, gamma, vega, theta, vanna, charm, rho)


def _bs_args(
    S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, q: ArrayLike, kind: ArrayLike
) -> tuple[list[FloatArray], NDArray[np.bool_]]:
    return _inputs({"S": S, "K": K, "T": T, "r": r, "sigma": sigma, "q": q}, ("S", "K", "T", "sigma"), kind)


def bs_price(
    S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, kind: ArrayLike, q: ArrayLike = 0.0
) -> FloatArray:
    """Price European options with Black–Scholes–Merton (continuous dividend yield `q`)."""
    (s, k, t, rr, v, qq), calls = _bs_args(S, K, T, r, sigma, q, kind)
    out = _bs(s, k, t, rr, v, qq, calls, greeks=False)
    assert not isinstance(out, Greeks)
    return out


def bs_greeks(
    S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, kind: ArrayLike, q: ArrayLike = 0.0
) -> Greeks:
    """Return Black–Scholes–Merton price, delta, gamma, vega, theta, vanna, charm and rho."""
    (s, k, t, rr, v, qq), calls = _bs_args(S, K, T, r, sigma, q, kind)
    out = _bs(s, k, t, rr, v, qq, calls, greeks=True)
    assert isinstance(out, Greeks)
    return out


def _b76_args(
    F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, kind: ArrayLike
) -> tuple[list[FloatArray], NDArray[np.bool_]]:
    return _inputs({"F": F, "K": K, "T": T, "r": r, "sigma": sigma}, ("F", "K", "T", "sigma"), kind)


def black76_price(
    F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, kind: ArrayLike
) -> FloatArray:
    """Price European options on a forward with Black-76, discounted at `r`."""
    (f, k, t, rr, v), calls = _b76_args(F, K, T, r, sigma, kind)
    # Black-76 is Black–Scholes–Merton with the forward as spot and q = r.
    out = _bs(f, k, t, rr, v, rr, calls, greeks=False)
    assert not isinstance(out, Greeks)
    return out


def black76_greeks(F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, kind: ArrayLike) -> Greeks:
    """Return Black-76 price and greeks; delta and gamma are w.r.t. the forward, rho is −T·price."""
    (f, k, t, rr, v), calls = _b76_args(F, K, T, r, sigma, kind)
    g = _bs(f, k, t, rr, v, rr, calls, greeks=True)
    assert isinstance(g, Greeks)
    return Greeks(g.price, g.delta, g.gamma, g.vega, g.theta, g.vanna, g.charm, -t * g.price)


# --- implied volatility -------------------------------------------------------------------------


def _norm_otm_call(x: FloatArray, s: FloatArray) -> FloatArray:
    """Normalised Black price of an out-of-the-money call (x = ln(F/K) <= 0) at total vol s."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = x / s
        b = np.exp(0.5 * x) * ndtr(h + 0.5 * s) - np.exp(-0.5 * x) * ndtr(h - 0.5 * s)
    return np.asarray(np.where(s > 0, np.maximum(b, 0.0), 0.0), dtype=np.float64)


def _norm_vega(x: FloatArray, s: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(np.exp(-0.5 * (x * x / (s * s) + 0.25 * s * s)) * _INV_SQRT_2PI)


def _solve_total_vol(x: FloatArray, beta: FloatArray) -> FloatArray:
    """Solve b(x, s) = beta for s by safeguarded Newton on ln b, brentq per element as fallback."""
    n = x.size
    hi = np.maximum(np.sqrt(2.0 * np.abs(x)) * 2.0, 1.0)
    for _ in range(12):  # grow the upper bracket until b(hi) > beta
        short = _norm_otm_call(x, hi) <= beta
        if not short.any():
            break
        hi = np.where(short, hi * 4.0, hi)
    short = _norm_otm_call(x, hi) <= beta
    if short.any():
        idx = int(np.flatnonzero(short)[0])
        fail(
            f"price at flat index {idx} is too close to its upper no-arbitrage bound to imply a volatility",
            fix="check the price: it must be below the discounted forward (call) or strike (put)",
            index=idx,
        )
    lo = np.zeros(n)
    s = np.clip(np.sqrt(2.0 * np.abs(x)) + beta * _SQRT_2PI, 0.0, hi)
    s = np.where((s <= lo) | (s >= hi), 0.5 * (lo + hi), s)
    done = np.zeros(n, dtype=bool)
    log_beta = np.log(beta)
    active = np.arange(n)
    for _ in range(60):
        xa, sa, ba, la, ha = x[active], s[active], beta[active], lo[active], hi[active]
        b = _norm_otm_call(xa, sa)
        below = b < ba
        la = np.where(below, sa, la)
        ha = np.where(below, ha, sa)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = (log_beta[active] - np.log(b)) * b / _norm_vega(xa, sa)
        new = sa + step
        bad = ~np.isfinite(new) | (new < la) | (new > ha)
        new = np.where(bad, 0.5 * (la + ha), new)
        conv = (np.abs(new - sa) <= 1e-14 * new) | (b == ba) | (ha - la <= 1e-14 * ha)
        s[active], lo[active], hi[active] = new, la, ha
        done[active[conv]] = True
        active = active[~conv]
        if active.size == 0:
            break
    for i in active:  # rare: fall back to a bracketing root finder, element by element
        xi, bi = x[i : i + 1], beta[i]
        from scipy.optimize import brentq  # lazy: rarely needed, slow to import

        s[i] = brentq(
            lambda v, xi=xi, bi=bi: float(_norm_otm_call(xi, np.array([v]))[0]) - bi,
            lo[i],
            hi[i],
            xtol=1e-300,
            rtol=4 * np.finfo(float).eps,
            maxiter=500,
        )
    return s


def _implied(
    price: FloatArray,
    F: FloatArray,
    K: FloatArray,
    T: FloatArray,
    df: FloatArray,
    is_call: NDArray[np.bool_],
) -> FloatArray:
    """Implied Black volatility from discounted prices on broadcast arrays."""
    shape = price.shape
    price, F, K, T, df = (a.reshape(-1) for a in (price, F, K, T, df))
    is_call = is_call.reshape(-1)
    intrinsic = np.where(is_call, np.maximum(F - K, 0.0), np.maximum(K - F, 0.0))
    upper = np.where(is_call, F, K)
    undisc = price / df
    otm = undisc - intrinsic
    bad = ~((otm > 0) & (undisc < upper))
    if bad.any():
        idx = int(np.flatnonzero(bad)[0])
        lower_b, upper_b = float(intrinsic[idx] * df[idx]), float(upper[idx] * df[idx])
        what = "call" if is_call[idx] else "put"
        fail(
            f"price {price[idx]} at flat index {idx} is outside the no-arbitrage bounds of a {what} "
            f"({lower_b:.10g}, {upper_b:.10g}): it must exceed the discounted intrinsic value and "
            f"stay below the discounted {'forward' if is_call[idx] else 'strike'}",
            fix="check the price, the kind, the strike and the underlying price",
            index=idx,
            price=float(price[idx]),
            lower_bound=lower_b,
            upper_bound=upper_b,
        )
    x = -np.abs(np.log(F / K))
    beta = otm / np.sqrt(F * K)
    s = _solve_total_vol(x, beta)
    return np.asarray((s / np.sqrt(T)).reshape(shape), dtype=np.float64)


def implied_vol(
    price: ArrayLike, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, kind: ArrayLike, q: ArrayLike = 0.0
) -> FloatArray:
    """Return the Black–Scholes implied volatility of option prices; raise when outside no-arbitrage bounds."""
    (p, s, k, t, rr, qq), calls = _inputs(
        {"price": price, "S": S, "K": K, "T": T, "r": r, "q": q}, ("price", "S", "K", "T"), kind
    )
    forward = s * np.exp((rr - qq) * t)
    return _implied(p, forward, k, t, np.exp(-rr * t), calls)


bs_implied_vol = implied_vol


def black76_implied_vol(
    price: ArrayLike, F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, kind: ArrayLike
) -> FloatArray:
    """Return the Black-76 implied volatility of option prices on a forward."""
    (p, f, k, t, rr), calls = _inputs({"price": price, "F": F, "K": K, "T": T, "r": r}, ("price", "F", "K", "T"), kind)
    return _implied(p, f, k, t, np.exp(-rr * t), calls)
