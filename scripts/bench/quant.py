"""Time the quant library: every indicator on 1,000,000 bars next to TA-Lib, and the options greeks.

    uv run python scripts/bench/quant.py [--points 1000000] [--strikes 100000] [--repeat 7]

Each figure is the best of `--repeat` runs. "ours" is the public function, input checks
included; "TA-Lib" is the bare TA-Lib call (or the TA-Lib calls the indicator is built from).
The greeks budget is 50 ms for 100,000 strikes; it is reported, not asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import talib

from cerbero_mcp.common import indicators as ind
from cerbero_mcp.common.options import black76_greeks, bs_greeks, bs_price, implied_vol

GREEKS_BUDGET_MS = 50.0


def best_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Return the fastest of `repeat` runs of `fn`, in milliseconds."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def make_bars(n: int) -> tuple[np.ndarray, ...]:
    """Return a seeded random-walk OHLCV series of `n` bars."""
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0005, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0005, n)))
    volume = rng.lognormal(3, 1, n)
    return open_, high, low, close, volume


def indicator_cases(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
) -> list[tuple[str, Callable[[], Any], Callable[[], Any] | None]]:
    """Return (name, ours, TA-Lib reference or None) for every registered indicator."""
    del o
    return [
        ("sma(20)", lambda: ind.sma(c, 20), lambda: talib.SMA(c, 20)),
        ("ema(20)", lambda: ind.ema(c, 20), lambda: talib.EMA(c, 20)),
        ("rsi(14)", lambda: ind.rsi(c), lambda: talib.RSI(c, 14)),
        ("macd(12,26,9)", lambda: ind.macd(c), lambda: talib.MACD(c, 12, 26, 9)),
        ("atr(14)", lambda: ind.atr(h, lo, c), lambda: talib.ATR(h, lo, c, 14)),
        ("adx(14)", lambda: ind.adx(h, lo, c), lambda: talib.ADX(h, lo, c, 14)),
        ("bollinger(20,2)", lambda: ind.bollinger(c), lambda: talib.BBANDS(c, 20, 2.0, 2.0, 0)),
        ("stochastic(14,3,3)", lambda: ind.stochastic(h, lo, c), lambda: talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)),
        ("obv", lambda: ind.obv(c, v), lambda: talib.OBV(c, v)),
        ("vwap(cumulative)", lambda: ind.vwap(h, lo, c, v), None),
        ("vwap(rolling 20)", lambda: ind.vwap(h, lo, c, v, 20), None),
        (
            "keltner(20,10,2)",
            lambda: ind.keltner(h, lo, c),
            lambda: (talib.EMA(c, 20), talib.ATR(h, lo, c, 10)),
        ),
        ("donchian(20)", lambda: ind.donchian(h, lo), lambda: (talib.MAX(h, 20), talib.MIN(lo, 20))),
        ("cci(20)", lambda: ind.cci(h, lo, c), lambda: talib.CCI(h, lo, c, 20)),
        ("williams_r(14)", lambda: ind.williams_r(h, lo, c), lambda: talib.WILLR(h, lo, c, 14)),
        ("mfi(14)", lambda: ind.mfi(h, lo, c, v), lambda: talib.MFI(h, lo, c, v, 14)),
        ("roc(10)", lambda: ind.roc(c), lambda: talib.ROC(c, 10)),
    ]


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--strikes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    bars = make_bars(args.points)
    print(f"indicators on {args.points:,} points (best of {args.repeat})")
    print(f"| {'indicator':<20} | {'ours ms':>8} | {'TA-Lib ms':>9} | {'ratio':>6} |")
    print(f"|{'-' * 22}|{'-' * 10}|{'-' * 11}|{'-' * 8}|")
    for name, ours, ref in indicator_cases(*bars):
        t_ours = best_ms(ours, args.repeat)
        if ref is None:
            print(f"| {name:<20} | {t_ours:8.2f} | {'—':>9} | {'—':>6} |")
            continue
        t_ref = best_ms(ref, args.repeat)
        print(f"| {name:<20} | {t_ours:8.2f} | {t_ref:9.2f} | {t_ours / t_ref:6.2f} |")

    n = args.strikes
    strikes = np.linspace(20_000, 200_000, n)
    kinds = np.where(np.arange(n) % 2 == 0, "call", "put")
    prices = bs_price(60_000.0, strikes, 0.25, 0.0, 0.6, kinds)
    print(f"\noptions over {n:,} strikes (best of {args.repeat})")
    print(f"| {'function':<34} | {'ms':>8} |")
    print(f"|{'-' * 36}|{'-' * 10}|")
    greeks_ms = best_ms(lambda: bs_greeks(60_000.0, strikes, 0.25, 0.03, 0.6, "call"), args.repeat)
    spot, t = 60_000.0, 0.25
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("bs_greeks (kind array call/put)", lambda: bs_greeks(spot, strikes, t, 0.03, 0.6, kinds)),
        ("black76_greeks", lambda: black76_greeks(spot, strikes, t, 0.0, 0.6, "call")),
        ("bs_price", lambda: bs_price(spot, strikes, t, 0.03, 0.6, "call")),
        ("implied_vol (call/put mix)", lambda: implied_vol(prices, spot, strikes, t, 0.0, kinds)),
    ]
    rows = [("bs_greeks (kind='call')", greeks_ms), *((name, best_ms(fn, args.repeat)) for name, fn in cases)]
    for name, ms in rows:
        print(f"| {name:<34} | {ms:8.2f} |")
    verdict = "within" if greeks_ms < GREEKS_BUDGET_MS else "OVER"
    print(f"\nbs_greeks over {n:,} strikes: {greeks_ms:.1f} ms, {verdict} the {GREEKS_BUDGET_MS:.0f} ms budget")


if __name__ == "__main__":
    main()
