"""Technical indicators over price bars, and the registry every venue's `get_indicators` serves.

Arrays in, arrays out: each output has the length of its input and is NaN during warm-up. Where
TA-Lib has the indicator it computes it (same definitions and values as TA-Lib); VWAP and
Keltner channels are built here from numpy and TA-Lib primitives. Series may start with NaN
(e.g. the output of another indicator); NaN after the first value, infinities, non-positive
prices, negative volume, high < low and periods outside [minimum, len] raise `InvalidInputError`.

`INDICATORS` maps a name to an `IndicatorSpec` (function, pydantic parameter model, needed inputs,
output names); `compute_indicator(name, bars, params)` is what the tools call, so an indicator
added here appears on every venue at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cerbero_mcp.common._validate import FloatArray, fail, period, same_length, series


class _LazyTalib:
    """TA-Lib, imported on first use: `import talib` also imports pandas (~1 s of start-up)."""

    def __getattr__(self, name: str) -> Any:
        import talib as real

        globals()["talib"] = real
        return getattr(real, name)


talib: Any = _LazyTalib()

__all__ = [
    "INDICATORS",
    "Bars",
    "IndicatorSpec",
    "adx",
    "atr",
    "bollinger",
    "cci",
    "compute_indicator",
    "describe_indicators",
    "donchian",
    "ema",
    "keltner",
    "macd",
    "mfi",
    "obv",
    "roc",
    "rsi",
    "sma",
    "stochastic",
    "vwap",
    "williams_r",
]

Band = tuple[FloatArray, FloatArray, FloatArray]
_SMA: Any = 0  # TA-Lib's MA_Type.SMA; its stubs declare an Enum the runtime does not have


def _out(x: Any) -> FloatArray:
    return cast(FloatArray, x)


def _price(x: ArrayLike, name: str = "close") -> FloatArray:
    return series(x, name, positive=True)


def _hlc(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    h, lo, c = _price(high, "high"), _price(low, "low"), _price(close, "close")
    same_length(high=h, low=lo, close=c)
    with np.errstate(invalid="ignore"):
        below = h < lo
    if below.any():
        i = int(np.argmax(below))
        fail(f"high < low at index {i} ({h[i]} < {lo[i]})", fix="check the bar order of high and low", index=i)
    return h, lo, c


def _volume(volume: ArrayLike, n: int) -> FloatArray:
    v = series(volume, "volume", nonnegative=True)
    if v.size != n:
        fail(f"series must have the same length: len(close)={n}, len(volume)={v.size}")
    return v


def sma(x: ArrayLike, period: int) -> FloatArray:
    """Return the simple moving average of `x` over `period` values."""
    a = series(x, "x")
    return _out(talib.SMA(a, timeperiod=_period(period, a)))


def _period(value: int, a: FloatArray, name: str = "period", minimum: int = 1, of: str = "close") -> int:
    return period(value, a.size, name=name, of=of, minimum=minimum)


def ema(x: ArrayLike, period: int) -> FloatArray:
    """Return TA-Lib's exponential moving average (seeded with the SMA of the first `period` values)."""
    a = series(x, "x")
    return _out(talib.EMA(a, timeperiod=_period(period, a)))


def rsi(close: ArrayLike, period: int = 14) -> FloatArray:
    """Return Wilder's relative strength index (0–100)."""
    c = _price(close)
    return _out(talib.RSI(c, timeperiod=_period(period, c, minimum=2)))


def macd(close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> Band:
    """Return (macd, signal, histogram): EMA(fast) − EMA(slow), its EMA(signal) and their difference."""
    c = _price(close)
    f, s = _period(fast, c, "fast", 2), _period(slow, c, "slow", 2)
    if f >= s:
        fail(f"fast must be below slow, got fast={f}, slow={s}", fix="e.g. fast=12, slow=26")
    m, sig, hist = talib.MACD(c, fastperiod=f, slowperiod=s, signalperiod=_period(signal, c, "signal"))
    return _out(m), _out(sig), _out(hist)


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Return Wilder's average true range."""
    h, lo, c = _hlc(high, low, close)
    return _out(talib.ATR(h, lo, c, timeperiod=_period(period, c)))


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Return Wilder's average directional index (0–100)."""
    h, lo, c = _hlc(high, low, close)
    return _out(talib.ADX(h, lo, c, timeperiod=_period(period, c, minimum=2)))


def bollinger(close: ArrayLike, period: int = 20, k: float = 2.0) -> Band:
    """Return (upper, middle, lower): SMA(period) ± k population standard deviations."""
    c = _price(close)
    if not 0 < k < 100:
        fail(f"k must be in (0, 100), got {k}", argument="k")
    up, mid, low = talib.BBANDS(c, timeperiod=_period(period, c, minimum=2), nbdevup=k, nbdevdn=k, matype=_SMA)
    return _out(up), _out(mid), _out(low)


def stochastic(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, k_period: int = 14, k_smooth: int = 3, d_period: int = 3
) -> tuple[FloatArray, FloatArray]:
    """Return the slow stochastic (%K smoothed by an SMA of `k_smooth`, %D its SMA of `d_period`)."""
    h, lo, c = _hlc(high, low, close)
    k, d = talib.STOCH(
        h,
        lo,
        c,
        fastk_period=_period(k_period, c, "k_period"),
        slowk_period=_period(k_smooth, c, "k_smooth"),
        slowk_matype=_SMA,
        slowd_period=_period(d_period, c, "d_period"),
        slowd_matype=_SMA,
    )
    return _out(k), _out(d)


def obv(close: ArrayLike, volume: ArrayLike) -> FloatArray:
    """Return on-balance volume, starting at the first bar's volume."""
    c = _price(close)
    return _out(talib.OBV(c, _volume(volume, c.size)))


def vwap(high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, period: int = 0) -> FloatArray:
    """Return the VWAP of the typical price (H+L+C)/3: cumulative from the first bar, or rolling over `period`.

    Cumulative (period=0) is the session VWAP when the bars start at the session open. Bars with
    no volume so far give NaN.
    """
    h, lo, c = _hlc(high, low, close)
    v = _volume(volume, c.size)
    p = 0 if period == 0 else _period(period, c)
    tp = h + lo
    tp += c
    tp /= 3.0
    pv = tp * v
    vol = v
    if np.isnan(pv[0]):  # leading NaN (the only NaN validation lets through) count as no trade
        pv, vol = np.nan_to_num(pv), np.nan_to_num(v)
    num, den = np.cumsum(pv), np.cumsum(vol)
    if p:
        num[p:] -= num[:-p].copy()
        den[p:] -= den[:-p].copy()
        num[: p - 1] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.divide(num, den, out=num)
    out[~(den > 0)] = np.nan
    return out


def keltner(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    period: int = 20,
    atr_period: int = 10,
    multiplier: float = 2.0,
    source: Literal["close", "typical"] = "close",
) -> Band:
    """Return (upper, middle, lower): middle = EMA(source, period), bands = middle ± multiplier·ATR(atr_period)."""
    h, lo, c = _hlc(high, low, close)
    if source not in ("close", "typical"):
        fail(f'source must be "close" or "typical", got {source!r}', argument="source")
    if not 0 < multiplier < 100:
        fail(f"multiplier must be in (0, 100), got {multiplier}", argument="multiplier")
    src = c if source == "close" else (h + lo + c) / 3.0
    mid = _out(talib.EMA(src, timeperiod=_period(period, c)))
    width = _out(talib.ATR(h, lo, c, timeperiod=_period(atr_period, c, "atr_period")))
    width *= multiplier
    upper = mid + width
    return upper, mid, np.subtract(mid, width, out=width)


def donchian(high: ArrayLike, low: ArrayLike, period: int = 20) -> Band:
    """Return (upper, middle, lower): the highest high and lowest low of the last `period` bars and their mean."""
    h, lo = _price(high, "high"), _price(low, "low")
    same_length(high=h, low=lo)
    p = _period(period, h, of="high")
    if p == 1:
        up, down = h.copy(), lo.copy()
    else:  # TA-Lib's MAX/MIN are the rolling extremes, in O(n)
        up, down = _out(talib.MAX(h, timeperiod=p)), _out(talib.MIN(lo, timeperiod=p))
    middle = up + down
    middle *= 0.5
    return up, middle, down


def cci(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 20) -> FloatArray:
    """Return the commodity channel index of the typical price."""
    h, lo, c = _hlc(high, low, close)
    return _out(talib.CCI(h, lo, c, timeperiod=_period(period, c, minimum=2)))


def williams_r(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Return Williams %R (−100–0)."""
    h, lo, c = _hlc(high, low, close)
    return _out(talib.WILLR(h, lo, c, timeperiod=_period(period, c, minimum=2)))


def mfi(high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, period: int = 14) -> FloatArray:
    """Return the money flow index (0–100)."""
    h, lo, c = _hlc(high, low, close)
    return _out(talib.MFI(h, lo, c, _volume(volume, c.size), timeperiod=_period(period, c, minimum=2)))


def roc(close: ArrayLike, period: int = 10) -> FloatArray:
    """Return the rate of change in percent: 100·(close / close[−period] − 1)."""
    c = _price(close)
    return _out(talib.ROC(c, timeperiod=_period(period, c)))


# --- registry -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV bars as float64 arrays of one length; construction validates them."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        """Coerce to float64 and check lengths, signs and NaN placement."""
        h, lo, c = _hlc(self.high, self.low, self.close)
        o = _price(self.open, "open")
        same_length(open=o, close=c)
        v = _volume(self.volume, c.size)
        for name, arr in (("open", o), ("high", h), ("low", lo), ("close", c), ("volume", v)):
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        """Return the number of bars."""
        return int(self.close.size)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_MAXP = 100_000  # TA-Lib's largest period


class PeriodParams(_Params):
    """Parameters of a single-period indicator."""

    period: int = Field(14, ge=1, le=_MAXP, description="look-back window in bars")


class Period2Params(_Params):
    """Parameters of an indicator that needs at least two bars of look-back."""

    period: int = Field(14, ge=2, le=_MAXP, description="look-back window in bars")


class CciParams(_Params):
    """Parameters of the commodity channel index."""

    period: int = Field(20, ge=2, le=_MAXP, description="look-back window in bars")


class MaParams(_Params):
    """Parameters of a moving average."""

    period: int = Field(20, ge=1, le=_MAXP, description="look-back window in bars")


class RocParams(_Params):
    """Parameters of the rate of change."""

    period: int = Field(10, ge=1, le=_MAXP, description="bars between the two closes compared")


class MacdParams(_Params):
    """Parameters of MACD."""

    fast: int = Field(12, ge=2, le=_MAXP, description="fast EMA period")
    slow: int = Field(26, ge=2, le=_MAXP, description="slow EMA period, above fast")
    signal: int = Field(9, ge=1, le=_MAXP, description="EMA period of the signal line")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MacdParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be below slow")
        return self


class BollingerParams(_Params):
    """Parameters of Bollinger bands."""

    period: int = Field(20, ge=2, le=_MAXP, description="SMA window in bars")
    k: float = Field(2.0, gt=0, lt=100, description="band width in standard deviations")


class StochasticParams(_Params):
    """Parameters of the slow stochastic."""

    k_period: int = Field(14, ge=1, le=_MAXP, description="window of the raw %K")
    k_smooth: int = Field(3, ge=1, le=_MAXP, description="SMA smoothing of %K")
    d_period: int = Field(3, ge=1, le=_MAXP, description="SMA period of %D")


class VwapParams(_Params):
    """Parameters of VWAP."""

    period: int = Field(0, ge=0, le=_MAXP, description="rolling window in bars; 0 = cumulative from the first bar")


class KeltnerParams(_Params):
    """Parameters of Keltner channels."""

    period: int = Field(20, ge=1, le=_MAXP, description="EMA window of the middle line")
    atr_period: int = Field(10, ge=1, le=_MAXP, description="ATR window of the band width")
    multiplier: float = Field(2.0, gt=0, lt=100, description="ATR multiple of the band width")
    source: Literal["close", "typical"] = Field("close", description="price the EMA is taken of")


class DonchianParams(_Params):
    """Parameters of Donchian channels."""

    period: int = Field(20, ge=1, le=_MAXP, description="look-back window in bars")


class NoParams(_Params):
    """This indicator takes no parameters."""


@dataclass(frozen=True)
class IndicatorSpec:
    """One registry entry: how to compute an indicator from bars and what it returns."""

    name: str
    summary: str
    fn: Callable[..., FloatArray | tuple[FloatArray, ...]]
    params: type[BaseModel]
    inputs: tuple[Literal["open", "high", "low", "close", "volume"], ...]
    outputs: tuple[str, ...]

    def compute(self, bars: Bars, params: BaseModel) -> dict[str, FloatArray]:
        """Run the indicator on `bars` with already validated `params`."""
        result = self.fn(*(getattr(bars, f) for f in self.inputs), **params.model_dump())
        values = result if isinstance(result, tuple) else (result,)
        return dict(zip(self.outputs, values, strict=True))


_C: tuple[Literal["close"]] = ("close",)
_HLC: tuple[Literal["high"], Literal["low"], Literal["close"]] = ("high", "low", "close")
_HLCV: tuple[Literal["high"], Literal["low"], Literal["close"], Literal["volume"]] = (*_HLC, "volume")

INDICATORS: dict[str, IndicatorSpec] = {
    s.name: s
    for s in (
        IndicatorSpec("sma", sma.__doc__ or "", sma, MaParams, _C, ("sma",)),
        IndicatorSpec("ema", ema.__doc__ or "", ema, MaParams, _C, ("ema",)),
        IndicatorSpec("rsi", rsi.__doc__ or "", rsi, Period2Params, _C, ("rsi",)),
        IndicatorSpec("macd", macd.__doc__ or "", macd, MacdParams, _C, ("macd", "signal", "histogram")),
        IndicatorSpec("atr", atr.__doc__ or "", atr, PeriodParams, _HLC, ("atr",)),
        IndicatorSpec("adx", adx.__doc__ or "", adx, Period2Params, _HLC, ("adx",)),
        IndicatorSpec(
            "bollinger", bollinger.__doc__ or "", bollinger, BollingerParams, _C, ("upper", "middle", "lower")
        ),
        IndicatorSpec("stochastic", stochastic.__doc__ or "", stochastic, StochasticParams, _HLC, ("k", "d")),
        IndicatorSpec("obv", obv.__doc__ or "", obv, NoParams, ("close", "volume"), ("obv",)),
        IndicatorSpec("vwap", (vwap.__doc__ or "").split("\n")[0], vwap, VwapParams, _HLCV, ("vwap",)),
        IndicatorSpec("keltner", keltner.__doc__ or "", keltner, KeltnerParams, _HLC, ("upper", "middle", "lower")),
        IndicatorSpec(
            "donchian", donchian.__doc__ or "", donchian, DonchianParams, ("high", "low"), ("upper", "middle", "lower")
        ),
        IndicatorSpec("cci", cci.__doc__ or "", cci, CciParams, _HLC, ("cci",)),
        IndicatorSpec("williams_r", williams_r.__doc__ or "", williams_r, Period2Params, _HLC, ("williams_r",)),
        IndicatorSpec("mfi", mfi.__doc__ or "", mfi, Period2Params, _HLCV, ("mfi",)),
        IndicatorSpec("roc", roc.__doc__ or "", roc, RocParams, _C, ("roc",)),
    )
}


def compute_indicator(name: str, bars: Bars, params: Mapping[str, Any] | None = None) -> dict[str, FloatArray]:
    """Compute the registered indicator `name` on `bars`; return its outputs by name."""
    spec = INDICATORS.get(name)
    if spec is None:
        available = sorted(INDICATORS)
        fail(
            f"unknown indicator {name!r}; available: {', '.join(available)}",
            fix="use one of the available names",
            indicator=name,
            available=available,
        )
    try:
        model = spec.params.model_validate(dict(params or {}))
    except ValidationError as exc:
        errors = [
            {"loc": ".".join(str(p) for p in e["loc"]) or "params", "msg": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        where = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        fail(f"invalid parameters for {name}: {where}", fix="see the indicator's parameter schema", errors=errors)
    return spec.compute(bars, model)


def describe_indicators() -> dict[str, dict[str, Any]]:
    """Return each indicator's summary, inputs, outputs and parameter JSON schema (for tool docs)."""
    return {
        name: {
            "summary": spec.summary,
            "inputs": list(spec.inputs),
            "outputs": list(spec.outputs),
            "params": spec.params.model_json_schema(),
        }
        for name, spec in INDICATORS.items()
    }
