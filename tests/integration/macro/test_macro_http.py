"""The macro provider served by the gateway against its sources' simulators (Treasury, FRED, Finnhub, CFTC)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges.macro.client import MacroClient
from cerbero_mcp.exchanges.macro.tools import TOOLS
from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import MAINNET, TESTNET, auth

EXAMPLES = [
    (spec.name, example)
    for spec in TOOLS.specs
    for example in spec.request_model.model_json_schema().get("examples", [])
]


def macro_client(gateway: Gateway) -> MacroClient:
    """Return the provider's one client (built by an earlier call)."""
    client: MacroClient = gateway.app.state.cerbero.registry.cached()[("macro", "shared")]
    return client


def sent(client: MacroClient) -> int:
    """Return the upstream requests the client has sent to every source."""
    return sum(source.calls for source in (client.treasury, client.fred, client.finnhub, client.cftc))


@pytest.mark.parametrize(("tool", "example"), EXAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EXAMPLES)])
@pytest.mark.parametrize("token", [TESTNET, MAINNET], ids=["testnet", "mainnet"])
async def test_every_example_answers_200_with_sources_and_cache_age(
    http: httpx.AsyncClient, tool: str, example: dict[str, Any], token: str
) -> None:
    answer = await http.post(f"/mcp-macro/tools/{tool}", json=example, headers=auth(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cache_ttl_s"] > 0
    assert body["cache_age_s"] >= 0
    assert "fetched_at" in body
    assert answer.headers["x-cache"] in {"hit", "miss", "joined"}
    assert "X-Data-Timestamp".lower() in answer.headers


async def test_a_burst_of_identical_calls_costs_one_upstream_request(http: httpx.AsyncClient, gateway: Gateway) -> None:
    body = {"series_id": "DGS2", "start": "2025-01-02", "limit": 5}
    first = await http.post("/mcp-macro/tools/get_fred_series", json=body, headers=auth(TESTNET))
    assert first.status_code == 200, first.text
    client = macro_client(gateway)
    before = sent(client)
    for token in (TESTNET, MAINNET, TESTNET):
        again = await http.post("/mcp-macro/tools/get_fred_series", json=body, headers=auth(token))
        assert again.headers["x-cache"] == "hit"
        assert again.json()["points"] == first.json()["points"]
    assert sent(client) == before


async def test_fred_gaps_are_null_and_values_name_their_source(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/mcp-macro/tools/get_fred_series", json={"series_id": "DGS10", "limit": 300}, headers=auth(TESTNET)
    )
    assert answer.status_code == 200, answer.text
    points = answer.json()["points"]
    assert points
    assert all(p["source"]["name"] == "FRED" for p in points)
    assert all(p["value"] is None or isinstance(p["value"], float) for p in points)


async def test_unknown_fred_series_is_not_found(http: httpx.AsyncClient) -> None:
    answer = await http.post("/mcp-macro/tools/get_fred_series", json={"series_id": "NOSUCHSERIES1"}, headers=auth())
    assert answer.status_code == 404, answer.text


@pytest.fixture(scope="module")
def keyless(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the gateway against the simulators with no FRED or Finnhub key."""
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("keyless")), FRED_API_KEY="", FINNHUB_API_KEY="") as g:
        yield g


@pytest.mark.parametrize(
    ("tool", "body", "variable"),
    [
        ("get_fred_series", {"series_id": "DGS10"}, "FRED_API_KEY"),
        ("get_breakeven_inflation", {}, "FRED_API_KEY"),
        ("get_equity_futures", {}, "FINNHUB_API_KEY"),
        ("get_economic_calendar", {}, "FINNHUB_API_KEY"),
    ],
)
async def test_a_missing_key_answers_503_not_configured(
    keyless: Gateway, tool: str, body: dict[str, Any], variable: str
) -> None:
    async with httpx.AsyncClient(base_url=keyless.url, timeout=30) as http:
        answer = await http.post(f"/mcp-macro/tools/{tool}", json=body, headers=auth())
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "NOT_CONFIGURED"
    assert variable in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("tool", "body"),
    [
        ("get_treasury_yields", {}),
        ("get_yield_curve_slope", {}),
        ("get_cot_tff", {"market": "sp500_emini"}),
        ("get_cot_extreme_positioning", {}),
        ("get_asset_prices", {"assets": ["US2Y", "US10Y", "US30Y"]}),
    ],
)
async def test_keyless_sources_work_without_any_key(keyless: Gateway, tool: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=keyless.url, timeout=30) as http:
        answer = await http.post(f"/mcp-macro/tools/{tool}", json=body, headers=auth(MAINNET))
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def patient(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the gateway with a longer read timeout: a name search makes the CFTC simulator scan every market."""
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("patient")), UPSTREAM_READ_TIMEOUT_S="30") as g:
        yield g


async def test_cot_market_by_name_fragment_and_ambiguous_or_unknown_names(patient: Gateway) -> None:
    async with httpx.AsyncClient(base_url=patient.url, timeout=60) as http:
        await _names(http)


async def _names(http: httpx.AsyncClient) -> None:
    by_name = await http.post("/mcp-macro/tools/get_cot_tff", json={"market": "euro fx"}, headers=auth())
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["code"] == "099741"
    assert by_name.json()["reports"]
    ambiguous = await http.post("/mcp-macro/tools/get_cot_tff", json={"market": "UST"}, headers=auth())
    assert ambiguous.status_code == 400, ambiguous.text
    assert len(ambiguous.json()["error"]["details"]["matches"]) > 1
    unknown = await http.post(
        "/mcp-macro/tools/get_cot_disaggregated", json={"market": "no such market"}, headers=auth()
    )
    assert unknown.status_code == 404, unknown.text


async def test_extreme_positioning_covers_every_default_market(http: httpx.AsyncClient) -> None:
    answer = await http.post("/mcp-macro/tools/get_cot_extreme_positioning", json={}, headers=auth())
    assert answer.status_code == 200, answer.text
    markets = answer.json()["markets"]
    assert len(markets) == 9
    assert all(m["weeks"] >= 150 for m in markets)
    for market in markets:
        for item in market["classes"]:
            assert 0 <= item["percentile"] <= 100
            assert item["window_min"] <= item["net"] <= item["window_max"]
