"""Indicators equal TA-Lib (or a plain reference) after warm-up; the registry validates its input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view

from cerbero_mcp.common import indicators as ind
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.common.indicators import INDICATORS, Bars, compute_indicator, describe_indicators

N = 2000


@pytest.fixture(scope="module")
def bars() -> Bars:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0, 0.002, N))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, N)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, N)))
    volume = rng.lognormal(3, 1, N)
    return Bars(open_, high, low, close, volume)


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal length, NaN exactly during the reference's warm-up, 1e-8 relative after it."""
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert ok.any()
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=1e-8, atol=1e-12)


Case = tuple[str, dict[str, Any], Callable[[Bars], tuple[np.ndarray, ...]]]

TA_LIB_CASES: list[Case] = [
    ("sma", {"period": 30}, lambda b: (talib.SMA(b.close, 30),)),
    ("ema", {"period": 21}, lambda b: (talib.EMA(b.close, 21),)),
    ("rsi", {}, lambda b: (talib.RSI(b.close, 14),)),
    ("rsi", {"period": 2}, lambda b: (talib.RSI(b.close, 2),)),
    ("macd", {}, lambda b: talib.MACD(b.close, 12, 26, 9)),
    ("macd", {"fast": 5, "slow": 35, "signal": 5}, lambda b: talib.MACD(b.close, 5, 35, 5)),
    ("atr", {}, lambda b: (talib.ATR(b.high, b.low, b.close, 14),)),
    ("adx", {"period": 10}, lambda b: (talib.ADX(b.high, b.low, b.close, 10),)),
    ("bollinger", {}, lambda b: talib.BBANDS(b.close, 20, 2.0, 2.0, 0)),
    ("bollinger", {"period": 50, "k": 2.5}, lambda b: talib.BBANDS(b.close, 50, 2.5, 2.5, 0)),
    ("stochastic", {}, lambda b: talib.STOCH(b.high, b.low, b.close, 14, 3, 0, 3, 0)),
    ("obv", {}, lambda b: (talib.OBV(b.close, b.volume),)),
    ("cci", {}, lambda b: (talib.CCI(b.high, b.low, b.close, 20),)),
    ("williams_r", {}, lambda b: (talib.WILLR(b.high, b.low, b.close, 14),)),
    ("mfi", {}, lambda b: (talib.MFI(b.high, b.low, b.close, b.volume, 14),)),
    ("roc", {}, lambda b: (talib.ROC(b.close, 10),)),
]


@pytest.mark.parametrize(("name", "params", "reference"), TA_LIB_CASES)
def test_indicator_equals_ta_lib_after_warm_up(bars: Bars, name: str, params: dict[str, Any], reference: Any) -> None:
    out = compute_indicator(name, bars, params)
    assert list(out) == list(INDICATORS[name].outputs)
    for actual, expected in zip(out.values(), reference(bars), strict=True):
        assert_same(actual, expected)


def test_keltner_is_ema_plus_minus_atr(bars: Bars) -> None:
    out = compute_indicator("keltner", bars, {"period": 20, "atr_period": 10, "multiplier": 1.5})
    mid = talib.EMA(bars.close, 20)
    width = 1.5 * talib.ATR(bars.high, bars.low, bars.close, 10)
    assert_same(out["middle"], mid)
    assert_same(out["upper"], mid + width)
    assert_same(out["lower"], mid - width)
    typical = compute_indicator("keltner", bars, {"source": "typical"})
    assert_same(typical["middle"], talib.EMA((bars.high + bars.low + bars.close) / 3, 20))


@pytest.mark.parametrize("period", [1, 2, 20, 55])
def test_donchian_is_the_rolling_extreme(bars: Bars, period: int) -> None:
    out = compute_indicator("donchian", bars, {"period": period})
    up = np.full(N, np.nan)
    down = np.full(N, np.nan)
    up[period - 1 :] = sliding_window_view(bars.high, period).max(axis=1)
    down[period - 1 :] = sliding_window_view(bars.low, period).min(axis=1)
    assert_same(out["upper"], up)
    assert_same(out["lower"], down)
    assert_same(out["middle"], (up + down) / 2)


def test_vwap_cumulative_and_rolling_match_a_plain_loop(bars: Bars) -> None:
    tp = (bars.high + bars.low + bars.close) / 3
    cumulative = np.array([(tp[: i + 1] * bars.volume[: i + 1]).sum() / bars.volume[: i + 1].sum() for i in range(N)])
    assert_same(compute_indicator("vwap", bars)["vwap"], cumulative)
    p = 24
    rolling = np.full(N, np.nan)
    for i in range(p - 1, N):
        w = slice(i - p + 1, i + 1)
        rolling[i] = (tp[w] * bars.volume[w]).sum() / bars.volume[w].sum()
    assert_same(compute_indicator("vwap", bars, {"period": p})["vwap"], rolling)


def test_vwap_is_nan_until_volume_trades() -> None:
    c = np.array([10.0, 11.0, 12.0])
    out = ind.vwap(c, c, c, [0.0, 2.0, 2.0])
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [11.0, 11.5])


def test_direct_functions_equal_the_registry(bars: Bars) -> None:
    np.testing.assert_array_equal(ind.sma(bars.close, 10), talib.SMA(bars.close, 10))
    upper, middle, lower = ind.bollinger(bars.close)
    ref_upper, _, ref_lower = talib.BBANDS(bars.close, 20, 2.0, 2.0, 0)
    np.testing.assert_array_equal(middle, talib.SMA(bars.close, 20))
    np.testing.assert_array_equal(upper, ref_upper)
    np.testing.assert_array_equal(lower, ref_lower)
    np.testing.assert_array_equal(ind.adx(bars.high, bars.low, bars.close), talib.ADX(bars.high, bars.low, bars.close))


def test_leading_nan_is_allowed_and_stays_nan() -> None:
    x = np.r_[np.nan, np.nan, np.arange(1.0, 31.0)]
    out = ind.sma(x, 5)
    assert np.isnan(out[:6]).all()
    assert out[6] == pytest.approx(3.0)


def test_every_indicator_runs_with_its_smallest_parameters(bars: Bars) -> None:
    for name, spec in INDICATORS.items():
        low = {}
        for field, info in spec.params.model_fields.items():
            bound = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
            if isinstance(bound, int) and info.annotation is int:
                low[field] = bound
        if name == "macd":
            low["slow"] = 3
        out = compute_indicator(name, bars, low)
        assert all(v.shape == (N,) for v in out.values()), name


def test_describe_indicators_lists_schemas() -> None:
    d = describe_indicators()
    assert set(d) >= {"sma", "ema", "rsi", "macd", "atr", "adx", "bollinger", "stochastic", "obv", "vwap"}
    assert set(d) >= {"keltner", "donchian", "cci", "williams_r", "mfi", "roc"}
    assert d["rsi"]["params"]["properties"]["period"]["minimum"] == 2
    assert d["macd"]["outputs"] == ["macd", "signal", "histogram"]


def test_unknown_indicator_lists_the_available_names(bars: Bars) -> None:
    with pytest.raises(InvalidInputError, match="unknown indicator 'ichimoku'; available: adx, atr") as info:
        compute_indicator("ichimoku", bars, None)
    assert info.value.details is not None
    assert "rsi" in info.value.details["available"]


@pytest.mark.parametrize(
    ("name", "params", "needle"),
    [
        ("rsi", {"period": 1}, "period: Input should be greater than or equal to 2"),
        ("rsi", {"period": "x"}, "period: Input should be a valid integer"),
        ("sma", {"length": 5}, "length: Extra inputs are not permitted"),
        ("macd", {"fast": 30, "slow": 26}, "fast must be below slow"),
        ("keltner", {"source": "open"}, "source: Input should be 'close' or 'typical'"),
        ("sma", {"period": 5000}, "period must be between 1 and len"),
    ],
)
def test_bad_parameters_raise_with_their_location(bars: Bars, name: str, params: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        compute_indicator(name, bars, params)


def test_period_above_length_says_what_to_fix() -> None:
    close = np.linspace(100, 110, 50)
    with pytest.raises(InvalidInputError, match=r"period must be between 2 and len\(close\)=50, got 80") as info:
        ind.rsi(close, 80)
    assert info.value.suggested_fix


ONES = np.ones(30)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: ind.sma([], 3), "x needs at least 1 values, got 0"),
        (lambda: ind.rsi(np.r_[ONES[:10], np.nan, ONES[:10]], 5), "close has NaN at index 10"),
        (lambda: ind.rsi(np.r_[ONES, np.inf], 5), "infinite value at index 30"),
        (lambda: ind.rsi(np.r_[ONES, -1.0], 5), r"close must be positive, got -1.0 at index 30"),
        (lambda: ind.sma(ONES, 0), "period must be between 1 and len"),
        (lambda: ind.atr(ONES, ONES, ONES[:20]), r"len\(high\)=30, len\(low\)=30, len\(close\)=20"),
        (lambda: ind.atr(ONES, ONES * 2, ONES), "high < low at index 0"),
        (lambda: ind.obv(ONES, -ONES), "volume must not be negative"),
        (lambda: ind.obv(ONES, ONES[:3]), "same length"),
        (lambda: ind.bollinger(ONES, 5, k=-1), "k must be in"),
        (lambda: ind.keltner(ONES, ONES, ONES, source="hl2"), "source must be"),  # type: ignore[arg-type]
        (lambda: ind.keltner(ONES, ONES, ONES, multiplier=0), "multiplier must be in"),
        (lambda: ind.macd(ONES, 12, 10), "fast must be below slow"),
        (lambda: ind.sma(np.ones((3, 3)), 2), "one-dimensional"),
        (lambda: ind.sma(ONES, 2.5), "period must be an integer"),  # type: ignore[arg-type]
        (lambda: Bars(ONES, ONES, ONES, ONES, ONES[:5]), "same length"),
        (lambda: ind.rsi([np.nan, np.nan], 2), "close is all NaN"),
    ],
)
def test_bad_series_raise_invalid_input(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        call()


def test_registry_defaults_match_the_function_defaults() -> None:
    import inspect

    for name, spec in INDICATORS.items():
        sig = inspect.signature(spec.fn)
        for field, info in spec.params.model_fields.items():
            default = sig.parameters[field].default
            if default is not inspect.Parameter.empty:
                assert info.default == default, f"{name}.{field}"
