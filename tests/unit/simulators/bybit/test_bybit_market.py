"""The Bybit simulator's public market endpoints: symbols from the clock, strings, ordering and paging."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from bybit_sim import T0, T0_MS, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock

AUG_2027 = datetime(2027, 8, 10, 9, 30, tzinfo=UTC).timestamp()  # a Tuesday


def all_strings(node: Any, allowed_ints: frozenset[str] = frozenset()) -> bool:
    """Return whether every number in a result is a string (bar the keys Bybit sends as integers)."""
    if isinstance(node, dict):
        return all(all_strings(v, allowed_ints) for k, v in node.items() if k not in allowed_ints)
    if isinstance(node, list):
        return all(all_strings(v, allowed_ints) for v in node)
    return not isinstance(node, int | float) or isinstance(node, bool)


async def symbols(sim: Sim, category: str, **params: Any) -> list[str]:
    body = await sim.public("/v5/market/instruments-info", category=category, limit=1000, **params)
    return [row["symbol"] for row in body["result"]["list"]]


@pytest.mark.parametrize(
    ("now", "inverse", "usdt_futures", "usdc_futures", "first_option_expiries"),
    [
        (T0, ["BTCUSDH26", "BTCUSDM26"], ["BTCUSDT-6MAR26", "BTCUSDT-13MAR26", "BTCUSDT-27MAR26", "BTCUSDT-24APR26",
                                          "BTCUSDT-26JUN26"], ["BTC-27MAR26", "BTC-26JUN26"],
         ["3MAR26", "4MAR26", "6MAR26"]),
        (AUG_2027, ["BTCUSDU27", "BTCUSDZ27"], ["BTCUSDT-13AUG27", "BTCUSDT-20AUG27", "BTCUSDT-27AUG27",
                                                "BTCUSDT-24SEP27", "BTCUSDT-31DEC27"], ["BTC-27AUG27", "BTC-24SEP27",
                                                                                       "BTC-31DEC27"],
         ["11AUG27", "12AUG27", "13AUG27"]),
    ],
)  # fmt: skip
async def test_dated_instruments_are_derived_from_the_clock(
    now: float, inverse: list[str], usdt_futures: list[str], usdc_futures: list[str], first_option_expiries: list[str]
) -> None:
    clock = ManualClock(now)
    async for sim in open_sim(make_app(clock), clock):
        inv = await symbols(sim, "inverse")
        assert [s for s in inv if s.startswith("BTC")] == ["BTCUSD", *inverse]
        linear = await symbols(sim, "linear")
        assert [s for s in linear if s.startswith("BTCUSDT-")] == usdt_futures
        assert [s for s in linear if s.startswith("BTC-")] == usdc_futures
        assert {"BTCUSDT", "ETHUSDT", "BTCPERP", "ETHPERP"} <= set(linear)
        options = await symbols(sim, "option", baseCoin="BTC")
        expiries = list(dict.fromkeys(s.split("-")[1] for s in options))
        assert expiries[:3] == first_option_expiries
        assert all(s.endswith(("-C", "-P")) for s in options)
        info = (await sim.public("/v5/market/instruments-info", category="inverse", symbol=inverse[0]))["result"]
        row = info["list"][0]
        delivery = datetime.fromtimestamp(int(row["deliveryTime"]) / 1000, UTC)
        assert (delivery.weekday(), delivery.hour, row["contractType"]) == (4, 8, "InverseFutures")


async def test_a_delivered_future_leaves_the_listing_as_the_clock_moves(sim: Sim, clock: ManualClock) -> None:
    assert "BTCUSDT-6MAR26" in await symbols(sim, "linear")
    clock.set(datetime(2026, 3, 6, 9, tzinfo=UTC).timestamp())
    listed = await symbols(sim, "linear")
    assert "BTCUSDT-6MAR26" not in listed
    assert "BTCUSDT-20MAR26" in listed  # the next weekly is listed as time moves


async def test_instruments_info_shows_the_increments(sim: Sim) -> None:
    linear = (await sim.public("/v5/market/instruments-info", category="linear", symbol="BTCUSDT"))["result"]
    row = linear["list"][0]
    assert row["priceFilter"]["tickSize"] == "0.10"
    lot = row["lotSizeFilter"]
    assert (lot["qtyStep"], lot["minOrderQty"], lot["minNotionalValue"], lot["maxOrderQty"]) == (
        "0.001", "0.001", "5", "1190.000"
    )  # fmt: skip
    assert (row["launchTime"], row["deliveryTime"], row["status"], row["fundingInterval"]) == (
        "1585526400000", "0", "Trading", 480
    )  # fmt: skip
    spot = (await sim.public("/v5/market/instruments-info", category="spot", symbol="BTCUSDT"))["result"]
    assert "nextPageCursor" not in spot
    lot = spot["list"][0]["lotSizeFilter"]
    assert (lot["basePrecision"], lot["minOrderAmt"]) == ("0.000001", "5")
    body = await sim.public("/v5/market/instruments-info", category="linear", symbol="NOPEUSDT")
    assert (body["retCode"], body["retMsg"]) == (10001, "params error: symbol invalid")
    assert body["result"] == {"category": "", "list": [], "nextPageCursor": ""}


async def test_instruments_info_by_base_coin_mixes_linear_and_inverse(sim: Sim) -> None:
    by_base = await symbols(sim, "linear", baseCoin="ETH")
    assert {"ETHUSDT", "ETHPERP", "ETHUSD"} <= set(by_base)
    assert all(s.startswith("ETH") for s in by_base)
    assert "ETHUSD" not in await symbols(sim, "linear")


async def test_instruments_info_pages_options_with_an_opaque_cursor(sim: Sim) -> None:
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        params: dict[str, Any] = {"category": "option", "baseCoin": "ETH", "limit": 100}
        if cursor:
            params["cursor"] = cursor
        result = (await sim.public("/v5/market/instruments-info", **params))["result"]
        seen += [r["symbol"] for r in result["list"]]
        pages += 1
        cursor = result["nextPageCursor"]
        if not cursor:
            break
        assert "%3D" in cursor  # URL-encoded, like page_args%3D...
    assert pages > 1
    assert len(seen) == len(set(seen)) == len(await symbols(sim, "option", baseCoin="ETH"))


async def test_tickers_carry_funding_index_mark_and_open_interest(sim: Sim) -> None:
    result = (await sim.public("/v5/market/tickers", category="linear", symbol="BTCUSDT"))["result"]
    t = result["list"][0]
    assert all_strings(result)
    assert Decimal(t["bid1Price"]) < Decimal(t["ask1Price"])
    assert t["nextFundingTime"] == str(T0_MS + 4 * 3600 * 1000)  # the next 8-hour mark after 12:00 is 16:00
    assert Decimal(t["fundingRate"]) != 0
    assert Decimal(t["openInterest"]) > 0
    assert t["fundingIntervalHour"] == "8"
    future = (await sim.public("/v5/market/tickers", category="linear", symbol="BTCUSDT-27MAR26"))["result"]["list"][0]
    assert future["fundingRate"] == ""
    assert future["deliveryTime"] != "0"
    assert future["basisRateYear"] != ""
    option = (await sim.public("/v5/market/tickers", category="option", symbol="BTC-27MAR26-100000-C"))["result"]
    o = option["list"][0]
    for name in ("delta", "gamma", "vega", "theta", "markIv", "underlyingPrice", "bid1Iv", "ask1Iv"):
        assert o[name] != "", name
    assert 0 < Decimal(o["delta"]) < 1
    body = await sim.public("/v5/market/tickers", category="spot")
    assert [t["symbol"] for t in body["result"]["list"]] == ["BTCUSDT", "ETHUSDT"]
    assert "fundingRate" not in body["result"]["list"][0]
    r = await sim.http.get("/v5/market/tickers", params={"category": "option"})
    assert r.json()["retCode"] == 10001


async def test_orderbook_limits_follow_the_category(sim: Sim) -> None:
    book = (await sim.public("/v5/market/orderbook", category="linear", symbol="BTCUSDT"))["result"]
    assert len(book["b"]) == len(book["a"]) == 25  # linear default
    bids = [Decimal(p) for p, _ in book["b"]]
    asks = [Decimal(p) for p, _ in book["a"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert book["s"] == "BTCUSDT"
    assert book["ts"] == T0_MS
    spot = (await sim.public("/v5/market/orderbook", category="spot", symbol="BTCUSDT"))["result"]
    assert len(spot["b"]) == 1  # spot default
    r = await sim.http.get("/v5/market/orderbook", params={"category": "option", "symbol": "BTC-27MAR26-100000-C",
                                                            "limit": 26})  # fmt: skip
    assert r.json()["retCode"] == 10001
    ok = await sim.public("/v5/market/orderbook", category="option", symbol="BTC-27MAR26-100000-C", limit=25)
    assert 0 < len(ok["result"]["b"]) <= 25


async def test_klines_are_newest_first_in_every_interval(sim: Sim, clock: ManualClock) -> None:
    for interval, seconds in (("1", 60), ("720", 43_200), ("D", 86_400)):
        result = (await sim.public("/v5/market/kline", category="linear", symbol="BTCUSDT", interval=interval,
                                   limit=5))["result"]  # fmt: skip
        starts = [int(row[0]) for row in result["list"]]
        assert len(starts) == 5
        assert all(len(row) == 7 for row in result["list"])
        assert starts == sorted(starts, reverse=True)
        assert all(a - b == seconds * 1000 for a, b in itertools.pairwise(starts))
        assert all(isinstance(x, str) for row in result["list"] for x in row)
    week = (await sim.public("/v5/market/kline", symbol="BTCUSDT", interval="W", limit=2))["result"]
    assert week["category"] == "linear"
    assert [datetime.fromtimestamp(int(r[0]) / 1000, UTC).weekday() for r in week["list"]] == [0, 0]
    clock.advance(30.0)  # half-way through the 12:00 minute: its candle is in progress and listed
    start = T0_MS - 10 * 60_000
    ranged = (await sim.public("/v5/market/kline", symbol="BTCUSDT", interval="1", start=start))["result"]
    assert int(ranged["list"][-1][0]) == start
    assert int(ranged["list"][0][0]) == T0_MS
    assert len(ranged["list"]) == 11
    mark = (await sim.public("/v5/market/mark-price-kline", symbol="BTCUSDT", interval="60", limit=3))["result"]
    assert all(len(row) == 5 for row in mark["list"])
    index = (await sim.public("/v5/market/index-price-kline", category="inverse", symbol="BTCUSD", interval="60",
                              limit=3))["result"]  # fmt: skip
    assert len(index["list"]) == 3
    r = await sim.http.get("/v5/market/kline", params={"category": "option", "symbol": "BTCUSDT", "interval": "1"})
    assert r.json()["retMsg"] == "Illegal category"


async def test_funding_history_is_newest_first_and_refuses_start_alone(sim: Sim) -> None:
    rows = (await sim.public("/v5/market/funding/history", category="linear", symbol="BTCUSDT", limit=4))["result"]
    stamps = [int(r["fundingRateTimestamp"]) for r in rows["list"]]
    assert stamps == [T0_MS - 4 * 3_600_000 - i * 8 * 3_600_000 for i in range(4)]
    r = await sim.http.get("/v5/market/funding/history", params={"category": "linear", "symbol": "BTCUSDT",
                                                                  "startTime": T0_MS - 86_400_000})  # fmt: skip
    assert r.json()["retCode"] == 10001
    r = await sim.http.get("/v5/market/funding/history", params={"category": "linear", "symbol": "BTCUSDT-27MAR26"})
    assert r.json()["retCode"] == 10001


async def test_open_interest_pages_by_cursor_until_the_range_ends(sim: Sim) -> None:
    start = T0_MS - 10 * 3_600_000
    params: dict[str, Any] = {"category": "linear", "symbol": "BTCUSDT", "intervalTime": "1h", "limit": 4,
                              "startTime": start, "endTime": T0_MS}  # fmt: skip
    stamps: list[int] = []
    while True:
        result = (await sim.public("/v5/market/open-interest", **params))["result"]
        stamps += [int(r["timestamp"]) for r in result["list"]]
        if not result["nextPageCursor"]:
            break
        params["cursor"] = result["nextPageCursor"]
    assert stamps == [T0_MS - i * 3_600_000 for i in range(11)]
    r = await sim.http.get("/v5/market/open-interest", params={"category": "linear", "symbol": "BTCUSDT",
                                                                "intervalTime": "2h"})  # fmt: skip
    assert r.json()["retCode"] == 10001


async def test_server_time_is_the_clock(sim: Sim, clock: ManualClock) -> None:
    clock.advance(1.5)
    body = await sim.public("/v5/market/time")
    assert body["result"] == {"timeSecond": str(int(T0 + 1.5)), "timeNano": str((T0_MS + 1500) * 1_000_000)}
    assert body["time"] == T0_MS + 1500
