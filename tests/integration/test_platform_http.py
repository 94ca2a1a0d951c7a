"""The platform over HTTP with the toy venue: auth, envelope, headers, logs, metrics, health, audit."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp.settings import Settings
from support.tokens import ADMIN, MAINNET, TESTNET, auth
from support.toy import ToyClient

ECHO = "/mcp-toy/tools/echo"


# --- auth matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ECHO, "/mcp"])
async def test_tool_paths_without_bearer_answer_401_envelope(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={"message": "x"}, headers={"X-Bot-Tag": "b"})
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert body["error"]["message"] == "missing bearer token"
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", [ECHO, "/mcp"])
async def test_unknown_bearer_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={}, headers=auth("x" * 40))
    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "UnauthorizedError",
        "code": "UNAUTHORIZED",
        "message": "unknown bearer token",
        "retryable": False,
        "suggested_fix": "send Authorization: Bearer <TESTNET_TOKEN or MAINNET_TOKEN>",
    }


async def test_admin_token_cannot_call_tools(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x"}, headers=auth(ADMIN))
    assert response.status_code == 401
    assert "admin token" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "bot_tag", "reason"),
    [
        (path, bot_tag, reason)
        for path in (ECHO, "/mcp")
        for bot_tag, reason in [(None, "required"), ("", "got 0"), ("b" * 65, "got 65"), ("tab\there", "printable")]
        # /mcp accepts a missing X-Bot-Tag (issue 21): the endpoint derives it (test_auth, test_rate_limits).
        if not (path == "/mcp" and bot_tag is None)
    ],
)
async def test_bad_bot_tag_is_400(client: httpx.AsyncClient, path: str, bot_tag: str | None, reason: str) -> None:
    headers = {"Authorization": f"Bearer {TESTNET}"}
    if bot_tag is not None:
        headers["X-Bot-Tag"] = bot_tag
    response = await client.post(path, json={"message": "x"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert reason in response.json()["error"]["message"]


async def test_bot_tag_of_64_characters_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x"}, headers=auth(bot="b" * 64))
    assert response.status_code == 200
    assert response.json()["bot_tag"] == "b" * 64


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics", "/openapi.json", "/apidocs"])
async def test_open_paths_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200


async def test_other_paths_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/audit")).status_code == 401
    assert (await client.get("/nowhere")).status_code == 401


@pytest.mark.parametrize(("token", "env"), [(TESTNET, "testnet"), (MAINNET, "mainnet")])
async def test_token_picks_the_environment_and_its_client(
    client: httpx.AsyncClient, app: FastAPI, token: str, env: str
) -> None:
    response = await client.post("/mcp-toy/tools/whoami", headers=auth(token))
    assert response.status_code == 200
    assert response.json()["environment"] == env
    cached = app.state.cerbero.registry.cached()
    assert list(cached) == [("toy", env)]
    assert cached[("toy", env)].env == env


# --- errors -----------------------------------------------------------------------------------


async def test_validation_error_is_422_with_field_locations(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "", "delay_ms": -1}, headers=auth())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    locations = [item["loc"] for item in error["details"]["errors"]]
    assert locations == ["body.message", "body.delay_ms"]
    assert error["message"].startswith("invalid input: body.message:")


async def test_unknown_field_is_refused_not_dropped(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x", "mesage": "typo"}, headers=auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["loc"] == "body.mesage"


async def test_malformed_json_is_400_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, content=b'{"message": ', headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_missing_body_for_tool_with_required_fields_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, headers=auth())
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["loc"] == "body"


async def test_tool_without_required_fields_accepts_no_body(client: httpx.AsyncClient) -> None:
    assert (await client.post("/mcp-toy/tools/whoami", headers=auth())).status_code == 200


async def test_unknown_tool_is_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post("/mcp-toy/tools/nope", json={}, headers=auth())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_get_on_a_tool_is_405_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get(ECHO, headers=auth())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("kind", "status", "code", "retryable"),
    [
        ("insufficient_funds", 400, "INSUFFICIENT_FUNDS", False),
        ("rate_limit", 429, "RATE_LIMIT", True),
        ("upstream", 502, "UPSTREAM_ERROR", True),
        ("timeout", 504, "UPSTREAM_TIMEOUT", True),
        ("not_configured", 503, "NOT_CONFIGURED", False),
        ("order_not_found", 404, "ORDER_NOT_FOUND", False),
    ],
)
async def test_tool_errors_become_the_envelope(
    client: httpx.AsyncClient, kind: str, status: int, code: str, retryable: bool
) -> None:
    response = await client.post("/mcp-toy/tools/fail", json={"kind": kind}, headers=auth())
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["retryable"] is retryable
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["data_timestamp"].endswith("Z")


async def test_rate_limit_keeps_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.post("/mcp-toy/tools/fail", json={"kind": "rate_limit"}, headers=auth())
    assert response.headers["retry-after"] == "2"


async def test_crash_is_500_without_internals(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    response = await client.post("/mcp-toy/tools/fail", json={"kind": "crash"}, headers=auth())
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "UNHANDLED_EXCEPTION"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


# --- middleware -------------------------------------------------------------------------------


async def test_request_id_is_kept_from_x_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x"}, headers={**auth(), "X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_request_id_is_kept_from_x_correlation_id(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x"}, headers={**auth(), "X-Correlation-Id": "corr-9"})
    assert response.headers["x-request-id"] == "corr-9"


async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x"}, headers={**auth(), "X-Request-Id": 'a b"c'})
    assert response.headers["x-request-id"] != 'a b"c'
    assert len(response.headers["x-request-id"]) == 32


async def test_tool_response_carries_timing_and_data_timestamp(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, json={"message": "x", "delay_ms": 20}, headers=auth())
    assert float(response.headers["x-duration-ms"]) >= 20
    stamp = response.headers["x-data-timestamp"]
    assert stamp.endswith("Z")
    assert response.json()["data_timestamp"].startswith(stamp[:19])


async def test_one_json_log_line_per_request(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp.request")
    await client.post(ECHO, json={"message": "x"}, headers={**auth(), "X-Request-Id": "log-1", "User-Agent": "ua/1"})
    records = [r for r in caplog.records if r.name == "mcp.request"]
    assert len(records) == 1
    fields = records[0].fields  # type: ignore[attr-defined]
    assert fields == {
        "request_id": "log-1",
        "method": "POST",
        "path": ECHO,
        "status_code": 200,
        "duration_ms": fields["duration_ms"],
        "actor": "testnet",
        "bot_tag": "pytest",
        "exchange": "toy",
        "tool": "echo",
        "client_ip": "127.0.0.1",
        "user_agent": "ua/1",
    }
    from cerbero_mcp.common.logging import JsonFormatter

    line = JsonFormatter().format(records[0])
    assert json.loads(line)["request_id"] == "log-1"
    assert TESTNET not in line


async def test_metrics_count_tool_calls_by_status(client: httpx.AsyncClient) -> None:
    await client.post(ECHO, json={"message": "x"}, headers=auth())
    await client.post("/mcp-toy/tools/fail", json={"kind": "rate_limit"}, headers=auth())
    text = (await client.get("/metrics")).text
    assert 'cerbero_requests_total{status="200",tool="echo",venue="toy"} 1.0' in text
    assert 'cerbero_requests_total{status="429",tool="fail",venue="toy"} 1.0' in text
    assert 'cerbero_request_duration_seconds_count{tool="echo",venue="toy"} 1.0' in text


# --- health -----------------------------------------------------------------------------------


async def test_health_reports_version_and_uptime(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["uptime_s"] >= 0


async def test_ready_with_no_clients_is_ready(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health/ready")).json()
    assert body["status"] == "ready"
    assert body["checks"] == []


async def test_ready_degrades_when_one_client_fails(client: httpx.AsyncClient, app: FastAPI) -> None:
    await client.post("/mcp-toy/tools/whoami", headers=auth(TESTNET))
    await client.post("/mcp-toy/tools/whoami", headers=auth(MAINNET))
    toy_mainnet: ToyClient = app.state.cerbero.registry.cached()[("toy", "mainnet")]
    toy_mainnet.probe_fails = True
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    by_env = {check["environment"]: check for check in body["checks"]}
    assert by_env["testnet"]["status"] == "ok"
    assert by_env["mainnet"] == {
        "venue": "toy",
        "environment": "mainnet",
        "status": "failed",
        "detail": "UPSTREAM_ERROR",
    }


async def test_ready_fails_with_503_when_configured(settings: Settings) -> None:
    from cerbero_mcp.server import build_app
    from support import toy
    from support.lifespan import running

    app = build_app(settings.with_overrides({"READY_FAILS_ON_DEGRADED": "true"}), [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await http.post("/mcp-toy/tools/whoami", headers=auth())
            app.state.cerbero.registry.cached()[("toy", "testnet")].probe_fails = True
            response = await http.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"


async def test_clients_are_closed_at_shutdown(settings: Settings) -> None:
    from cerbero_mcp.server import build_app
    from support import toy
    from support.lifespan import running

    app = build_app(settings, [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await http.post("/mcp-toy/tools/whoami", headers=auth())
            toy_client = app.state.cerbero.registry.cached()[("toy", "testnet")]
    assert toy_client.closed is True


# --- writes and audit -------------------------------------------------------------------------

ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "c1"}


async def test_write_is_audited_ahead_and_after_the_venue_call(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post(
        "/mcp-toy/tools/place_order",
        json={**ORDER, "api_secret": "hunter2-very-secret"},
        headers={**auth(MAINNET, "bot-a"), "X-Request-Id": "w-1"},
    )
    assert response.status_code == 200
    assert response.json()["qty"] == "0.5"
    assert settings.audit_log_file is not None
    lines = settings.audit_log_file.read_text().splitlines()
    assert len(lines) == 2
    intent, record = (json.loads(line) for line in lines)
    assert (intent["phase"], intent["outcome"], record["phase"]) == ("intent", "intent", "outcome")
    assert intent["write_id"] == record["write_id"]
    assert intent["params"] == record["params"]
    assert record["request_id"] == "w-1"
    assert record["actor"] == "mainnet"
    assert record["bot_tag"] == "bot-a"
    assert record["exchange"] == "toy"
    assert record["action"] == "place_order"
    assert record["target"] == "BTC-TOY"
    assert record["outcome"] == "ok"
    assert record["error_code"] is None
    assert record["params"]["qty"] == "0.5"
    assert not any("hunter2" in line or MAINNET in line for line in lines)
    assert len(record["hash"]) == 64


async def test_failed_writes_are_audited_with_their_code(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.post("/mcp-toy/tools/place_order", json={**ORDER, "fail": "insufficient_funds"}, headers=auth())
    await client.post("/mcp-toy/tools/place_order", json={**ORDER, "fail": "timeout"}, headers=auth())
    assert settings.audit_log_file is not None
    records = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    assert [(r["outcome"], r.get("error_code")) for r in records] == [
        ("intent", None),
        ("error", "INSUFFICIENT_FUNDS"),
        ("intent", None),
        ("unknown", "UPSTREAM_TIMEOUT"),
    ]


async def test_reads_are_not_audited(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.post(ECHO, json={"message": "x"}, headers=auth())
    assert settings.audit_log_file is not None
    assert not settings.audit_log_file.exists() or settings.audit_log_file.read_text() == ""


async def test_admin_audit_filters_and_verify(client: httpx.AsyncClient) -> None:
    for token, bot in ((TESTNET, "a"), (MAINNET, "b"), (MAINNET, "a")):
        await client.post("/mcp-toy/tools/place_order", json=ORDER, headers=auth(token, bot))
    everything = (await client.get("/admin/audit", headers=auth(TESTNET, None))).json()
    # An intent and an outcome per write sent; the third call replays the second's client_order_id on
    # mainnet, so it sends nothing and leaves only its outcome.
    phases = [(r["phase"], r["bot_tag"], r["outcome"]) for r in everything["records"]]
    assert phases == [
        ("intent", "a", "intent"),
        ("outcome", "a", "ok"),
        ("intent", "b", "intent"),
        ("outcome", "b", "ok"),
        ("outcome", "a", "replay"),
    ]
    mainnet_a = (await client.get("/admin/audit?actor=mainnet&bot_tag=a", headers=auth(ADMIN, None))).json()
    assert mainnet_a["count"] == 1
    assert mainnet_a["records"][0]["actor"] == "mainnet"
    limited = (await client.get("/admin/audit?limit=2", headers=auth(MAINNET, None))).json()
    assert [r["bot_tag"] for r in limited["records"]] == ["b", "a"]
    verify = (await client.get("/admin/audit/verify", headers=auth(TESTNET, None))).json()
    assert verify["ok"] is True
    assert verify["records_checked"] == 5


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=10001", "from=yesterday", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"]
)
async def test_admin_audit_rejects_bad_filters(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/admin/audit?{query}", headers=auth(TESTNET, None))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_INPUT"


async def test_editing_or_deleting_an_audit_line_is_detected(client: httpx.AsyncClient, settings: Settings) -> None:
    for i in range(4):
        await client.post("/mcp-toy/tools/place_order", json={**ORDER, "client_order_id": f"c{i}"}, headers=auth())
    path = settings.audit_log_file
    assert path is not None
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["params"]["qty"] = "50"
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    report = (await client.get("/admin/audit/verify", headers=auth())).json()
    assert report["ok"] is False
    assert report["first_broken"]["line"] == 2

    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    report = (await client.get("/admin/audit/verify", headers=auth())).json()
    assert report["ok"] is False
    assert report["first_broken"]["line"] == 2


async def test_audit_switched_off_answers_count_zero_and_a_warning(tmp_path: Path) -> None:
    from cerbero_mcp.server import build_app
    from support import toy
    from support.lifespan import running

    settings = Settings.from_mapping(
        {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "STATE_DB": ":memory:", "AUDIT_LOG_FILE": "off"}
    )
    app = build_app(settings, [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = (await http.get("/admin/audit", headers=auth())).json()
    assert body["count"] == 0
    assert "AUDIT_LOG_FILE" in body["warning"]
