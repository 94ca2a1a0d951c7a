"""One venue budget for the fleet: pacers of several replicas sharing their windows in PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextvars import ContextVar

import pytest

from cerbero_mcp.client_registry import ClientRegistry
from cerbero_mcp.common.errors import RateLimitError
from cerbero_mcp.common.pacing import Limit, LocalWindows, Pacer, PacingBackend, shared_backend, use_shared_backend
from cerbero_mcp.settings import Environment, Settings
from cerbero_mcp.state_pg import PostgresPacingBackend, PostgresStateStore

# The waits of the calling task only (each task of a gather has its own copy of the context).
task_sleeps: ContextVar[list[float] | None] = ContextVar("task_sleeps", default=None)


class FakeTime:
    """A clock that only moves when told to; `sleep` records the wait, also in the calling task's list."""

    def __init__(self) -> None:
        self.t = 1_000.0
        self.sent: list[float] = []
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        mine = task_sleeps.get()
        if mine is not None:
            mine.append(seconds)


@pytest.fixture
def stores(postgres_dsn: str) -> Iterator[tuple[PostgresStateStore, PostgresStateStore]]:
    """Two replicas' stores (two pools) on one database."""
    a, b = PostgresStateStore(postgres_dsn, replica_id="a"), PostgresStateStore(postgres_dsn, replica_id="b")
    yield a, b
    a.close()
    b.close()


def replica_pacer(backend: PacingBackend | None, time: FakeTime, table: dict[str, Limit], wait: float) -> Pacer:
    """Return one replica's pacer of venue "v" on `backend`."""
    pacer = Pacer("v", table, max_wait_s=wait, clock=time, sleep=time.sleep)
    pacer.backend = backend
    return pacer


async def go(pacer: Pacer, time: FakeTime, *keys: str) -> None:
    """Acquire and note when the call goes (now plus the wait it slept)."""
    mine: list[float] = []
    task_sleeps.set(mine)
    start = time.t
    await pacer.acquire(*keys)
    time.sent.append(start + sum(mine))


def most_in_any_window(sent: list[float], per_s: float) -> int:
    """Return the most calls any window of `per_s` seconds (starting at a call) holds."""
    ordered = sorted(sent)
    return max(sum(1 for t in ordered[i:] if t < start + per_s - 1e-9) for i, start in enumerate(ordered))


async def test_two_replicas_pacers_never_exceed_the_limit_in_any_window(
    stores: tuple[PostgresStateStore, PostgresStateStore],
) -> None:
    time = FakeTime()
    table = {"orders": Limit(3, 1.0)}
    pacers = [replica_pacer(PostgresPacingBackend(store.pool), time, table, 100) for store in stores]
    await asyncio.gather(*(go(pacers[i % 2], time, "orders") for i in range(12)))
    assert len(time.sent) == 12
    assert most_in_any_window(time.sent, 1.0) == 3
    assert max(time.sent) == pytest.approx(time.t + 3.0)  # 12 calls at 3 a second: the last one 3 s on


async def test_separate_windows_would_let_each_replica_spend_the_whole_budget() -> None:
    # What the shared backend prevents: two replicas pacing alone send twice the limit in one window.
    time = FakeTime()
    table = {"orders": Limit(3, 1.0)}
    pacers = [replica_pacer(LocalWindows(), time, table, 100) for _ in range(2)]
    await asyncio.gather(*(go(pacers[i % 2], time, "orders") for i in range(12)))
    assert most_in_any_window(time.sent, 1.0) == 6


async def test_a_wait_too_long_on_the_shared_budget_is_refused_and_reserves_nothing(
    stores: tuple[PostgresStateStore, PostgresStateStore],
) -> None:
    time = FakeTime()
    table = {"orders": Limit(1, 5.0), "global": Limit(10, 1.0)}
    a, b = (replica_pacer(PostgresPacingBackend(store.pool), time, table, 2.0) for store in stores)
    await a.acquire("orders", "global")
    with pytest.raises(RateLimitError) as caught:
        await b.acquire("orders", "global")  # the other replica spent the key's budget
    assert caught.value.details["retry_after_s"] == pytest.approx(5.0)
    await b.acquire("global")  # the refused call reserved nothing on its other key
    with stores[0].pool.connection() as conn:
        rows = conn.execute("SELECT key, count(*) FROM pacing_slots GROUP BY key ORDER BY key").fetchall()
    assert rows == [("global", 2), ("orders", 1)]
    time.t += 5.0
    await b.acquire("orders", "global")
    assert time.sleeps == []


async def test_scopes_are_separate_budgets_and_the_venues_reset_holds_on_the_shared_one(
    stores: tuple[PostgresStateStore, PostgresStateStore],
) -> None:
    time = FakeTime()
    table = {"k": Limit(1, 10.0)}
    testnet, mainnet = (replica_pacer(PostgresPacingBackend(stores[0].pool), time, table, 100) for _ in range(2))
    testnet.scope, mainnet.scope = "v/testnet", "v/mainnet"
    await testnet.acquire("k")
    await mainnet.acquire("k")
    assert time.sleeps == []
    mainnet.observe("k", remaining=0, reset_at=time.t + 30)
    await mainnet.acquire("k")
    assert time.sleeps == pytest.approx([30.0])


def test_the_process_wide_backend_is_installed_and_restored() -> None:
    backend = LocalWindows()
    previous = use_shared_backend(backend)
    try:
        assert shared_backend() is backend
    finally:
        use_shared_backend(previous)
    assert shared_backend() is previous


async def test_the_registry_names_each_environments_budget() -> None:
    class Client:
        def __init__(self) -> None:
            self.pacer = Pacer("v", {"k": Limit(1, 1.0)})

    async def build(settings: Settings, env: Environment) -> Client:
        return Client()

    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("v", build)
    testnet, mainnet = await registry.get("v", "testnet"), await registry.get("v", "mainnet")
    assert (testnet.pacer.scope, mainnet.pacer.scope) == ("v/testnet", "v/mainnet")
