"""Write safety over REST and MCP: kill switch, idempotency, limits, dry run — each refusal audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from support import toy
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET, auth

PLACE = "/mcp-toy/tools/place_order"
ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "2", "price": "100"}


async def serve(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Run an app with the toy venue and yield it with a client."""
    app = build_app(settings, [toy.TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield app, http


def toy_client(app: FastAPI, env: str = "testnet") -> toy.ToyClient:
    """Return the toy venue client of `env` (the 'venue' side of the test)."""
    client: toy.ToyClient = app.state.cerbero.registry.cached()[("toy", env)]
    return client


def audit_records(settings: Settings) -> list[dict[str, Any]]:
    """Return every outcome audit record written so far (the intents written ahead of sends left out)."""
    assert settings.audit_log_file is not None
    records = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    return [record for record in records if record.get("phase") != "intent"]


async def engage(http: httpx.AsyncClient, env: str, engaged: bool, reason: str = "test") -> httpx.Response:
    """Engage or release the kill switch as admin."""
    return await http.post(
        "/admin/kill-switch", json={"env": env, "engaged": engaged, "reason": reason}, headers=auth(ADMIN, None)
    )


# --- kill switch ------------------------------------------------------------------------------


async def test_kill_switch_blocks_writes_but_not_cancels_reads_or_reduce_only(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.post(PLACE, json=ORDER, headers=auth())).status_code == 200
    response = await engage(client, "testnet", True, "runaway bot")
    assert response.status_code == 200
    assert response.json()["testnet"]["engaged"] is True
    assert response.json()["mainnet"]["engaged"] is False

    refused = await client.post(PLACE, json=ORDER, headers=auth())
    assert refused.status_code == 423
    assert refused.json()["error"]["code"] == "KILL_SWITCH_ENGAGED"
    assert "runaway bot" in refused.json()["error"]["message"]
    assert len(toy_client(app).orders) == 1  # nothing reached the venue

    assert (
        await client.post("/mcp-toy/tools/cancel_order", json={"order_id": "TOY-1"}, headers=auth())
    ).status_code == 200
    reduce = await client.post(PLACE, json={**ORDER, "side": "sell", "reduce_only": True}, headers=auth())
    assert reduce.status_code == 200
    assert (await client.post("/mcp-toy/tools/echo", json={"message": "x"}, headers=auth())).status_code == 200
    assert (await client.post(PLACE, json=ORDER, headers=auth(MAINNET))).status_code == 200  # other env unaffected

    state = (await client.get("/admin/kill-switch", headers=auth(TESTNET, None))).json()
    assert state["testnet"]["reason"] == "runaway bot"
    assert state["testnet"]["changed_by"] == "admin"

    assert (await engage(client, "both", False)).status_code == 200
    assert (await client.post(PLACE, json=ORDER, headers=auth())).status_code == 200

    records = audit_records(settings)
    refusals = [r for r in records if r["error_code"] == "KILL_SWITCH_ENGAGED"]
    assert [(r["outcome"], r["action"]) for r in refusals] == [("refused", "place_order")]
    assert [r["params"]["engaged"] for r in records if r["action"] == "admin.kill_switch"] == [True, False]
    assert (await client.get("/admin/audit/verify", headers=auth())).json()["ok"] is True


async def test_kill_switch_needs_the_admin_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/kill-switch", json={"env": "both", "engaged": True, "reason": "x"}, headers=auth(TESTNET, None)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_admin_writes_are_403_while_admin_token_is_unset(tmp_path: Path) -> None:
    settings = Settings.from_mapping(
        {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "STATE_DB": str(tmp_path / "s.db")}
    )
    async for _, http in serve(settings):
        response = await http.post(
            "/admin/kill-switch", json={"env": "both", "engaged": True, "reason": "x"}, headers=auth(TESTNET, None)
        )
        assert response.status_code == 403
        assert "ADMIN_TOKEN is not set" in response.json()["error"]["message"]


async def test_kill_switch_on_start_and_persistence(settings: Settings) -> None:
    async for _app, http in serve(settings.with_overrides({"KILL_SWITCH_ON_START": "true"})):
        assert (await http.post(PLACE, json=ORDER, headers=auth(MAINNET))).status_code == 423
        await engage(http, "mainnet", False)
    async for _, http in serve(settings):  # restart without the flag: testnet is still engaged
        assert (await http.post(PLACE, json=ORDER, headers=auth(TESTNET))).status_code == 423
        assert (await http.post(PLACE, json=ORDER, headers=auth(MAINNET))).status_code == 200


# --- idempotency ------------------------------------------------------------------------------


async def test_twenty_concurrent_duplicates_place_one_order(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = {**ORDER, "client_order_id": "dup-1"}
    responses = await asyncio.gather(*(client.post(PLACE, json=body, headers=auth()) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert len(toy_client(app).orders) == 1
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replay") == "true" for r in responses) == 19


async def test_same_id_other_body_is_409(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.post(PLACE, json={**ORDER, "client_order_id": "c-9"}, headers=auth())).status_code == 200
    other = await client.post(PLACE, json={**ORDER, "qty": "3", "client_order_id": "c-9"}, headers=auth())
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert len(toy_client(app).orders) == 1
    # the same id in the other environment is another key
    assert (
        await client.post(PLACE, json={**ORDER, "qty": "3", "client_order_id": "c-9"}, headers=auth(MAINNET))
    ).status_code == 200


async def test_replay_survives_a_restart(settings: Settings) -> None:
    body = {**ORDER, "client_order_id": "persist-1"}
    async for _, http in serve(settings):
        first = await http.post(PLACE, json=body, headers=auth())
    async for app, http in serve(settings):
        second = await http.post(PLACE, json=body, headers=auth())
        assert second.headers["idempotent-replay"] == "true"
        assert second.json() == first.json()
        assert app.state.cerbero.registry.cached() == {}  # the venue was never called


async def test_unknown_outcome_is_stored_and_replayed_never_resent(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = {**ORDER, "client_order_id": "t-1", "fail": "timeout"}
    first = await client.post(PLACE, json=body, headers=auth())
    assert first.status_code == 504
    replay = await client.post(PLACE, json=body, headers=auth())
    assert replay.status_code == 504
    assert replay.headers["idempotent-replay"] == "true"
    assert replay.json()["error"]["details"]["replay"] is True
    assert "may have been placed" in replay.json()["error"]["message"]


async def test_a_definite_rejection_frees_the_id(client: httpx.AsyncClient) -> None:
    body = {**ORDER, "client_order_id": "r-1", "fail": "insufficient_funds"}
    assert (await client.post(PLACE, json=body, headers=auth())).status_code == 400
    fixed = {**ORDER, "client_order_id": "r-1"}
    response = await client.post(PLACE, json=fixed, headers=auth())
    assert response.status_code == 200
    assert "idempotent-replay" not in response.headers


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "order", "code", "details"),
    [
        ("MAX_ORDER_QTY", "testnet.toy=1.5", ORDER, "ORDER_QTY_LIMIT", {"quantity": "2", "limit": "1.5"}),
        ("MAX_ORDER_NOTIONAL_USD", "testnet.*=150", ORDER, "ORDER_NOTIONAL_LIMIT", {"notional": "200", "limit": "150"}),
        ("SYMBOL_ALLOWLIST", "testnet.toy=ETH-TOY|SOL-TOY", ORDER, "SYMBOL_NOT_ALLOWED", {"instrument": "BTC-TOY"}),
    ],
)
async def test_each_limit_refuses_with_its_code_and_numbers(
    settings: Settings, setting: str, value: str, order: dict[str, str], code: str, details: dict[str, str]
) -> None:
    async for app, http in serve(settings.with_overrides({setting: value})):
        refused = await http.post(PLACE, json=order, headers=auth())
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == code
        assert details.items() <= error["details"].items()
        assert ("toy", "testnet") not in app.state.cerbero.registry.cached()
        assert (await http.post(PLACE, json=order, headers=auth(MAINNET))).status_code == 200  # other env
    record = audit_records(settings)[0]
    assert (record["outcome"], record["error_code"]) == ("refused", code)


async def test_orders_per_minute_per_bot_tag(settings: Settings) -> None:
    async for _, http in serve(settings.with_overrides({"MAX_ORDERS_PER_MINUTE": "*=2"})):
        for _ in range(2):
            assert (await http.post(PLACE, json=ORDER, headers=auth(bot="fast"))).status_code == 200
        third = await http.post(PLACE, json=ORDER, headers=auth(bot="fast"))
        assert third.status_code == 403
        assert third.json()["error"]["code"] == "ORDER_RATE_LIMIT"
        assert third.json()["error"]["details"]["orders_last_minute"] == 2
        assert (await http.post(PLACE, json=ORDER, headers=auth(bot="slow"))).status_code == 200


def test_bad_limit_setting_fails_at_start_naming_it(settings: Settings) -> None:
    from cerbero_mcp.settings import ConfigError

    with pytest.raises(ConfigError, match=r"MAX_ORDER_QTY: rule 'mainnet.toy' must look like"):
        build_app(settings.with_overrides({"MAX_ORDER_QTY": "mainnet.toy"}), [toy.TOOLS])
    with pytest.raises(ConfigError, match="MAX_ORDERS_PER_MINUTE: 'lots' is not a number"):
        build_app(settings.with_overrides({"MAX_ORDERS_PER_MINUTE": "*=lots"}), [toy.TOOLS])


# --- dry run ----------------------------------------------------------------------------------


async def test_dry_run_runs_the_gates_and_sends_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(PLACE, json={**ORDER, "dry_run": True, "client_order_id": "dry-1"}, headers=auth())
    assert response.status_code == 200
    assert response.json()["order_id"] == "dry-run"
    assert toy_client(app).orders == []
    # a dry run does not use up the client_order_id
    real = await client.post(PLACE, json={**ORDER, "client_order_id": "dry-1"}, headers=auth())
    assert "idempotent-replay" not in real.headers
    assert audit_records(settings)[0]["outcome"] == "dry_run"


# --- the same gates over MCP ------------------------------------------------------------------


async def test_kill_switch_and_idempotency_hold_over_mcp(app: FastAPI, settings: Settings) -> None:
    from test_mcp_endpoint import mcp_session

    from support.live_server import live_server

    with live_server(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await engage(http, "testnet", True, "mcp test")).status_code == 200
        async with mcp_session(base_url) as session:
            refused = await session.call_tool("toy_place_order", ORDER)
            cancelled = await session.call_tool("toy_cancel_order", {"order_id": "TOY-9"})
        async with httpx.AsyncClient(base_url=base_url) as http:
            await engage(http, "testnet", False)
        async with mcp_session(base_url) as session:
            body = {**ORDER, "client_order_id": "mcp-1"}
            first, second = await asyncio.gather(
                session.call_tool("toy_place_order", body), session.call_tool("toy_place_order", body)
            )
        venue_orders = len(toy_client(app).orders)
    assert refused.is_error is True
    assert refused.structured_content is not None
    assert refused.structured_content["error"]["code"] == "KILL_SWITCH_ENGAGED"
    assert cancelled.is_error is False
    assert first.structured_content == second.structured_content
    assert venue_orders == 1
    outcomes = [r["outcome"] for r in audit_records(settings) if r.get("transport") == "mcp"]
    assert sorted(outcomes) == ["ok", "ok", "refused", "replay"]
