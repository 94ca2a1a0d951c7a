"""The sentiment provider's news and social tools served by the gateway against its sources' simulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.exchanges.sentiment.client import SentimentClient
from cerbero_mcp.exchanges.sentiment.tools import TOOLS
from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import MAINNET, TESTNET, auth

OWN_TOOLS = ("get_news", "get_social")
EXAMPLES = [
    (spec.name, example)
    for spec in TOOLS.specs
    if spec.name in OWN_TOOLS
    for example in spec.request_model.model_json_schema().get("examples", [])
]


def sentiment_client(gateway: Gateway) -> SentimentClient:
    """Return the provider's one client (built by an earlier call)."""
    client: SentimentClient = gateway.app.state.cerbero.registry.cached()[("sentiment", "shared")]
    return client


def sent(client: SentimentClient) -> int:
    """Return the upstream requests the client has sent to every source."""
    return sum(source.calls for source in (client.cryptopanic, client.coindesk, client.lunarcrush))


@pytest.fixture(autouse=True)
def no_faults(sim_stack: SimStack) -> Iterator[None]:
    """Leave no injected fault behind for the next test."""
    yield
    sim_stack.control("sentiment", "mainnet").clear_faults()


@pytest.mark.parametrize(("tool", "example"), EXAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EXAMPLES)])
@pytest.mark.parametrize("token", [TESTNET, MAINNET], ids=["testnet", "mainnet"])
async def test_every_example_answers_200_marked_untrusted_with_cache_age(
    http: httpx.AsyncClient, tool: str, example: dict[str, Any], token: str
) -> None:
    answer = await http.post(f"/mcp-sentiment/tools/{tool}", json=example, headers=auth(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["content_trust"] == "untrusted_third_party"
    assert "untrusted" in body["content_notice"]
    assert body["cache_ttl_s"] > 0
    assert body["cache_age_s"] >= 0
    assert "fetched_at" in body
    assert answer.headers["x-cache"] in {"hit", "miss", "joined"}


async def test_news_merges_both_sources_newest_first_and_names_them(http: httpx.AsyncClient) -> None:
    answer = await http.post("/mcp-sentiment/tools/get_news", json={"limit": 50}, headers=auth(TESTNET))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["partial"] is False
    assert {s["source"]: s["status"] for s in body["source_status"]} == {"CryptoPanic": "ok", "CoinDesk": "ok"}
    items = body["items"]
    assert items
    newest = [max(c["published_at"] for c in item["copies"]) for item in items]
    assert newest == sorted(newest, reverse=True)
    assert [item["latest_at"] for item in items] == newest
    names = {name for item in items for name in item["sources"]}
    assert names == {"CryptoPanic", "CoinDesk"}
    merged = [item for item in items if len(item["sources"]) == 2]
    assert merged, "the simulators publish the same stories on both sources"
    for item in merged:
        assert {c["source"] for c in item["copies"]} == {"CryptoPanic", "CoinDesk"}
        assert item["votes"] is not None
    for item in items:
        for text in (item["title"], item["summary"] or ""):
            assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in text)
            assert not any(
                ch in text for ch in "\u200b\u200c\u200d\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
            )
        assert len(item["title"]) <= 300
        assert item["url"] is None or item["url"].startswith(("http://", "https://"))


async def read_pages(http: httpx.AsyncClient, body: dict[str, Any], most: int) -> tuple[list[dict[str, Any]], bool]:
    """Return the items of up to `most` pages read with next_cursor, and whether the feed ended."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(most):
        answer = await http.post(
            "/mcp-sentiment/tools/get_news", json={**body, **({"cursor": cursor} if cursor else {})}, headers=auth()
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= body["limit"]
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, True
    return items, False


def assert_once_and_newest_first(items: list[dict[str, Any]]) -> None:
    """Assert no source item comes twice over the pages and stories come newest first."""
    keys = [f"{c['source']}:{c['id']}" for item in items for c in item["copies"]]
    assert len(keys) == len(set(keys)), "a story was answered twice across pages"
    newest = [max(c["published_at"] for c in item["copies"]) for item in items]
    assert newest == sorted(newest, reverse=True)


async def test_merged_pages_never_repeat_a_story_and_stay_newest_first(http: httpx.AsyncClient) -> None:
    items, _ = await read_pages(http, {"limit": 7, "currencies": ["BTC"]}, most=6)
    assert len(items) == 42
    assert_once_and_newest_first(items)
    assert {name for item in items for name in item["sources"]} == {"CryptoPanic", "CoinDesk"}


async def test_cryptopanic_pages_reach_the_end_of_its_feed(http: httpx.AsyncClient) -> None:
    items, ended = await read_pages(http, {"limit": 9, "sources": ["CryptoPanic"]}, most=40)
    assert ended, "paging must reach the end of CryptoPanic's feed"
    assert_once_and_newest_first(items)


async def test_a_cursor_of_other_filters_is_refused(http: httpx.AsyncClient) -> None:
    first = await http.post("/mcp-sentiment/tools/get_news", json={"limit": 3}, headers=auth(TESTNET))
    cursor = first.json()["next_cursor"]
    assert cursor
    other = await http.post(
        "/mcp-sentiment/tools/get_news", json={"limit": 3, "kind": "news", "cursor": cursor}, headers=auth(TESTNET)
    )
    assert other.status_code == 422, other.text
    assert "cursor" in other.json()["error"]["message"]


async def test_news_is_partial_when_cryptopanic_fails(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    sim_stack.control("sentiment", "mainnet").inject("http_5xx", status=503, path_prefix="/cryptopanic")
    answer = await http.post(
        "/mcp-sentiment/tools/get_news", json={"currencies": ["ETH"], "limit": 5}, headers=auth(TESTNET)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["partial"] is True
    status = {s["source"]: s for s in body["source_status"]}
    assert status["CryptoPanic"]["status"] == "failed"
    assert status["CryptoPanic"]["error"].startswith("UPSTREAM_ERROR")
    assert status["CoinDesk"]["status"] == "ok"
    assert body["items"]
    assert all(item["sources"] == ["CoinDesk"] for item in body["items"])


async def test_news_fails_with_the_sources_error_when_every_source_fails(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    control = sim_stack.control("sentiment", "mainnet")
    control.inject("http_5xx", status=503, path_prefix="/cryptopanic")
    control.inject("http_5xx", status=503, path_prefix="/coindesk")
    answer = await http.post("/mcp-sentiment/tools/get_news", json={"currencies": ["SOL"]}, headers=auth(TESTNET))
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "UPSTREAM_ERROR"


async def test_social_answers_now_and_an_hourly_series(http: httpx.AsyncClient) -> None:
    answer = await http.post("/mcp-sentiment/tools/get_social", json={"coin": "BTC"}, headers=auth(MAINNET))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    now = body["now"]
    assert 0 <= now["galaxy_score"] <= 100
    assert now["alt_rank"] >= 1
    assert now["source"]["name"] == "LunarCrush"
    assert body["series"]
    times = [p["time"] for p in body["series"]]
    assert times == sorted(times)
    assert body["start"] <= times[0]
    assert times[-1] <= body["end"]
    assert "X-Data-Timestamp".lower() in answer.headers


async def test_social_daily_series_is_bounded(http: httpx.AsyncClient) -> None:
    too_long = await http.post(
        "/mcp-sentiment/tools/get_social",
        json={"coin": "ETH", "bucket": "hour", "start": "2020-01-01T00:00:00Z", "end": "2020-03-01T00:00:00Z"},
        headers=auth(MAINNET),
    )
    assert too_long.status_code == 422, too_long.text


async def test_a_burst_of_identical_social_calls_costs_no_extra_upstream_request(
    http: httpx.AsyncClient, gateway: Gateway
) -> None:
    body = {"coin": "SOL", "bucket": "day"}
    first = await http.post("/mcp-sentiment/tools/get_social", json=body, headers=auth(TESTNET))
    assert first.status_code == 200, first.text
    client = sentiment_client(gateway)
    before = sent(client)
    for token in (TESTNET, MAINNET, TESTNET):
        again = await http.post("/mcp-sentiment/tools/get_social", json=body, headers=auth(token))
        assert again.headers["x-cache"] == "hit"
        assert again.json()["series"] == first.json()["series"]
    assert sent(client) == before


@pytest.fixture(scope="module")
def keyless(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the gateway against the simulators with no sentiment key at all."""
    with serve_gateway(
        sim_stack, Path(tmp_path_factory.mktemp("keyless")), CRYPTOPANIC_KEY="", COINDESK_API_KEY="", LUNARCRUSH_KEY=""
    ) as g:
        yield g


@pytest.fixture(scope="module")
def coindesk_only(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the gateway with the CoinDesk key only."""
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("coindesk")), CRYPTOPANIC_KEY="") as g:
        yield g


@pytest.mark.parametrize(
    ("tool", "body", "variables"),
    [
        ("get_news", {}, ["CRYPTOPANIC_KEY", "COINDESK_API_KEY"]),
        ("get_news", {"sources": ["CoinDesk"]}, ["COINDESK_API_KEY"]),
        ("get_news", {"sources": ["CryptoPanic"]}, ["CRYPTOPANIC_KEY"]),
        ("get_social", {"coin": "BTC"}, ["LUNARCRUSH_KEY"]),
    ],
)
async def test_a_missing_key_answers_503_not_configured_naming_it(
    keyless: Gateway, tool: str, body: dict[str, Any], variables: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=keyless.url, timeout=30) as http:
        answer = await http.post(f"/mcp-sentiment/tools/{tool}", json=body, headers=auth())
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "NOT_CONFIGURED"
    for variable in variables:
        assert variable in error["message"]


async def test_news_with_one_key_answers_and_names_the_missing_source(coindesk_only: Gateway) -> None:
    async with httpx.AsyncClient(base_url=coindesk_only.url, timeout=30) as http:
        answer = await http.post("/mcp-sentiment/tools/get_news", json={"limit": 5}, headers=auth(MAINNET))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["partial"] is True
    status = {s["source"]: s for s in body["source_status"]}
    assert status["CryptoPanic"]["status"] == "not_configured"
    assert "CRYPTOPANIC_KEY" in status["CryptoPanic"]["error"]
    assert status["CoinDesk"]["status"] == "ok"
    assert body["items"]
    assert all(item["sources"] == ["CoinDesk"] for item in body["items"])


async def test_a_wrong_key_is_the_sources_auth_error(
    sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("wrongkey")), LUNARCRUSH_KEY="not-the-key-0000") as g:
        async with httpx.AsyncClient(base_url=g.url, timeout=30) as http:
            answer = await http.post("/mcp-sentiment/tools/get_social", json={"coin": "BTC"}, headers=auth())
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "UPSTREAM_AUTH"
    assert "LunarCrush" in answer.json()["error"]["message"]
    assert "not-the-key-0000" not in answer.text


async def test_mcp_results_carry_the_untrusted_marker(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "news-reader"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{gateway.url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool("sentiment_get_news", {"limit": 3})
    assert result.is_error is False
    assert result.structured_content is not None
    assert result.structured_content["content_trust"] == "untrusted_third_party"
    text = json.loads(result.content[0].text)  # type: ignore[union-attr]
    assert text["content_trust"] == "untrusted_third_party"
    assert text["content_notice"]


async def test_hostile_items_from_the_sources_arrive_as_bounded_marked_text(http: httpx.AsyncClient) -> None:
    items, _ = await read_pages(http, {"limit": 50}, most=4)
    injected = [item for item in items if "ignore previous instructions" in item["title"].lower()]
    assert injected, "the simulators publish prompt-injection headlines"
    assert all(item["title"] == " ".join(item["title"].split()) for item in injected)  # plain text, kept as is
    long = [item for item in items if item["title"].endswith("…")]
    assert long
    assert all(len(item["title"]) <= 300 for item in long)
    for item in items:
        for link in [item["url"], *(c["url"] for c in item["copies"])]:
            assert link is None or link.startswith(("https://", "http://"))
    assert any(item["url"] is None for item in items), "javascript:/data: links are dropped, not passed on"
