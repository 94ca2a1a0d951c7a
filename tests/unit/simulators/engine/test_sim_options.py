import itertools
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from sim_world import T0

from cerbero_mcp.simulators.engine import (
    Instrument,
    MarketModel,
    SurfaceParams,
    Underlying,
    listed_expiries,
    strike_grid,
)

YEAR = 365 * 86_400


def option_market(skew: float = -0.08, seed: int = 3) -> tuple[MarketModel, list[Instrument]]:
    """Return a market with a call and a put per strike and expiry on BTC (quoted in BTC) and AAPL (in USD)."""
    surface = SurfaceParams(atm_vol=0.55, skew=skew, curvature=0.3)
    m = MarketModel(
        seed,
        [
            Underlying("BTC", 100_000.0, vol=0.6, carry=0.05, surface=surface),
            Underlying("AAPL", 200.0, vol=0.3, carry=0.04, rate=0.04, surface=surface),
        ],
    )
    options: list[Instrument] = []
    for name, in_underlying, tick in (("BTC", True, "0.0001"), ("AAPL", False, "0.01")):
        for expiry in listed_expiries(T0)[::3]:
            fwd = m.forward(name, T0, expiry)
            for strike in strike_grid(fwd, (expiry - T0) / YEAR, 0.55)[::3]:
                for kind in ("call", "put"):
                    inst = Instrument.option(
                        f"{name}-{int(expiry)}-{strike}-{kind[0].upper()}",
                        name,
                        expiry,
                        strike,
                        kind,
                        tick,
                        "0.1" if in_underlying else "1",
                        premium_in_underlying=in_underlying,
                        contract_size="1" if in_underlying else "100",
                        settle_currency=name if in_underlying else "USD",
                    )
                    m.add_instrument(inst)
                    options.append(inst)
    return m, options


def pairs(options: list[Instrument]) -> list[tuple[Instrument, Instrument]]:
    calls = {(o.underlying, o.expiry, o.strike): o for o in options if o.option_kind == "call"}
    return [(calls[(o.underlying, o.expiry, o.strike)], o) for o in options if o.option_kind == "put"]


def test_put_call_parity_holds_on_the_forward_within_1e_9() -> None:
    m, options = option_market()
    checked = 0
    for t in (T0, T0 + 3600.5, T0 + 86_400 * 1.7):
        for call, put in pairs(options):
            assert call.expiry is not None
            assert call.strike is not None
            if call.expiry <= t:
                continue
            snap = m.option_snapshot(call.symbol, t)
            u = m.underlying(call.underlying)
            discount = math.exp(-u.rate * snap.years)
            parity = discount * (snap.forward - float(call.strike))
            if call.premium_in_underlying:
                parity /= snap.forward
            assert m.mid(call.symbol, t) - m.mid(put.symbol, t) == pytest.approx(parity, abs=1e-9)
            checked += 1
    assert checked > 50


def test_option_prices_stay_within_no_arbitrage_bounds_and_are_monotone_in_strike() -> None:
    m, options = option_market()
    t = T0 + 1800
    by_chain: dict[tuple[str, float | None, str | None], list[tuple[float, float]]] = {}
    for o in options:
        assert o.expiry is not None
        assert o.strike is not None
        snap = m.option_snapshot(o.symbol, t)
        u = m.underlying(o.underlying)
        df = math.exp(-u.rate * snap.years)
        scale = snap.forward if o.premium_in_underlying else 1.0
        price = snap.mark_price * scale
        k, f = float(o.strike), snap.forward
        if o.option_kind == "call":
            assert df * max(f - k, 0.0) - 1e-9 <= price <= df * f
        else:
            assert df * max(k - f, 0.0) - 1e-9 <= price <= df * k
        by_chain.setdefault((o.underlying, o.expiry, o.option_kind), []).append((k, price))
    for (_, _, kind), chain in by_chain.items():
        prices = [p for _, p in sorted(chain)]
        steps = np.diff(prices)
        assert (steps <= 1e-9).all() if kind == "call" else (steps >= -1e-9).all()


@pytest.mark.parametrize("skew", [-0.1, 0.1])
def test_smile_has_the_configured_skew_sign_and_positive_curvature(skew: float) -> None:
    m, _ = option_market(skew=skew)
    surface = m.surface("BTC")
    years, fwd = 30 / 365, 100_000.0
    low, atm, high = surface.iv(T0, fwd, [fwd * math.exp(-0.1), fwd, fwd * math.exp(0.1)], years)
    assert (low - high) * -skew > 0  # negative skew: puts (low strikes) carry the higher vol
    assert low + high > 2 * atm  # the smile curves up on both wings around the slope
    near, far = surface.atm(T0, [7 / 365, 180 / 365])
    assert far > near  # configured contango (term_slope > 0)


def test_snapshot_marks_match_the_mid_and_greeks_are_sane() -> None:
    m, options = option_market()
    t = T0 + 77.7
    for o in options[:40]:
        snap = m.option_snapshot(o.symbol, t)
        assert snap.mark_price == m.mid(o.symbol, t)
        assert snap.ask is not None
        assert snap.mark_price < snap.ask
        if snap.bid is None:  # worth less than a tick or two: nobody bids
            assert snap.mark_price < 2 * float(o.tick_size)
        else:
            assert snap.bid < snap.mark_price
        assert 0.05 <= snap.mark_iv <= 5.0
        assert snap.gamma > 0
        assert snap.vega > 0
        assert (0 < snap.delta < 1) if o.option_kind == "call" else (-1 < snap.delta < 0)
        assert snap.open_interest >= 0
        assert o.strike is not None
        if abs(math.log(float(o.strike) / snap.forward)) < 0.2:
            assert snap.open_interest > 0
        assert snap == m.option_snapshot(o.symbol, t)  # deterministic


def test_option_candles_aggregate_and_an_expired_option_is_worth_its_intrinsic_value() -> None:
    m, options = option_market()
    o = next(x for x in options if x.underlying == "AAPL")
    assert o.expiry is not None
    assert o.strike is not None
    start = math.floor(T0 / 3600) * 3600
    c1, c60 = m.candles(o.symbol, start, start + 7200, 60), m.candles(o.symbol, start, start + 7200, 3600)
    assert np.array_equal(c60.high, c1.high.reshape(-1, 60).max(axis=1))
    after = o.expiry + 3600
    spot = m.index("AAPL", after)
    intrinsic = max(spot - float(o.strike), 0.0) if o.option_kind == "call" else max(float(o.strike) - spot, 0.0)
    assert m.mid(o.symbol, after) == pytest.approx(intrinsic)


def test_listed_expiries_and_strikes_look_like_a_venue_listing() -> None:
    expiries = listed_expiries(T0)
    assert expiries == sorted(set(expiries))
    assert all(e > T0 for e in expiries)
    days = [datetime.fromtimestamp(e, UTC) for e in expiries]
    assert all(d.hour == 8 for d in days)
    assert sum(d.weekday() == 4 for d in days) >= 6
    assert days[-1].month in (3, 6, 9, 12)
    strikes = strike_grid(100_000.0, 30 / 365, 0.55)
    assert len(strikes) >= 15
    assert strikes[0] < 100_000 < strikes[-1]
    assert len({b - a for a, b in itertools.pairwise(strikes)}) == 1
