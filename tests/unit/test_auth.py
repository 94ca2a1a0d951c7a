"""Bearer parsing, constant-time token matching, path classes."""

from __future__ import annotations

from cerbero_mcp.auth import TokenTable, bearer_from, is_open_path, is_tool_path
from cerbero_mcp.settings import Settings
from support.tokens import ADMIN, MAINNET, TESTNET


def test_token_table_maps_each_token_to_its_actor() -> None:
    table = TokenTable(
        Settings.from_mapping({"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "ADMIN_TOKEN": ADMIN})
    )
    assert table.actor_for(TESTNET) == "testnet"
    assert table.actor_for(MAINNET) == "mainnet"
    assert table.actor_for(ADMIN) == "admin"
    assert table.actor_for(TESTNET[:-1]) is None
    assert table.actor_for("") is None
    assert table.actor_for(None) is None


def test_bearer_parsing() -> None:
    assert bearer_from([(b"authorization", b"Bearer abc")]) == "abc"
    assert bearer_from([(b"authorization", b"bearer  abc ")]) == "abc"
    assert bearer_from([(b"authorization", b"Basic abc")]) is None
    assert bearer_from([(b"authorization", b"Bearer ")]) is None
    assert bearer_from([]) is None


def test_path_classes() -> None:
    assert is_open_path("/health")
    assert is_open_path("/apidocs/oauth2-redirect")
    assert not is_open_path("/admin/audit")
    assert is_tool_path("/mcp")
    assert is_tool_path("/mcp-deribit/tools/get_ticker")
    assert is_tool_path("/mcp/")
    assert not is_tool_path("/mcpx")
    assert not is_tool_path("/admin/audit")


# --- issue 21: the state the middleware leaves, X-Bot-Tag on /mcp, OAuth tokens ------------------------


async def _state_after(
    path: str, headers: dict[str, str], settings: Settings, oauth: object = None
) -> tuple[int, dict[str, object], dict[str, str]]:
    """Run AuthMiddleware on one request; return the status sent (0: passed on), the state and the headers."""
    from cerbero_mcp.auth import AuthMiddleware

    seen: dict[str, object] = {}
    sent: dict[str, object] = {"status": 0, "headers": {}}

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.update(scope["state"])  # type: ignore[arg-type]

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}  # type: ignore[attr-defined]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    middleware = AuthMiddleware(app, settings, oauth)  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "path": path,
        "method": "POST",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "state": {"request_id": "r1"},
    }
    await middleware(scope, receive, send)  # type: ignore[arg-type]
    return int(sent["status"]), seen, sent["headers"]  # type: ignore[arg-type, return-value]


SETTINGS = {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "ADMIN_TOKEN": ADMIN}


async def test_mcp_without_bot_tag_passes_with_bot_tag_left_to_the_endpoint() -> None:
    settings = Settings.from_mapping(SETTINGS)
    for path in ("/mcp", "/mcp/", "/mcp/x/deribit", "/mcp/readonly"):
        status, state, _ = await _state_after(path, {"Authorization": f"Bearer {TESTNET}"}, settings)
        assert status == 0
        assert state["environment"] == "testnet"
        assert state["actor"] == "testnet"
        assert state["auth"] == "static"
        assert "bot_tag" not in state
        assert state["bot_tag_derived"] is True


async def test_mcp_with_bot_tag_keeps_it_and_still_validates_it() -> None:
    settings = Settings.from_mapping(SETTINGS)
    status, state, _ = await _state_after("/mcp", {"Authorization": f"Bearer {MAINNET}", "X-Bot-Tag": "b1"}, settings)
    assert (status, state["bot_tag"], state["environment"]) == (0, "b1", "mainnet")
    assert "bot_tag_derived" not in state
    status, _, _ = await _state_after("/mcp", {"Authorization": f"Bearer {MAINNET}", "X-Bot-Tag": "x" * 65}, settings)
    assert status == 400


async def test_rest_tool_route_without_bot_tag_is_still_400() -> None:
    settings = Settings.from_mapping(SETTINGS)
    status, state, _ = await _state_after(
        "/mcp-deribit/tools/get_ticker", {"Authorization": f"Bearer {TESTNET}"}, settings
    )
    assert status == 400
    assert "bot_tag_derived" not in state


async def test_static_token_with_a_contradicting_environment_header_is_400() -> None:
    settings = Settings.from_mapping(SETTINGS)
    headers = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "b", "X-Cerbero-Environment": "mainnet"}
    status, _, _ = await _state_after("/mcp-toy/tools/echo", headers, settings)
    assert status == 400
    headers["X-Cerbero-Environment"] = "testnet"
    assert (await _state_after("/mcp-toy/tools/echo", headers, settings))[0] == 0


async def test_oauth_state_contract_and_environment_choice() -> None:
    from cerbero_mcp.oauth import OAuthVerifier
    from support.oauth_issuer import oauth_env, serving_issuer

    with serving_issuer() as issuer:
        settings = Settings.from_mapping({**SETTINGS, **oauth_env(issuer)})
        oauth = OAuthVerifier.from_settings(settings)
        try:
            both = issuer.token("cerbero:read cerbero:testnet cerbero:mainnet")
            status, state, _ = await _state_after("/mcp", {"Authorization": f"Bearer {both}"}, settings, oauth)
            assert status == 0
            # Two environment scopes and no header: testnet, never real money by default.
            assert (state["environment"], state["actor"], state["auth"]) == ("testnet", "testnet", "oauth")
            assert str(state["principal"]).startswith("oauth:")
            assert both not in str(state["principal"])
            assert state["scopes"] == {"cerbero:read", "cerbero:testnet", "cerbero:mainnet"}
            headers = {"Authorization": f"Bearer {both}", "X-Cerbero-Environment": "mainnet"}
            status, state, _ = await _state_after("/mcp", headers, settings, oauth)
            assert (status, state["environment"]) == (0, "mainnet")

            mainnet_only = issuer.token("cerbero:read cerbero:mainnet")
            status, _, sent = await _state_after("/mcp", {"Authorization": f"Bearer {mainnet_only}"}, settings, oauth)
            assert status == 403
            assert 'error="insufficient_scope"' in sent["www-authenticate"]
            assert 'scope="cerbero:testnet"' in sent["www-authenticate"]

            status, _, _ = await _state_after("/admin/audit", {"Authorization": f"Bearer {both}"}, settings, oauth)
            assert status == 403
            admin = issuer.token("cerbero:admin")
            status, state, _ = await _state_after("/admin/audit", {"Authorization": f"Bearer {admin}"}, settings, oauth)
            assert (status, state["actor"]) == (0, "admin")

            # Static tokens are unchanged with OAuth on.
            status, state, _ = await _state_after("/mcp", {"Authorization": f"Bearer {MAINNET}"}, settings, oauth)
            assert (status, state["environment"], state["auth"]) == (0, "mainnet", "static")
            assert "principal" not in state
        finally:
            assert oauth is not None
            await oauth.keys.aclose()


async def test_401_names_the_metadata_url_only_when_oauth_is_on() -> None:
    from cerbero_mcp.oauth import OAuthVerifier
    from support.oauth_issuer import oauth_env, serving_issuer

    plain = Settings.from_mapping(SETTINGS)
    status, _, sent = await _state_after("/mcp", {}, plain)
    assert (status, sent["www-authenticate"]) == (401, 'Bearer realm="cerbero-mcp"')
    with serving_issuer() as issuer:
        settings = Settings.from_mapping({**SETTINGS, **oauth_env(issuer)})
        oauth = OAuthVerifier.from_settings(settings)
        try:
            status, _, sent = await _state_after("/mcp", {}, settings, oauth)
            assert status == 401
            challenge = sent["www-authenticate"]
            assert 'resource_metadata="http://127.0.0.1:9000/.well-known/oauth-protected-resource"' in challenge
            assert "error=" not in challenge  # RFC 6750 §3.1: no error code without credentials
            assert 'scope="cerbero:read cerbero:testnet"' in challenge
            status, _, sent = await _state_after("/mcp", {"Authorization": "Bearer not-a-token"}, settings, oauth)
            assert status == 401
            assert 'error="invalid_token"' in sent["www-authenticate"]
        finally:
            assert oauth is not None
            await oauth.keys.aclose()
