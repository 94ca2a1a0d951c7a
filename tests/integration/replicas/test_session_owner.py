"""The IBKR session-owner election on a real PostgreSQL: one owner, and a take-over when its connection dies."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from cerbero_mcp.session_owner import SessionOwner

pytestmark = pytest.mark.replicas


async def _until(predicate: object, within_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if callable(predicate) and predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {within_s} s")


async def test_one_replica_owns_and_another_takes_over_when_the_owner_connection_dies(postgres_dsn: str) -> None:
    a = SessionOwner(postgres_dsn, replica_id="a", url="http://a:9000", poll_s=0.1)
    b = SessionOwner(postgres_dsn, replica_id="b", url="http://b:9000", poll_s=0.1)
    changes: list[bool] = []
    b.on_change(changes.append)
    await a.start()
    await b.start()
    try:
        await asyncio.sleep(0.3)  # several attempts by b: the lock stays a's
        assert a.is_owner
        assert not b.is_owner
        assert await b.owner_url() == "http://a:9000"
        # The owner dies: its loop stops and PostgreSQL ends its connection (what a kill -9 amounts to).
        assert a._task is not None
        a._task.cancel()
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'cerbero-session-owner' AND pid <> pg_backend_pid()"
                " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')"
            )
        took = await _until(lambda: b.is_owner, within_s=3.0)
        print(f"take-over after the owner's connection ended: {took * 1000:.0f} ms")
        assert changes == [True]
        b.forget_owner_url()
        assert await b.owner_url() == "http://b:9000"
    finally:
        await a.aclose()
        await b.aclose()


async def test_the_owner_gives_the_session_up_when_its_own_connection_drops(postgres_dsn: str) -> None:
    a = SessionOwner(postgres_dsn, replica_id="a", url="http://a:9000", poll_s=0.1)
    changes: list[bool] = []
    a.on_change(changes.append)
    await a.start()
    try:
        assert a.is_owner
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'cerbero-session-owner' AND pid <> pg_backend_pid()"
            )
        # It notices at its next heartbeat, gives the session up, then wins the free lock again.
        await _until(lambda: changes[:2] == [True, False], within_s=3.0)
        await _until(lambda: a.is_owner, within_s=3.0)
        assert changes == [True, False, True]
    finally:
        await a.aclose()
