"""The sentiment provider's cross-venue tools through the gateway, checked against the venue simulators' own numbers.

Each expected value is read straight from the simulator of the caller's environment over HTTP (Deribit's
JSON-RPC over GET, Bybit's /v5/market, Hyperliquid's /info), not from our clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from itertools import combinations
from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges.sentiment.crossvenue_tools import (
    get_cointegration_pairs,
    get_funding_arb_spread,
    get_funding_multi_exchange,
    get_liquidation_heatmap,
    get_oi_history,
)
from cerbero_mcp.exchanges.sentiment.tools import TOOLS
from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, TESTNET, auth

MINE = {
    f.__name__
    for f in (
        get_funding_multi_exchange,
        get_oi_history,
        get_funding_arb_spread,
        get_liquidation_heatmap,
        get_cointegration_pairs,
    )
}
EXAMPLES = [
    (spec.name, example)
    for spec in TOOLS.specs
    if spec.name in MINE
    for example in spec.request_model.model_json_schema().get("examples", [])
]
TOKENS = [(TESTNET, "testnet"), (MAINNET, "mainnet")]
VENUES = ("deribit", "bybit", "hyperliquid")


@pytest.fixture(autouse=True)
def no_faults(sim_stack: SimStack) -> Iterator[None]:
    """Leave every venue simulator without faults after each test."""
    yield
    for venue in VENUES:
        for env in ("testnet", "mainnet"):
            sim_stack.control(venue, env).clear_faults()


# --- the simulators' own numbers ---------------------------------------------------------------------


def deribit(stack: SimStack, env: str, method: str, **params: Any) -> Any:
    """Call a public Deribit JSON-RPC method on the simulator and return its result."""
    answer = httpx.get(f"{stack.url('deribit', env)}/api/v2/{method}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def bybit(stack: SimStack, env: str, path: str, **params: Any) -> Any:
    """GET a Bybit /v5 market path on the simulator and return its result."""
    answer = httpx.get(f"{stack.url('bybit', env)}{path}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["retCode"] == 0, answer.text
    return answer.json()["result"]


def hyperliquid(stack: SimStack, env: str, body: dict[str, Any]) -> Any:
    """POST a Hyperliquid /info request to the simulator."""
    answer = httpx.post(f"{stack.url('hyperliquid', env)}/info", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def hl_context(stack: SimStack, env: str, coin: str) -> dict[str, Any]:
    """Return a Hyperliquid perpetual's asset context from the simulator."""
    meta, contexts = hyperliquid(stack, env, {"type": "metaAndAssetCtxs"})
    names = [row["name"] for row in meta["universe"]]
    context: dict[str, Any] = contexts[names.index(coin)]
    return context


def pd_ms(stamp: str) -> int:
    """Return an ISO 8601 UTC time of an answer as epoch milliseconds."""
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def by_venue(body: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """Return the answer's per-venue items by venue."""
    return {item["venue"]: item for item in body[key]}


def status_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the answer's venue statuses by venue."""
    return {item["venue"]: item for item in body["venues"]}


async def call(http: httpx.AsyncClient, tool: str, body: dict[str, Any], token: str = TESTNET) -> httpx.Response:
    """POST a sentiment tool."""
    return await http.post(f"/mcp-sentiment/tools/{tool}", json=body, headers=auth(token))


# --- every example, both tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tool", "example"), EXAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EXAMPLES)])
@pytest.mark.parametrize("token", [TESTNET, MAINNET], ids=["testnet", "mainnet"])
async def test_every_example_answers_with_every_venue_and_its_age(
    http: httpx.AsyncClient, tool: str, example: dict[str, Any], token: str
) -> None:
    answer = await call(http, tool, example, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert all(st["status"] == "ok" for st in body["venues"]), body["venues"]
    assert body["cache_ttl_s"] > 0
    assert body["cache_age_s"] >= 0
    assert body["method"]
    assert answer.headers["x-cache"] in {"hit", "miss", "joined"}


# --- funding and open interest against the simulators ---------------------------------------------------------


@pytest.mark.parametrize(("token", "env"), TOKENS, ids=["testnet", "mainnet"])
async def test_funding_equals_each_venue_simulators_numbers(
    http: httpx.AsyncClient, sim_stack: SimStack, token: str, env: str
) -> None:
    other = "mainnet" if env == "testnet" else "testnet"
    for venue in VENUES:
        sim_stack.control(venue, other).clear_recorded()
    answer = await call(http, "get_funding_multi_exchange", {"coin": "BTC", "lookback_hours": 30}, token)
    assert answer.status_code == 200, answer.text
    funding = by_venue(answer.json(), "funding")
    assert set(funding) == set(VENUES)

    # Deribit: funding_8h of the ticker (8-hour reference), hourly interest_1h history.
    ticker = deribit(sim_stack, env, "public/ticker", instrument_name="BTC-PERPETUAL")
    d = funding["deribit"]
    assert Decimal(d["interval_hours"]) == 8
    assert float(d["rate"]) == pytest.approx(ticker["funding_8h"], rel=1e-12)
    assert float(d["annualised"]) == pytest.approx(ticker["funding_8h"] * 1095, rel=1e-9)
    first_ms = pd_ms(d["history"][0]["ts"])
    rows = deribit(
        sim_stack,
        env,
        "public/get_funding_rate_history",
        instrument_name="BTC-PERPETUAL",
        start_timestamp=first_ms,
        end_timestamp=4_102_444_800_000,
    )
    sim_hourly = {row["timestamp"]: row["interest_1h"] for row in rows}
    assert len(d["history"]) >= 29
    for item in d["history"]:
        ts = pd_ms(item["ts"])
        assert float(item["rate"]) == pytest.approx(sim_hourly[ts], rel=1e-12)
        assert float(item["rate_8h"]) == pytest.approx(sim_hourly[ts] * 8, rel=1e-9)

    # Bybit: fundingRate per the instrument's fundingInterval (minutes), settled history.
    b = funding["bybit"]
    row = bybit(sim_stack, env, "/v5/market/tickers", category="linear", symbol="BTCUSDT")["list"][0]
    meta = bybit(sim_stack, env, "/v5/market/instruments-info", category="linear", symbol="BTCUSDT")["list"][0]
    hours = Decimal(meta["fundingInterval"]) / 60
    assert Decimal(b["interval_hours"]) == hours
    assert Decimal(b["rate"]) == Decimal(row["fundingRate"])
    assert Decimal(b["annualised"]) == Decimal(row["fundingRate"]) * 8760 / hours
    settled = bybit(sim_stack, env, "/v5/market/funding/history", category="linear", symbol="BTCUSDT", limit=200)
    sim_settled = {int(r["fundingRateTimestamp"]): Decimal(r["fundingRate"]) for r in settled["list"]}
    assert b["history"]
    for item in b["history"]:
        assert Decimal(item["rate"]) == sim_settled[pd_ms(item["ts"])]

    # Hyperliquid: hourly funding of the asset context and of fundingHistory.
    h = funding["hyperliquid"]
    assert Decimal(h["interval_hours"]) == 1
    assert Decimal(h["rate"]) == Decimal(hl_context(sim_stack, env, "BTC")["funding"])
    assert Decimal(h["rate_8h"]) == Decimal(hl_context(sim_stack, env, "BTC")["funding"]) * 8
    start = pd_ms(h["history"][0]["ts"])
    points = hyperliquid(sim_stack, env, {"type": "fundingHistory", "coin": "BTC", "startTime": start})
    sim_points = {p["time"]: Decimal(p["fundingRate"]) for p in points}
    assert len(h["history"]) >= 29
    for item in h["history"]:
        assert Decimal(item["rate"]) == sim_points[pd_ms(item["ts"])]
    mean = sum(Decimal(item["rate_8h"]) for item in h["history"]) / len(h["history"])
    assert Decimal(h["history_mean_8h"]) == pytest.approx(mean, abs=Decimal("1e-12"))

    # The token chose the environment: the other environment's simulators heard nothing.
    for venue in VENUES:
        assert sim_stack.control(venue, other).recorded() == []


@pytest.mark.parametrize(("token", "env"), TOKENS, ids=["testnet", "mainnet"])
async def test_open_interest_equals_each_venue_simulators_numbers(
    http: httpx.AsyncClient, sim_stack: SimStack, token: str, env: str
) -> None:
    answer = await call(http, "get_oi_history", {"coin": "BTC", "interval": "1h", "points": 12}, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    oi = by_venue(body, "open_interest")
    statuses = status_of(body)

    ticker = deribit(sim_stack, env, "public/ticker", instrument_name="BTC-PERPETUAL")
    assert float(oi["deribit"]["oi_usd"]) == pytest.approx(ticker["open_interest"], rel=1e-4)  # inverse: USD
    assert float(oi["deribit"]["oi_coin"]) == pytest.approx(ticker["open_interest"] / ticker["mark_price"], rel=1e-3)
    assert oi["deribit"]["history"] == []
    assert "no open-interest history" in statuses["deribit"]["note"]

    row = bybit(sim_stack, env, "/v5/market/tickers", category="linear", symbol="BTCUSDT")["list"][0]
    assert float(oi["bybit"]["oi_coin"]) == pytest.approx(float(row["openInterest"]), rel=1e-4)
    assert float(oi["bybit"]["oi_usd"]) == pytest.approx(float(row["openInterestValue"]), rel=1e-3)
    history = bybit(
        sim_stack, env, "/v5/market/open-interest", category="linear", symbol="BTCUSDT", intervalTime="1h", limit=50
    )
    sim_history = {int(r["timestamp"]): Decimal(r["openInterest"]) for r in history["list"]}
    assert len(oi["bybit"]["history"]) == 12
    for item in oi["bybit"]["history"]:
        assert Decimal(item["oi_coin"]) == sim_history[pd_ms(item["ts"])]
        assert item["oi_usd"] is not None

    context = hl_context(sim_stack, env, "BTC")
    assert float(oi["hyperliquid"]["oi_coin"]) == pytest.approx(float(context["openInterest"]), rel=1e-4)
    assert float(oi["hyperliquid"]["oi_usd"]) == pytest.approx(
        float(context["openInterest"]) * float(context["markPx"]), rel=1e-3
    )
    assert "no open-interest history" in statuses["hyperliquid"]["note"]

    assert Decimal(body["total_oi_usd"]) == sum(Decimal(item["oi_usd"]) for item in oi.values())
    assert Decimal(body["total_oi_coin"]) == sum(Decimal(item["oi_coin"]) for item in oi.values())
    assert sorted(body["summed_venues"]) == sorted(VENUES)


# --- partial answers, budgets, caching ------------------------------------------------------------------------------


async def test_a_failing_venue_gives_a_partial_answer_naming_its_error(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    sim_stack.control("deribit", "testnet").inject("http_5xx", status=503, path_prefix="/api/v2")
    answer = await call(http, "get_funding_multi_exchange", {"coin": "BTC", "lookback_hours": 31})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    statuses = status_of(body)
    assert statuses["deribit"]["status"] == "error"
    assert statuses["deribit"]["error_code"] == "UPSTREAM_ERROR"
    assert statuses["deribit"]["message"]
    assert statuses["bybit"]["status"] == statuses["hyperliquid"]["status"] == "ok"
    assert set(by_venue(body, "funding")) == {"bybit", "hyperliquid"}


async def test_a_slow_venue_is_reported_as_timed_out_after_its_budget(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    # Hyperliquid answers after 1.5 s; the budget is 0.5 s, well inside the gateway's 5 s read timeout.
    sim_stack.control("hyperliquid", "testnet").inject("latency", latency_ms=1500, path_prefix="/info")
    body = {"coin": "BTC", "interval": "4h", "points": 7, "venue_budget_s": 0.5}
    answer = await call(http, "get_oi_history", body)
    assert answer.status_code == 200, answer.text
    statuses = status_of(answer.json())
    assert statuses["hyperliquid"]["status"] == "timed_out"
    assert statuses["hyperliquid"]["error_code"] == "UPSTREAM_TIMEOUT"
    assert "0.5 s" in statuses["hyperliquid"]["message"]
    assert statuses["deribit"]["status"] == statuses["bybit"]["status"] == "ok"
    assert answer.json()["summed_venues"] == ["deribit", "bybit"]


async def test_when_every_venue_fails_the_call_fails_with_each_reason(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    sim_stack.control("hyperliquid", "testnet").inject("http_5xx", status=502, path_prefix="/info")
    answer = await call(
        http, "get_funding_multi_exchange", {"coin": "BTC", "lookback_hours": 33, "venues": ["hyperliquid"]}
    )
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "UPSTREAM_ERROR"
    assert error["details"]["venues"][0]["venue"] == "hyperliquid"


async def test_answers_are_cached_per_environment(http: httpx.AsyncClient) -> None:
    body = {"coin": "ETH", "lookback_hours": 34}
    first = await call(http, "get_funding_multi_exchange", body, TESTNET)
    again = await call(http, "get_funding_multi_exchange", body, TESTNET)
    other = await call(http, "get_funding_multi_exchange", body, MAINNET)
    assert first.headers["x-cache"] == "miss"
    assert again.headers["x-cache"] == "hit"
    assert again.json()["funding"] == first.json()["funding"]
    assert again.json()["fetched_at"] == first.json()["fetched_at"]
    assert other.headers["x-cache"] == "miss"


# --- arb, heatmap, pairs on the simulators --------------------------------------------------------------------------


async def test_arb_pairs_are_every_venue_pair_long_the_lower_with_four_taker_fees(http: httpx.AsyncClient) -> None:
    answer = await call(http, "get_funding_arb_spread", {"coin": "BTC", "holding_days": 10})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    annual = {item["venue"]: Decimal(item["annualised"]) for item in body["funding"]}
    fees = {item["venue"]: Decimal(item["taker_fee"]) for item in body["fees"]}
    assert fees == {"deribit": Decimal("0.0005"), "bybit": Decimal("0.00055"), "hyperliquid": Decimal("0.00045")}
    assert {frozenset((p["long_venue"], p["short_venue"])) for p in body["pairs"]} == {
        frozenset(pair) for pair in combinations(VENUES, 2)
    }
    for pair in body["pairs"]:
        assert annual[pair["long_venue"]] <= annual[pair["short_venue"]]
        assert Decimal(pair["fees"]) == 2 * fees[pair["long_venue"]] + 2 * fees[pair["short_venue"]]
        spread = annual[pair["short_venue"]] - annual[pair["long_venue"]]
        assert Decimal(pair["spread_annualised"]) == spread
        assert float(pair["net_carry"]) == pytest.approx(float(spread) * 10 / 365 - float(pair["fees"]), abs=1e-11)
    nets = [Decimal(p["net_annualised"]) for p in body["pairs"]]
    assert nets == sorted(nets, reverse=True)
    assert "taker" in body["fee_assumption"]


async def test_heatmap_is_an_estimate_spreading_the_open_interest_it_read(http: httpx.AsyncClient) -> None:
    answer = await call(http, "get_liquidation_heatmap", {"coin": "BTC", "range_pct": 50, "bands": 25})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "estimate"
    assert "not observed" in body["method"]
    assert len(body["bands"]) == 25
    total = sum(b["long_liquidations_usd"] + b["short_liquidations_usd"] for b in body["bands"])
    oi_usd = sum(float(item["oi_usd"]) for item in body["inputs"])
    assert 0 < total <= oi_usd * 1.0001
    reference = body["reference_price"]
    for band in body["bands"]:
        if band["high"] <= reference:
            assert band["short_liquidations_usd"] == 0
        if band["low"] >= reference:
            assert band["long_liquidations_usd"] == 0
    leverages = {item["venue"]: item for item in body["inputs"]}
    assert max(leverages["hyperliquid"]["leverages"]) <= leverages["hyperliquid"]["max_leverage"]


async def test_cointegration_tests_every_pair_with_the_bh_correction(http: httpx.AsyncClient) -> None:
    answer = await call(
        http, "get_cointegration_pairs", {"venue": "hyperliquid", "coins": ["BTC", "ETH", "SOL"], "bars": 200}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["pairs"]) == 3
    assert "Benjamini" in body["correction"]
    assert body["bars_used"] >= 150
    for pair in body["pairs"]:
        assert pair["p_adjusted"] >= pair["p_value"]
        assert pair["significant"] == (pair["p_adjusted"] < 0.05)
    ranks = [p["p_adjusted"] for p in body["pairs"]]
    assert ranks == sorted(ranks)


async def test_an_unlisted_coin_is_that_venues_error_only(http: httpx.AsyncClient) -> None:
    answer = await call(http, "get_funding_multi_exchange", {"coin": "SOL", "lookback_hours": 35})
    assert answer.status_code == 200, answer.text
    statuses = status_of(answer.json())
    assert statuses["hyperliquid"]["status"] == "ok"  # Hyperliquid lists SOL; the simulated Deribit and Bybit do not
    assert statuses["deribit"]["status"] == "error"
    assert statuses["bybit"]["status"] == "error"


async def test_a_coin_no_venue_lists_is_invalid_input_naming_each_venue(http: httpx.AsyncClient) -> None:
    answer = await call(http, "get_oi_history", {"coin": "ZZZ9"})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert {v["venue"] for v in error["details"]["venues"]} == set(VENUES)
