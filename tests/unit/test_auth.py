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
