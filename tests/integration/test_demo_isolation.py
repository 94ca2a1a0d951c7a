"""`--demo` keeps every file in its own marked directory, and a real server refuses demo state."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cerbero_mcp.__main__ import main
from cerbero_mcp.demo import DEMO_MARKER, demo_settings, refuse_demo_state
from cerbero_mcp.settings import ConfigError, Settings
from support.tokens import MAINNET, TESTNET


def real_env(real: Path) -> dict[str, str]:
    """Return an environment that points every file of the real server at `real`."""
    return {
        "DATA_DIR": str(real),
        "STATE_DB": str(real / "state.db"),
        "AUDIT_LOG_FILE": str(real / "audit.jsonl"),
        "AUDIT_HMAC_KEY": "r" * 40,
    }


@pytest.mark.parametrize("audit", ["explicit", "off"])
def test_demo_settings_ignore_the_real_servers_paths_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audit: str
) -> None:
    monkeypatch.chdir(tmp_path)
    env = real_env(tmp_path / "real")
    if audit == "off":
        env["AUDIT_LOG_FILE"] = "off"
    real = Settings.from_mapping(env).with_overrides({"PORT": "9123"})
    served, _ = demo_settings(real, {})
    home = tmp_path / "demo-data"
    assert (served.data_dir, served.state_db, served.audit_path) == (home, home / "state.db", home / "audit.jsonl")
    assert served.audit_hmac_key is None  # generated into demo-data/, never the real key
    assert served.port == 9123
    assert (home / DEMO_MARKER).is_file()
    assert not (tmp_path / "real").exists()


def test_a_real_server_refuses_the_demo_directory_and_a_copied_demo_state_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    demo_settings(Settings.from_mapping({}), {})
    home = tmp_path / "demo-data"
    for env in (
        {"DATA_DIR": str(home)},
        {"STATE_DB": str(home / "state.db")},
        {"AUDIT_LOG_FILE": str(home / "audit.jsonl")},
    ):
        with pytest.raises(ConfigError, match=r"cerbero-mcp --demo"):
            refuse_demo_state(Settings.from_mapping(env))
    copied = tmp_path / "elsewhere"
    copied.mkdir()
    (copied / "state.db").write_bytes((home / "state.db").read_bytes())
    with pytest.raises(ConfigError, match=r"STATE_DB .* written by `cerbero-mcp --demo`"):
        refuse_demo_state(Settings.from_mapping({"DATA_DIR": str(copied)}))
    refuse_demo_state(Settings.from_mapping({"DATA_DIR": str(tmp_path / "real")}))  # a real directory passes


def test_the_cli_refuses_to_serve_demo_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    demo_settings(Settings.from_mapping({}), {})
    for name, value in {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "DATA_DIR": "demo-data"}.items():
        monkeypatch.setenv(name, value)
    assert main([]) == 2
    assert "a real server never uses demo state" in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_demo_with_port_and_real_paths_in_the_environment_writes_only_demo_data(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
    env.update(real_env(real))
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "cerbero_mcp", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        while not any(line.endswith("/apidocs") for line in printed):
            line = process.stdout.readline()
            assert line, f"demo exited early: {printed}"
            printed.append(line.rstrip("\n"))
        admin = next(line.split("=", 1)[1] for line in printed if line.startswith("ADMIN_TOKEN="))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the demo never answered /health"
                time.sleep(0.05)
        engaged = httpx.post(
            f"{url}/admin/kill-switch",
            json={"env": "testnet", "engaged": True, "reason": "demo"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        assert engaged.status_code == 200, engaged.text
    finally:
        process.terminate()
        process.wait(timeout=15)
    home = tmp_path / "demo-data"
    assert list(real.iterdir()) == []
    assert {"state.db", "audit.jsonl", "audit.jsonl.key", DEMO_MARKER} <= {p.name for p in home.iterdir()}
    with sqlite3.connect(home / "state.db") as db:
        assert db.execute("SELECT engaged FROM kill_switch WHERE env = 'testnet'").fetchone() == (1,)
    db.close()
    refused = subprocess.run(
        [sys.executable, "-m", "cerbero_mcp"],
        cwd=tmp_path,
        env={**env, "TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "DATA_DIR": "demo-data", "STATE_DB": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "a real server never uses demo state" in refused.stderr
