"""Start-up resolves what a crash left pending, from the audit: an intent means "may have been placed"."""

from __future__ import annotations

import json

import httpx

from cerbero_mcp.common.audit import AuditLog
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.state_store import SqliteStateStore
from cerbero_mcp.write_pipeline import request_hash
from support import toy
from support.lifespan import running
from support.tokens import auth

PLACE = "/mcp-toy/tools/place_order"
SENT = {"symbol": "BTC-TOY", "side": "buy", "qty": "1", "price": "100", "client_order_id": "crash-sent"}
NOT_SENT = {**SENT, "client_order_id": "crash-not-sent"}


def crash_state(settings: Settings) -> None:
    """Leave what a `kill -9` between the intent and the venue's answer leaves: two pending keys, one intent."""
    spec = toy.TOOLS.get("place_order")
    assert spec is not None
    store = SqliteStateStore(settings.state_db)
    for body in (SENT, NOT_SENT):
        key = ("testnet", "toy", "place_order", str(body["client_order_id"]))
        claimed, _ = store.reserve(key, request_hash(spec, spec.parse(body)), settings.idempotency_ttl_s)
        assert claimed
    store.close()
    assert settings.audit_log_file is not None
    assert settings.audit_hmac_key is not None
    audit = AuditLog(settings.audit_log_file, settings.audit_hmac_key.get_secret_value().encode(), fsync=False)
    params = spec.parse(SENT).model_dump(mode="json")
    audit.append(
        {
            "actor": "testnet",
            "exchange": "toy",
            "action": "place_order",
            "phase": "intent",
            "outcome": "intent",
            "write_id": "w-crash",
            "params": params,
            "bot_tag": "pytest",
            "request_id": "r-crash",
        }
    )
    audit.close()


async def test_pending_keys_are_resolved_from_the_audit_at_start(settings: Settings) -> None:
    crash_state(settings)
    app = build_app(settings, [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            sent = await http.post(PLACE, json=SENT, headers=auth())
            not_sent = await http.post(PLACE, json=NOT_SENT, headers=auth())
            client = app.state.cerbero.registry.cached()[("toy", "testnet")]
            placed = [order["client_order_id"] for order in client.orders]
    assert sent.status_code == 504, sent.text
    assert sent.headers["idempotent-replay"] == "true"
    error = sent.json()["error"]
    assert error["details"]["recovered_after_restart"] is True
    assert error["details"]["client_order_id"] == "crash-sent"
    assert "lookup" in error["details"]
    assert not_sent.status_code == 200, not_sent.text  # never sent: freed, so it goes out now
    assert placed == ["crash-not-sent"]
    assert settings.audit_log_file is not None
    records = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    closing = [r for r in records if r.get("write_id") == "w-crash" and r.get("phase") == "outcome"]
    assert [(r["outcome"], r["error_code"]) for r in closing] == [("unknown", "SERVER_RESTARTED")]
