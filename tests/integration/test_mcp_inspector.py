"""Issue 21: the MCP Inspector CLI (a second, independent client) against a live server on loopback.

Runs `npx -y @modelcontextprotocol/inspector@<INSPECTOR_VERSION> --cli <url> --transport http --method …`
against `/mcp`, `/mcp/x/<toolset>` and with `X-MCP-Readonly`. npx keeps the package in the npm cache
(`npm_config_prefer_offline` skips re-checking the registry), so only the first run downloads it.
Skipped only when npx is absent outside CI; under CI (`CI=true`) a missing npx fails (`.ci/run` provides it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.tooling import ToolSet
from support import provider_toy, toy
from support.live_server import live_server
from support.tokens import MAINNET, TESTNET

INSPECTOR_VERSION = "2.12.0"  # pinned: a new release must not change what this test means
NPX = shutil.which("npx")

if NPX is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
    pytest.skip("npx is not installed (.ci/run provides it under CI)", allow_module_level=True)


def settings_under(tmp: Path) -> Settings:
    """Return settings with both tokens and the audit and state files under `tmp`."""
    return Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "AUDIT_LOG_FILE": str(tmp / "audit.jsonl"),
            "AUDIT_HMAC_KEY": "k" * 32,
            "AUDIT_FSYNC": "false",
            "STATE_DB": str(tmp / "state.db"),
        }
    )


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the toy venue and provider on loopback for the Inspector."""
    app = build_app(settings_under(tmp_path_factory.mktemp("inspector")), [toy.TOOLS, provider_toy.TOOLS])
    with live_server(app) as served:
        yield served


def inspector(target: str, method: str, *args: str, headers: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Run the Inspector CLI once and return the JSON it prints."""
    assert NPX is not None, "npx is required under CI (.ci/run installs Node.js when it is missing)"
    command = [NPX, "-y", f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}", "--cli", target]
    command += ["--transport", "http", "--method", method, *args]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    env = {
        **os.environ,
        "npm_config_prefer_offline": "true",  # the cached package is used without asking the registry again
        "npm_config_update_notifier": "false",
        "MCP_CATALOG_PATH": str(tmp / "catalog.json"),  # the CLI's own state stays out of $HOME
    }
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, f"inspector exited {done.returncode}: {done.stderr[-2000:]}"
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def bearer(token: str = TESTNET, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def listed(result: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in result["tools"]]


def test_inspector_lists_every_tool_at_mcp(url: str, tmp_path: Path) -> None:
    result = inspector(f"{url}/mcp", "tools/list", headers=bearer(), tmp=tmp_path)
    assert listed(result) == [s.mcp_name for t in (toy.TOOLS, provider_toy.TOOLS) for s in t.specs]
    by_name = {tool["name"]: tool for tool in result["tools"]}
    assert by_name["toy_place_order"]["annotations"]["destructiveHint"] is True
    assert by_name["toy_echo"]["annotations"]["readOnlyHint"] is True


def test_inspector_at_one_toolset_url(url: str, tmp_path: Path) -> None:
    result = inspector(f"{url}/mcp/x/toyprov", "tools/list", headers=bearer(), tmp=tmp_path)
    assert listed(result) == [s.mcp_name for s in provider_toy.TOOLS.specs]


def test_inspector_with_readonly_header_lists_only_reads(url: str, tmp_path: Path) -> None:
    # The Inspector checks a tool name against tools/list before calling, so the server's refusal of a
    # write in read-only mode is driven with the official client (test_mcp_toolsets.py).
    headers = bearer(**{"X-MCP-Readonly": "true", "X-MCP-Toolsets": "toy"})
    result = inspector(f"{url}/mcp", "tools/list", headers=headers, tmp=tmp_path)
    assert listed(result) == [s.mcp_name for s in toy.TOOLS.specs if s.kind == "read"]


def test_inspector_at_readonly_url(url: str, tmp_path: Path) -> None:
    result = inspector(f"{url}/mcp/x/toy/readonly", "tools/list", headers=bearer(), tmp=tmp_path)
    assert listed(result) == [s.mcp_name for s in toy.TOOLS.specs if s.kind == "read"]


def test_inspector_call_gets_a_derived_bot_tag(url: str, tmp_path: Path) -> None:
    result = inspector(
        f"{url}/mcp/x/toy",
        "tools/call",
        "--tool-name",
        "toy_echo",
        "--tool-arg",
        "message=hi",
        headers=bearer(MAINNET),
        tmp=tmp_path,
    )
    assert result["isError"] is False
    assert result["structuredContent"]["environment"] == "mainnet"
    tag = result["structuredContent"]["bot_tag"]
    assert tag.startswith("mcp:")
    assert len(tag) <= 64


def test_inspector_at_mcp_x_deribit_with_the_installed_venues(tmp_path: Path) -> None:
    with live_server(build_app(settings_under(tmp_path))) as served:
        result = inspector(f"{served}/mcp/x/deribit", "tools/list", headers=bearer(), tmp=tmp_path)
        reads = inspector(
            f"{served}/mcp/x/deribit", "tools/list", headers=bearer(**{"X-MCP-Readonly": "true"}), tmp=tmp_path
        )
    names = listed(result)
    assert names == [s.mcp_name for s in installed("deribit").specs]
    assert "deribit_place_order" in names
    assert listed(reads) == [s.mcp_name for s in installed("deribit").specs if s.kind == "read"]


def installed(venue: str) -> ToolSet:
    return next(t for t in installed_toolsets() if t.venue == venue)
