"""Time the Deribit simulator's `public/get_book_summary_by_currency` rows, cold and warm.

    uv run python scripts/bench/sim_summaries.py [--currency BTC] [--kind option] [--repeat 5]

Cold: a fresh `DeribitMarket` (nothing cached: no price-path day blocks, no 24 h statistics)
answers its first call. Warm: the same market answers at later whole seconds of the same minute
(the rows are cached per second, so every call here is recomputed; the 24 h statistics are not).
Next minute: the first call of the following minute, when the 24 h statistics move on. Each figure
is the median over `--repeat` rounds, in milliseconds; the clock is a fixed instant, never the wall.
"""

from __future__ import annotations

import argparse
import statistics
import time

from cerbero_mcp.simulators.deribit.market import DeribitMarket

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z: a fixed instant, so every run prices the same options


def measure(currency: str, kind: str | None, seed: int) -> tuple[float, list[float], float, int]:
    """Return (cold ms, warm ms per call, next-minute ms, rows) of one fresh market."""
    market = DeribitMarket(seed, T0)
    started = time.perf_counter()
    rows = market.book_summaries(currency, kind, T0 + 1.0)
    cold = (time.perf_counter() - started) * 1000.0
    warm = []
    for second in range(2, 7):
        started = time.perf_counter()
        market.book_summaries(currency, kind, T0 + second + 0.25)
        warm.append((time.perf_counter() - started) * 1000.0)
    started = time.perf_counter()
    market.book_summaries(currency, kind, T0 + 61.0)
    next_minute = (time.perf_counter() - started) * 1000.0
    return cold, warm, next_minute, len(rows)


def main() -> None:
    """Print cold, warm and next-minute milliseconds of the summary rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--currency", default="BTC")
    parser.add_argument("--kind", default="option", help="option, future, or 'all'")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    kind = None if args.kind == "all" else args.kind
    colds, warms, nexts = [], [], []
    rows = 0
    for i in range(args.repeat):
        cold, warm, next_minute, rows = measure(args.currency, kind, seed=11 + i)
        colds.append(cold)
        warms.extend(warm)
        nexts.append(next_minute)
    print(f"{args.currency} {args.kind}: {rows} rows, median of {args.repeat} markets")
    print(f"  cold         {statistics.median(colds):9.1f} ms")
    print(f"  warm         {statistics.median(warms):9.1f} ms")
    print(f"  next minute  {statistics.median(nexts):9.1f} ms")


if __name__ == "__main__":
    main()
