import itertools
import math
import time

import numpy as np
import pytest
from sim_world import SEED, T0, build_market

from cerbero_mcp.simulators.engine import ManualClock, ticker
from cerbero_mcp.simulators.engine.clock import SystemClock, now_ms

DAY = 86_400
SYMBOLS = ["BTC-USDT", "BTC-PERPETUAL", "BTCUSDT", "AAPL"]


def test_manual_clock_sets_and_advances_and_refuses_negative_steps() -> None:
    clock = ManualClock(100.0)
    assert clock.now() == 100.0
    assert clock.advance(2.5) == 102.5
    clock.set(50.0)
    assert clock.now() == 50.0
    assert now_ms(clock) == 50_000
    with pytest.raises(ValueError, match="non-negative"):
        clock.advance(-1)
    assert abs(SystemClock().now() - time.time()) < 1


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_same_seed_and_time_give_the_same_price_book_and_candles(symbol: str) -> None:
    a, b = build_market(), build_market()
    for t in (T0, T0 + 0.123, T0 + 3 * DAY + 17.5, T0 - 400 * DAY, T0 + 5 * 365 * DAY):
        assert a.mid(symbol, t) == b.mid(symbol, t)
        assert a.book(symbol, t, 10).bids() == b.book(symbol, t, 10).bids()
        assert a.book(symbol, t, 10).asks() == b.book(symbol, t, 10).asks()
    ca, cb = a.candles(symbol, T0, T0 + DAY, 300), b.candles(symbol, T0, T0 + DAY, 300)
    for field in ("time", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(ca, field), getattr(cb, field))


def test_mid_is_a_pure_function_of_time_whatever_was_asked_before() -> None:
    fresh, used = build_market(), build_market()
    for k in range(150):  # touch many day blocks so the caches evict
        used.mid("BTC-USDT", T0 + k * 7 * DAY)
    assert used.mid("BTC-USDT", T0 + 1.5) == fresh.mid("BTC-USDT", T0 + 1.5)
    assert used.candles("BTC-USDT", T0, T0 + 600).rows() == fresh.candles("BTC-USDT", T0, T0 + 600).rows()


def test_different_seeds_give_different_paths_and_books() -> None:
    a, b = build_market(SEED), build_market(SEED + 1)
    assert a.mid("BTC-USDT", T0 + DAY) != b.mid("BTC-USDT", T0 + DAY)
    assert a.book("BTC-USDT", T0 + DAY).ask_lots != b.book("BTC-USDT", T0 + DAY).ask_lots


def test_path_starts_at_the_anchor_price_and_has_the_configured_volatility() -> None:
    m = build_market()
    assert m.index("BTC", 1_735_689_600.0) == pytest.approx(100_000.0)
    days = m.candles("BTCUSDT", T0, T0 + 730 * DAY, DAY)
    daily = np.diff(np.log(days.close))
    assert np.std(daily) == pytest.approx(0.6 / math.sqrt(365), rel=0.15)


def test_five_one_minute_candles_equal_the_five_minute_candle_and_so_on_to_hours() -> None:
    m = build_market()
    lot = 0.00001
    start = math.floor(T0 / 3600) * 3600
    c1, c5, c60 = (m.candles("BTCUSDT", start, start + 2 * DAY, r) for r in (60, 300, 3600))
    assert len(c1) == 5 * len(c5) == 60 * len(c60)
    for fine, coarse, k in ((c1, c5, 5), (c5, c60, 12), (c1, c60, 60)):
        assert np.array_equal(coarse.time, fine.time[::k])
        assert np.array_equal(coarse.open, fine.open[::k])
        assert np.array_equal(coarse.close, fine.close[k - 1 :: k])
        assert np.array_equal(coarse.high, fine.high.reshape(-1, k).max(axis=1))
        assert np.array_equal(coarse.low, fine.low.reshape(-1, k).min(axis=1))
        fine_lots = np.round(fine.volume / lot).astype(np.int64).reshape(-1, k).sum(axis=1)
        assert np.array_equal(np.round(coarse.volume / lot).astype(np.int64), fine_lots)
    assert (c1.volume > 0).all()
    assert np.array_equal(c1.close[:-1], c1.open[1:])  # spot candles chain exactly
    assert (c1.low <= np.minimum(c1.open, c1.close)).all()
    assert (c1.high >= np.maximum(c1.open, c1.close)).all()


def test_candles_are_aligned_and_contain_the_mid_at_every_instant() -> None:
    m = build_market()
    c = m.candles("BTC-USDT", T0, T0 + 3600, 60)
    assert c.time[0] == math.floor(T0 / 60) * 60
    assert np.all(np.diff(c.time) == 60)
    rng = np.random.default_rng(1)
    for t in rng.uniform(c.time[0], c.time[-1] + 60, 200):
        i = int((t - c.time[0]) // 60)
        mid = m.mid("BTC-USDT", float(t))
        assert c.low[i] - 0.05 <= mid <= c.high[i] + 0.05  # candles are rounded to the 0.1 tick


def test_candles_with_now_reveal_nothing_after_now() -> None:
    m = build_market()
    now = T0 + 1234.5
    partial = m.candles("BTCUSDT", T0 - 3600, T0 + 7200, 3600, now=now)
    assert partial.time[-1] <= now < partial.time[-1] + 3600
    assert partial.close[-1] == pytest.approx(round(m.mid("BTCUSDT", now), 2), abs=1e-9)
    minutes = m.candles("BTCUSDT", partial.time[-1], now + 3600, 60, now=now)
    assert minutes.time[-1] <= now
    assert partial.high[-1] == minutes.high.max()
    assert partial.low[-1] == minutes.low.min()
    assert partial.open[-1] == minutes.open[0]


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_book_is_on_the_tick_and_lot_grid_around_mid_with_deeper_levels_further_out(symbol: str) -> None:
    m = build_market()
    inst = m.instrument(symbol)
    book = m.book(symbol, T0 + 10.25, depth=50)
    bids, asks = book.bids(), book.asks()
    assert len(bids) == len(asks) == 50
    assert bids[0][0] < book.mid < asks[0][0]
    assert all(p % inst.tick_size == 0 and q % inst.lot_size == 0 and q > 0 for p, q in bids + asks)
    assert all(a[0] > b[0] for a, b in itertools.pairwise(bids))
    assert all(a[0] < b[0] for a, b in itertools.pairwise(asks))
    assert sum(book.ask_lots[40:]) > sum(book.ask_lots[:10])  # sizes grow geometrically with depth


def test_book_sizes_change_each_second_and_prices_follow_the_mid() -> None:
    m = build_market()
    a, b, c = m.book("BTC-USDT", T0 + 5.1), m.book("BTC-USDT", T0 + 5.9), m.book("BTC-USDT", T0 + 6.1)
    assert a.ask_lots == b.ask_lots
    assert a.ask_lots != c.ask_lots
    later = m.book("BTC-USDT", T0 + 3600)
    assert later.best_bid != a.best_bid


def test_funding_and_open_interest_are_deterministic_and_plausible() -> None:
    a, b = build_market(), build_market()
    history = a.funding_history("BTC-USDT", T0, T0 + 7 * DAY)
    assert len(history) == 21
    assert history == b.funding_history("BTC-USDT", T0, T0 + 7 * DAY)
    assert all(ts % (8 * 3600) == 0 and abs(rate) < 0.0075 for ts, rate in history)
    assert len({rate for _, rate in history}) > 5
    oi = [a.open_interest("BTC-USDT", T0 + k * 3600) for k in range(48)]
    assert all(v > 0 for v in oi)
    assert oi == [b.open_interest("BTC-USDT", T0 + k * 3600) for k in range(48)]
    assert len(set(oi)) > 10


def test_spot_is_the_index_and_perpetual_and_forward_stay_close_to_it() -> None:
    m = build_market()
    for k in range(20):
        t = T0 + k * 3571.3
        index = m.index("BTC", t)
        assert m.mid("BTCUSDT", t) == index
        assert abs(m.mid("BTC-USDT", t) / index - 1) < 0.01
        assert m.forward("BTC", t, t + 365 * DAY) == pytest.approx(index * math.exp(0.05))


def test_first_cross_finds_the_instant_the_mid_reaches_a_level() -> None:
    m = build_market()
    lo, hi = m.mid_range("BTC-USDT", T0, T0 + 6 * 3600)
    start = m.mid("BTC-USDT", T0)
    level = start + 0.8 * (hi - start)
    t = m.first_cross("BTC-USDT", T0, T0 + 6 * 3600, level, up=True)
    assert t is not None
    assert m.mid("BTC-USDT", t) >= level
    assert m.mid_range("BTC-USDT", T0, t - 0.01)[1] < level
    assert m.first_cross("BTC-USDT", T0, T0 + 6 * 3600, hi * 1.001, up=True) is None
    assert m.first_cross("BTC-USDT", T0, T0 + 6 * 3600, lo, up=False) is not None


def test_ticker_reports_prices_rolling_day_statistics_and_funding() -> None:
    m = build_market()
    now = T0 + 12_345.6
    tick = ticker(m, "BTC-USDT", now)
    day = m.candles("BTC-USDT", now - DAY, now + 1, 60, now=now)
    assert tick.best_bid is not None
    assert tick.best_ask is not None
    assert tick.best_bid < tick.mid < tick.best_ask
    assert tick.low_24h <= tick.last <= tick.high_24h
    assert tick.open_24h == day.open[0]
    assert tick.volume_24h == pytest.approx(day.volume.sum())
    assert tick.funding_rate == m.funding_rate("BTC-USDT", now)
    assert tick.next_funding_time is not None
    assert 0 < tick.next_funding_time - now <= 8 * 3600
    assert ticker(m, "BTCUSDT", now).funding_rate is None
