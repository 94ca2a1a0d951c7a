"""Surface analytics recover the parameters of synthetic surfaces and hand-computed chains."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.options import (
    OptionChain,
    OptionQuote,
    SpreadLeg,
    atm_vs_wings,
    black76_greeks,
    black76_price,
    dealer_gamma_profile,
    find_by_delta,
    oi_weighted_skew,
    skew_25d,
    smile_asymmetry,
    spread_payoff,
    term_structure,
    vanna_charm_aggregate,
)

FWD = 100.0
# iv(k) = atm + SLOPE·k + CURV·k², k = ln(K/F): a put skew with a smile
SLOPE, CURV = -0.2, 0.3
ATM = {0.1: 0.60, 0.5: 0.55, 1.0: 0.50}


def _smile(k: np.ndarray | float, atm: float) -> np.ndarray | float:
    return atm + SLOPE * k + CURV * k * k


def _synthetic_chain(atm: dict[float, float] = ATM) -> OptionChain:
    strikes = np.linspace(40, 250, 601)
    cols: dict[str, list[np.ndarray]] = {"k": [], "t": [], "kind": [], "iv": []}
    for t, a in atm.items():
        for kind in ("call", "put"):
            cols["k"].append(strikes)
            cols["t"].append(np.full(strikes.size, t))
            cols["kind"].append(np.full(strikes.size, kind))
            cols["iv"].append(np.asarray(_smile(np.log(strikes / FWD), a)))
    cat = {name: np.concatenate(v) for name, v in cols.items()}
    return OptionChain.from_arrays(cat["k"], cat["t"], cat["kind"], cat["iv"], FWD, 1.0)


def _iv_at_delta(t: float, atm: float, target: float) -> float:
    """Solve N(d1) (call) or N(d1) − 1 (put) = target on the continuous smile."""

    def gap(strike: float) -> float:
        v = float(_smile(math.log(strike / FWD), atm))
        d1 = (math.log(FWD / strike) + 0.5 * v * v * t) / (v * math.sqrt(t))
        delta = 0.5 * math.erfc(-d1 / math.sqrt(2))
        return (delta if target > 0 else delta - 1) - target

    strike = brentq(gap, 41.0, 249.0, xtol=1e-12)
    return float(_smile(math.log(strike / FWD), atm))


def test_smile_asymmetry_recovers_the_quadratic_smile() -> None:
    res = smile_asymmetry(_synthetic_chain(), wing=0.1)
    np.testing.assert_allclose(res.expiry_years, [0.1, 0.5, 1.0])
    np.testing.assert_allclose(res.atm_iv, [0.60, 0.55, 0.50], atol=1e-12)
    np.testing.assert_allclose(res.slope, SLOPE, atol=1e-10)
    np.testing.assert_allclose(res.curvature, CURV, atol=1e-10)
    np.testing.assert_allclose(res.asymmetry, -2 * SLOPE * 0.1, atol=1e-10)


def test_skew_25d_recovers_the_risk_reversal_of_the_synthetic_smile() -> None:
    chain = _synthetic_chain()
    res = skew_25d(chain)
    for i, (t, a) in enumerate(ATM.items()):
        c, p = _iv_at_delta(t, a, 0.25), _iv_at_delta(t, a, -0.25)
        assert res.call_25d_iv[i] == pytest.approx(c, abs=2e-5)
        assert res.put_25d_iv[i] == pytest.approx(p, abs=2e-5)
        assert res.risk_reversal[i] == pytest.approx(c - p, abs=4e-5)
        assert res.risk_reversal[i] < 0  # put skew
        assert res.atm_iv[i] == pytest.approx(a, abs=1e-5)
        assert res.butterfly[i] == pytest.approx(0.5 * (c + p) - a, abs=4e-5)
    wings = atm_vs_wings(chain)
    np.testing.assert_allclose(wings.wing_25d, res.butterfly)
    t, a = 0.5, ATM[0.5]
    expected_10 = 0.5 * (_iv_at_delta(t, a, 0.10) + _iv_at_delta(t, a, -0.10)) - a
    assert wings.wing_10d[1] == pytest.approx(expected_10, abs=5e-5)
    assert (wings.wing_10d > wings.wing_25d).all()


def test_skew_is_nan_when_the_chain_does_not_reach_25_delta() -> None:
    chain = OptionChain.from_arrays([95, 100, 105], 0.5, "call", 0.5, 100.0)
    res = skew_25d(chain)
    assert math.isnan(res.risk_reversal[0])
    assert res.atm_iv[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("atm", "state"),
    [
        ({0.1: 0.4, 0.5: 0.5, 1.0: 0.6}, "contango"),
        ({0.1: 0.6, 0.5: 0.55, 1.0: 0.5}, "backwardation"),
        ({0.1: 0.5, 0.5: 0.5, 1.0: 0.502}, "flat"),
    ],
)
def test_term_structure_flags_the_curve_shape(atm: dict[float, float], state: str) -> None:
    res = term_structure(_synthetic_chain(atm))
    assert res.state == state
    np.testing.assert_allclose(res.atm_iv, list(atm.values()), atol=1e-5)
    t, v = np.array(list(atm)), np.array(list(atm.values()))
    fwd = np.sqrt((v[1] ** 2 * t[1] - v[0] ** 2 * t[0]) / (t[1] - t[0]))
    assert res.forward_vol[1] == pytest.approx(fwd, abs=1e-4)


def test_oi_weighted_skew_by_hand() -> None:
    quotes = [
        OptionQuote(80, 0.25, "put", 0.70, 100.0, open_interest=30),
        OptionQuote(90, 0.25, "put", 0.60, 100.0, open_interest=10),
        OptionQuote(110, 0.25, "call", 0.50, 100.0, open_interest=20),
        OptionQuote(120, 0.25, "call", 0.55, 100.0, open_interest=0),
        OptionQuote(100, 1.00, "call", 0.40, 101.0, open_interest=5),
    ]
    res = oi_weighted_skew(OptionChain.from_quotes(quotes))
    put_iv = (0.70 * 30 + 0.60 * 10) / 40
    assert res.put_iv[0] == pytest.approx(put_iv)
    assert res.call_iv[0] == pytest.approx(0.50)
    assert res.skew[0] == pytest.approx(put_iv - 0.50)
    assert res.put_call_oi_ratio[0] == pytest.approx(2.0)
    assert math.isnan(res.skew[1])  # no puts in the second expiry
    assert res.total_skew == pytest.approx(put_iv - (0.5 * 20 + 0.4 * 5) / 25)


# Hand-computed chain: one call at 110 and one put at 90, same expiry, vol and open interest.
# Black-76 gamma is φ(d1)/(Fσ√T), so the two gammas are equal where d1(110) = −d1(90), i.e. at
# F = √(110·90)·exp(−σ²T/2): with dealers short the call and long the put, that is the flip level.
T, VOL = 0.25, 0.5


def _hand_chain() -> OptionChain:
    return OptionChain.from_arrays([110.0, 90.0], T, ["call", "put"], VOL, 100.0, [3.0, 3.0])


def _gamma(f: float, k: float) -> float:
    d1 = (math.log(f / k) + 0.5 * VOL * VOL * T) / (VOL * math.sqrt(T))
    return math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) / (f * VOL * math.sqrt(T))


def test_dealer_gamma_profile_sign_per_strike_and_flip_level_by_hand() -> None:
    prof = dealer_gamma_profile(_hand_chain(), spot=100.0, contract_size=2.0)
    call_gex = -1 * _gamma(100, 110) * 3 * 2 * 100**2 * 0.01
    put_gex = +1 * _gamma(100, 90) * 3 * 2 * 100**2 * 0.01
    np.testing.assert_allclose(prof.strikes, [90.0, 110.0])
    np.testing.assert_allclose(prof.gex_by_strike, [put_gex, call_gex], rtol=1e-12)
    np.testing.assert_allclose(prof.call_gex_by_strike, [0.0, call_gex], rtol=1e-12)
    assert prof.total_gex == pytest.approx(call_gex + put_gex, rel=1e-12)
    assert prof.total_gex < 0  # the short call is nearer the money: dealers are short gamma at 100
    flip = math.sqrt(110 * 90) * math.exp(-0.5 * VOL * VOL * T)
    assert prof.flip_level == pytest.approx(flip, abs=1e-8)
    below = prof.gex_on_grid[prof.price_grid < flip - 0.5]
    above = prof.gex_on_grid[prof.price_grid > flip + 0.5]
    assert (below > 0).all()
    assert (above[above.size // 4 :] < 0).all()


def test_dealer_gamma_sign_convention_is_configurable() -> None:
    default = dealer_gamma_profile(_hand_chain(), spot=100.0)
    flipped = dealer_gamma_profile(_hand_chain(), spot=100.0, call_sign=1.0, put_sign=-1.0)
    assert flipped.total_gex == pytest.approx(-default.total_gex)
    assert flipped.flip_level == pytest.approx(default.flip_level)
    long_all = dealer_gamma_profile(_hand_chain(), spot=100.0, call_sign=1.0, put_sign=1.0)
    assert long_all.total_gex > 0
    assert math.isnan(long_all.flip_level)


def test_vanna_charm_aggregate_sums_signed_black76_greeks() -> None:
    chain = _hand_chain()
    res = vanna_charm_aggregate(chain)
    g = black76_greeks(100.0, np.array([110.0, 90.0]), T, 0.0, VOL, ["call", "put"])
    w = np.array([-3.0, 3.0])
    assert res.total_vanna == pytest.approx(float((w * g.vanna).sum()), rel=1e-12)
    assert res.total_charm == pytest.approx(float((w * g.charm).sum()), rel=1e-12)
    assert res.total_charm_per_day == pytest.approx(res.total_charm / 365)
    np.testing.assert_allclose(res.vanna_by_strike, [3.0 * g.vanna[1], -3.0 * g.vanna[0]])


def test_find_by_delta_picks_the_nearest_option_of_the_kind_and_expiry() -> None:
    chain = OptionChain.from_arrays(
        [90, 100, 110, 90, 100, 110],
        [0.1, 0.1, 0.1, 0.5, 0.5, 0.5],
        ["put", "call", "call", "put", "put", "call"],
        0.5,
        100.0,
        delta=[-0.2, 0.5, 0.3, -0.3, -0.45, 0.35],
    )
    assert find_by_delta(chain, 0.25, "call").index == 2
    assert find_by_delta(chain, 0.25, "put").index == 0  # 0.25 for a put means −0.25
    m = find_by_delta(chain, -0.4, "put", expiry_years=0.4)
    assert (m.index, m.strike, m.expiry_years, m.delta) == (4, 100.0, 0.5, -0.45)


def test_bull_call_spread_payoff_break_even_and_extremes() -> None:
    legs = [
        SpreadLeg("call", 100, 1, premium=5.0, expiry_years=0.5, iv=0.5),
        SpreadLeg("call", 110, -1, premium=2.0, expiry_years=0.5, iv=0.5),
    ]
    grid = np.linspace(80, 130, 11)
    res = spread_payoff(legs, grid)
    expected = np.clip(grid - 100, 0, None) - np.clip(grid - 110, 0, None) - 3.0
    np.testing.assert_allclose(res.pnl_at_expiry, expected)
    now = black76_price(grid, 100, 0.5, 0.0, 0.5, "call") - black76_price(grid, 110, 0.5, 0.0, 0.5, "call") - 3
    np.testing.assert_allclose(res.pnl_now, now, rtol=1e-12)
    np.testing.assert_allclose(res.break_evens, [103.0])
    assert (res.max_profit, res.max_loss, res.net_premium) == (7.0, -3.0, 3.0)


def test_straddle_and_naked_call_are_unbounded() -> None:
    straddle = [SpreadLeg("call", 100, 1, 4.0, 0.1, 0.4), SpreadLeg("put", 100, 1, 4.0, 0.1, 0.4)]
    res = spread_payoff(straddle, np.linspace(50, 150, 5))
    np.testing.assert_allclose(res.break_evens, [92.0, 108.0])
    assert res.max_profit == math.inf
    assert res.max_loss == -8.0
    naked = spread_payoff([SpreadLeg("call", 100, -2, 3.0, 0.1, 0.4)], np.linspace(50, 150, 5))
    assert naked.max_loss == -math.inf
    assert naked.max_profit == 6.0
    np.testing.assert_allclose(naked.break_evens, [103.0])


def test_calendar_spread_marks_the_back_leg_at_the_front_expiry() -> None:
    legs = [SpreadLeg("call", 100, -1, 3.0, 0.1, 0.5), SpreadLeg("call", 100, 1, 6.0, 0.5, 0.5)]
    grid = np.array([90.0, 100.0, 110.0])
    res = spread_payoff(legs, grid)
    back = black76_price(grid, 100, 0.4, 0.0, 0.5, "call")
    np.testing.assert_allclose(res.pnl_at_expiry, back - np.clip(grid - 100, 0, None) - 3.0)
    assert res.max_profit == pytest.approx(float(back[1]) - 3.0)


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: OptionChain.from_arrays([100], 0.5, "call", 55.0, 100.0), "iv must be a decimal"),
        (lambda: OptionChain.from_arrays([100, 110], [0.5, 0.5, 1.0], "call", 0.5, 100.0), "len"),
        (lambda: OptionChain.from_arrays([100], 0.0, "call", 0.5, 100.0), "expiry_years must be finite"),
        (lambda: OptionChain.from_arrays([100], 0.5, "fly", 0.5, 100.0), 'kind must be "call" or "put"'),
        (lambda: OptionChain.from_quotes([]), "empty"),
        (lambda: find_by_delta(_hand_chain(), 1.2, "call"), "target_delta"),
        (lambda: smile_asymmetry(_hand_chain(), wing=-1), "wing"),
        (lambda: spread_payoff([], [100.0]), "at least one leg"),
        (lambda: spread_payoff([SpreadLeg("call", -5, 1)], [100.0]), "strike > 0"),
        (lambda: dealer_gamma_profile(_hand_chain(), spot=-1.0), "spot must be finite"),
    ],
)
def test_surface_bad_input_raises_invalid_input(build: object, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        build()  # type: ignore[operator]
