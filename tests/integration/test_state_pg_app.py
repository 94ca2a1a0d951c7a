"""Two gateways (replicas) on one PostgreSQL, in one process: kill switch, replays and the audit are shared."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from cerbero_mcp.audit_pg import PgAuditLog
from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.common.pacing import shared_backend
from cerbero_mcp.demo import demo_settings
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import ConfigError, Settings
from cerbero_mcp.state_pg import PostgresPacingBackend, PostgresStateStore
from support import toy
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET, auth

PLACE = "/mcp-toy/tools/place_order"
ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "2", "price": "100"}


def replica_settings(dsn: str, replica: str, **extra: str) -> Settings:
    """Return a replica's settings on the shared database."""
    return Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "ADMIN_TOKEN": ADMIN,
            "AUDIT_HMAC_KEY": "k" * 32,
            "STATE_DB": dsn,
            "REPLICA_ID": replica,
            **extra,
        }
    )


@asynccontextmanager
async def replicas(dsn: str) -> AsyncIterator[list[tuple[FastAPI, httpx.AsyncClient]]]:
    """Run replicas a and b on `dsn`, each with its own HTTP client."""
    async with AsyncExitStack() as stack:
        served = []
        for name in ("a", "b"):
            app = build_app(replica_settings(dsn, name), [toy.TOOLS])
            await stack.enter_async_context(running(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            )
            served.append((app, http))
        yield served


def orders_at_venue(apps: list[FastAPI]) -> int:
    """Return how many orders the replicas' toy venues received in all."""
    total = 0
    for app in apps:
        client = app.state.cerbero.registry.cached().get(("toy", "testnet"))
        total += len(client.orders) if client is not None else 0
    return total


async def test_a_kill_switch_engaged_on_one_replica_refuses_on_the_other_and_cancels_pass(postgres_dsn: str) -> None:
    async with replicas(postgres_dsn) as [(_, a), (_, b)]:
        assert (await b.post(PLACE, json=ORDER, headers=auth())).status_code == 200
        engaged = await a.post(
            "/admin/kill-switch", json={"env": "testnet", "engaged": True, "reason": "drill"}, headers=auth(ADMIN, None)
        )
        assert engaged.status_code == 200
        refused = await b.post(PLACE, json=ORDER, headers=auth())
        assert refused.status_code == 423
        assert "drill" in refused.json()["error"]["message"]
        cancel = await b.post("/mcp-toy/tools/cancel_order", json={"order_id": "TOY-1"}, headers=auth())
        assert cancel.status_code == 200
        reduce = await b.post(PLACE, json={**ORDER, "side": "sell", "reduce_only": True}, headers=auth())
        assert reduce.status_code == 200
        view = (await b.get("/admin/kill-switch", headers=auth())).json()
        assert view["testnet"]["engaged"] is True


async def test_duplicates_split_across_replicas_place_one_order(postgres_dsn: str) -> None:
    async with replicas(postgres_dsn) as served:
        body = {**ORDER, "client_order_id": "dup-fleet"}
        responses = await asyncio.gather(*(served[i % 2][1].post(PLACE, json=body, headers=auth()) for i in range(20)))
        assert [r.status_code for r in responses] == [200] * 20
        assert orders_at_venue([app for app, _ in served]) == 1
        assert len({r.json()["order_id"] for r in responses}) == 1
        assert sum(r.headers.get("idempotent-replay") == "true" for r in responses) == 19


async def test_every_replica_reads_and_verifies_every_replicas_audit(postgres_dsn: str) -> None:
    async with replicas(postgres_dsn) as [(_, a), (_, b)]:
        assert (await a.post(PLACE, json=ORDER, headers=auth())).status_code == 200
        assert (await b.post(PLACE, json={**ORDER, "qty": "3"}, headers=auth())).status_code == 200
        for http in (a, b):
            records = (await http.get("/admin/audit", params={"action": "place_order"}, headers=auth())).json()
            writers = [r["writer"] for r in records["records"] if r.get("phase") == "outcome"]
            assert writers == ["a", "b"]
        report = (await b.get("/admin/audit/verify", headers=auth())).json()
        assert report["ok"] is True
        assert sorted(report["chains"]) == ["a", "b"]
        assert all(chain["ok"] for chain in report["chains"].values())


async def test_the_start_up_line_shows_the_database_without_its_password(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    with_password = postgres_dsn.replace("postgres@", "postgres:hunter2-secret@")
    app = build_app(replica_settings(with_password, "a"), [toy.TOOLS])
    with caplog.at_level(logging.INFO, logger="mcp.startup"):
        async with running(app):
            pass
    lines = [r.getMessage() for r in caplog.records if "state DB" in r.getMessage()]
    assert len(lines) == 1
    assert "PostgreSQL" in lines[0]
    assert "replica a" in lines[0]
    assert "hunter2-secret" not in caplog.text


def test_the_pg_audit_needs_a_shared_hmac_key(postgres_dsn: str) -> None:
    settings = replica_settings(postgres_dsn, "a").with_overrides({"AUDIT_HMAC_KEY": ""})
    with pytest.raises(ConfigError, match="AUDIT_HMAC_KEY must be set"):
        build_app(settings, [toy.TOOLS])


def test_a_bad_database_url_fails_at_start_without_its_password(postgres_dsn: str) -> None:
    bad = postgres_dsn.rsplit("/", 1)[0].replace("postgres@", "postgres:hunter2-secret@") + "/missing_db"
    with pytest.raises(ConfigError) as raised:
        build_app(replica_settings(bad, "a"), [toy.TOOLS])
    assert "missing_db" in str(raised.value)
    assert "hunter2-secret" not in str(raised.value)


async def test_every_venue_pacer_spends_the_fleets_budget_while_the_state_is_in_postgresql(postgres_dsn: str) -> None:
    before = shared_backend()
    async with replicas(postgres_dsn):
        assert isinstance(shared_backend(), PostgresPacingBackend)
    assert shared_backend() is before


def crashed_write(store: PostgresStateStore, audit: PgAuditLog, coid: str) -> tuple[str, str, str, str]:
    """Leave what a replica killed mid-write leaves: a pending key and an intent without an outcome."""
    key = ("testnet", "toy", "place_order", coid)
    assert store.reserve(key, "h", ttl_s=600)[0] is True
    audit.append(
        {
            "request_id": f"req-{coid}",
            "write_id": f"w-{coid}",
            "actor": "testnet",
            "bot_tag": "bot",
            "exchange": "toy",
            "action": "place_order",
            "target": "BTC-TOY",
            "params": {**ORDER, "client_order_id": coid},
            "phase": "intent",
            "outcome": "intent",
        }
    )
    return key


async def test_a_restarted_replica_resolves_only_its_own_interrupted_writes(postgres_dsn: str) -> None:
    stores = {name: PostgresStateStore(postgres_dsn, replica_id=name) for name in ("a", "b")}
    audits = {name: PgAuditLog(store.pool, b"k" * 32, name) for name, store in stores.items()}
    mine = crashed_write(stores["a"], audits["a"], "coid-a")
    theirs = crashed_write(stores["b"], audits["b"], "coid-b")  # b is alive, its write in flight
    app = build_app(replica_settings(postgres_dsn, "a"), [toy.TOOLS])
    async with running(app):
        pass
    resolved, untouched = stores["b"].get(mine), stores["b"].get(theirs)
    assert resolved is not None
    assert untouched is not None
    assert (resolved.state, untouched.state) == ("unknown", "pending")
    closed = [r for r in audits["b"].query(AuditQuery()) if r.get("error_code") == "SERVER_RESTARTED"]
    assert [(r["writer"], r["write_id"]) for r in closed] == [("a", "w-coid-a")]
    assert audits["b"].verify().ok
    for store in stores.values():
        store.close()


def test_the_demo_never_uses_the_real_servers_postgresql(postgres_dsn: str, tmp_path: Path) -> None:
    real = replica_settings(postgres_dsn, "a")
    demo, _ = demo_settings(real, {}, tmp_path / "demo")
    assert demo.state_db_url is None
    assert demo.state_db == (tmp_path / "demo" / "state.db").absolute()


def test_a_state_db_file_and_a_postgresql_url_together_are_refused() -> None:
    with pytest.raises(ValidationError, match="STATE_DB_URL"):
        Settings.from_mapping({"STATE_DB": "/data/state.db", "STATE_DB_URL": "postgresql://db/cerbero"})
