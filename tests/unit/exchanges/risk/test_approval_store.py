"""The approvals in the state store: one decision wins, one send spends, expiry and request hash are enforced.

Written against the `StateStore` Protocol through the `store` fixture, so another implementation
(PostgreSQL) runs the same tests by parametrizing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cerbero_mcp.state_store import Approval, SqliteStateStore, StateStore

NOW = 1_772_636_400.0  # 2026-03-04 15:00 UTC


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    """Return a fresh SQLite store."""
    opened = SqliteStateStore(tmp_path / "state.db")
    yield opened
    opened.close()


def held(approval_id: str = "a" * 32, env: str = "testnet", ttl: float = 900.0, digest: str = "h1") -> Approval:
    """Return a pending approval created at NOW."""
    return Approval(
        approval_id=approval_id,
        env=env,
        venue="alpaca",
        tool="place_order",
        bot_tag="bot",
        request_hash=digest,
        notional_usd="95000",
        preview={"params": {"instrument": "AAPL", "quantity": "500"}},
        state="pending",
        created_at=NOW,
        expires_at=NOW + ttl,
    )


def test_an_approval_round_trips_with_its_preview(store: StateStore) -> None:
    store.create_approval(held())
    found = store.get_approval("a" * 32)
    assert found == held()
    assert store.get_approval("b" * 32) is None


def test_one_decision_wins_and_a_decided_approval_cannot_be_decided_again(store: StateStore) -> None:
    store.create_approval(held())
    decided, approval = store.decide_approval("a" * 32, True, "admin", "ok", NOW + 1)
    assert decided
    assert approval is not None
    assert approval.state == "approved"
    assert approval.decided_by == "admin"
    again, current = store.decide_approval("a" * 32, False, "admin", "changed my mind", NOW + 2)
    assert not again
    assert current is not None
    assert current.state == "approved"
    assert store.decide_approval("b" * 32, True, "admin", None, NOW) == (False, None)


def test_an_approved_approval_is_spent_once_and_only_by_the_same_request(store: StateStore) -> None:
    store.create_approval(held())
    assert store.consume_approval("a" * 32, "h1", NOW + 1)[0] is False  # pending: nothing to spend
    store.decide_approval("a" * 32, True, "admin", None, NOW + 1)
    assert store.consume_approval("a" * 32, "other-request", NOW + 2)[0] is False  # altered
    spent, approval = store.consume_approval("a" * 32, "h1", NOW + 3)
    assert spent
    assert approval is not None
    assert approval.state == "used"
    assert approval.used_at == NOW + 3
    assert store.consume_approval("a" * 32, "h1", NOW + 4)[0] is False  # used


def test_expired_approvals_can_neither_be_decided_nor_spent(store: StateStore) -> None:
    store.create_approval(held(ttl=60))
    assert store.decide_approval("a" * 32, True, "admin", None, NOW + 61)[0] is False
    store.create_approval(held("c" * 32, ttl=60))
    store.decide_approval("c" * 32, True, "admin", None, NOW + 10)
    spent, approval = store.consume_approval("c" * 32, "h1", NOW + 60)
    assert not spent
    assert approval is not None
    assert approval.current_state(NOW + 60) == "expired"
    assert approval.current_state(NOW + 59) == "approved"


def test_listing_filters_by_environment_and_state_as_of_now(store: StateStore) -> None:
    store.create_approval(held("a" * 32, ttl=60))
    store.create_approval(held("b" * 32, env="mainnet"))
    store.create_approval(held("c" * 32))
    store.decide_approval("c" * 32, False, "admin", "too big", NOW + 1)
    assert [a.approval_id for a in store.list_approvals("testnet", None, NOW + 100, 10)] == ["a" * 32, "c" * 32]
    assert [a.approval_id for a in store.list_approvals(None, "pending", NOW + 100, 10)] == ["b" * 32]
    assert [a.approval_id for a in store.list_approvals(None, "expired", NOW + 100, 10)] == ["a" * 32]
    assert [a.approval_id for a in store.list_approvals(None, "rejected", NOW + 100, 10)] == ["c" * 32]
    assert len(store.list_approvals(None, None, NOW, 2)) == 2
