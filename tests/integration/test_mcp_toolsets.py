"""Issue 21: MCP toolsets, read-only mode, instructions, annotations and the derived bot tag.

Driven by the official MCP client over a real loopback server, on `/mcp`, `/mcp/x/<toolsets>`,
`/readonly` and the X-MCP-* headers (the conventions of GitHub's remote MCP server).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.mcp_toolsets import MCP_TOOL_NAME, check_tool_name
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import ConfigError, Settings
from cerbero_mcp.tooling import ToolSet
from support import provider_toy, toy
from support.live_server import live_server
from support.tokens import MAINNET, TESTNET

ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "ts-1"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
ACCEPT = "application/json, text/event-stream"


@asynccontextmanager
async def session_at(
    url: str,
    *,
    token: str = TESTNET,
    bot: str | None = "agent-1",
    headers: dict[str, str] | None = None,
    client_info: types.Implementation | None = None,
    modern: bool = False,
) -> AsyncIterator[tuple[ClientSession, types.InitializeResult | types.DiscoverResult]]:
    """Open an MCP client session at `url` (the handshake, or the 2026 `server/discover` era)."""
    sent = {"Authorization": f"Bearer {token}", **(headers or {})}
    if bot is not None:
        sent["X-Bot-Tag"] = bot
    async with (
        create_mcp_http_client(headers=sent) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, client_info=client_info) as session,
    ):
        opened = await session.discover() if modern else await session.initialize()
        yield session, opened


async def tool_names(url: str, **kwargs: object) -> list[str]:
    """Return the names tools/list gives at `url`."""
    async with session_at(url, **kwargs) as (session, _):  # type: ignore[arg-type]
        return [tool.name for tool in (await session.list_tools()).tools]


@pytest.fixture(scope="module")
def full_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve every installed toolset on loopback (listing tools reaches no venue)."""
    tmp = tmp_path_factory.mktemp("full")
    settings = Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "AUDIT_LOG_FILE": str(tmp / "audit.jsonl"),
            "AUDIT_HMAC_KEY": "k" * 32,
            "AUDIT_FSYNC": "false",
            "STATE_DB": str(tmp / "state.db"),
        }
    )
    with live_server(build_app(settings)) as url:
        yield url


@pytest.fixture
def two_url(settings: Settings) -> Iterator[str]:
    """Serve the toy venue and the toy provider: two toolsets, with reads and writes."""
    with live_server(build_app(settings, [toy.TOOLS, provider_toy.TOOLS])) as url:
        yield url


def installed_names(*toolsets: str) -> list[str]:
    return [s.mcp_name for t in installed_toolsets() for s in t.specs if not toolsets or t.venue in toolsets]


# --- toolsets ----------------------------------------------------------------------------------


async def test_plain_mcp_lists_every_installed_toolset(full_url: str) -> None:
    assert await tool_names(f"{full_url}/mcp") == installed_names()


async def test_url_selects_one_toolset(full_url: str) -> None:
    names = await tool_names(f"{full_url}/mcp/x/deribit")
    assert names == installed_names("deribit")
    assert names
    assert all(name.startswith("deribit_") for name in names)


async def test_url_selects_a_comma_list_and_all(full_url: str) -> None:
    assert await tool_names(f"{full_url}/mcp/x/deribit,macro") == installed_names("deribit", "macro")
    assert await tool_names(f"{full_url}/mcp/x/all") == installed_names()


@pytest.mark.parametrize("value", ["deribit,macro", "macro , deribit", "DERIBIT,macro,"])
async def test_header_selects_toolsets_ignoring_whitespace_and_order(full_url: str, value: str) -> None:
    names = await tool_names(f"{full_url}/mcp", headers={"X-MCP-Toolsets": value})
    assert names == installed_names("deribit", "macro")


async def test_empty_header_is_the_default(full_url: str) -> None:
    assert await tool_names(f"{full_url}/mcp", headers={"X-MCP-Toolsets": ""}) == installed_names()


async def test_url_and_header_both_narrow(full_url: str) -> None:
    names = await tool_names(f"{full_url}/mcp/x/deribit,macro", headers={"X-MCP-Toolsets": "macro,bybit"})
    assert names == installed_names("macro")


@pytest.mark.parametrize(
    ("path", "headers", "where"),
    [
        ("/mcp/x/derbit", {}, "URL"),
        ("/mcp/x/deribit,nope", {}, "URL"),
        ("/mcp", {"X-MCP-Toolsets": "deribit,nope"}, "X-MCP-Toolsets"),
        ("/mcp/x/deribit/readonly", {"X-MCP-Toolsets": "nope"}, "X-MCP-Toolsets"),
    ],
)
async def test_unknown_toolset_is_400_naming_the_valid_ones(
    full_url: str, path: str, headers: dict[str, str], where: str
) -> None:
    sent = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "a", "Accept": ACCEPT, **headers}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{full_url}{path}", json=LIST_TOOLS, headers=sent)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST"
    assert where in error["message"]
    for name in ("deribit", "bybit", "hyperliquid", "alpaca", "ibkr", "macro", "all"):
        assert name in error["details"]["valid"]
        assert name in error["message"]
    assert "nope" in error["message"] or "derbit" in error["message"]


async def test_an_unknown_toolset_is_echoed_bounded(full_url: str) -> None:
    value = ",".join(f"{i}" + "z" * 500 for i in range(50))
    sent = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "a", "Accept": ACCEPT, "X-MCP-Toolsets": value}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{full_url}/mcp", json=LIST_TOOLS, headers=sent)
    assert response.status_code == 400
    error = response.json()["error"]
    assert len(error["message"]) < 1500
    assert len(error["details"]["unknown"]) == 10
    assert all(len(name) <= 64 for name in error["details"]["unknown"])


async def test_disjoint_url_and_header_is_400(full_url: str) -> None:
    sent = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "a", "Accept": ACCEPT, "X-MCP-Toolsets": "bybit"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{full_url}/mcp/x/deribit", json=LIST_TOOLS, headers=sent)
    assert response.status_code == 400
    assert "no toolset in common" in response.json()["error"]["message"]


async def test_tool_outside_the_selection_is_unknown_naming_the_toolsets_on(two_url: str) -> None:
    async with session_at(f"{two_url}/mcp/x/toyprov") as (session, _):
        result = await session.call_tool("toy_echo", {"message": "hi"})
        allowed = await session.call_tool("toyprov_get_toy_orders", {})
    assert result.is_error is True
    assert result.structured_content is not None
    error = result.structured_content["error"]
    assert error["code"] == "NOT_FOUND"
    assert "unknown tool 'toy_echo'" in error["message"]
    assert "toyprov" in error["message"]
    assert error["details"]["toolsets"] == ["toyprov"]
    assert allowed.is_error is False


# --- read-only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/mcp/readonly", {}),
        ("/mcp/x/toy/readonly", {}),
        ("/mcp", {"X-MCP-Readonly": "true"}),
        ("/mcp/x/toy", {"X-MCP-Readonly": "1"}),
        ("/mcp", {"X-MCP-Readonly": "yes"}),
    ],
)
async def test_read_only_lists_only_reads_and_refuses_a_write(
    two_url: str, settings: Settings, path: str, headers: dict[str, str]
) -> None:
    async with session_at(f"{two_url}{path}", headers=headers) as (session, opened):
        names = [tool.name for tool in (await session.list_tools()).tools]
        refused = await session.call_tool("toy_place_order", ORDER)
        read = await session.call_tool("toy_echo", {"message": "still here"})
    toolsets = (toy.TOOLS,) if path.startswith("/mcp/x/toy") else (toy.TOOLS, provider_toy.TOOLS)
    assert names == [s.mcp_name for t in toolsets for s in t.specs if s.kind == "read"]
    assert "toy_place_order" not in names
    assert "toy_cancel_order" not in names
    assert refused.is_error is True
    assert refused.structured_content is not None
    error = refused.structured_content["error"]
    assert error["code"] == "FORBIDDEN"
    assert "read-only" in error["message"]
    assert "toy_place_order" in error["message"]
    assert error["details"] == {"tool": "toy_place_order", "read_only": True}
    assert read.is_error is False
    assert isinstance(opened, types.InitializeResult)
    assert opened.instructions is not None
    assert "READ-ONLY" in opened.instructions
    # Refused before the write pipeline: nothing was audited, nothing reached the venue.
    assert settings.audit_log_file is not None
    audit = settings.audit_log_file.read_text() if settings.audit_log_file.exists() else ""
    assert "place_order" not in audit


@pytest.mark.parametrize("value", ["false", "OFF", "no", "0", "f", "n", ""])
async def test_false_words_keep_writes(two_url: str, value: str) -> None:
    names = await tool_names(f"{two_url}/mcp", headers={"X-MCP-Readonly": value})
    assert "toy_place_order" in names


# --- MCP_TOOLSETS ------------------------------------------------------------------------------


async def test_mcp_toolsets_setting_sets_what_is_served(settings: Settings) -> None:
    narrowed = settings.with_overrides({"MCP_TOOLSETS": "toyprov"})
    with live_server(build_app(narrowed, [toy.TOOLS, provider_toy.TOOLS])) as url:
        names = await tool_names(f"{url}/mcp")
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{url}/mcp/x/toy",
                json=LIST_TOOLS,
                headers={"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "a", "Accept": ACCEPT},
            )
            rest = await http.post(
                f"{url}/mcp-toy/tools/echo",
                json={"message": "rest"},
                headers={"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "a"},
            )
    assert names == [s.mcp_name for s in provider_toy.TOOLS.specs]
    assert response.status_code == 400
    assert "turned off by MCP_TOOLSETS" in response.json()["error"]["message"]
    assert response.json()["error"]["details"]["valid"] == ["toyprov", "all"]
    assert rest.status_code == 200  # REST routes are not affected


def test_unknown_mcp_toolsets_name_is_a_config_error_naming_it(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"MCP_TOOLSETS names unknown toolset\(s\) nope, bogus; installed: toy"):
        build_app(settings.with_overrides({"MCP_TOOLSETS": "toy,nope,bogus"}), [toy.TOOLS])


# --- instructions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "says", "never"),
    [(MAINNET, ["MAINNET", "REAL MONEY"], "TESTNET"), (TESTNET, ["TESTNET", "No real money"], "MAINNET")],
)
async def test_instructions_name_the_token_environment_toolsets_errors_and_replays(
    two_url: str, token: str, says: list[str], never: str
) -> None:
    async with session_at(f"{two_url}/mcp/x/toy", token=token) as (_, opened):
        text = opened.instructions
    assert text is not None
    for phrase in [
        *says,
        "Toolsets on: toy (5)",
        "Also available on this server: toyprov",
        "Mode: read-write",
        "isError=true",
        "'<CODE>: <message>'",
        "retryable",
        "client_order_id",
        "idempotent_replay=true",
        "IDEMPOTENCY_CONFLICT",
    ]:
        assert phrase in text, phrase
    assert never not in text


async def test_instructions_over_the_2026_discover_era(two_url: str) -> None:
    async with session_at(f"{two_url}/mcp", token=MAINNET, modern=True) as (_, opened):
        assert isinstance(opened, types.DiscoverResult)
        assert opened.instructions is not None
        assert "REAL MONEY" in opened.instructions
        assert "Toolsets on: toy (5), toyprov (2)" in opened.instructions


# --- annotations and names ---------------------------------------------------------------------


async def test_every_installed_tool_has_all_four_annotations(full_url: str) -> None:
    async with session_at(f"{full_url}/mcp") as (session, _):
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    specs = {s.mcp_name: s for t in installed_toolsets() for s in t.specs}
    assert set(tools) == set(specs)
    for name, tool in tools.items():
        spec = specs[name]
        hints = tool.annotations
        assert hints is not None, name
        read = spec.kind == "read"
        assert hints.read_only_hint is read, name
        assert hints.destructive_hint is (not read and spec.risk in ("opens", "reduces")), name
        assert hints.idempotent_hint is (read or "client_order_id" in spec.request_model.model_fields), name
        assert hints.open_world_hint is True, name
    assert tools["deribit_place_order"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["deribit_cancel_order"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["hyperliquid_set_leverage"].annotations.destructive_hint is False  # type: ignore[union-attr]
    assert tools["bybit_place_batch_order"].annotations.idempotent_hint is False  # type: ignore[union-attr]
    assert tools["deribit_place_order"].annotations.idempotent_hint is True  # type: ignore[union-attr]


def test_every_installed_tool_name_is_lower_snake_and_at_most_64() -> None:
    names = installed_names()
    assert names
    for name in names:
        assert MCP_TOOL_NAME.match(name), name
        assert len(name) <= 64, name
    assert len(set(names)) == len(names)


def test_a_tool_name_over_64_fails_at_build(settings: Settings) -> None:
    long = ToolSet("v" * 40)
    long.read("n" * 30)(toy.echo)
    with pytest.raises(ValueError, match="must be 1-64 characters"):
        build_app(settings, [long])
    with pytest.raises(ValueError, match="Deribit_get"):
        check_tool_name("Deribit_get")


# --- bot tag from the MCP client ---------------------------------------------------------------


async def test_bot_tag_is_derived_from_client_info_on_every_2026_request(two_url: str) -> None:
    info = types.Implementation(name="Claude\tDesktop\u00e9", version="1.0")
    async with session_at(f"{two_url}/mcp", bot=None, client_info=info, modern=True) as (session, _):
        result = await session.call_tool("toy_echo", {"message": "hi"})
    assert result.structured_content is not None
    assert result.structured_content["bot_tag"] == "mcp:Claude_Desktop_"


async def test_bot_tag_falls_back_to_the_user_agent(two_url: str) -> None:
    async with session_at(f"{two_url}/mcp", bot=None, headers={"User-Agent": "my-agent/2.1"}) as (session, _):
        result = await session.call_tool("toy_echo", {"message": "hi"})
    assert result.structured_content is not None
    assert result.structured_content["bot_tag"] == "mcp:my-agent/2.1"


async def test_user_agent_tag_is_printable_and_bounded(two_url: str) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "toy_echo", "arguments": {"message": "x"}},
    }
    agent = b"agent \xfc\xe9 " + b"y" * 100
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{two_url}/mcp",
            json=call,
            headers=[
                (b"authorization", f"Bearer {TESTNET}".encode()),
                (b"accept", ACCEPT.encode()),
                (b"user-agent", agent),  # latin-1 bytes no client library would send as text
            ],
        )
    assert response.status_code == 200, response.text
    tag = response.json()["result"]["structuredContent"]["bot_tag"]
    assert tag == ("mcp:agent __ " + "y" * 100)[:64]


async def test_explicit_x_bot_tag_wins_over_the_client_info(two_url: str) -> None:
    info = types.Implementation(name="someone-else", version="1.0")
    async with session_at(f"{two_url}/mcp", bot="my-bot", client_info=info, modern=True) as (session, _):
        result = await session.call_tool("toy_echo", {"message": "hi"})
    assert result.structured_content is not None
    assert result.structured_content["bot_tag"] == "my-bot"


async def test_derived_bot_tag_is_recorded_in_audit_for_a_write(two_url: str, settings: Settings) -> None:
    info = types.Implementation(name="trading-agent", version="3")
    async with session_at(f"{two_url}/mcp", token=MAINNET, bot=None, client_info=info, modern=True) as (session, _):
        result = await session.call_tool("toy_place_order", ORDER)
    assert result.is_error is False
    assert settings.audit_log_file is not None
    records = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    placed = [r for r in records if r["action"] == "place_order"]
    assert placed
    assert {r["bot_tag"] for r in placed} == {"mcp:trading-agent"}
    assert {r["transport"] for r in placed} == {"mcp"}


async def test_the_initialize_request_log_carries_the_client_name(
    two_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    info = types.Implementation(name="inspector-like", version="0")
    async with session_at(f"{two_url}/mcp", bot=None, client_info=info):
        pass
    tags = [getattr(r, "fields", {}).get("bot_tag") for r in caplog.records if hasattr(r, "fields")]
    assert "mcp:inspector-like" in tags
