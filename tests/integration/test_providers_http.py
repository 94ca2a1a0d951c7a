"""A data provider served by the app next to a venue: one client for both tokens, cached answers, MCP.

The app serves the toy venue and the toy provider (`support/provider_toy.py`) on a manual process
clock, so the tests move time past a TTL instead of waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.mcp_endpoint import input_schema, output_schema
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.clock import ManualClock
from support import provider_toy, toy
from support.lifespan import running
from support.live_server import live_server
from support.provider_toy import RATE_AGE, RATE_TTL_S, VENUE_TTL_S, ToyProviderClient
from support.schemas import assert_same_schemas
from support.tokens import MAINNET, TESTNET, auth

T0 = datetime(2026, 3, 4, 15, tzinfo=UTC)
RATE = "/mcp-toyprov/tools/get_rate"
ORDERS = "/mcp-toyprov/tools/get_toy_orders"


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """Make a manual clock at T0 the process clock for one test."""
    manual = ManualClock(T0.timestamp())
    previous = use_clock(manual)
    try:
        yield manual
    finally:
        use_clock(previous)


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> FastAPI:
    """Return the app serving the toy venue and the toy provider."""
    return build_app(settings, [toy.TOOLS, provider_toy.TOOLS])


def shared_client(app: FastAPI) -> ToyProviderClient:
    """Return the provider's one client (built by an earlier call)."""
    client: ToyProviderClient = app.state.cerbero.registry.cached()[("toyprov", "shared")]
    return client


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any], token: str = TESTNET) -> httpx.Response:
    """Call a tool with `token`."""
    return await http.post(path, json=body, headers=auth(token))


# --- one client for both tokens --------------------------------------------------------------------


async def test_both_tokens_share_one_client_built_once_and_one_answer(client: httpx.AsyncClient, app: FastAPI) -> None:
    before = ToyProviderClient.builds
    tokens = [TESTNET, MAINNET] * 3
    responses = await asyncio.gather(*(post(client, RATE, {"pair": "EURUSD"}, token) for token in tokens))
    assert [response.status_code for response in responses] == [200] * 6
    assert ToyProviderClient.builds == before + 1
    assert [key for key in app.state.cerbero.registry.cached() if key[0] == "toyprov"] == [("toyprov", "shared")]
    assert shared_client(app).source.calls["EURUSD"] == 1
    assert all(response.json() == responses[0].json() for response in responses)
    assert sorted(response.headers["x-cache"] for response in responses).count("miss") == 1


async def test_readiness_lists_the_shared_client_once(client: httpx.AsyncClient) -> None:
    await post(client, RATE, {"pair": "EURUSD"}, TESTNET)
    await post(client, RATE, {"pair": "EURUSD"}, MAINNET)
    await post(client, "/mcp-toy/tools/whoami", {}, MAINNET)
    body = (await client.get("/health/ready")).json()
    assert body["status"] == "ready"
    assert sorted((check["venue"], check["environment"]) for check in body["checks"]) == [
        ("toy", "mainnet"),
        ("toyprov", "shared"),
    ]


async def test_the_shared_client_is_closed_at_shutdown(settings: Settings, clock: ManualClock) -> None:
    app = build_app(settings, [provider_toy.TOOLS])
    async with running(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        await post(http, RATE, {"pair": "EURUSD"})
        provider = shared_client(app)
    assert provider.closed is True
    assert len(provider.cache) == 0


# --- the cache ------------------------------------------------------------------------------------


async def test_an_identical_call_within_the_ttl_does_not_reach_the_source_and_after_it_does(
    client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
) -> None:
    first = await post(client, RATE, {"pair": "EURUSD"})
    assert first.status_code == 200
    assert first.headers["x-cache"] == "miss"
    body = first.json()
    assert body["rate"]["source"] == {"name": "ToyRates", "url": "https://toy.example/rates"}
    observed = T0 - RATE_AGE
    assert datetime.fromisoformat(body["rate"]["observed_at"]) == observed
    assert datetime.fromisoformat(body["data_timestamp"]) == observed  # the oldest observation
    assert datetime.fromisoformat(first.headers["x-data-timestamp"]) == observed

    clock.advance(RATE_TTL_S - 1)
    second = await post(client, RATE, {"decimals": 6, "pair": "EURUSD"}, MAINNET)  # the same request
    assert second.headers["x-cache"] == "hit"
    assert second.json() == body  # a kept answer keeps its observation time
    assert shared_client(app).source.calls["EURUSD"] == 1

    clock.advance(1)
    third = await post(client, RATE, {"pair": "EURUSD"})
    assert third.headers["x-cache"] == "miss"
    assert datetime.fromisoformat(third.json()["data_timestamp"]) == observed + timedelta(seconds=RATE_TTL_S)
    assert shared_client(app).source.calls["EURUSD"] == 2


async def test_different_requests_are_kept_apart(client: httpx.AsyncClient, app: FastAPI) -> None:
    await post(client, RATE, {"pair": "EURUSD"})
    await post(client, RATE, {"pair": "BTCUSD"})
    rounded = await post(client, RATE, {"pair": "EURUSD", "decimals": 0})
    assert rounded.headers["x-cache"] == "miss"
    assert rounded.json()["rate"]["value"] == 1.0
    assert shared_client(app).source.calls == {"EURUSD": 2, "BTCUSD": 1}


async def test_concurrent_identical_calls_make_one_upstream_call(client: httpx.AsyncClient, app: FastAPI) -> None:
    await post(client, RATE, {"pair": "BTCUSD"})  # builds the client, so the source can be held
    source = shared_client(app).source
    source.hold = asyncio.Event()
    calls = [asyncio.create_task(post(client, RATE, {"pair": "EURUSD"}, token)) for token in [TESTNET, MAINNET] * 4]
    for _ in range(10_000):  # until the first call reaches the source (yields, not sleeps)
        if source.calls["EURUSD"]:
            break
        await asyncio.sleep(0)
    source.hold.set()
    responses = await asyncio.gather(*calls)
    assert [response.status_code for response in responses] == [200] * 8
    assert source.calls["EURUSD"] == 1
    statuses = [response.headers["x-cache"] for response in responses]
    assert statuses.count("miss") == 1
    assert set(statuses) <= {"miss", "joined", "hit"}


async def test_a_failure_is_not_cached(client: httpx.AsyncClient, app: FastAPI) -> None:
    await post(client, RATE, {"pair": "BTCUSD"})
    source = shared_client(app).source
    source.fail_next = 1
    failed = await post(client, RATE, {"pair": "EURUSD"})
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "UPSTREAM_ERROR"
    again = await post(client, RATE, {"pair": "EURUSD"})
    assert again.status_code == 200
    assert again.headers["x-cache"] == "miss"
    assert source.calls["EURUSD"] == 2


# --- cross-venue data -----------------------------------------------------------------------------


async def test_a_cross_venue_tool_reads_the_venue_of_the_callers_token_cached_per_token(
    client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
) -> None:
    testnet = await post(client, ORDERS, {}, TESTNET)
    mainnet = await post(client, ORDERS, {}, MAINNET)
    assert (testnet.json()["environment"], mainnet.json()["environment"]) == ("testnet", "mainnet")
    assert (testnet.headers["x-cache"], mainnet.headers["x-cache"]) == ("miss", "miss")
    assert testnet.json()["orders"]["source"]["name"] == "toy"

    app.state.cerbero.registry.cached()[("toy", "testnet")].orders.append({"order_id": "TOY-1"})
    kept = await post(client, ORDERS, {}, TESTNET)
    assert kept.headers["x-cache"] == "hit"
    assert kept.json()["orders"]["value"] == 0

    clock.advance(VENUE_TTL_S)
    fresh = await post(client, ORDERS, {}, TESTNET)
    assert (fresh.headers["x-cache"], fresh.json()["orders"]["value"]) == ("miss", 1)
    assert (await post(client, ORDERS, {}, MAINNET)).json()["orders"]["value"] == 0
    assert shared_client(app).source.calls["toy_orders"] == 4


async def test_a_cross_venue_tool_without_that_venue_is_not_configured(settings: Settings, clock: ManualClock) -> None:
    app = build_app(settings, [provider_toy.TOOLS])
    async with running(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await post(http, ORDERS, {})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "NOT_CONFIGURED"
    assert "'toy'" in error["message"]
    assert error["details"] == {"venue": "toy", "installed": ["toyprov"]}


# --- like any tool: OpenAPI and MCP ------------------------------------------------------------------


@asynccontextmanager
async def mcp_session(base_url: str, token: str) -> AsyncIterator[ClientSession]:
    """Open an initialized MCP client session against /mcp."""
    headers = {"Authorization": f"Bearer {token}", "X-Bot-Tag": "agent-1"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_provider_tools_are_in_openapi_and_mcp_like_any_tool(app: FastAPI) -> None:
    with live_server(app) as url:
        async with httpx.AsyncClient() as http:
            openapi = (await http.get(f"{url}/openapi.json")).json()
        async with mcp_session(url, TESTNET) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            first = await session.call_tool("toyprov_get_rate", {"pair": "EURUSD"})
        async with mcp_session(url, MAINNET) as session:
            second = await session.call_tool("toyprov_get_rate", {"pair": "EURUSD"})
        calls = shared_client(app).source.calls["EURUSD"]
    for spec in provider_toy.TOOLS.specs:
        operation = openapi["paths"][spec.path]["post"]
        assert operation["tags"] == ["toyprov"]
        assert operation["x-tool-kind"] == "read"
        tool = tools[spec.mcp_name]
        assert tool.input_schema == input_schema(spec)
        assert tool.output_schema == output_schema(spec)
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert_same_schemas(openapi, spec.path, tool)
    assert first.is_error is False
    assert first.structured_content is not None
    assert first.structured_content["rate"]["source"]["name"] == "ToyRates"
    assert second.structured_content == first.structured_content
    assert calls == 1  # one answer for both tokens
