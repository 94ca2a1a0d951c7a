"""Time the simulation engine: order submissions per second in-process, and a year of 1-minute candles.

    uv run python scripts/bench/sim_engine.py [--orders 50000] [--step-ms 10] [--repeat 3]

Orders: one account on a linear BTC perpetual; every other submission is a limit that rests
0.05-1 % away from the mid, the rest are market orders that walk the book; the clock moves
`--step-ms` between submissions, so each call also replays the interval for the resting orders
(most stay away from the mid, so tens of thousands rest by the end and some fill as makers).
A second run uses the wall clock. The budget is 5,000 submissions/s; it is
reported, not asserted. Candles: a fresh model (nothing cached) builds 525,600 one-minute candles
of a spot pair and of a perpetual, then aggregates the year to hourly candles.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from decimal import Decimal

from cerbero_mcp.simulators.engine import (
    Clock,
    Exchange,
    Instrument,
    ManualClock,
    MarketModel,
    OrderRejected,
    SystemClock,
    Underlying,
)

ORDERS_BUDGET = 5_000.0
T0 = 1_749_945_600.0  # 2025-06-15T00:00:00Z
YEAR = 365 * 86_400


def build_market(seed: int = 1) -> MarketModel:
    """Return a BTC market with a linear perpetual and a spot pair."""
    return MarketModel(
        seed,
        [Underlying("BTC", 100_000.0, vol=0.6)],
        [
            Instrument.perpetual("BTC-USDT", "BTC", "0.1", "0.001", quote_currency="USDT"),
            Instrument.spot("BTCUSDT", "BTC", "0.01", "0.00001", quote_currency="USDT"),
        ],
    )


def submissions_per_second(n: int, clock: Clock, step: float) -> tuple[float, int, int]:
    """Return (submissions/s, fills, orders resting at the end) for `n` mixed submissions."""
    market = build_market()
    ex = Exchange(market, clock)
    ex.open_account("bench", {"USDT": "1000000000"}, leverage=20)
    rng = random.Random(7)
    tick = 0.1
    rejected = 0
    started = time.perf_counter()
    for i in range(n):
        if isinstance(clock, ManualClock):
            clock.advance(step)
        side = "buy" if rng.random() < 0.5 else "sell"
        try:
            if i % 2:
                ex.submit("bench", "BTC-USDT", side, "0.01", type="market")
            else:
                mid = market.mid("BTC-USDT", clock.now())
                away = rng.uniform(0.0005, 0.01)
                px = mid * (1 - away) if side == "buy" else mid * (1 + away)
                price = Decimal(math.floor(px / tick)) * Decimal("0.1")
                ex.submit("bench", "BTC-USDT", side, "0.01", price=price, client_order_id=f"c{i}")
        except OrderRejected:
            rejected += 1
    elapsed = time.perf_counter() - started
    if rejected:
        print(f"  ({rejected} submissions rejected)")
    return n / elapsed, len(ex.fills("bench")), len(ex.open_orders("bench"))


def candle_year(symbol: str, resolution: int) -> tuple[float, int]:
    """Return (seconds, candles) to build a year of candles on a fresh model."""
    market = build_market(seed=int(time.time()))  # a new seed: nothing cached anywhere
    started = time.perf_counter()
    candles = market.candles(symbol, T0, T0 + YEAR, resolution)
    return time.perf_counter() - started, len(candles)


def main() -> None:
    """Run the benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--step-ms", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"order submissions ({args.orders:,} per run, half resting limits, half market orders)")
    best = 0.0
    for _ in range(args.repeat):
        rate, fills, resting = submissions_per_second(args.orders, ManualClock(T0), args.step_ms / 1000)
        best = max(best, rate)
    print(f"  manual clock, {args.step_ms:g} ms per order: {best:,.0f} orders/s "
          f"({fills:,} fills, {resting:,} resting at the end)")  # fmt: skip
    rate, fills, resting = submissions_per_second(args.orders, SystemClock(), 0.0)
    print(f"  wall clock:                  {rate:,.0f} orders/s ({fills:,} fills, {resting:,} resting)")
    verdict = "within" if best >= ORDERS_BUDGET else "OVER"
    print(f"  budget {ORDERS_BUDGET:,.0f} orders/s: {verdict} budget")

    print("a year of candles on a fresh model (cold caches)")
    for symbol, resolution in (("BTCUSDT", 60), ("BTC-USDT", 60), ("BTCUSDT", 3600)):
        seconds, count = candle_year(symbol, resolution)
        print(f"  {symbol:9s} {resolution:>5d} s: {count:,} candles in {seconds * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
