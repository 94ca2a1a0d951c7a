"""Black–Scholes/Black-76 pricing, greeks and implied vol against closed forms and finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.options import (
    black76_greeks,
    black76_implied_vol,
    black76_price,
    bs_greeks,
    bs_price,
    implied_vol,
    parse_kind,
)


def _n(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _bs_ref(s: float, k: float, t: float, r: float, v: float, kind: str, q: float = 0.0) -> float:
    """Textbook Black–Scholes–Merton in plain Python, independent of the library."""
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    if kind == "call":
        return s * math.exp(-q * t) * _n(d1) - k * math.exp(-r * t) * _n(d2)
    return k * math.exp(-r * t) * _n(-d2) - s * math.exp(-q * t) * _n(-d1)


CASES = [
    # S, K, T, r, sigma, q
    (100.0, 100.0, 1.0, 0.05, 0.2, 0.0),
    (42.0, 40.0, 0.5, 0.10, 0.2, 0.0),
    (100.0, 120.0, 0.25, 0.01, 0.8, 0.03),
    (100.0, 70.0, 2.0, 0.03, 0.35, 0.02),
    (60000.0, 65000.0, 7 / 365, 0.0, 0.55, 0.0),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["call", "put"])
def test_bs_price_matches_textbook_formula(case: tuple[float, ...], kind: str) -> None:
    s, k, t, r, v, q = case
    assert float(bs_price(s, k, t, r, v, kind, q=q)) == pytest.approx(_bs_ref(s, k, t, r, v, kind, q), rel=1e-12)


def test_bs_price_hull_example_and_put_call_parity() -> None:
    # Hull, Options Futures and Other Derivatives, example 15.6: c = 4.76, p = 0.81
    assert float(bs_price(42, 40, 0.5, 0.1, 0.2, "call")) == pytest.approx(4.7594, abs=1e-4)
    assert float(bs_price(42, 40, 0.5, 0.1, 0.2, "put")) == pytest.approx(0.8086, abs=1e-4)
    k = np.linspace(50, 150, 11)
    c = bs_price(100, k, 0.7, 0.04, 0.3, "call", q=0.015)
    p = bs_price(100, k, 0.7, 0.04, 0.3, "put", q=0.015)
    np.testing.assert_allclose(c - p, 100 * math.exp(-0.015 * 0.7) - k * math.exp(-0.04 * 0.7), atol=1e-11)


def test_bs_greeks_closed_forms() -> None:
    s, k, t, r, v, q = 100.0, 95.0, 0.5, 0.03, 0.25, 0.01
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    g = bs_greeks(s, k, t, r, v, "call", q=q)
    assert float(g.delta) == pytest.approx(math.exp(-q * t) * _n(d1), rel=1e-13)
    assert float(g.gamma) == pytest.approx(math.exp(-q * t) * pdf / (s * v * math.sqrt(t)), rel=1e-13)
    assert float(g.vega) == pytest.approx(s * math.exp(-q * t) * pdf * math.sqrt(t), rel=1e-13)
    assert float(g.vanna) == pytest.approx(-math.exp(-q * t) * pdf * d2 / v, rel=1e-13)
    theta = (
        -s * math.exp(-q * t) * pdf * v / (2 * math.sqrt(t))
        - r * k * math.exp(-r * t) * _n(d2)
        + q * s * math.exp(-q * t) * _n(d1)
    )
    assert float(g.theta) == pytest.approx(theta, rel=1e-13)
    assert float(g.rho) == pytest.approx(k * t * math.exp(-r * t) * _n(d2), rel=1e-13)


def _central(f: Callable[[float], float], x: float, h: float) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["call", "put"])
def test_bs_greeks_match_finite_differences(case: tuple[float, ...], kind: str) -> None:
    s, k, t, r, v, q = case
    g = bs_greeks(s, k, t, r, v, kind, q=q)

    def price(**kw: float) -> float:
        a = {"S": s, "K": k, "T": t, "r": r, "sigma": v, "q": q} | kw
        return float(bs_price(a["S"], a["K"], a["T"], a["r"], a["sigma"], kind, q=a["q"]))

    def delta(**kw: float) -> float:
        a = {"S": s, "T": t, "sigma": v} | kw
        return float(bs_greeks(a["S"], k, a["T"], r, a["sigma"], kind, q=q).delta)

    hs, ht, hv = s * 1e-4, t * 1e-4, 1e-5
    scale = max(float(g.price), s * 1e-3)
    assert float(g.delta) == pytest.approx(_central(lambda x: price(S=x), s, hs), abs=1e-7)
    assert float(g.gamma) == pytest.approx(_central(lambda x: delta(S=x), s, hs), rel=1e-6, abs=1e-10)
    assert float(g.vega) == pytest.approx(_central(lambda x: price(sigma=x), v, hv), rel=1e-6, abs=scale * 1e-8)
    assert float(g.theta) == pytest.approx(-_central(lambda x: price(T=x), t, ht), rel=1e-6, abs=scale * 1e-8)
    assert float(g.vanna) == pytest.approx(_central(lambda x: delta(sigma=x), v, hv), rel=1e-5, abs=1e-8)
    assert float(g.charm) == pytest.approx(-_central(lambda x: delta(T=x), t, ht), rel=1e-5, abs=1e-8)
    assert float(g.rho) == pytest.approx(_central(lambda x: price(r=x), r, 1e-6), rel=1e-6, abs=scale * 1e-8)


def test_black76_is_the_discounted_black_formula_and_greeks_are_forward_derivatives() -> None:
    f, k, t, r, v = 105.0, 100.0, 0.75, 0.04, 0.3
    d1 = (math.log(f / k) + 0.5 * v * v * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    call = math.exp(-r * t) * (f * _n(d1) - k * _n(d2))
    put = math.exp(-r * t) * (k * _n(-d2) - f * _n(-d1))
    assert float(black76_price(f, k, t, r, v, "call")) == pytest.approx(call, rel=1e-13)
    assert float(black76_price(f, k, t, r, v, "put")) == pytest.approx(put, rel=1e-13)
    for kind in ("call", "put"):
        g = black76_greeks(f, k, t, r, v, kind)

        def p(ff: float = f, tt: float = t, rr: float = r, kind: str = kind) -> float:
            return float(black76_price(ff, k, tt, rr, v, kind))

        assert float(g.delta) == pytest.approx(_central(lambda x: p(ff=x), f, 1e-3), rel=1e-7)
        assert float(g.delta) == pytest.approx(math.exp(-r * t) * (_n(d1) if kind == "call" else _n(d1) - 1))
        assert float(g.theta) == pytest.approx(-_central(lambda x: p(tt=x), t, 1e-5), rel=1e-6)
        assert float(g.rho) == pytest.approx(_central(lambda x: p(rr=x), r, 1e-6), rel=1e-6)
        assert float(g.rho) == pytest.approx(-t * float(g.price), rel=1e-13)


def test_pricing_broadcasts_over_strikes_and_kind_arrays() -> None:
    k = np.array([90.0, 100.0, 110.0])
    kinds = np.array(["call", "PUT", "c"])
    out = bs_price(100.0, k, 0.5, 0.02, 0.4, kinds)
    assert out.shape == (3,)
    expected = [_bs_ref(100, 90, 0.5, 0.02, 0.4, "call"), _bs_ref(100, 100, 0.5, 0.02, 0.4, "put")]
    np.testing.assert_allclose(out[:2], expected, rtol=1e-12)
    np.testing.assert_allclose(bs_price(100.0, k, 0.5, 0.02, 0.4, np.array([True, False, True])), out)
    grid = bs_greeks(100.0, k[:, None], np.array([0.1, 1.0]), 0.0, 0.5, "put")
    assert grid.delta.shape == (3, 2)
    assert parse_kind("Call")
    assert not parse_kind("p")


def _grid() -> tuple[np.ndarray, np.ndarray]:
    moneyness = np.exp(np.linspace(-0.8, 0.8, 33))
    maturity = np.array([1 / 365, 7 / 365, 30 / 365, 0.25, 0.5, 1.0, 2.0, 5.0])
    k, t = np.meshgrid(100.0 * moneyness, maturity)
    return k.ravel(), t.ravel()


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.6, 1.5])
@pytest.mark.parametrize("kind", ["call", "put"])
def test_implied_vol_round_trips_over_moneyness_and_maturity(sigma: float, kind: str) -> None:
    k, t = _grid()
    r, q = 0.03, 0.01
    price = bs_price(100.0, k, t, r, sigma, kind, q=q)
    fwd = 100.0 * np.exp((r - q) * t)
    intrinsic = np.maximum((fwd - k) if kind == "call" else (k - fwd), 0) * np.exp(-r * t)
    # keep the options whose time value is representable in the price (1e-6 of it and above)
    keep = (price - intrinsic > 1e-6 * price) & (price > 1e-250)
    assert keep.sum() > 100  # of 264; the rest underflow to 0 or are pure intrinsic
    iv = implied_vol(price[keep], 100.0, k[keep], t[keep], r, kind, q=q)
    np.testing.assert_allclose(iv, sigma, rtol=1e-8)


@pytest.mark.parametrize("kind", ["call", "put"])
def test_black76_implied_vol_round_trips(kind: str) -> None:
    k, t = _grid()
    price = black76_price(100.0, k, t, 0.02, 0.7, kind)
    keep = price - np.maximum((100 - k) if kind == "call" else (k - 100), 0) * np.exp(-0.02 * t) > 1e-6 * price
    iv = black76_implied_vol(price[keep], 100.0, k[keep], t[keep], 0.02, kind)
    np.testing.assert_allclose(iv, 0.7, rtol=1e-8)
    assert np.isfinite(iv).all()


def test_implied_vol_of_a_single_scalar_is_a_float() -> None:
    p = float(bs_price(100, 105, 0.3, 0.01, 0.42, "call"))
    assert float(implied_vol(p, 100, 105, 0.3, 0.01, "call")) == pytest.approx(0.42, rel=1e-12)


@pytest.mark.parametrize(
    ("price", "kind", "needle"),
    [
        (4.0, "call", "outside the no-arbitrage bounds"),  # below intrinsic 100 - 95·e^{-rT}
        (100.5, "call", "outside the no-arbitrage bounds"),  # above the spot
        (96.0, "put", "outside the no-arbitrage bounds"),  # above the discounted strike
        (0.0, "put", "price must be finite and > 0"),
        (-1.0, "call", "price must be finite and > 0"),
    ],
)
def test_implied_vol_refuses_prices_outside_no_arbitrage_bounds(price: float, kind: str, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle) as info:
        implied_vol(price, 100.0, 95.0, 0.5, 0.01, kind)
    assert info.value.status == 422


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"T": 0.0}, "T must be finite and > 0"),
        ({"T": -0.1}, "T must be finite and > 0"),
        ({"sigma": 0.0}, "sigma must be finite and > 0"),
        ({"S": -5.0}, "S must be finite and > 0"),
        ({"K": np.array([100.0, np.nan])}, "K must be finite and > 0, got nan at flat index 1"),
        ({"K": np.array([])}, "K is empty"),
        ({"kind": "straddle"}, 'kind must be "call" or "put"'),
        ({"kind": np.array(["call", "cal"])}, "'cal' at flat index 1"),
        ({"K": np.ones(3) * 100, "sigma": np.ones(2) * 0.2}, "cannot be broadcast"),
        ({"r": np.inf}, "r must be finite"),
        ({"S": "abc"}, "S must be numeric"),
    ],
)
def test_pricing_bad_input_raises_invalid_input(kwargs: dict[str, object], needle: str) -> None:
    args: dict[str, object] = {"S": 100.0, "K": 100.0, "T": 0.5, "r": 0.0, "sigma": 0.2, "kind": "call"}
    args |= kwargs
    with pytest.raises(InvalidInputError, match=needle):
        bs_greeks(**args)  # type: ignore[arg-type]
