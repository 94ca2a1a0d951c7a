"""Nothing trades unaudited: an intent record before every send, an outcome after, and what happens when
the audit log cannot be written (a full disk), with the toy venue."""

from __future__ import annotations

import contextlib
import errno
import json
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp.common.audit import AuditLog
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from support import toy
from support.lifespan import running
from support.tokens import ADMIN, auth

PLACE = "/mcp-toy/tools/place_order"
ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "1", "price": "100"}


class FullDiskAudit(AuditLog):
    """The real audit log, except that appends of the phases in `full` fail as a full disk does."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, b"k" * 32, fsync=False)
        self.full: set[str] = set()

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Fail with ENOSPC when the record's phase is full."""
        phase = "admin" if record.get("actor") == "admin" else str(record.get("phase") or "outcome")
        if phase in self.full or "all" in self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().append(record)


@pytest.fixture
def audit(tmp_path: Path) -> FullDiskAudit:
    """Return the audit log the app writes to."""
    return FullDiskAudit(tmp_path / "audit" / "audit.jsonl")


@pytest.fixture
async def gateway(settings: Settings, audit: FullDiskAudit) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Serve the toy venue with the failing audit log."""
    app = build_app(settings, [toy.TOOLS], audit=audit)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            yield app, http


def orders_at_venue(app: FastAPI) -> list[dict[str, Any]]:
    """Return the orders the toy venue received (testnet)."""
    client = app.state.cerbero.registry.cached().get(("toy", "testnet"))
    return list(client.orders) if client is not None else []


def records(audit: AuditLog) -> list[dict[str, Any]]:
    """Return every audit record written."""
    assert audit.path is not None
    return [json.loads(line) for line in audit.path.read_text().splitlines()] if audit.path.exists() else []


async def test_an_intent_that_cannot_be_written_refuses_the_write_and_sends_nothing(
    gateway: tuple[FastAPI, httpx.AsyncClient], audit: FullDiskAudit
) -> None:
    app, http = gateway
    audit.full = {"intent", "admin"}  # a full disk: the readiness probe's own record fails too
    response = await http.post(PLACE, json=ORDER, headers=auth())
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert "nothing was sent" in response.json()["error"]["message"]
    assert orders_at_venue(app) == []
    ready = await http.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert "intent" in ready.json()["audit"]["detail"]


async def test_an_outcome_that_cannot_be_written_answers_then_blocks_opening_writes_until_the_log_works(
    gateway: tuple[FastAPI, httpx.AsyncClient], audit: FullDiskAudit
) -> None:
    app, http = gateway
    audit.full = {"outcome"}
    placed = await http.post(PLACE, json={**ORDER, "client_order_id": "wa-1"}, headers=auth())
    assert placed.status_code == 200, placed.text  # the venue's answer is never withheld
    assert placed.headers["x-audit-failed"] == "true"
    assert len(orders_at_venue(app)) == 1
    assert [r["phase"] for r in records(audit)] == ["intent"]

    ready = await http.get("/health/ready")
    assert (ready.status_code, ready.json()["status"]) == (503, "not_ready")
    metrics = (await http.get("/metrics")).text
    assert 'cerbero_audit_failures_total{phase="outcome"} 1.0' in metrics

    refused = await http.post(PLACE, json=ORDER, headers=auth())
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "AUDIT_UNAVAILABLE")
    assert len(orders_at_venue(app)) == 1
    cancel = await http.post("/mcp-toy/tools/cancel_order", json={"order_id": "TOY-1"}, headers=auth())
    assert cancel.status_code == 200  # getting flat still works
    reduce_only = await http.post(PLACE, json={**ORDER, "side": "sell", "reduce_only": True}, headers=auth())
    assert reduce_only.status_code == 200

    audit.full = set()  # space freed: the kept outcome is written first, then writes flow again
    again = await http.post(PLACE, json=ORDER, headers=auth())
    assert again.status_code == 200, again.text
    assert (await http.get("/health/ready")).json()["status"] == "ready"
    written = records(audit)
    first = [r for r in written if r.get("params", {}).get("client_order_id") == "wa-1"]
    assert [(r["phase"], r["outcome"]) for r in first] == [("intent", "intent"), ("outcome", "ok")]
    sent = [r for r in written if r.get("phase") == "intent"]
    assert len(sent) >= len(orders_at_venue(app)) - 2  # the two reducing writes went out on the critical log


async def test_admin_actions_are_refused_unless_they_can_be_audited(
    gateway: tuple[FastAPI, httpx.AsyncClient], audit: FullDiskAudit
) -> None:
    _, http = gateway
    audit.full = {"admin"}
    response = await http.post(
        "/admin/kill-switch", json={"env": "testnet", "engaged": True, "reason": "x"}, headers=auth(ADMIN, None)
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "AUDIT_UNAVAILABLE"
    state = (await http.get("/admin/kill-switch", headers=auth(ADMIN, None))).json()
    assert state["testnet"]["engaged"] is False  # not audited, not done


# --- a real full disk --------------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_filesystem(where: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `where` (root only); skip when this machine cannot."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def test_on_a_full_disk_no_order_reaches_the_venue_without_its_intent(tmp_path: Path, settings: Settings) -> None:
    with tiny_filesystem(tmp_path / "tiny", "64k") as tiny:
        audit_file = tiny / "audit.jsonl"
        served = settings.with_overrides({"AUDIT_LOG_FILE": str(audit_file)})
        app = build_app(served, [toy.TOOLS])
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
                codes = []
                for index in range(400):
                    response = await http.post(
                        PLACE, json={**ORDER, "client_order_id": f"disk-{index}"}, headers=auth()
                    )
                    codes.append(response.status_code)
                ready = await http.get("/health/ready")
                sent = {str(order["client_order_id"]) for order in orders_at_venue(app)}
        written = audit_file.read_bytes().decode("ascii", "replace").splitlines()
    intents = {
        json.loads(line)["params"]["client_order_id"]
        for line in written
        if line.endswith("}") and '"phase":"intent"' in line
    }
    assert 503 in codes, "the disk never filled up"
    assert sent, "no order was placed before the disk filled up"
    assert sent <= intents  # every order at the venue has its intent on disk
    assert ready.json()["status"] == "not_ready"
