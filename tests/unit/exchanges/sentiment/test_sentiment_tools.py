"""The news and social tools through the app on a pinned clock, against the documented bodies on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.exchanges.sentiment.client import (
    COINDESK_NEWS_PATH,
    CRYPTOPANIC_POSTS_PATH,
    LUNARCRUSH_PREFIX,
    SentimentClient,
)
from cerbero_mcp.exchanges.sentiment.config import PROVIDER_SETTINGS
from cerbero_mcp.exchanges.sentiment.news import NEWS_TTL_S
from cerbero_mcp.exchanges.sentiment.social import SOCIAL_TTL_S
from cerbero_mcp.exchanges.sentiment.tools import TOOLS
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings, compose_settings, installed_declarations
from cerbero_mcp.simulators.engine.clock import ManualClock
from support.fixtures import fixture_text, serve_fixtures
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET, auth

# The LunarCrush fixtures were generated 2025-06-10 (unix 1749549544); the clock is that afternoon.
NOW = datetime(2025, 6, 10, 14, tzinfo=UTC)
SentimentSettings = compose_settings(installed_declarations(), [PROVIDER_SETTINGS])
KEYS = {"CRYPTOPANIC_KEY": "cp-token-123", "COINDESK_API_KEY": "cd-key-456", "LUNARCRUSH_KEY": "lc-key-789"}


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """Pin the process clock at NOW for one test."""
    manual = ManualClock(NOW.timestamp())
    previous = use_clock(manual)
    try:
        yield manual
    finally:
        use_clock(previous)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """Serve the documented bodies at the sources' paths (one loopback server stands for every source).

    The server ignores the query, so CryptoPanic's page 2 repeats page 1: as when new posts push a page's
    items onto the next one.
    """
    routes = {
        CRYPTOPANIC_POSTS_PATH: (200, fixture_text("sentiment", "cryptopanic_posts_v2")),
        COINDESK_NEWS_PATH: (200, fixture_text("sentiment", "coindesk_article_list")),
        f"{LUNARCRUSH_PREFIX}/coins/ETH/v1": (200, fixture_text("sentiment", "lunarcrush_coin")),
        f"{LUNARCRUSH_PREFIX}/coins/ETH/time-series/v2": (200, fixture_text("sentiment", "lunarcrush_time_series")),
        f"{LUNARCRUSH_PREFIX}/coins/list/v1": (200, fixture_text("sentiment", "lunarcrush_coins_list")),
        f"{LUNARCRUSH_PREFIX}/coins/NOPE/v1": (401, fixture_text("sentiment", "lunarcrush_error")),
    }
    with serve_fixtures(routes) as url:
        yield url


def settings_for(tmp_path: Path, url: str, **keys: str) -> Settings:
    """Return settings pointing every sentiment source at `url`, with the given keys."""
    values = {
        "TESTNET_TOKEN": TESTNET,
        "MAINNET_TOKEN": MAINNET,
        "ADMIN_TOKEN": ADMIN,
        "AUDIT_LOG_FILE": str(tmp_path / "audit.jsonl"),
        "AUDIT_HMAC_KEY": "k" * 32,
        "AUDIT_FSYNC": "false",
        "STATE_DB": str(tmp_path / "state.db"),
        "SENTIMENT_CRYPTOPANIC_URL": url,
        "SENTIMENT_COINDESK_URL": url,
        "SENTIMENT_LUNARCRUSH_URL": url,
        **keys,
    }
    settings: Settings = SentimentSettings.from_mapping(values)
    return settings


@asynccontextmanager
async def sentiment_app(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Serve the sentiment tools; yield an HTTP client and the app."""
    app = build_app(settings, [TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            yield http, app


def client_of(app: Any) -> SentimentClient:
    """Return the provider's one client."""
    client: SentimentClient = app.state.cerbero.registry.cached()[("sentiment", "shared")]
    return client


async def call(http: httpx.AsyncClient, tool: str, body: dict[str, Any], token: str = TESTNET) -> httpx.Response:
    """Call a sentiment tool."""
    return await http.post(f"/mcp-sentiment/tools/{tool}", json=body, headers=auth(token))


async def test_social_reads_the_documented_fields_and_says_where_each_comes_from(
    tmp_path: Path, upstream: str, clock: ManualClock
) -> None:
    body = {"coin": "eth", "start": "2025-06-02T00:00:00Z", "end": "2025-06-10T00:00:00Z"}
    async with sentiment_app(settings_for(tmp_path, upstream, **KEYS)) as (http, app):
        answer = await call(http, "get_social", body)
        assert answer.status_code == 200, answer.text
        social = answer.json()
        assert social["content_trust"] == "untrusted_third_party"
        now = social["now"]
        assert (now["galaxy_score"], now["alt_rank"], now["symbol"], now["name"]) == (74.3, 19, "ETH", "Ethereum")
        # ETH is not in the (one-row) coins list: the social figures come from the latest hourly bucket.
        assert (now["sentiment"], now["social_dominance"], now["interactions_1h"]) == (82, 10.0427, 1482881)
        assert now["from_coins_list"] == []
        assert now["from_latest_bucket"] == ["sentiment", "social_dominance"]
        assert now["social_volume_24h"] is None
        assert now["observed_at"] == "2025-06-10T09:59:04.000Z"  # LunarCrush's `generated`
        assert social["data_timestamp"] == now["observed_at"]
        assert [p["time"] for p in social["series"]] == ["2025-06-03T00:00:00.000Z"]
        sent = client_of(app).lunarcrush.calls
        assert sent == 3  # coin, series, coins list

        clock.advance(20)
        again = await call(http, "get_social", body, MAINNET)
        assert again.headers["x-cache"] == "hit"
        assert again.json()["cache_age_s"] == 20
        assert again.json()["cache_ttl_s"] == SOCIAL_TTL_S
        assert client_of(app).lunarcrush.calls == sent

        clock.advance(SOCIAL_TTL_S)
        later = await call(http, "get_social", body)
        assert later.headers["x-cache"] == "miss"
        assert later.json()["cache_age_s"] == 80  # the sources' copies are older than the answer's TTL
        assert client_of(app).lunarcrush.calls == sent  # each source page still within its own TTL


async def test_news_merges_the_documented_bodies_and_reads_a_repeated_post_once(
    tmp_path: Path, upstream: str, clock: ManualClock
) -> None:
    async with sentiment_app(settings_for(tmp_path, upstream, **KEYS)) as (http, app):
        answer = await call(http, "get_news", {"limit": 10})
        assert answer.status_code == 200, answer.text
        news = answer.json()
        assert news["content_trust"] == "untrusted_third_party"
        assert news["partial"] is False
        items = news["items"]
        assert [item["sources"] for item in items] == [["CoinDesk"], ["CryptoPanic"]]  # 2025-02-27, then 2024-01-15
        coindesk, cryptopanic = items
        assert coindesk["sentiment"] == "negative"
        assert coindesk["copies"][0]["publisher"] == "Bitcoin World"
        assert cryptopanic["votes"]["positive"] == 100
        assert cryptopanic["url"] == "https://www.coindesk.com/bitcoin-reaches-new-high"  # the publisher's link
        assert cryptopanic["currencies"] == ["BTC"]
        assert [c["id"] for c in cryptopanic["copies"]] == ["12345"]  # once, though pages 1-3 all carry it
        client = client_of(app)
        assert client.cryptopanic.calls == 3  # pages 1-3 (the server repeats page 1): each post read once
        assert client.coindesk.calls == 1
        clock.advance(NEWS_TTL_S + 1)
        again = await call(http, "get_news", {"limit": 10})
        assert again.json()["items"] == items
        assert again.json()["cache_age_s"] == NEWS_TTL_S + 1  # the sources' pages are still cached


async def test_keys_travel_as_each_source_documents_and_never_come_back(
    tmp_path: Path, upstream: str, clock: ManualClock
) -> None:
    async with sentiment_app(settings_for(tmp_path, upstream, **KEYS)) as (http, _):
        denied = await call(http, "get_social", {"coin": "nope"})
        news = await call(http, "get_news", {})
    assert denied.status_code == 502, denied.text
    assert denied.json()["error"]["code"] == "UPSTREAM_AUTH"
    for text in (denied.text, news.text):
        for key in KEYS.values():
            assert key not in text


async def test_without_keys_every_tool_answers_503_naming_its_variable(
    tmp_path: Path, upstream: str, clock: ManualClock
) -> None:
    async with sentiment_app(settings_for(tmp_path, upstream)) as (http, app):
        news = await call(http, "get_news", {})
        social = await call(http, "get_social", {"coin": "ETH"})
        calls = sum(s.calls for s in (client_of(app).cryptopanic, client_of(app).coindesk, client_of(app).lunarcrush))
    assert news.status_code == social.status_code == 503
    assert "CRYPTOPANIC_KEY" in news.json()["error"]["message"]
    assert "COINDESK_API_KEY" in news.json()["error"]["message"]
    assert "LUNARCRUSH_KEY" in social.json()["error"]["message"]
    assert calls == 0  # refused before anything is sent


def test_the_fixture_next_link_is_absolute() -> None:
    assert json.loads(fixture_text("sentiment", "cryptopanic_posts_v2"))["next"].startswith("https://")
