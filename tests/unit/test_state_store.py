"""The state stores' shared contract, run on SQLite and on PostgreSQL: kill switch, idempotency claims,
order counts, the audit head, approvals; persisted across instances. Then SQLite's own file checks."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from cerbero_mcp.common.audit import AuditHeadStore
from cerbero_mcp.state_pg import PostgresStateStore
from cerbero_mcp.state_store import Approval, SqliteStateStore, StateStore, StoreNotWritableError

KEY = ("testnet", "deribit", "place_order", "c1")
OpenStore = Callable[[], StateStore]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Return a function opening a new store instance on the same database (a file, or a fresh PG database)."""
    opened: list[StateStore] = []
    if request.param == "sqlite":

        def make() -> StateStore:
            store: StateStore = SqliteStateStore(tmp_path / "s.db")
            opened.append(store)
            return store

    else:
        dsn = request.getfixturevalue("postgres_dsn")

        def make() -> StateStore:
            store = PostgresStateStore(dsn, replica_id="replica-a")
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


def test_kill_switch_round_trip_and_persistence(open_store: OpenStore) -> None:
    store = open_store()
    assert store.kill_switch("mainnet") is None
    store.set_kill_switch("mainnet", True, "drill", "admin")
    store.close()
    again = open_store()
    state = again.kill_switch("mainnet")
    assert state is not None
    assert (state.engaged, state.reason, state.actor) == (True, "drill", "admin")


def test_first_claim_wins_and_others_see_its_record(open_store: OpenStore) -> None:
    store = open_store()
    claimed, record = store.reserve(KEY, "hash-a", ttl_s=60)
    assert claimed is True
    assert record.state == "pending"
    claimed, record = store.reserve(KEY, "hash-b", ttl_s=60)
    assert claimed is False
    assert record.request_hash == "hash-a"
    store.complete(KEY, "done", 200, {"order_id": "X"})
    done = store.get(KEY)
    assert done is not None
    assert (done.state, done.status, done.response) == ("done", 200, {"order_id": "X"})


def test_release_frees_a_pending_claim_only(open_store: OpenStore) -> None:
    store = open_store()
    store.reserve(KEY, "h", ttl_s=60)
    store.release(KEY)
    assert store.get(KEY) is None
    store.reserve(KEY, "h", ttl_s=60)
    store.complete(KEY, "unknown", 504, {"error": {}})
    store.release(KEY)  # an unknown outcome is never forgotten
    kept = store.get(KEY)
    assert kept is not None
    assert kept.state == "unknown"


def test_expired_records_can_be_claimed_again(open_store: OpenStore) -> None:
    store = open_store()
    store.reserve(KEY, "h", ttl_s=0.01)
    time.sleep(0.02)
    assert store.get(KEY) is None
    claimed, _ = store.reserve(KEY, "other", ttl_s=60)
    assert claimed is True


def test_two_stores_on_one_file_agree_on_the_claim(open_store: OpenStore) -> None:
    first, second = open_store(), open_store()
    assert first.reserve(KEY, "h", ttl_s=60)[0] is True
    assert second.reserve(KEY, "h", ttl_s=60)[0] is False


def test_order_counts_per_bot_in_a_window(open_store: OpenStore) -> None:
    store = open_store()
    for _ in range(3):
        assert store.reserve_orders("mainnet", "deribit", "bot-a", 1, None) is None
    assert store.reserve_orders("mainnet", "deribit", "bot-b", 1, Decimal(1)) is None
    since = time.time() - 60
    assert store.orders_since("mainnet", "deribit", "bot-a", since) == 3
    assert store.orders_since("mainnet", "deribit", "bot-b", since) == 1
    assert store.orders_since("testnet", "deribit", "bot-a", since) == 0
    assert store.orders_since("mainnet", "deribit", "bot-a", time.time() + 1) == 0


def test_audit_head_round_trip_and_persistence(open_store: OpenStore) -> None:
    store = open_store()
    assert store.audit_head() is None
    store.set_audit_head(1, "a" * 64)
    store.set_audit_head(2, "b" * 64)
    store.close()
    again = open_store()
    assert again.audit_head() == (2, "b" * 64)
    again.set_audit_head(1, "c" * 64)  # a cut log goes on from its end: the head may go back
    assert again.audit_head() == (1, "c" * 64)


def test_concurrent_decisions_on_one_approval_have_one_winner(open_store: OpenStore) -> None:
    first, second = open_store(), open_store()
    now = time.time()
    approval = Approval(
        approval_id="a1",
        env="mainnet",
        venue="deribit",
        tool="place_order",
        bot_tag="bot",
        request_hash="h",
        notional_usd="25000.5",
        preview={"qty": "1"},
        state="pending",
        created_at=now,
        expires_at=now + 60,
    )
    first.create_approval(approval)
    won, decided = first.decide_approval("a1", True, "admin", "ok", now)
    lost, seen = second.decide_approval("a1", False, "admin", "no", now)
    assert (won, lost) == (True, False)
    assert decided is not None
    assert seen is not None
    assert (decided.state, seen.state, seen.preview, seen.notional_usd) == (
        "approved",
        "approved",
        {"qty": "1"},
        "25000.5",
    )
    assert second.consume_approval("a1", "other-hash", now) == (False, seen)
    used, spent = second.consume_approval("a1", "h", now)
    assert used is True
    assert spent is not None
    assert spent.state == "used"
    assert first.consume_approval("a1", "h", now)[0] is False
    assert [a.approval_id for a in first.list_approvals("mainnet", "used", now, 10)] == ["a1"]
    assert first.list_approvals("testnet", None, now, 10) == []
    assert second.get_approval("missing") is None


def test_a_store_that_cannot_be_written_is_refused_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    with pytest.raises(StoreNotWritableError, match=r"file\.txt/state\.db"):
        SqliteStateStore(blocker / "state.db")


def test_the_sqlite_store_is_a_state_store_and_an_audit_head_store() -> None:
    store: StateStore = SqliteStateStore(":memory:")
    heads: AuditHeadStore = store
    heads.set_audit_head(3, "d" * 64)
    assert store.audit_head() == (3, "d" * 64)
    store.close()


# -- file modes ------------------------------------------------------------------------------------


@pytest.fixture(params=[0o000, 0o022, 0o277], ids=["umask000", "umask022", "umask277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under each umask: the modes must not depend on it."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_the_state_db_and_the_directories_it_creates_are_private(umask: int, tmp_path: Path) -> None:
    path = tmp_path / "made" / "data" / "state.db"
    store = SqliteStateStore(path)
    store.set_kill_switch("testnet", True, "drill", "admin")  # the -wal and -shm files exist while open
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    store.close()
    assert modes == {f.name: 0o600 for f in files}
    assert stat.S_IMODE((tmp_path / "made").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_data_directory_and_db_keep_the_operators_modes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o750)
    db = data / "state.db"
    SqliteStateStore(db).close()
    db.chmod(0o640)
    SqliteStateStore(db).close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
    assert stat.S_IMODE(db.stat().st_mode) == 0o640  # reported at start, not changed


def test_a_reservation_above_the_limit_counts_nothing_and_says_how_many_were_sent(open_store: OpenStore) -> None:
    store = open_store()
    assert store.reserve_orders("mainnet", "deribit", "bot", 2, Decimal(3)) is None
    assert store.reserve_orders("mainnet", "deribit", "bot", 2, Decimal(3)) == 2  # 2 + 2 > 3: refused
    assert store.reserve_orders("mainnet", "deribit", "bot", 1, Decimal(3)) is None
    assert store.reserve_orders("mainnet", "deribit", "bot", 1, Decimal(3)) == 3
    assert store.orders_since("mainnet", "deribit", "bot", time.time() - 60) == 3
    assert store.reserve_orders("mainnet", "deribit", "bot", 1, Decimal(3), window_s=0) is None  # window passed


def test_concurrent_reservations_on_two_store_instances_never_pass_the_limit(open_store: OpenStore) -> None:
    stores = [open_store(), open_store()]  # two processes' (or replicas') view of one database

    def reserve(i: int) -> bool:
        return stores[i % 2].reserve_orders("testnet", "bybit", "burst", 1, Decimal(5)) is None

    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = sum(pool.map(reserve, range(40)))
    assert granted == 5
    assert stores[0].orders_since("testnet", "bybit", "burst", time.time() - 60) == 5
