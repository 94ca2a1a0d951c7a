"""The PostgreSQL state store under several replicas: one winner per claim, migrations, per-replica pending keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psycopg
import pytest

from cerbero_mcp.state_pg import SCHEMA_VERSION, PostgresStateStore, migrate, open_pool, redact_dsn
from cerbero_mcp.state_store import StoreNotWritableError
from support.postgres import PostgresServer

KEY = ("mainnet", "deribit", "place_order", "coid-1")


@pytest.fixture
def two_replicas(postgres_dsn: str) -> Iterator[tuple[PostgresStateStore, PostgresStateStore]]:
    """Two stores with their own pools on one database, as two replicas have."""
    a = PostgresStateStore(postgres_dsn, replica_id="replica-a")
    b = PostgresStateStore(postgres_dsn, replica_id="replica-b")
    yield a, b
    a.close()
    b.close()


def test_concurrent_claims_from_many_threads_and_two_pools_have_exactly_one_winner(
    two_replicas: tuple[PostgresStateStore, PostgresStateStore],
) -> None:
    a, b = two_replicas
    start = threading.Barrier(40)

    def claim(index: int) -> bool:
        store = a if index % 2 else b
        start.wait()
        return store.reserve(KEY, "same-request", ttl_s=60)[0]

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(claim, range(40)))
    assert results.count(True) == 1
    record = a.get(KEY)
    assert record is not None
    assert (record.state, record.request_hash) == ("pending", "same-request")


def test_a_claim_finished_on_one_replica_replays_on_the_other(
    two_replicas: tuple[PostgresStateStore, PostgresStateStore],
) -> None:
    a, b = two_replicas
    assert a.reserve(KEY, "h", ttl_s=60)[0] is True
    a.complete(KEY, "done", 200, {"order_id": "X", "price": "101.5"})
    claimed, record = b.reserve(KEY, "h", ttl_s=60)
    assert claimed is False
    assert (record.state, record.status, record.response) == ("done", 200, {"order_id": "X", "price": "101.5"})
    second = ("mainnet", "deribit", "place_order", "coid-2")
    b.reserve(second, "h", ttl_s=60)
    b.complete(second, "unknown", 504, {"error": {"code": "UPSTREAM_TIMEOUT"}})
    b.release(second)  # an unknown outcome is never forgotten, whichever replica asks
    kept = a.get(second)
    assert kept is not None
    assert kept.state == "unknown"


def test_pending_keys_are_each_replicas_own(two_replicas: tuple[PostgresStateStore, PostgresStateStore]) -> None:
    a, b = two_replicas
    a.reserve(KEY, "h", ttl_s=60)
    other = ("testnet", "bybit", "place_order", "coid-b")
    b.reserve(other, "h", ttl_s=60)
    # A restarting replica resolves what it left pending, never another replica's write in flight.
    assert a.pending() == [KEY]
    assert b.pending() == [other]


def test_the_kill_switch_engaged_on_one_replica_is_seen_by_the_other_at_its_next_check(
    two_replicas: tuple[PostgresStateStore, PostgresStateStore],
) -> None:
    a, b = two_replicas
    assert b.kill_switch("mainnet") is None
    a.set_kill_switch("mainnet", True, "drill", "admin")
    seen = b.kill_switch("mainnet")
    assert seen is not None
    assert (seen.engaged, seen.reason, seen.actor) == (True, "drill", "admin")
    b.set_kill_switch("mainnet", False, "over", "admin")
    released = a.kill_switch("mainnet")
    assert released is not None
    assert released.engaged is False


def test_orders_are_counted_across_replicas(two_replicas: tuple[PostgresStateStore, PostgresStateStore]) -> None:
    a, b = two_replicas
    assert a.reserve_orders("mainnet", "deribit", "bot", 1, None) is None
    assert b.reserve_orders("mainnet", "deribit", "bot", 1, None) is None
    assert b.reserve_orders("mainnet", "deribit", "other", 1, None) is None
    assert a.reserve_orders("mainnet", "deribit", "bot", 1, Decimal(2)) == 2  # the other replica's order counts
    assert a.orders_since("mainnet", "deribit", "bot", 0) == 2
    assert b.orders_since("mainnet", "deribit", "bot", 0) == 2


def test_migration_from_an_empty_database_then_rerun_is_idempotent(postgres_dsn: str) -> None:
    first = PostgresStateStore(postgres_dsn, replica_id="r")
    assert first.schema_found == 0
    first.set_kill_switch("testnet", True, "kept", "admin")
    first.close()
    again = PostgresStateStore(postgres_dsn, replica_id="r")
    assert again.schema_found == SCHEMA_VERSION
    state = again.kill_switch("testnet")
    assert state is not None
    assert state.reason == "kept"
    with again.pool.connection() as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    again.close()


def test_replicas_starting_together_migrate_once(postgres_dsn: str) -> None:
    start = threading.Barrier(6)

    def boot(_: int) -> int:
        pool = open_pool(postgres_dsn, max_size=1)
        try:
            start.wait()
            return migrate(pool)
        finally:
            pool.close()

    with ThreadPoolExecutor(max_workers=6) as workers:
        found = sorted(workers.map(boot, range(6)))
    # One found an empty database and migrated it; the others waited on the lock and found it done.
    assert found == [0] + [SCHEMA_VERSION] * 5


def test_a_database_newer_than_the_server_is_refused(postgres_dsn: str) -> None:
    PostgresStateStore(postgres_dsn).close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreNotWritableError, match="newer than this server"):
        PostgresStateStore(postgres_dsn)


def test_the_password_of_the_dsn_never_shows(postgres_server: PostgresServer) -> None:
    dsn = f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres_server.port}/no_such_db"
    assert "s3cret-pw" not in redact_dsn(dsn)
    with pytest.raises(StoreNotWritableError) as raised:
        PostgresStateStore(dsn)
    assert "no_such_db" in str(raised.value)
    assert "s3cret-pw" not in str(raised.value)
    assert raised.value.__cause__ is None  # the driver's own exception (with its DSN) is not chained
