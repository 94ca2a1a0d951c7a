"""Audit on by default, loud when off, refused when unwritable, and tamper evidence that survives deletion."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import stat
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp import serving
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import ConfigError, Settings, load_settings
from support import toy
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET, auth

PLACE = "/mcp-toy/tools/place_order"
TOKENS = {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "ADMIN_TOKEN": ADMIN}
_orders = itertools.count(1)


def plain_settings(data_dir: Path, **extra: str) -> Settings:
    """Return settings with the tokens, a data directory and nothing about audit unless given."""
    return Settings.from_mapping({**TOKENS, "DATA_DIR": str(data_dir), "AUDIT_FSYNC": "false", **extra})


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Run the app (toy venue) with its lifespan and yield it with a client."""
    app = build_app(settings, [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield app, http


async def place(http: httpx.AsyncClient, n: int = 1) -> None:
    """Send `n` orders, each with a fresh client_order_id."""
    for _ in range(n):
        order = {"symbol": "BTC-TOY", "side": "buy", "qty": "1", "price": "100", "client_order_id": f"o{next(_orders)}"}
        response = await http.post(PLACE, json=order, headers=auth())
        assert response.status_code == 200, response.text


async def verify(http: httpx.AsyncClient) -> dict[str, Any]:
    """Return GET /admin/audit/verify."""
    response = await http.get("/admin/audit/verify", headers=auth(TESTNET, None))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def codes(report: Mapping[str, Any]) -> list[str]:
    """Return the code of every finding of a verify report."""
    return [finding["code"] for finding in report["findings"]]


def lines_of(path: Path) -> list[str]:
    """Return the lines of a file."""
    return path.read_text().splitlines()


def sink_lines(caplog: pytest.LogCaptureFixture) -> dict[str, logging.LogRecord]:
    """Return the start-up lines about sinks, by sink name."""
    found = {}
    for record in caplog.records:
        fields = getattr(record, "fields", None)
        if record.name == "mcp.startup" and isinstance(fields, dict) and "sink" in fields:
            found[fields["sink"]] = record
    return found


# --- on by default ------------------------------------------------------------------------------


async def test_audit_is_on_with_no_audit_settings_and_its_key_is_generated_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = plain_settings(data)
    async with serve(settings) as (_, http):
        await place(http)
    log, key_file = data / "audit.jsonl", data / "audit.jsonl.key"
    records = [json.loads(line) for line in lines_of(log)]
    assert any(record["action"] == "place_order" for record in records)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (data / "state.db").exists()
    key = key_file.read_bytes()

    async with serve(settings) as (_, http):
        await place(http)
        report = await verify(http)
    assert key_file.read_bytes() == key  # reused, so the chain written before still verifies
    assert report["ok"] is True, report
    assert report["records_checked"] == len(lines_of(log)) > len(records)
    assert [json.loads(line)["seq"] for line in lines_of(log)] == list(range(1, len(lines_of(log)) + 1))


async def test_a_blank_audit_log_file_in_env_keeps_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUDIT_LOG_FILE", "AUDIT_HMAC_KEY", "DATA_DIR", "STATE_DB"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    values = {**TOKENS, "AUDIT_LOG_FILE": "", "AUDIT_HMAC_KEY": "", "STATE_DB": "", "DATA_DIR": str(tmp_path / "d")}
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    settings = load_settings(env_file)
    async with serve(settings) as (app, http):
        await place(http)
        assert app.state.cerbero.audit.enabled
    assert any(json.loads(line)["action"] == "place_order" for line in lines_of(tmp_path / "d" / "audit.jsonl"))


async def test_audit_off_must_be_asked_for_and_is_loud(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp.startup")
    async with serve(plain_settings(tmp_path / "data", AUDIT_LOG_FILE="off")) as (_, http):
        await place(http)
        report = await verify(http)
        listed = (await http.get("/admin/audit", headers=auth(TESTNET, None))).json()
    line = sink_lines(caplog)["audit_log"]
    assert line.levelno == logging.WARNING
    assert "OFF" in line.getMessage()
    assert "NOT audited" in line.getMessage()
    assert getattr(line, "fields", {})["enabled"] is False
    assert (report["ok"], codes(report)) == (False, ["audit_disabled"])
    assert "AUDIT_LOG_FILE=off" in report["warning"]
    assert "AUDIT_LOG_FILE=off" in listed["warning"]
    assert not (tmp_path / "data" / "audit.jsonl").exists()


# --- start-up lines and refusals ----------------------------------------------------------------


async def test_start_up_names_each_sink_and_whether_it_is_writable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp.startup")
    data = tmp_path / "data"
    async with serve(plain_settings(data)):
        pass
    lines = sink_lines(caplog)
    assert set(lines) >= {"audit_log", "audit_hmac_key", "state_db"}
    audit, key, state = (getattr(lines[name], "fields", {}) for name in ("audit_log", "audit_hmac_key", "state_db"))
    assert (audit["path"], audit["writable"], audit["enabled"]) == (str(data / "audit.jsonl"), True, True)
    assert (key["source"], key["path"], key["created"], key["mode"]) == (
        "file",
        str(data / "audit.jsonl.key"),
        True,
        "600",
    )
    assert (state["path"], state["writable"]) == (str(data / "state.db"), True)
    assert "writable" in lines["audit_log"].getMessage()
    assert "writable" in lines["state_db"].getMessage()
    secret = (data / "audit.jsonl.key").read_text().strip()
    assert not [r for r in caplog.records if secret in r.getMessage() or secret in json.dumps(vars(r), default=str)]

    caplog.clear()
    async with serve(plain_settings(data)):
        pass
    assert getattr(sink_lines(caplog)["audit_hmac_key"], "fields", {})["created"] is False

    caplog.clear()
    chosen = "s3cr3t-" + "q" * 40
    async with serve(plain_settings(tmp_path / "other", AUDIT_HMAC_KEY=chosen)):
        pass
    key_line = sink_lines(caplog)["audit_hmac_key"]
    assert getattr(key_line, "fields", {})["source"] == "AUDIT_HMAC_KEY"
    assert not (tmp_path / "other" / "audit.jsonl.key").exists()
    assert not [r for r in caplog.records if chosen in r.getMessage() or chosen in json.dumps(vars(r), default=str)]


def test_an_unwritable_audit_path_refuses_to_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"  # tests run as root: permission bits would not stop it, a file in the path does
    blocker.write_text("a regular file")
    with pytest.raises(ConfigError, match=r"^audit log .*file\.txt/audit\.jsonl \(AUDIT_LOG_FILE\) is not writable"):
        build_app(plain_settings(tmp_path / "data", AUDIT_LOG_FILE=str(blocker / "audit.jsonl")), [toy.TOOLS])
    with pytest.raises(ConfigError, match=r"\(DATA_DIR/audit\.jsonl\) is not writable: .*file\.txt is not a directory"):
        build_app(plain_settings(blocker / "data", STATE_DB=str(tmp_path / "s.db")), [toy.TOOLS])
    with pytest.raises(ConfigError, match=r"^STATE_DB .*file\.txt/state\.db is not writable"):
        build_app(plain_settings(tmp_path / "data", STATE_DB=str(blocker / "state.db")), [toy.TOOLS])


def test_serve_refuses_with_a_clear_line_and_exit_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "configure_logging", lambda level: None)  # keep caplog's handler
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file")
    settings = plain_settings(tmp_path / "data", AUDIT_LOG_FILE=str(blocker / "audit.jsonl"))
    with caplog.at_level(logging.ERROR, logger="mcp.startup"):
        assert serving.serve(settings) == serving.EXIT_CONFIG
    refusal = [r.getMessage() for r in caplog.records if r.name == "mcp.startup"]
    assert len(refusal) == 1
    assert refusal[0].startswith("refusing to start: audit log")
    assert "AUDIT_LOG_FILE" in refusal[0]


# --- what verify finds --------------------------------------------------------------------------


async def test_verify_reports_records_cut_from_the_end(tmp_path: Path) -> None:
    settings = plain_settings(tmp_path / "data")
    log = tmp_path / "data" / "audit.jsonl"
    async with serve(settings) as (_, http):
        await place(http, 4)
        kept = lines_of(log)[:-3]  # drop the last 3 lines
        log.write_text("".join(f"{line}\n" for line in kept))
        report = await verify(http)
    assert report["ok"] is False
    assert codes(report) == ["truncated"]
    assert report["findings"][0]["details"]["expected_seq"] - report["findings"][0]["details"]["found_seq"] == 3

    async with serve(settings) as (_, http):  # and after a restart, and after more writes
        await place(http)
        report = await verify(http)
    assert (report["ok"], codes(report)) == (False, ["truncated"])


async def test_verify_reports_a_deleted_live_file(tmp_path: Path) -> None:
    settings = plain_settings(tmp_path / "data")
    log = tmp_path / "data" / "audit.jsonl"
    async with serve(settings) as (_, http):
        await place(http, 3)
        written = len(lines_of(log))
        log.unlink()
        report = await verify(http)
    assert (report["ok"], codes(report)) == (False, ["live_file_missing"])

    async with serve(settings) as (_, http):
        await place(http)
        report = await verify(http)
    assert (report["ok"], codes(report)) == (False, ["live_file_missing"])
    finding = report["findings"][0]
    assert finding["severity"] == "error"
    assert finding["details"]["expected_seq"] >= written
    assert report["first_broken"] is not None


async def test_verify_reports_a_restarted_chain(tmp_path: Path) -> None:
    settings = plain_settings(tmp_path / "data")
    log = tmp_path / "data" / "audit.jsonl"
    async with serve(settings) as (_, http):
        await place(http, 2)
    # Another server with the same key but a fresh state DB and log: a chain from scratch.
    fresh = plain_settings(tmp_path / "fresh", AUDIT_HMAC_KEY=(tmp_path / "data" / "audit.jsonl.key").read_text())
    async with serve(fresh) as (_, http):
        await place(http, 4)
    (tmp_path / "fresh" / "audit.jsonl").replace(log)

    async with serve(settings) as (_, http):
        report = await verify(http)
    assert report["ok"] is False
    assert "chain_restarted" in codes(report)


async def test_verify_reports_an_edited_line_with_its_code(tmp_path: Path) -> None:
    log = tmp_path / "data" / "audit.jsonl"
    async with serve(plain_settings(tmp_path / "data")) as (_, http):
        await place(http, 2)
        lines = lines_of(log)
        edited = json.loads(lines[1])
        edited["params"]["qty"] = "50"
        lines[1] = json.dumps(edited, separators=(",", ":"))
        log.write_text("".join(f"{line}\n" for line in lines))
        report = await verify(http)
    assert report["ok"] is False
    assert codes(report) == ["hash_mismatch"]
    assert (report["findings"][0]["file"], report["findings"][0]["line"]) == ("audit.jsonl", 2)


async def test_a_torn_last_line_is_recovered_reported_once_and_later_appends_verify(tmp_path: Path) -> None:
    settings = plain_settings(tmp_path / "data")
    log = tmp_path / "data" / "audit.jsonl"
    async with serve(settings) as (_, http):
        await place(http, 2)
    size = log.stat().st_size
    with log.open("ab") as handle:
        handle.write(b'{"ts":"2026-03-04T15:00:00.000Z","seq":99,"request_id":"cut-he')  # a crash mid-write

    async with serve(settings) as (_, http):
        report = await verify(http)
        await place(http, 2)
        later = await verify(http)
    assert report["ok"] is True, report
    assert codes(report) == ["torn_write_recovered"]
    assert (report["findings"][0]["offset"], report["findings"][0]["severity"]) == (size, "warning")
    assert later["ok"] is True, later
    assert codes(later) == ["torn_write_recovered"]
    assert b"cut-he" not in log.read_bytes()
    assert _torn_text(tmp_path / "data" / "audit.jsonl.torn").endswith('"request_id":"cut-he')  # kept, not deleted

    async with serve(settings) as (_, http):
        assert codes(await verify(http)) == ["torn_write_recovered"]


def _torn_text(path: Path) -> str:
    """Return the torn bytes kept in a `.torn` side file, decoded."""
    return "".join(base64.b64decode(json.loads(line)["base64"]).decode() for line in lines_of(path))
