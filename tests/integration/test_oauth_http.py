"""OAuth 2.1 over HTTP: JWT access tokens on the REST tools and on /mcp (official client), scopes, metadata."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from support import toy
from support.lifespan import running
from support.live_server import live_server
from support.oauth_issuer import ISSUER, LoopbackIssuer, oauth_env, serving_issuer
from support.tokens import TESTNET

WHOAMI = "/mcp-toy/tools/whoami"
ORDER = "/mcp-toy/tools/place_order"
METADATA = "/.well-known/oauth-protected-resource"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LoopbackIssuer]:
    """The issuer of this module's tokens, its JWKS on a loopback port."""
    with serving_issuer() as served:
        yield served


@pytest.fixture
def oauth_app(settings: Settings, issuer: LoopbackIssuer) -> FastAPI:
    """The toy app with OAuth on against the loopback issuer."""
    issuer.fail = False
    return build_app(settings.with_overrides(oauth_env(issuer)), [toy.TOOLS])


@pytest.fixture
async def http(oauth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the OAuth app, its lifespan running."""
    async with running(oauth_app):
        transport = httpx.ASGITransport(app=oauth_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as client:
            yield client


def bearer(token: str, bot: str | None = "oauth-bot", **extra: str) -> dict[str, str]:
    """Return the headers of a call with `token`."""
    headers = {"Authorization": f"Bearer {token}", **extra}
    if bot is not None:
        headers["X-Bot-Tag"] = bot
    return headers


async def test_valid_jwt_calls_a_read_tool_on_testnet(http: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    response = await http.post(WHOAMI, json={}, headers=bearer(issuer.token("cerbero:read cerbero:testnet")))
    assert response.status_code == 200, response.text
    assert response.json()["environment"] == "testnet"


@pytest.mark.parametrize(("asked", "env"), [(None, "testnet"), ("mainnet", "mainnet"), ("testnet", "testnet")])
async def test_a_token_with_both_environment_scopes_is_on_testnet_unless_it_asks(
    http: httpx.AsyncClient, issuer: LoopbackIssuer, asked: str | None, env: str
) -> None:
    extra = {"X-Cerbero-Environment": asked} if asked else {}
    token = issuer.token("cerbero:read cerbero:testnet cerbero:mainnet", kid="ec-1")
    response = await http.post(WHOAMI, json={}, headers=bearer(token, **extra))
    assert response.status_code == 200, response.text
    assert response.json()["environment"] == env


async def test_environment_without_its_scope_is_403(http: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    token = issuer.token("cerbero:read cerbero:testnet")
    response = await http.post(WHOAMI, json={}, headers=bearer(token, **{"X-Cerbero-Environment": "mainnet"}))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert response.json()["error"]["details"] == {"required_scope": "cerbero:mainnet"}
    assert 'error="insufficient_scope", error_description=' in response.headers["www-authenticate"]
    assert 'scope="cerbero:mainnet"' in response.headers["www-authenticate"]


async def test_read_scope_token_calling_a_write_is_403_and_nothing_is_placed(
    http: httpx.AsyncClient, oauth_app: FastAPI, issuer: LoopbackIssuer
) -> None:
    body = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "o-ro"}
    response = await http.post(ORDER, json=body, headers=bearer(issuer.token("cerbero:read")))
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"required_scope": "cerbero:testnet"}
    assert oauth_app.state.cerbero.registry.cached() == {}  # no client was even built


async def test_environment_scope_without_read_may_write_but_not_read(
    http: httpx.AsyncClient, issuer: LoopbackIssuer
) -> None:
    token = issuer.token("cerbero:testnet")
    read = await http.post(WHOAMI, json={}, headers=bearer(token))
    assert read.status_code == 403
    assert read.json()["error"]["details"] == {"required_scope": "cerbero:read"}
    assert 'scope="cerbero:read"' in read.headers["www-authenticate"]
    body = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "o-w1"}
    write = await http.post(ORDER, json=body, headers=bearer(token))
    assert write.status_code == 200, write.text
    assert write.json()["environment"] == "testnet"


async def test_expired_jwt_is_401_with_the_challenge(http: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    from cerbero_mcp.common import clock

    token = issuer.token(exp=int(clock.now()) - 3600)
    response = await http.post(WHOAMI, json={}, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="http://127.0.0.1:9000{METADATA}"' in challenge
    assert 'error="invalid_token"' in challenge
    assert token not in response.text


async def test_no_token_is_401_naming_the_metadata(http: httpx.AsyncClient) -> None:
    response = await http.post("/mcp", json={})
    assert response.status_code == 401
    assert f'resource_metadata="http://127.0.0.1:9000{METADATA}"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("path", [METADATA, f"{METADATA}/mcp"])
async def test_metadata_document_is_open(http: httpx.AsyncClient, issuer: LoopbackIssuer, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "resource": "http://127.0.0.1:9000",
        "authorization_servers": [ISSUER],
        "scopes_supported": ["cerbero:read", "cerbero:testnet", "cerbero:mainnet", "cerbero:admin"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Cerbero MCP",
    }


async def test_metadata_is_not_served_with_oauth_off(client: httpx.AsyncClient) -> None:
    response = await client.get(METADATA, headers={"Authorization": f"Bearer {TESTNET}"})
    assert response.status_code == 404


async def test_jwks_down_is_a_503_envelope(settings: Settings, issuer: LoopbackIssuer) -> None:
    issuer.fail = True
    try:
        app = build_app(settings.with_overrides(oauth_env(issuer)), [toy.TOOLS])
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as client:
                response = await client.post(WHOAMI, json={}, headers=bearer(issuer.token()))
                # Static tokens do not depend on the issuer.
                static = await client.post(WHOAMI, json={}, headers=bearer(TESTNET))
    finally:
        issuer.fail = False
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "AUTH_UNAVAILABLE"
    assert response.json()["error"]["retryable"] is True
    assert static.status_code == 200


async def test_jwt_write_is_audited_and_logged_by_hashed_token_id_never_the_token(
    http: httpx.AsyncClient, settings: Settings, issuer: LoopbackIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token("cerbero:testnet", jti="jti-audit-1")
    body = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "o-a1"}
    with caplog.at_level(logging.INFO, logger="mcp.request"):
        response = await http.post(ORDER, json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert settings.audit_path is not None
    text = Path(settings.audit_path).read_text()  # noqa: ASYNC240 - a test reading a small file
    records = [json.loads(line) for line in text.splitlines()]
    principals = {r.get("principal") for r in records if r.get("action") == "place_order"}
    assert len(principals) == 1
    (principal,) = principals
    assert str(principal).startswith("oauth:")
    assert token not in text
    assert "jti-audit-1" not in text
    logged = [r.fields for r in caplog.records if r.name == "mcp.request"]  # type: ignore[attr-defined]
    assert logged[-1]["principal"] == principal
    assert token not in caplog.text


async def test_admin_routes_need_the_admin_scope(http: httpx.AsyncClient, issuer: LoopbackIssuer) -> None:
    denied = await http.get("/admin/audit", headers=bearer(issuer.token("cerbero:read cerbero:testnet")))
    assert denied.status_code == 403
    assert 'scope="cerbero:admin"' in denied.headers["www-authenticate"]
    allowed = await http.get("/admin/audit", headers=bearer(issuer.token("cerbero:admin")))
    assert allowed.status_code == 200
    engaged = await http.post(
        "/admin/kill-switch",
        json={"env": "testnet", "engaged": True, "reason": "oauth admin test"},
        headers=bearer(issuer.token("cerbero:admin")),
    )
    assert engaged.status_code == 200, engaged.text
    assert engaged.json()["testnet"]["engaged"] is True


async def test_static_tokens_work_unchanged_with_oauth_on(http: httpx.AsyncClient) -> None:
    response = await http.post(WHOAMI, json={}, headers=bearer(TESTNET))
    assert response.status_code == 200
    assert response.json()["environment"] == "testnet"


async def test_official_mcp_client_with_a_jwt(oauth_app: FastAPI, issuer: LoopbackIssuer) -> None:
    token = issuer.token("cerbero:read cerbero:testnet cerbero:mainnet")
    headers = {"Authorization": f"Bearer {token}", "X-Cerbero-Environment": "mainnet", "X-Bot-Tag": "jwt-agent"}
    with live_server(oauth_app) as url:
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = await session.list_tools()
            result = await session.call_tool("toy_whoami", {})
            echoed = await session.call_tool("toy_echo", {"message": "hi"})
    assert "toy_whoami" in {tool.name for tool in listed.tools}
    assert result.is_error is False
    assert result.structured_content is not None
    assert result.structured_content["environment"] == "mainnet"
    assert echoed.structured_content is not None
    assert echoed.structured_content["bot_tag"] == "jwt-agent"


async def test_official_mcp_client_read_without_read_scope_is_a_tool_error(
    oauth_app: FastAPI, issuer: LoopbackIssuer
) -> None:
    headers = {"Authorization": f"Bearer {issuer.token('cerbero:testnet')}"}
    with live_server(oauth_app) as url:
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("toy_whoami", {})
    assert result.is_error is True
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == "FORBIDDEN"
    assert result.structured_content["error"]["details"] == {"required_scope": "cerbero:read"}
