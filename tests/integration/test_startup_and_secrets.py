"""What the server says at start (each venue, each sink) and what it keeps to itself (secrets, private files)."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp.__main__ import main
from cerbero_mcp.common.logging import JsonFormatter
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.state_store import SqliteStateStore
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET, auth

TOKENS = {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "ADMIN_TOKEN": ADMIN}
# Every secret a start-up could be tempted to print; none may appear in any log record.
SECRETS = {
    "DERIBIT_CLIENT_ID_TESTNET": "deribit-id-7f3a9c2e",
    "DERIBIT_CLIENT_SECRET_TESTNET": "deribit-secret-b81d44aa90",
    "IBKR_CONSUMER_KEY": "CONSKEY42",
    "IBKR_ACCESS_TOKEN": "ibkr-access-token-5e6f7a8b",
    "IBKR_ACCESS_TOKEN_SECRET": "aWJrci1hY2Nlc3MtdG9rZW4tc2VjcmV0",
    "IBKR_SIGNATURE_KEY_PATH": "/run/secrets/sig-9d8c7b.pem",
    "IBKR_ENCRYPTION_KEY_PATH": "/run/secrets/enc-1a2b3c.pem",
    "IBKR_DH_PRIME": "f51d3c9a77e0b4d2",
    "IBKR_ACCOUNT_ID_LIVE": "U7654321",
    "AUDIT_HMAC_KEY": "audit-hmac-key-" + "z" * 32,
    "FRED_API_KEY": "fredkey0123456789abcdef012345678",
}
URL_PASSWORD = "url-pass-0c9e1f"


def make_settings(data_dir: Path, **extra: str) -> Settings:
    """Return settings with the tokens, every secret above and a data directory under tmp_path."""
    return Settings.from_mapping({**TOKENS, **SECRETS, "DATA_DIR": str(data_dir), "AUDIT_FSYNC": "false", **extra})


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[FastAPI]:
    """Build the app with every installed venue and run its lifespan."""
    app = build_app(settings)
    async with running(app):
        yield app


def startup_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return the records of the `mcp.startup` logger."""
    return [r for r in caplog.records if r.name == "mcp.startup"]


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """Return the structured fields of a log record."""
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


def leaked(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> list[str]:
    """Return each secret found in any captured record: its message, its fields or its JSON log line."""
    formatter = JsonFormatter()
    texts = [
        text
        for record in caplog.records
        for text in (record.getMessage(), json.dumps(vars(record), default=str), formatter.format(record))
    ]
    return [secret for secret in secrets if any(secret in text for text in texts)]


def mode_of(path: Path) -> int:
    """Return the permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


# --- the start-up report --------------------------------------------------------------------------


async def test_start_up_says_each_venue_and_environment_and_never_a_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path / "data", DERIBIT_URL_LIVE="https://www.deribit.com/api/v2/")
    async with started(settings):
        pass
    venues = {
        (str(fields_of(r)["venue"]), str(fields_of(r)["environment"])): r
        for r in startup_records(caplog)
        if "venue" in fields_of(r)
    }
    expected = {(venue, env) for venue in settings.venue_declarations for env in ("testnet", "mainnet")}
    assert set(venues) == expected
    assert len([r for r in startup_records(caplog) if "venue" in fields_of(r)]) == len(expected)  # one line each

    configured = fields_of(venues["deribit", "testnet"])
    assert (configured["configured"], configured["missing"]) == (True, [])
    assert configured["url"] == "https://test.deribit.com/api/v2"
    assert venues["deribit", "testnet"].getMessage() == (
        "venue deribit testnet: configured; URL https://test.deribit.com/api/v2"
    )
    missing = fields_of(venues["deribit", "mainnet"])
    assert missing["configured"] is False
    assert missing["missing"] == [
        "DERIBIT_CLIENT_ID_LIVE (or DERIBIT_CLIENT_ID)",
        "DERIBIT_CLIENT_SECRET_LIVE (or DERIBIT_CLIENT_SECRET)",
    ]
    assert missing["url"] == "https://www.deribit.com/api/v2"
    message = venues["deribit", "mainnet"].getMessage()
    assert "NOT configured" in message
    assert "DERIBIT_CLIENT_ID_LIVE (or DERIBIT_CLIENT_ID)" in message
    assert fields_of(venues["ibkr", "testnet"])["configured"] is True
    assert fields_of(venues["ibkr", "mainnet"])["configured"] is True

    # Each provider: one line naming the keys that are unset (its key-less sources work without them).
    providers = {str(fields_of(r)["provider"]): r for r in startup_records(caplog) if "provider" in fields_of(r)}
    assert set(providers) == set(settings.provider_declarations)
    assert fields_of(providers["macro"])["unset"] == ["FINNHUB_API_KEY", "CFTC_APP_TOKEN"]
    assert providers["macro"].getMessage().startswith("provider macro: unset: FINNHUB_API_KEY, CFTC_APP_TOKEN")

    # Where state and audit go: still one line per sink.
    sinks = [str(fields_of(r)["sink"]) for r in startup_records(caplog) if "sink" in fields_of(r)]
    assert sorted(sinks) == ["audit_hmac_key", "audit_log", "state_db"]

    secrets = [*SECRETS.values(), *TOKENS.values()]
    assert leaked(caplog, secrets) == []


async def test_a_url_with_userinfo_is_masked_in_environment_info_and_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Validation refuses such a URL; a copy made without validation shows that nothing prints it anyway.
    url = f"https://deribit-user:{URL_PASSWORD}@test.deribit.com/api/v2"
    settings = make_settings(tmp_path / "data").model_copy(update={"deribit_url_testnet": url})
    async with started(settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post("/mcp-deribit/tools/environment_info", json={}, headers=auth())
    assert response.status_code == 200, response.text
    assert response.json()["base_url"] == "https://***@test.deribit.com/api/v2"
    assert URL_PASSWORD not in response.text
    assert "deribit-user" not in response.text
    venue_env = [(fields_of(r).get("venue"), fields_of(r).get("environment"), r) for r in startup_records(caplog)]
    line = next(r for venue, env, r in venue_env if (venue, env) == ("deribit", "testnet"))
    assert fields_of(line)["url"] == "https://***@test.deribit.com/api/v2"
    assert leaked(caplog, [URL_PASSWORD, "deribit-user"]) == []


def test_the_cli_refuses_a_url_with_credentials_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DERIBIT_URL_TESTNET", "DATA_DIR", "STATE_DB", "AUDIT_LOG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    lines = {**TOKENS, "DATA_DIR": str(tmp_path / "data")}
    lines["DERIBIT_URL_TESTNET"] = f"https://me:{URL_PASSWORD}@test.deribit.com/api/v2"
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "DERIBIT_URL_TESTNET: has credentials in it" in err
    assert "put credentials in DERIBIT_<CRED> variables (DERIBIT_CLIENT_ID, DERIBIT_CLIENT_SECRET)" in err
    assert URL_PASSWORD not in err
    assert not (tmp_path / "data").exists()  # refused before anything was created


# --- data files ------------------------------------------------------------------------------------


async def test_the_data_directory_and_files_the_server_creates_are_private(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    async with started(make_settings(data, AUDIT_HMAC_KEY="")):
        pass
    assert mode_of(tmp_path / "new") == mode_of(data) == 0o700
    files = [data / "state.db", data / "audit.jsonl", data / "audit.jsonl.key"]
    assert {f.name: mode_of(f) for f in files} == {f.name: 0o600 for f in files}


async def test_group_readable_data_files_are_named_in_the_start_up_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp.startup")
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)  # the operator's directory: left as it is
    SqliteStateStore(data / "state.db").close()
    (data / "state.db").chmod(0o644)
    (data / "audit.jsonl").write_text("")
    (data / "audit.jsonl").chmod(0o640)
    async with started(make_settings(data)):
        pass
    lines = {str(fields_of(r)["sink"]): r for r in startup_records(caplog) if "sink" in fields_of(r)}
    state, audit = lines["state_db"], lines["audit_log"]
    assert state.levelno == audit.levelno == logging.WARNING
    # SQLite gives the -wal and -shm files the DB file's mode: they are named too.
    assert state.getMessage().endswith(
        "; readable by other users: state.db (mode 644), state.db-wal (mode 644), state.db-shm (mode 644),"
        " chmod 600 them"
    )
    assert fields_of(state)["loose_modes"] == {"state.db": "644", "state.db-wal": "644", "state.db-shm": "644"}
    assert "readable by other users: audit.jsonl (mode 640)" in audit.getMessage()
    assert fields_of(audit)["loose_modes"] == {"audit.jsonl": "640"}
    assert mode_of(data) == 0o755
    assert mode_of(data / "state.db") == 0o644  # reported, not changed


async def test_private_data_files_get_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp.startup")
    async with started(make_settings(tmp_path / "data")):
        pass
    lines = {str(fields_of(r)["sink"]): r for r in startup_records(caplog) if "sink" in fields_of(r)}
    assert lines["state_db"].levelno == lines["audit_log"].levelno == logging.INFO
    assert fields_of(lines["state_db"])["loose_modes"] == {}
    assert "readable by other users" not in lines["state_db"].getMessage()
