"""Options analytics: Black–Scholes/Black-76 pricing, greeks, implied vol and surface analytics.

Pricing functions (implemented in `_pricing`, re-exported here) broadcast every argument with numpy
rules and return float64 arrays, or numpy float64 scalars (a `float` subclass) when all inputs are
scalars. `kind` is "call"/"put" (or an array of them, or a boolean array True for calls). Vega and
vanna are per 1.00 of vol, theta and charm per year (QuantLib's units). Errors are
`InvalidInputError`.

Surface analytics take an `OptionChain`: one row per listed option with strike, expiry in years,
kind, implied vol (decimal, 0.55 = 55 %), the forward (or underlying) price of its expiry and open
interest. Deltas are Black-76 deltas w.r.t. the forward (discounted at `rate`) unless the chain
supplies its own. Results are per expiry, in ascending expiry order; a value that the chain cannot
support (e.g. no option near 25 delta) is NaN rather than an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cerbero_mcp.common._pricing import (
    Greeks,
    black76_greeks,
    black76_implied_vol,
    black76_price,
    bs_greeks,
    bs_implied_vol,
    bs_price,
    implied_vol,
    parse_kind,
)
from cerbero_mcp.common._validate import FloatArray, as_float, fail, positive_array

__all__ = [
    "DeltaMatch",
    "GammaProfile",
    "Greeks",
    "OiSkew",
    "OptionChain",
    "OptionQuote",
    "SkewByExpiry",
    "SmileAsymmetry",
    "SpreadLeg",
    "SpreadPayoff",
    "TermStructure",
    "VannaCharm",
    "WingsByExpiry",
    "atm_vs_wings",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "bs_greeks",
    "bs_implied_vol",
    "bs_price",
    "dealer_gamma_profile",
    "find_by_delta",
    "implied_vol",
    "oi_weighted_skew",
    "parse_kind",
    "skew_25d",
    "smile_asymmetry",
    "spread_payoff",
    "term_structure",
    "vanna_charm_aggregate",
]

_MAX_IV = 10.0  # 1000 %: anything above is almost surely a percentage sent as a decimal


@dataclass(frozen=True)
class OptionQuote:
    """One listed option as a venue reports it (iv as a decimal, forward of its expiry)."""

    strike: float
    expiry_years: float
    kind: Literal["call", "put"]
    iv: float
    forward: float
    open_interest: float = 0.0
    delta: float | None = None


@dataclass(frozen=True, eq=False)
class OptionChain:
    """Column arrays of an option chain; build it with `from_arrays` or `from_quotes`."""

    strike: FloatArray
    expiry_years: FloatArray
    is_call: NDArray[np.bool_]
    iv: FloatArray
    forward: FloatArray
    open_interest: FloatArray
    delta: FloatArray
    rate: float = 0.0

    @classmethod
    def from_arrays(
        cls,
        strike: ArrayLike,
        expiry_years: ArrayLike,
        kind: ArrayLike,
        iv: ArrayLike,
        forward: ArrayLike,
        open_interest: ArrayLike = 0.0,
        *,
        delta: ArrayLike | None = None,
        rate: float = 0.0,
    ) -> OptionChain:
        """Validate and broadcast column arrays into a chain, computing deltas when not given."""
        cols = {"strike": strike, "expiry_years": expiry_years, "iv": iv, "forward": forward}
        arrays = {k: positive_array(v, k).reshape(-1) for k, v in cols.items()}
        oi = positive_array(open_interest, "open_interest", allow_zero=True).reshape(-1)
        calls = parse_kind(kind).reshape(-1)
        n = arrays["strike"].size
        for name, arr in (*arrays.items(), ("open_interest", oi), ("kind", calls)):
            if arr.size not in (1, n):
                fail(f"len({name})={arr.size} does not match len(strike)={n}", argument=name)
        if (arrays["iv"] > _MAX_IV).any():
            fail(
                f"iv above {_MAX_IV:g} found: iv must be a decimal (0.55 for 55 %)",
                fix="divide percentage IVs by 100",
                argument="iv",
            )
        if not np.isfinite(rate):
            fail(f"rate must be finite, got {rate}", argument="rate")
        k, t, v, f = (np.broadcast_to(arrays[c], n).copy() for c in ("strike", "expiry_years", "iv", "forward"))
        is_call = np.broadcast_to(calls, n).copy()
        if delta is None:
            d = np.asarray(black76_greeks(f, k, t, rate, v, is_call).delta, dtype=np.float64).reshape(n)
        else:
            d = as_float(delta, "delta").reshape(-1)
            if d.size != n or not np.isfinite(d).all() or (np.abs(d) > 1).any():
                fail("delta must be finite, within [-1, 1] and one per option", argument="delta")
        return cls(k, t, is_call, v, f, np.broadcast_to(oi, n).copy(), d, float(rate))

    @classmethod
    def from_quotes(cls, quotes: Iterable[OptionQuote], *, rate: float = 0.0) -> OptionChain:
        """Build a chain from `OptionQuote` rows (their deltas are used only if every row has one)."""
        rows = list(quotes)
        if not rows:
            fail("the option chain is empty", fix="send at least one option quote")
        deltas = [q.delta for q in rows]
        given = all(d is not None for d in deltas)
        return cls.from_arrays(
            [q.strike for q in rows],
            [q.expiry_years for q in rows],
            [q.kind for q in rows],
            [q.iv for q in rows],
            [q.forward for q in rows],
            [q.open_interest for q in rows],
            delta=[float(d) for d in deltas if d is not None] if given else None,
            rate=rate,
        )

    def expiries(self) -> FloatArray:
        """Return the distinct expiries in years, ascending."""
        return np.unique(self.expiry_years)

    def _groups(self) -> list[tuple[float, NDArray[np.intp]]]:
        return [(float(t), np.flatnonzero(self.expiry_years == t)) for t in self.expiries()]


def _smile(chain: OptionChain, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
    """Log-moneyness and IV of the out-of-the-money side (duplicate strikes averaged), sorted."""
    k = np.log(chain.strike[idx] / chain.forward[idx])
    calls = chain.is_call[idx]
    otm = np.where(calls, k >= 0, k < 0)
    if calls.any() and (~calls).any():
        k, iv = k[otm], chain.iv[idx][otm]
    else:
        iv = chain.iv[idx]
    uk, inv = np.unique(k, return_inverse=True)
    return uk, np.bincount(inv, weights=iv) / np.bincount(inv)


def _atm_iv(k: FloatArray, iv: FloatArray) -> float:
    """IV at log-moneyness 0 by linear interpolation; NaN when the strikes do not straddle the forward."""
    if k.size == 0 or k[0] > 0 or k[-1] < 0:
        return float("nan")
    return float(np.interp(0.0, k, iv))


def _iv_at_delta(chain: OptionChain, idx: NDArray[np.intp], target: float) -> float:
    """IV interpolated linearly in delta among options of the target's kind; NaN outside the range."""
    sel = idx[chain.is_call[idx] == (target > 0)]
    d, iv = chain.delta[sel], chain.iv[sel]
    order = np.argsort(d)
    d, iv = d[order], iv[order]
    if d.size == 0 or not d[0] <= target <= d[-1]:
        return float("nan")
    return float(np.interp(target, d, iv))


@dataclass(frozen=True)
class SkewByExpiry:
    """25-delta risk reversal (call − put IV) and butterfly per expiry."""

    expiry_years: FloatArray
    atm_iv: FloatArray
    call_25d_iv: FloatArray
    put_25d_iv: FloatArray
    risk_reversal: FloatArray
    butterfly: FloatArray


def skew_25d(chain: OptionChain) -> SkewByExpiry:
    """Return the 25-delta risk reversal and butterfly per expiry, interpolated in delta."""
    rows = []
    for _, idx in chain._groups():
        atm = _atm_iv(*_smile(chain, idx))
        c, p = _iv_at_delta(chain, idx, 0.25), _iv_at_delta(chain, idx, -0.25)
        rows.append((atm, c, p, c - p, 0.5 * (c + p) - atm))
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return SkewByExpiry(chain.expiries(), a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


@dataclass(frozen=True)
class WingsByExpiry:
    """ATM IV against the 25- and 10-delta wings per expiry; wing_xx = mean(call, put) − ATM."""

    expiry_years: FloatArray
    atm_iv: FloatArray
    call_25d_iv: FloatArray
    put_25d_iv: FloatArray
    call_10d_iv: FloatArray
    put_10d_iv: FloatArray
    wing_25d: FloatArray
    wing_10d: FloatArray


def atm_vs_wings(chain: OptionChain) -> WingsByExpiry:
    """Return ATM IV and the 25/10-delta wing IVs and premia per expiry."""
    rows = []
    for _, idx in chain._groups():
        atm = _atm_iv(*_smile(chain, idx))
        c25, p25, c10, p10 = (_iv_at_delta(chain, idx, d) for d in (0.25, -0.25, 0.10, -0.10))
        rows.append((atm, c25, p25, c10, p10, 0.5 * (c25 + p25) - atm, 0.5 * (c10 + p10) - atm))
    a = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return WingsByExpiry(chain.expiries(), *(a[:, i] for i in range(7)))


@dataclass(frozen=True)
class SmileAsymmetry:
    """Quadratic fit iv(k) = atm_iv + slope·k + curvature·k² in log-moneyness k = ln(K/F), per expiry."""

    expiry_years: FloatArray
    atm_iv: FloatArray
    slope: FloatArray
    curvature: FloatArray
    put_wing_iv: FloatArray
    call_wing_iv: FloatArray
    asymmetry: FloatArray


def smile_asymmetry(chain: OptionChain, wing: float = 0.1) -> SmileAsymmetry:
    """Fit each expiry's smile and return put-wing minus call-wing IV at k = ∓`wing`."""
    if not 0 < wing < 5:
        fail(f"wing must be a log-moneyness in (0, 5), got {wing}", argument="wing")
    rows = []
    for _, idx in chain._groups():
        k, iv = _smile(chain, idx)
        if k.size < 3:
            rows.append((np.nan,) * 6)
            continue
        c2, c1, c0 = np.polyfit(k, iv, 2)
        put_w, call_w = np.polyval((c2, c1, c0), [-wing, wing])
        rows.append((c0, c1, c2, put_w, call_w, put_w - call_w))
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return SmileAsymmetry(chain.expiries(), *(a[:, i] for i in range(6)))


@dataclass(frozen=True)
class OiSkew:
    """Open-interest-weighted mean IV of puts and calls and their difference (per expiry and total)."""

    expiry_years: FloatArray
    put_iv: FloatArray
    call_iv: FloatArray
    skew: FloatArray
    put_call_oi_ratio: FloatArray
    total_skew: float


def _oi_mean(iv: FloatArray, oi: FloatArray) -> float:
    w = oi.sum()
    return float((iv * oi).sum() / w) if w > 0 else float("nan")


def oi_weighted_skew(chain: OptionChain) -> OiSkew:
    """Return OI-weighted put IV minus OI-weighted call IV; NaN where a side has no open interest."""
    groups = [*(idx for _, idx in chain._groups()), np.arange(chain.strike.size)]
    rows = []
    for idx in groups:
        c, p = idx[chain.is_call[idx]], idx[~chain.is_call[idx]]
        put_iv = _oi_mean(chain.iv[p], chain.open_interest[p])
        call_iv = _oi_mean(chain.iv[c], chain.open_interest[c])
        c_oi = chain.open_interest[c].sum()
        ratio = chain.open_interest[p].sum() / c_oi if c_oi > 0 else np.nan
        rows.append((put_iv, call_iv, put_iv - call_iv, ratio))
    a = np.array(rows, dtype=np.float64)
    return OiSkew(chain.expiries(), a[:-1, 0], a[:-1, 1], a[:-1, 2], a[:-1, 3], float(a[-1, 2]))


@dataclass(frozen=True)
class TermStructure:
    """ATM IV by expiry, forward vols between expiries and the curve's shape."""

    expiry_years: FloatArray
    atm_iv: FloatArray
    forward_vol: FloatArray
    back_minus_front: float
    state: Literal["contango", "backwardation", "flat"]


def term_structure(chain: OptionChain, flat_tolerance: float = 0.005) -> TermStructure:
    """Return ATM IV per expiry and "contango" when back IV exceeds front by more than the tolerance."""
    t = chain.expiries()
    atm = np.array([_atm_iv(*_smile(chain, idx)) for _, idx in chain._groups()])
    var = atm**2 * t
    with np.errstate(invalid="ignore"):
        fwd = np.sqrt((var[1:] - var[:-1]) / (t[1:] - t[:-1]))  # NaN flags calendar arbitrage
    valid = atm[np.isfinite(atm)]
    diff = float(valid[-1] - valid[0]) if valid.size >= 2 else 0.0
    state: Literal["contango", "backwardation", "flat"] = (
        "contango" if diff > flat_tolerance else "backwardation" if diff < -flat_tolerance else "flat"
    )
    return TermStructure(t, atm, np.concatenate([atm[:1], fwd]), diff, state)


def _dealer_sign(chain: OptionChain, call_sign: float, put_sign: float, contract_size: float) -> FloatArray:
    return np.where(chain.is_call, call_sign, put_sign) * chain.open_interest * contract_size


def _by_strike(strike: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    uk, inv = np.unique(strike, return_inverse=True)
    return uk, np.bincount(inv, weights=values, minlength=uk.size).astype(np.float64)


@dataclass(frozen=True)
class GammaProfile:
    """Dealer gamma exposure (quote currency per 1 % move) by strike, in total and across spot."""

    strikes: FloatArray
    gex_by_strike: FloatArray
    call_gex_by_strike: FloatArray
    put_gex_by_strike: FloatArray
    total_gex: float
    spot: float
    price_grid: FloatArray
    gex_on_grid: FloatArray
    flip_level: float


def _gex(chain: OptionChain, weight: FloatArray, spot: float, level: float) -> FloatArray:
    fwd = chain.forward * (level / spot)
    g = black76_greeks(fwd, chain.strike, chain.expiry_years, chain.rate, chain.iv, chain.is_call)
    return np.asarray(weight * g.gamma * fwd * fwd * 0.01, dtype=np.float64)


def dealer_gamma_profile(
    chain: OptionChain,
    spot: float | None = None,
    *,
    call_sign: float = -1.0,
    put_sign: float = 1.0,
    contract_size: float = 1.0,
    price_grid: ArrayLike | None = None,
) -> GammaProfile:
    """Return dealer GEX per strike and across spot levels, with the gamma-flip level.

    GEX of an option = sign · gamma · OI · contract_size · F² · 0.01, the change in the dealers'
    delta value for a 1 % move. By default dealers are short calls (sign −1) and long puts (+1);
    positive total GEX means dealers are long gamma. Across spot, forwards move in proportion and
    IVs stay fixed; the flip level is the zero crossing of total GEX nearest to spot (NaN if none
    in the grid, by default spot × [0.5, 1.5]).
    """
    s0 = float(np.median(chain.forward[chain.expiry_years == chain.expiry_years.min()]))
    s = s0 if spot is None else float(positive_array(spot, "spot"))
    w = _dealer_sign(chain, call_sign, put_sign, contract_size)
    now = _gex(chain, w, s, s)
    strikes, total_k = _by_strike(chain.strike, now)
    _, call_k = _by_strike(chain.strike, np.where(chain.is_call, now, 0.0))
    _, put_k = _by_strike(chain.strike, np.where(chain.is_call, 0.0, now))
    grid = s * np.linspace(0.5, 1.5, 201) if price_grid is None else positive_array(price_grid, "price_grid")
    grid = np.sort(grid.reshape(-1))
    fwd = chain.forward[None, :] * (grid[:, None] / s)
    g = black76_greeks(fwd, chain.strike, chain.expiry_years, chain.rate, chain.iv, chain.is_call)
    on_grid = (w * g.gamma * fwd * fwd * 0.01).sum(axis=1)
    flip = float("nan")
    cross = np.flatnonzero(np.sign(on_grid[:-1]) * np.sign(on_grid[1:]) < 0)
    exact = np.flatnonzero(on_grid == 0)
    if cross.size or exact.size:
        from scipy.optimize import brentq  # lazy: scipy.optimize costs ~0.5 s to import

        candidates = [float(grid[i]) for i in exact]
        candidates += [
            float(brentq(lambda x: float(_gex(chain, w, s, x).sum()), grid[i], grid[i + 1], xtol=1e-12)) for i in cross
        ]
        flip = min(candidates, key=lambda x: abs(x - s))
    return GammaProfile(strikes, total_k, call_k, put_k, float(now.sum()), s, grid, on_grid, flip)


@dataclass(frozen=True)
class VannaCharm:
    """Dealer vanna (delta per 1.00 vol) and charm (delta per year) by strike and in total."""

    strikes: FloatArray
    vanna_by_strike: FloatArray
    charm_by_strike: FloatArray
    total_vanna: float
    total_charm: float
    total_charm_per_day: float


def vanna_charm_aggregate(
    chain: OptionChain, *, call_sign: float = -1.0, put_sign: float = 1.0, contract_size: float = 1.0
) -> VannaCharm:
    """Sum dealer vanna and charm over the chain, with the same sign convention as the GEX."""
    w = _dealer_sign(chain, call_sign, put_sign, contract_size)
    g = black76_greeks(chain.forward, chain.strike, chain.expiry_years, chain.rate, chain.iv, chain.is_call)
    strikes, vanna = _by_strike(chain.strike, w * g.vanna)
    _, charm = _by_strike(chain.strike, w * g.charm)
    total_charm = float(charm.sum())
    return VannaCharm(strikes, vanna, charm, float(vanna.sum()), total_charm, total_charm / 365.0)


@dataclass(frozen=True)
class DeltaMatch:
    """The option whose delta is nearest to the target."""

    index: int
    strike: float
    expiry_years: float
    is_call: bool
    delta: float
    iv: float


def find_by_delta(chain: OptionChain, target_delta: float, kind: str, expiry_years: float | None = None) -> DeltaMatch:
    """Return the option of `kind` nearest to `target_delta` (puts: ±0.25 both mean −0.25)."""
    if not 0 < abs(target_delta) < 1:
        fail(f"target_delta must be within (-1, 1) and non-zero, got {target_delta}", argument="target_delta")
    want_call = bool(parse_kind(kind))
    target = abs(target_delta) if want_call else -abs(target_delta)
    mask = chain.is_call == want_call
    if expiry_years is not None:
        exps = chain.expiries()
        nearest = exps[np.argmin(np.abs(exps - expiry_years))]
        mask &= chain.expiry_years == nearest
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        fail(f"the chain has no {kind} options", argument="kind")
    i = int(idx[np.argmin(np.abs(chain.delta[idx] - target))])
    return DeltaMatch(
        i,
        float(chain.strike[i]),
        float(chain.expiry_years[i]),
        bool(chain.is_call[i]),
        float(chain.delta[i]),
        float(chain.iv[i]),
    )


@dataclass(frozen=True)
class SpreadLeg:
    """One leg: quantity > 0 long, < 0 short; premium per unit paid; "underlying" uses strike as entry."""

    kind: Literal["call", "put", "underlying"]
    strike: float
    quantity: float
    premium: float = 0.0
    expiry_years: float = 0.0
    iv: float = 0.0


@dataclass(frozen=True)
class SpreadPayoff:
    """P&L of a strategy at its first expiry and now (Black-76), with break-evens and extremes."""

    price_grid: FloatArray
    pnl_at_expiry: FloatArray
    pnl_now: FloatArray
    break_evens: FloatArray
    max_profit: float
    max_loss: float
    net_premium: float


def _leg_value(leg: SpreadLeg, price: FloatArray, tau: float, rate: float) -> FloatArray:
    if leg.kind == "underlying":
        return price - leg.strike
    if tau <= 0 or leg.iv <= 0:
        return np.maximum(price - leg.strike, 0.0) if leg.kind == "call" else np.maximum(leg.strike - price, 0.0)
    fwd = np.maximum(price, 1e-12 * leg.strike)
    return np.asarray(black76_price(fwd, leg.strike, tau, rate, leg.iv, leg.kind), dtype=np.float64)


def spread_payoff(legs: Sequence[SpreadLeg], price_grid: ArrayLike, *, rate: float = 0.0) -> SpreadPayoff:
    """Return a strategy's P&L at the first expiry and now, its break-evens and max profit/loss.

    Legs expiring later than the first expiry are marked with Black-76 at their remaining time.
    max_loss is the lowest P&L (negative for a loss); ±inf when unbounded as price → ∞.
    """
    if not legs:
        fail("a spread needs at least one leg", fix="send legs")
    for i, leg in enumerate(legs):
        if leg.kind not in ("call", "put", "underlying"):
            fail(f'legs[{i}].kind must be "call", "put" or "underlying", got {leg.kind!r}', index=i)
        if not (leg.strike > 0 and np.isfinite(leg.quantity) and leg.expiry_years >= 0 and leg.iv >= 0):
            fail(f"legs[{i}] needs strike > 0, finite quantity, expiry_years >= 0 and iv >= 0", index=i)
    grid = np.sort(positive_array(price_grid, "price_grid").reshape(-1))
    options = [leg for leg in legs if leg.kind != "underlying"]
    first = min((leg.expiry_years for leg in options), default=0.0)
    net_premium = float(sum(leg.quantity * leg.premium for leg in legs))

    def pnl(price: FloatArray, at_expiry: bool) -> FloatArray:
        total = np.full(price.shape, -net_premium)
        for leg in legs:
            tau = leg.expiry_years - first if at_expiry else leg.expiry_years
            total += leg.quantity * _leg_value(leg, price, tau, rate)
        return total

    points = np.unique(np.concatenate([[0.0], grid, [leg.strike for leg in legs]]))
    at_points = pnl(points, at_expiry=True)
    sign = np.sign(at_points)
    cross = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    x0, x1, y0, y1 = points[cross], points[cross + 1], at_points[cross], at_points[cross + 1]
    roots = np.concatenate([points[(at_points == 0) & (points > 0)], x0 - y0 * (x1 - x0) / (y1 - y0)])
    slope = sum(
        leg.quantity * (1.0 if leg.kind == "underlying" else np.exp(-rate * (leg.expiry_years - first)))
        for leg in legs
        if leg.kind in ("call", "underlying")
    )
    max_profit = math.inf if slope > 1e-12 else float(at_points.max())
    max_loss = -math.inf if slope < -1e-12 else float(at_points.min())
    return SpreadPayoff(
        grid,
        pnl(grid, at_expiry=True),
        pnl(grid, at_expiry=False),
        np.unique(roots),
        max_profit,
        max_loss,
        net_premium,
    )
