"""LunarCrush v4: coin, time series and list, realistic score ranges, Bearer keys and the per-plan limits."""

from __future__ import annotations

import math

import pytest
from sentiment_sim import T0, T1, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.sentiment import lunarcrush

SERIES_KEYS = {
    "time", "contributors_active", "contributors_created", "interactions", "posts_active", "posts_created",
    "sentiment", "spam", "alt_rank", "circulating_supply", "close", "galaxy_score", "high", "low", "market_cap",
    "market_dominance", "open", "social_dominance", "volume_24h",
}  # fmt: skip


@pytest.mark.parametrize("coin", ["BTC", "btc", "1"])
async def test_coin_by_symbol_or_id(sim: Sim, coin: str) -> None:
    r = await sim.lunarcrush(f"coins/{coin}/v1")
    assert r.status_code == 200
    body = r.json()
    assert body["config"] == {"id": "coins:1", "name": "Bitcoin", "symbol": "BTC", "topic": "bitcoin",
                              "generated": int(T0)}  # fmt: skip
    data = body["data"]
    assert data["id"] == 1
    assert data["symbol"] == "BTC"
    assert data["market_cap_rank"] == 1
    assert data["price"] == data["close"] > 0
    assert data["price_btc"] == 1.0
    assert data["market_cap"] == pytest.approx(data["price"] * data["circulating_supply"], rel=1e-9)
    assert 0 <= data["galaxy_score"] <= 100
    assert 1 <= data["alt_rank"] <= lunarcrush.UNIVERSE
    assert 0 < data["volatility"] < 1


async def test_unknown_coin_is_404(sim: Sim) -> None:
    r = await sim.lunarcrush("coins/NOPE/v1")
    assert r.status_code == 404
    assert "error" in r.json()


async def test_hourly_series_of_a_week_up_to_the_hour_in_progress(sim: Sim) -> None:
    body = (await sim.lunarcrush("coins/eth/time-series/v2")).json()
    config = body["config"]
    assert config["bucket"] == "hour"
    assert config["interval"] == "1w"
    assert config["symbol"] == "ETH"
    assert config["end"] == int(T0)
    assert config["generated"] == int(T0)
    data = body["data"]
    assert len(data) == 7 * 24
    times = [p["time"] for p in data]
    assert times == list(range(times[0], times[-1] + 1, 3600))
    assert times[-1] == int(T0) - 3600  # T0 is on the hour: the last complete hour is the last bucket
    for p in data:
        assert set(p) == SERIES_KEYS
        assert 0 <= p["galaxy_score"] <= 100
        assert 1 <= p["alt_rank"] <= lunarcrush.UNIVERSE
        assert 0 <= p["sentiment"] <= 100
        assert 0 < p["social_dominance"] < 100
        assert p["low"] <= min(p["open"], p["close"]) <= max(p["open"], p["close"]) <= p["high"]
        assert p["posts_active"] >= p["posts_created"] >= p["spam"] >= 0
        assert p["contributors_active"] <= p["posts_active"]
        assert all(isinstance(p[k], int) for k in ("interactions", "posts_active", "contributors_active", "spam"))


async def test_series_never_passes_now_and_shows_the_bucket_in_progress(sim: Sim, clock: ManualClock) -> None:
    clock.set(T0 + 1800)
    data = (await sim.lunarcrush("coins/BTC/time-series/v2", interval="1d")).json()["data"]
    assert data[-1]["time"] == int(T0)  # the hour in progress
    assert all(p["time"] <= T0 + 1800 for p in data)
    day = (await sim.lunarcrush("coins/BTC/time-series/v2", bucket="day", interval="1w")).json()["data"]
    assert day[-1]["time"] == int(T0 - T0 % 86_400)


async def test_daily_bucket_aggregates_the_hours(sim: Sim) -> None:
    day0 = int(T0 - T0 % 86_400) - 86_400
    hours = (await sim.lunarcrush("coins/SOL/time-series/v2", start=str(day0), end=str(day0 + 86_399))).json()["data"]
    days = (await sim.lunarcrush("coins/SOL/time-series/v2", bucket="day", start=str(day0),
                                 end=str(day0 + 86_399))).json()["data"]  # fmt: skip
    assert len(hours) == 24
    assert len(days) == 1
    d = days[0]
    assert d["time"] == day0
    assert d["interactions"] == sum(h["interactions"] for h in hours)
    assert d["posts_created"] == sum(h["posts_created"] for h in hours)
    assert d["posts_active"] == max(h["posts_active"] for h in hours)
    assert d["open"] == hours[0]["open"]
    assert d["close"] == hours[-1]["close"]
    assert d["high"] == pytest.approx(max(h["high"] for h in hours))
    assert d["low"] == pytest.approx(min(h["low"] for h in hours))


async def test_start_and_end_win_over_interval(sim: Sim) -> None:
    start = int(T0) - 10 * 3600
    body = (await sim.lunarcrush("coins/BTC/time-series/v2", interval="1y", start=str(start), end=str(int(T0)))).json()
    assert body["data"][0]["time"] == start
    assert len(body["data"]) == 10


@pytest.mark.parametrize("params", [{"bucket": "minute"}, {"interval": "2w"}, {"start": "yesterday"}])
async def test_bad_series_parameters_are_400(sim: Sim, params: dict[str, str]) -> None:
    r = await sim.lunarcrush("coins/BTC/time-series/v2", **params)
    assert r.status_code == 400
    assert "error" in r.json()


async def test_coins_list_carries_the_social_snapshot(sim: Sim) -> None:
    body = (await sim.lunarcrush("coins/list/v1", limit="100")).json()
    rows = body["data"]
    assert body["config"]["total_rows"] == len(rows) == len(lunarcrush.COINS)
    assert [r["market_cap_rank"] for r in rows] == sorted(r["market_cap_rank"] for r in rows)
    assert sum(r["social_dominance"] for r in rows) < 100
    for r in rows:
        assert r["interactions_24h"] > r["social_volume_24h"] > 0
        assert 0 <= r["sentiment"] <= 100
        assert 0 <= r["galaxy_score"] <= 100
        assert 1 <= r["alt_rank"] <= lunarcrush.UNIVERSE
    by_galaxy = (await sim.lunarcrush("coins/list/v1", sort="galaxy_score", desc="1", limit="3")).json()["data"]
    assert len(by_galaxy) == 3
    assert [r["galaxy_score"] for r in by_galaxy] == sorted((r["galaxy_score"] for r in rows), reverse=True)[:3]


async def test_coin_agrees_with_the_series_and_the_list(sim: Sim) -> None:
    coin = (await sim.lunarcrush("coins/ETH/v1")).json()["data"]
    row = next(r for r in (await sim.lunarcrush("coins/list/v1")).json()["data"] if r["symbol"] == "ETH")
    assert row["galaxy_score"] == coin["galaxy_score"]
    assert row["alt_rank"] == coin["alt_rank"]
    assert row["price"] == coin["price"]
    last = (await sim.lunarcrush("coins/ETH/time-series/v2", interval="1d")).json()["data"][-1]
    assert last["close"] == pytest.approx(coin["price"], rel=1e-6)


async def test_alt_rank_is_lower_for_higher_galaxy(sim: Sim) -> None:
    model = sim.app.state.venue.lunarcrush
    coin = lunarcrush.BY_SYMBOL["BTC"]
    assert model.alt_rank(coin, 90.0) < model.alt_rank(coin, 50.0) < model.alt_rank(coin, 10.0)
    assert model.alt_rank(coin, 100.0) >= 1
    assert model.alt_rank(coin, 0.0) <= lunarcrush.UNIVERSE


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc", "Bearer "])
async def test_missing_or_wrong_key_is_401(sim: Sim, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    r = await sim.http.get("/lunarcrush/api4/public/coins/BTC/v1", headers=headers)
    assert r.status_code == 401
    assert r.json() == lunarcrush.UNAUTHORIZED


async def test_key_as_query_parameter(sim: Sim) -> None:
    key = sim.app.state.venue.lunarcrush_key
    r = await sim.http.get("/lunarcrush/api4/public/coins/BTC/v1", params={"key": key})
    assert r.status_code == 200


async def test_ten_a_minute_with_headers_then_429(limited: Sim, clock: ManualClock) -> None:
    minute_start = T0 - T0 % 60
    for i in range(lunarcrush.RATE_LIMIT_PER_MIN):
        r = await limited.lunarcrush("coins/BTC/v1")
        assert r.status_code == 200
        assert r.headers["x-rate-limit-minute"] == "10"
        assert r.headers["x-rate-limit-minute-remaining"] == str(9 - i)
        assert r.headers["x-rate-limit-minute-reset"] == str(int(minute_start + 60))
        assert r.headers["x-rate-limit-day"] == "2000"
        assert r.headers["x-rate-limit-day-remaining"] == str(1999 - i)
    r = await limited.lunarcrush("coins/BTC/v1")
    assert r.status_code == 429
    assert r.json() == lunarcrush.RATE_LIMITED
    assert r.headers["x-rate-limit-minute-remaining"] == "0"
    assert int(r.headers["Retry-After"]) == 60
    clock.advance(60)
    assert (await limited.lunarcrush("coins/BTC/v1")).status_code == 200


async def test_two_thousand_a_day(limited: Sim, clock: ManualClock) -> None:
    day_start = T0 - T0 % 86_400 + 86_400  # the simulator's clock never goes back: start the next day
    served = 0
    for minute in range(201):
        clock.set(day_start + 60 * minute)
        for _ in range(lunarcrush.RATE_LIMIT_PER_MIN):
            served += (await limited.lunarcrush("coins/BTC/v1")).status_code == 200
    assert served == lunarcrush.RATE_LIMIT_PER_DAY


async def test_series_at_an_earlier_pinned_date_ends_there() -> None:
    clock = ManualClock(T1)
    async for sim in open_sim(make_app(clock, rate_limit=False), clock):
        body = (await sim.lunarcrush("coins/BTC/time-series/v2", bucket="day", interval="1m")).json()
        assert body["data"][-1]["time"] == int(T1 - T1 % 86_400)
        assert all(p["time"] <= T1 for p in body["data"])
        coin = (await sim.lunarcrush("coins/BTC/v1")).json()["data"]
        assert math.isclose(coin["price"], body["data"][-1]["close"], rel_tol=1e-6)


async def test_the_hour_in_progress_has_counted_only_its_elapsed_part(sim: Sim, clock: ManualClock) -> None:
    clock.set(T0 + 900)
    partial = (await sim.lunarcrush("coins/BTC/time-series/v2", interval="1d")).json()["data"][-1]
    clock.set(T0 + 3600)
    full = next(
        p for p in (await sim.lunarcrush("coins/BTC/time-series/v2", interval="1d")).json()["data"] if p["time"] == T0
    )
    assert partial["time"] == full["time"] == int(T0)
    for name in ("interactions", "posts_created", "contributors_created", "spam"):
        assert partial[name] == round(full[name] * 0.25)
    assert partial["galaxy_score"] == full["galaxy_score"]
