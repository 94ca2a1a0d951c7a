"""The SQLite state store: kill switch, idempotency claims, order counts; persisted across instances."""

from __future__ import annotations

import time
from pathlib import Path

from cerbero_mcp.state_store import SqliteStateStore

KEY = ("testnet", "deribit", "place_order", "c1")


def test_kill_switch_round_trip_and_persistence(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.db")
    assert store.kill_switch("mainnet") is None
    store.set_kill_switch("mainnet", True, "drill", "admin")
    store.close()
    again = SqliteStateStore(tmp_path / "s.db")
    state = again.kill_switch("mainnet")
    assert state is not None
    assert (state.engaged, state.reason, state.actor) == (True, "drill", "admin")


def test_first_claim_wins_and_others_see_its_record(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.db")
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


def test_release_frees_a_pending_claim_only(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.db")
    store.reserve(KEY, "h", ttl_s=60)
    store.release(KEY)
    assert store.get(KEY) is None
    store.reserve(KEY, "h", ttl_s=60)
    store.complete(KEY, "unknown", 504, {"error": {}})
    store.release(KEY)  # an unknown outcome is never forgotten
    kept = store.get(KEY)
    assert kept is not None
    assert kept.state == "unknown"


def test_expired_records_can_be_claimed_again(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.db")
    store.reserve(KEY, "h", ttl_s=0.01)
    time.sleep(0.02)
    assert store.get(KEY) is None
    claimed, _ = store.reserve(KEY, "other", ttl_s=60)
    assert claimed is True


def test_two_stores_on_one_file_agree_on_the_claim(tmp_path: Path) -> None:
    first, second = SqliteStateStore(tmp_path / "s.db"), SqliteStateStore(tmp_path / "s.db")
    assert first.reserve(KEY, "h", ttl_s=60)[0] is True
    assert second.reserve(KEY, "h", ttl_s=60)[0] is False


def test_order_counts_per_bot_in_a_window(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "s.db")
    for _ in range(3):
        store.record_order("mainnet", "deribit", "bot-a")
    store.record_order("mainnet", "deribit", "bot-b")
    since = time.time() - 60
    assert store.orders_since("mainnet", "deribit", "bot-a", since) == 3
    assert store.orders_since("mainnet", "deribit", "bot-b", since) == 1
    assert store.orders_since("testnet", "deribit", "bot-a", since) == 0
    assert store.orders_since("mainnet", "deribit", "bot-a", time.time() + 1) == 0
