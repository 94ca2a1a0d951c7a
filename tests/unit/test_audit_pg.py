"""The PostgreSQL audit: one table, one HMAC chain per writer, every replica's records readable and verified."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cerbero_mcp.audit_pg import PgAuditLog, chain_name
from cerbero_mcp.common.audit import AuditLog, AuditQuery
from cerbero_mcp.common.audit_records import GENESIS_HASH, compute_hash
from cerbero_mcp.common.audit_trail import AuditTrail
from cerbero_mcp.state_pg import PostgresStateStore

KEY = b"k" * 32


class Ticking:
    """A clock that moves 1 ms per reading, so every record has its own timestamp."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 4, 15, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(milliseconds=1)
            return self.now


@pytest.fixture
def store(postgres_dsn: str) -> Iterator[PostgresStateStore]:
    """Return a migrated store (its pool is the audit's)."""
    opened = PostgresStateStore(postgres_dsn, replica_id="a")
    yield opened
    opened.close()


def record(action: str = "place_order", **extra: Any) -> dict[str, Any]:
    """Return a write record as the pipeline appends it."""
    return {
        "request_id": "r",
        "actor": "testnet",
        "bot_tag": "bot",
        "exchange": "deribit",
        "action": action,
        "target": "BTC-PERPETUAL",
        "params": {"qty": "1", "api_key": "secret-value"},
        "outcome": "ok",
        "error_code": None,
        "duration_ms": 1.0,
        **extra,
    }


def test_each_writer_has_its_own_chain_and_every_replica_reads_all(store: PostgresStateStore) -> None:
    clock = Ticking()
    a = PgAuditLog(store.pool, KEY, "replica-a", clock=clock)
    b = PgAuditLog(store.pool, KEY, "replica-b", clock=clock)
    first = a.append(record(phase="intent", outcome="intent"))
    b.append(record(action="cancel_order"))
    second = a.append(record(phase="outcome"))
    assert (first["seq"], first["prev_hash"], first["writer"]) == (1, GENESIS_HASH, "replica-a")
    assert (second["seq"], second["prev_hash"]) == (2, first["hash"])
    assert second["hash"] == compute_hash(KEY, second)
    assert first["params"]["api_key"] != "secret-value"  # redacted as in the JSONL log
    assert a.head == (2, second["hash"])
    assert b.head[0] == 1
    seen = b.query(AuditQuery())
    assert [(r["writer"], r["action"]) for r in seen] == [
        ("replica-a", "place_order"),
        ("replica-b", "cancel_order"),
        ("replica-a", "place_order"),
    ]
    assert [r["action"] for r in a.query(AuditQuery(action="cancel_order"))] == ["cancel_order"]
    assert len(a.query(AuditQuery(limit=2))) == 2
    assert a.query(AuditQuery(limit=2))[-1]["seq"] == 2  # the most recent, oldest first
    since = datetime.fromisoformat(second["ts"])
    assert [r["seq"] for r in a.query(AuditQuery(from_ts=since))] == [2]
    result = b.verify()
    assert result.ok
    assert result.records_checked == 3
    assert sorted(result.chains) == ["replica-a", "replica-b"]
    assert result.chains["replica-a"].records_checked == 2
    assert result.to_dict()["chains"]["replica-b"]["ok"] is True


def test_the_pg_audit_and_the_jsonl_log_are_both_audit_trails(store: PostgresStateStore) -> None:
    trails: list[AuditTrail] = [PgAuditLog(store.pool, KEY, "a"), AuditLog(None, None)]
    assert [trail.enabled for trail in trails] == [True, False]


def test_verify_catches_an_edited_row_in_its_writers_chain(store: PostgresStateStore) -> None:
    a = PgAuditLog(store.pool, KEY, "replica-a", clock=Ticking())
    b = PgAuditLog(store.pool, KEY, "replica-b", clock=Ticking())
    for _ in range(3):
        a.append(record())
        b.append(record())
    with store.pool.connection() as conn:
        conn.execute(
            'UPDATE audit_records SET record = replace(record, \'"qty":"1"\', \'"qty":"9"\') '
            "WHERE writer = 'replica-b' AND seq = 2"
        )
    result = a.verify()
    assert not result.ok
    assert result.chains["replica-a"].ok
    assert [f.code for f in result.chains["replica-b"].findings] == ["hash_mismatch"]
    assert result.first_broken is not None
    assert (result.first_broken.file, result.first_broken.line) == (chain_name("replica-b"), 2)


def test_verify_catches_a_deleted_row_and_a_cut_end(store: PostgresStateStore) -> None:
    a = PgAuditLog(store.pool, KEY, "replica-a", clock=Ticking())
    for _ in range(4):
        a.append(record())
    with store.pool.connection() as conn:
        conn.execute("DELETE FROM audit_records WHERE writer = 'replica-a' AND seq = 2")
    assert [f.code for f in a.verify().findings] == ["chain_break"]
    with store.pool.connection() as conn:
        conn.execute("DELETE FROM audit_records WHERE writer = 'replica-a' AND seq = 4")
    codes = [f.code for f in a.verify().findings]
    assert codes == ["chain_break", "truncated"]
    # Reopening writes the gap into the chain itself, as the JSONL log does.
    again = PgAuditLog(store.pool, KEY, "replica-a", clock=Ticking())
    assert [f.code for f in again.opening_findings] == ["truncated"]
    gap = again.query(AuditQuery(action="audit.gap"))
    assert len(gap) == 1
    assert gap[0]["actor"] == "system"


def test_appends_from_two_processes_sharing_a_writer_keep_one_unbroken_chain(postgres_dsn: str) -> None:
    one = PostgresStateStore(postgres_dsn, replica_id="same")
    two = PostgresStateStore(postgres_dsn, replica_id="same")
    logs = [PgAuditLog(one.pool, KEY, "same"), PgAuditLog(two.pool, KEY, "same")]
    start = threading.Barrier(8)

    def burst(index: int) -> None:
        start.wait()
        for _ in range(10):
            logs[index % 2].append(record())

    with ThreadPoolExecutor(max_workers=8) as workers:
        list(workers.map(burst, range(8)))
    result = logs[0].verify()
    assert result.ok, result.findings
    assert result.records_checked == 80
    assert logs[1].head[0] == 80
    one.close()
    two.close()


def test_retention_drops_a_writers_old_records_but_never_its_last_and_verify_stays_ok(
    store: PostgresStateStore,
) -> None:
    clock = Ticking()
    a = PgAuditLog(store.pool, KEY, "replica-a", backup_days=30, clock=clock)
    b = PgAuditLog(store.pool, KEY, "replica-b", backup_days=30, clock=clock)
    for _ in range(3):
        a.append(record())
    b.append(record())
    clock.now += timedelta(days=40)
    a.append(record())  # the first append of a new day applies retention to a's own chain
    kept = [(r["writer"], r["seq"]) for r in a.query(AuditQuery())]
    assert kept == [("replica-a", 3), ("replica-b", 1), ("replica-a", 4)]
    result = a.verify()
    assert result.ok, result.findings
    reopened = PgAuditLog(store.pool, KEY, "replica-a", backup_days=30, clock=clock)
    assert reopened.opening_findings == []
