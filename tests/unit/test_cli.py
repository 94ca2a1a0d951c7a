"""The command line refuses to serve without fit tokens, with one line that says what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cerbero_mcp.__main__ import main, parse_args


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m cerbero_mcp` in an empty directory with only `env` set."""
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
    return subprocess.run(
        [sys.executable, "-m", "cerbero_mcp", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_tokens_exits_non_zero_with_one_line_naming_them(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TESTNET_TOKEN and MAINNET_TOKEN must be set" in lines[0]


def test_short_tokens_are_refused(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"TESTNET_TOKEN": "short", "MAINNET_TOKEN": "m" * 40})
    assert result.returncode == 2
    assert "TESTNET_TOKEN is 5 characters; it must be at least 32" in result.stderr


def test_equal_tokens_are_refused(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"TESTNET_TOKEN": "s" * 40, "MAINNET_TOKEN": "s" * 40})
    assert result.returncode == 2
    assert "must all be different" in result.stderr


def test_bad_setting_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "not-a-port")
    assert main([]) == 2
    assert "PORT: Input should be a valid integer" in capsys.readouterr().err


def test_host_and_port_flags() -> None:
    args = parse_args(["--host", "127.0.0.2", "--port", "9100", "--demo"])
    assert (args.host, args.port, args.demo) == ("127.0.0.2", 9100, True)
