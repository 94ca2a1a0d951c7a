"""The MCP endpoint through the official MCP client over a real loopback server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.mcp_endpoint import input_schema, output_schema
from cerbero_mcp.settings import Settings
from support.live_server import live_server
from support.schemas import assert_same_schemas
from support.tokens import MAINNET, TESTNET

ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "m1"}


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    """Serve the toy app on a real loopback port."""
    with live_server(app) as url:
        yield url


@asynccontextmanager
async def mcp_session(base_url: str, token: str = TESTNET, bot: str = "agent-1") -> AsyncIterator[ClientSession]:
    """Open an initialized MCP client session against /mcp."""
    headers = {"Authorization": f"Bearer {token}", "X-Bot-Tag": bot}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_official_client_initializes_and_lists_tools_with_schemas(base_url: str, app: FastAPI) -> None:
    async with mcp_session(base_url) as session:
        listed = await session.list_tools()
    by_name = {tool.name: tool for tool in listed.tools}
    assert sorted(by_name) == ["toy_cancel_order", "toy_echo", "toy_fail", "toy_place_order", "toy_whoami"]
    specs = {spec.mcp_name: spec for spec in app.state.cerbero.tool_specs()}
    for name, tool in by_name.items():
        assert tool.input_schema == input_schema(specs[name])
        assert tool.output_schema == output_schema(specs[name])
    assert by_name["toy_echo"].annotations is not None
    assert by_name["toy_echo"].annotations.read_only_hint is True
    assert by_name["toy_echo"].annotations.destructive_hint is False
    assert by_name["toy_place_order"].annotations is not None
    assert by_name["toy_place_order"].annotations.destructive_hint is True
    assert by_name["toy_place_order"].annotations.read_only_hint is False
    # Issue 21: every tool says all four hints; a write with client_order_id is idempotent (a replay).
    assert by_name["toy_place_order"].annotations.idempotent_hint is True
    assert by_name["toy_echo"].annotations.idempotent_hint is True
    assert all(tool.annotations is not None and tool.annotations.open_world_hint for tool in by_name.values())


@pytest.mark.parametrize(("token", "env"), [(TESTNET, "testnet"), (MAINNET, "mainnet")])
async def test_call_tool_returns_structured_content_in_the_token_environment(
    base_url: str, token: str, env: str
) -> None:
    async with mcp_session(base_url, token, "agent-7") as session:
        result = await session.call_tool("toy_echo", {"message": "hi"})
    assert result.is_error is False
    assert result.structured_content is not None
    assert result.structured_content["message"] == "hi"
    assert result.structured_content["environment"] == env
    assert result.structured_content["bot_tag"] == "agent-7"
    assert json.loads(result.content[0].text)["message"] == "hi"  # type: ignore[union-attr]


async def test_tool_error_is_is_error_with_the_envelope_code(base_url: str) -> None:
    async with mcp_session(base_url) as session:
        result = await session.call_tool("toy_fail", {"kind": "insufficient_funds"})
    assert result.is_error is True
    assert result.content[0].text == "INSUFFICIENT_FUNDS: not enough margin"  # type: ignore[union-attr]
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == "INSUFFICIENT_FUNDS"


async def test_invalid_arguments_are_invalid_input(base_url: str) -> None:
    async with mcp_session(base_url) as session:
        result = await session.call_tool("toy_echo", {"message": ""})
    assert result.is_error is True
    assert result.structured_content is not None
    error = result.structured_content["error"]
    assert error["code"] == "INVALID_INPUT"
    assert error["details"]["errors"][0]["loc"] == "message"


async def test_unknown_tool_is_not_found(base_url: str) -> None:
    async with mcp_session(base_url) as session:
        result = await session.call_tool("toy_nope", {})
    assert result.is_error is True
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == "NOT_FOUND"
    assert "toolsets on this connection: toy" in result.structured_content["error"]["message"]


async def test_crash_is_unhandled_without_internals(base_url: str) -> None:
    async with mcp_session(base_url) as session:
        result = await session.call_tool("toy_fail", {"kind": "crash"})
    assert result.is_error is True
    assert "secret" not in json.dumps(result.structured_content)
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == "UNHANDLED_EXCEPTION"


async def test_mcp_write_goes_through_the_same_audited_path(base_url: str, settings: Settings) -> None:
    async with mcp_session(base_url, MAINNET, "agent-w") as session:
        result = await session.call_tool("toy_place_order", ORDER)
    assert result.is_error is False
    assert result.structured_content is not None
    assert result.structured_content["order_id"] == "TOY-1"
    assert settings.audit_log_file is not None
    record = json.loads(settings.audit_log_file.read_text().splitlines()[-1])
    assert (record["actor"], record["bot_tag"], record["action"], record["transport"]) == (
        "mainnet",
        "agent-w",
        "place_order",
        "mcp",
    )


async def test_mcp_without_bearer_is_401_and_bad_host_is_refused(base_url: str) -> None:
    async with httpx.AsyncClient() as http:
        unauthenticated = await http.post(f"{base_url}/mcp", json={}, headers={"X-Bot-Tag": "a"})
        foreign_host = await http.post(
            f"{base_url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {TESTNET}",
                "X-Bot-Tag": "a",
                "Host": "evil.example",
                "Accept": "application/json, text/event-stream",
            },
        )
    assert unauthenticated.status_code == 401
    assert foreign_host.status_code in (403, 421)


async def test_every_tool_is_in_openapi_and_mcp_with_equal_schemas(base_url: str, app: FastAPI) -> None:
    # Building the full app's OpenAPI takes seconds on a loaded machine: no 5 s default timeout here.
    async with httpx.AsyncClient(timeout=120) as http:
        openapi = (await http.get(f"{base_url}/openapi.json")).json()
    async with mcp_session(base_url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    for spec in app.state.cerbero.tool_specs():
        operation = openapi["paths"][spec.path]["post"]
        assert operation["operationId"] == f"{spec.venue}-{spec.name}"
        assert operation["tags"] == [spec.venue]
        assert operation["summary"] == spec.summary
        assert operation["security"] == [{"BearerAuth": []}]
        assert_same_schemas(openapi, spec.path, tools[spec.mcp_name])
    assert openapi["openapi"].startswith("3.1")
    assert openapi["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


async def test_every_installed_venue_tool_is_in_openapi_and_mcp_with_equal_schemas(settings: Settings) -> None:
    from cerbero_mcp.exchanges import PROVIDERS, VENUES
    from cerbero_mcp.exchanges.registry import installed_toolsets
    from cerbero_mcp.server import build_app

    full = build_app(settings)
    with live_server(full) as url:
        await test_every_tool_is_in_openapi_and_mcp_with_equal_schemas(url, full)
        async with mcp_session(url) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
    expected = {spec.mcp_name for toolset in installed_toolsets() for spec in toolset.specs}
    assert names == expected
    assert {name.split("_", 1)[0] for name in names} == set(VENUES) | set(PROVIDERS)
    assert len(names) == len({spec.path for toolset in installed_toolsets() for spec in toolset.specs})


# --- behind a proxy: Host/Origin checks answer the envelope ------------------------------------

LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def _mcp_headers(**extra: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TESTNET}",
        "X-Bot-Tag": "a",
        "Accept": "application/json, text/event-stream",
        **extra,
    }


@pytest.fixture
def proxied_url(settings: Settings) -> Iterator[str]:
    """Serve the toy app with MCP_ALLOWED_HOSTS naming a public host as `name:*` (as behind Traefik)."""
    from cerbero_mcp.server import build_app
    from support import toy

    proxied = settings.with_overrides({"MCP_ALLOWED_HOSTS": "cerbero.example.com:*,127.0.0.1:*"})
    with live_server(build_app(proxied, [toy.TOOLS])) as url:
        yield url


@pytest.mark.parametrize("host", ["cerbero.example.com", "cerbero.example.com:443", "CERBERO.example.com:8443"])
async def test_allowed_host_matches_with_and_without_a_port(proxied_url: str, host: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{proxied_url}/mcp", json=LIST_TOOLS, headers=_mcp_headers(Host=host))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["tools"]


async def test_foreign_host_is_421_envelope_naming_the_setting(proxied_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{proxied_url}/mcp", json=LIST_TOOLS, headers=_mcp_headers(Host="evil.example"))
    assert response.status_code == 421
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST"
    assert "MCP_ALLOWED_HOSTS" in error["message"]
    assert "MCP_ALLOWED_HOSTS=cerbero.example.com:*,127.0.0.1:*,evil.example:*" in error["suggested_fix"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_foreign_origin_is_403_envelope_naming_the_setting(proxied_url: str) -> None:
    headers = _mcp_headers(Host="cerbero.example.com", Origin="https://evil.example")
    async with httpx.AsyncClient() as http:
        refused = await http.post(f"{proxied_url}/mcp", json=LIST_TOOLS, headers=headers)
        local = await http.post(f"{proxied_url}/mcp", json=LIST_TOOLS, headers=_mcp_headers(Origin="http://127.0.0.1"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert "MCP_ALLOWED_ORIGINS" in refused.json()["error"]["message"]
    assert local.status_code == 200  # `http://127.0.0.1:*` also matches an Origin without a port


def test_host_patterns() -> None:
    from cerbero_mcp.mcp_endpoint import host_matches, origin_matches

    assert host_matches("[::1]:9000", "[::1]:*")
    assert host_matches("[::1]", "[::1]:*")
    assert host_matches("example.com", "example.com:443")
    assert not host_matches("example.com:8443", "example.com:443")
    assert not host_matches("example.com.evil", "example.com:*")
    assert not host_matches("", "example.com:*")
    assert origin_matches("https://example.com", "https://example.com:*")
    assert not origin_matches("http://example.com", "https://example.com:*")


# --- replays say so ---------------------------------------------------------------------------


async def test_replayed_write_is_marked_in_meta_and_content(base_url: str) -> None:
    order = {**ORDER, "client_order_id": "replay-1"}
    async with mcp_session(base_url) as session:
        first = await session.call_tool("toy_place_order", order)
        second = await session.call_tool("toy_place_order", order)
    assert first.is_error is False
    assert second.is_error is False
    assert first.structured_content == second.structured_content
    assert not (first.meta or {}).get("idempotent_replay")
    assert second.meta == {"idempotent_replay": True}
    assert "idempotent replay" in second.content[-1].text  # type: ignore[union-attr]
    assert len(first.content) == 1


# --- GET / ------------------------------------------------------------------------------------


async def test_root_is_open_and_points_to_docs_health_and_mcp(base_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base_url}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["docs"], body["health"], body["mcp"]) == ("/apidocs", "/health", "/mcp")
    assert set(body) == {"name", "version", "docs", "openapi", "health", "mcp", "tools"}
    assert TESTNET not in response.text
