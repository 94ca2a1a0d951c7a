"""Per-caller limits on tool calls (RATE_LIMIT_PER_BOT, MAX_CONCURRENT_CALLS_PER_TOKEN), REST and MCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.common.errors import RateLimitError
from cerbero_mcp.rate_limits import CallLimits, parse_rate
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import ConfigError, Settings
from support import toy
from support.lifespan import running
from support.live_server import live_server
from support.tokens import MAINNET, TESTNET, auth

ECHO = "/mcp-toy/tools/echo"


@asynccontextmanager
async def app_client(settings: Settings, **env: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Yield the toy app built with `env` overrides and a client bound to it, lifespan running."""
    app = build_app(settings.with_overrides(env), [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as client:
            yield app, client


async def test_rest_call_over_the_bot_limit_is_429_with_retry_after(settings: Settings) -> None:
    async with app_client(settings, RATE_LIMIT_PER_BOT="testnet.toy=2/min,*=100/s") as (_, http):
        first = [await http.post(ECHO, json={"message": "x"}, headers=auth(bot="bot-a")) for _ in range(2)]
        over = await http.post(ECHO, json={"message": "x"}, headers=auth(bot="bot-a"))
        other_bot = await http.post(ECHO, json={"message": "x"}, headers=auth(bot="bot-b"))
        other_env = await http.post(ECHO, json={"message": "x"}, headers=auth(MAINNET, bot="bot-a"))
    assert [r.status_code for r in first] == [200, 200]
    assert over.status_code == 429
    error = over.json()["error"]
    assert (error["code"], error["retryable"]) == ("RATE_LIMIT", True)
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert error["details"]["limit"] == "2/min"
    assert "bot-a" in error["message"]
    # The window is per (environment, venue, bot tag).
    assert other_bot.status_code == 200
    assert other_env.status_code == 200


async def test_mcp_call_over_the_bot_limit_is_a_tool_error_with_retry_after(settings: Settings) -> None:
    app = build_app(settings.with_overrides({"RATE_LIMIT_PER_BOT": "*=1/h"}), [toy.TOOLS])
    headers = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "mcp-bot"}
    with live_server(app) as url:
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            ok = await session.call_tool("toy_echo", {"message": "a"})
            over = await session.call_tool("toy_echo", {"message": "b"})
    assert ok.is_error is False
    assert over.is_error is True
    assert over.structured_content is not None
    error = over.structured_content["error"]
    assert error["code"] == "RATE_LIMIT"
    assert 0 < error["details"]["retry_after_s"] <= 3600


async def test_rest_and_mcp_share_the_bot_window(settings: Settings) -> None:
    app = build_app(settings.with_overrides({"RATE_LIMIT_PER_BOT": "*=1/h"}), [toy.TOOLS])
    headers = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "both-ways"}
    with live_server(app) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            rest = await http.post(ECHO, json={"message": "a"}, headers=headers)
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            mcp = await session.call_tool("toy_echo", {"message": "b"})
    assert rest.status_code == 200
    assert mcp.is_error is True


async def test_concurrent_calls_over_the_token_cap_are_429(settings: Settings) -> None:
    async with app_client(settings, MAX_CONCURRENT_CALLS_PER_TOKEN="1") as (app, http):
        limits: CallLimits = app.state.call_limits
        slow = asyncio.create_task(http.post(ECHO, json={"message": "slow", "delay_ms": 5000}, headers=auth(bot="one")))
        for _ in range(500):  # until the slow call holds the token's only slot
            if limits.in_flight("static:testnet") == 1:
                break
            await asyncio.sleep(0.01)
        assert limits.in_flight("static:testnet") == 1
        # Another bot tag, same token: the cap is per token.
        refused = await http.post(ECHO, json={"message": "x"}, headers=auth(bot="two"))
        other_token = await http.post(ECHO, json={"message": "x"}, headers=auth(MAINNET, bot="two"))
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        for _ in range(500):
            if limits.in_flight("static:testnet") == 0:
                break
            await asyncio.sleep(0.01)
        after = await http.post(ECHO, json={"message": "x"}, headers=auth(bot="two"))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "MAX_CONCURRENT_CALLS_PER_TOKEN" in refused.json()["error"]["message"]
    assert other_token.status_code == 200
    assert after.status_code == 200


async def test_rest_tool_call_without_bot_tag_is_refused(client: httpx.AsyncClient) -> None:
    refused = await client.post(ECHO, json={"message": "x"}, headers=auth(bot=None))
    assert refused.status_code == 400
    assert "X-Bot-Tag" in refused.json()["error"]["message"]


async def test_official_mcp_client_without_bot_tag_lists_and_calls(app: FastAPI) -> None:
    headers = {"Authorization": f"Bearer {TESTNET}"}
    with live_server(app) as url:
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = await session.list_tools()
            result = await session.call_tool("toy_echo", {"message": "hi"})
    assert "toy_echo" in {tool.name for tool in listed.tools}
    assert result.is_error is False
    assert result.structured_content is not None
    assert result.structured_content["bot_tag"]  # derived from the client, never empty


@pytest.mark.parametrize(
    ("text", "calls", "per_s"),
    [("10/s", 10, 1.0), ("60/min", 60, 60.0), ("1000/h", 1000, 3600.0), ("100/10s", 100, 10.0), ("5 / 2min", 5, 120.0)],
)
def test_rate_syntax(text: str, calls: int, per_s: float) -> None:
    limit = parse_rate(text)
    assert (limit.calls, limit.per_s) == (calls, per_s)


@pytest.mark.parametrize("text", ["10", "ten/s", "10/day", "0/s", "10/0s", "-1/s"])
def test_bad_rate_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_PER_BOT"):
        parse_rate(text)


def test_bad_setting_stops_the_start(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_PER_BOT"):
        build_app(settings.with_overrides({"RATE_LIMIT_PER_BOT": "mainnet.*=lots"}), [toy.TOOLS])
    with pytest.raises(ConfigError, match="OAUTH_ISSUER, OAUTH_JWKS_URL and OAUTH_AUDIENCE together"):
        build_app(settings.with_overrides({"OAUTH_ISSUER": "https://a.example/"}), [toy.TOOLS])


def test_most_specific_rule_wins() -> None:
    limits = CallLimits.from_settings(
        Settings.from_mapping({"RATE_LIMIT_PER_BOT": "mainnet.*=60/min,*=10/s,mainnet.deribit=5/s"})
    )
    assert limits.limit_for("mainnet", "deribit") == parse_rate("5/s")
    assert limits.limit_for("mainnet", "bybit") == parse_rate("60/min")
    assert limits.limit_for("testnet", "bybit") == parse_rate("10/s")
    assert CallLimits.from_settings(Settings.from_mapping({})).limit_for("mainnet", "x") is None


async def test_idle_windows_are_forgotten_and_memory_is_bounded(session_clock: object) -> None:
    from cerbero_mcp.common.clock import SkippingClock

    assert isinstance(session_clock, SkippingClock)
    limits = CallLimits.from_settings(Settings.from_mapping({"RATE_LIMIT_PER_BOT": "*=1/s"}))
    limits.max_keys = 3
    for n in range(5):
        await limits.check_rate("testnet", "toy", f"bot-{n}")
    assert limits.windows() == 3  # the least recently used went first
    session_clock.skip(2)  # every window is older than its 1 s length
    await limits.check_rate("testnet", "toy", "fresh")
    assert limits.windows() == 1


async def test_bot_windows_stay_in_this_process_when_venue_pacing_is_shared() -> None:
    from cerbero_mcp.common.pacing import use_shared_backend

    class Refusing:
        """A shared backend that must not be used for the per-bot windows."""

        async def reserve(self, *args: object) -> tuple[float, bool]:
            raise AssertionError("per-bot windows went to the shared pacing backend")

    previous = use_shared_backend(Refusing())  # type: ignore[arg-type]
    try:
        limits = CallLimits.from_settings(Settings.from_mapping({"RATE_LIMIT_PER_BOT": "*=1/h"}))
        await limits.check_rate("mainnet", "deribit", "a")
        await limits.check_rate("mainnet", "deribit", "b")  # another bot: its own window
        with pytest.raises(RateLimitError):
            await limits.check_rate("mainnet", "deribit", "a")
    finally:
        use_shared_backend(previous)
