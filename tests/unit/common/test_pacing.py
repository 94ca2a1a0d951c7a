"""The shared pacer: sliding windows from a table, short waits, refusals, penalty box, the venue's own count."""

from __future__ import annotations

import pytest

from cerbero_mcp.common.errors import RateLimitError
from cerbero_mcp.common.pacing import Limit, Pacer


class FakeTime:
    """A clock that only moves when the pacer sleeps."""

    def __init__(self) -> None:
        self.t = 1_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def pacer(table: dict[str, Limit], max_wait_s: float = 5.0) -> tuple[Pacer, FakeTime]:
    time = FakeTime()
    return Pacer("venue", table, max_wait_s=max_wait_s, clock=time, sleep=time.sleep), time


async def test_a_burst_of_calls_is_free_then_the_next_waits_for_the_window() -> None:
    p, time = pacer({"k": Limit(10, 1.0)})
    for _ in range(10):
        await p.acquire("k")
    assert time.sleeps == []
    await p.acquire("k")
    assert time.sleeps == pytest.approx([1.0])


async def test_no_window_of_the_limits_length_ever_holds_more_than_its_calls() -> None:
    # a token bucket fails this: a full burst right after the window's calls were spent
    p, time = pacer({"k": Limit(5, 1.0)}, max_wait_s=100)
    sent = []
    for step in range(40):
        time.t += 0.13 * (step % 3)
        await p.acquire("k")
        sent.append(time.t)
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 1.0) <= 5


async def test_a_call_is_paced_by_every_bucket_it_belongs_to() -> None:
    p, time = pacer({"global": Limit(10, 1.0), "orders": Limit(1, 5.0)})
    await p.acquire("global", "orders")
    await p.acquire("global", "orders")
    assert time.sleeps == pytest.approx([5.0])
    await p.acquire("global")
    assert time.sleeps == pytest.approx([5.0])


async def test_a_long_wait_is_refused_and_reserves_nothing() -> None:
    p, time = pacer({"orders": Limit(1, 5.0)}, max_wait_s=2.0)
    await p.acquire("orders")
    with pytest.raises(RateLimitError) as caught:
        await p.acquire("orders")
    assert caught.value.details["retry_after_s"] == pytest.approx(5.0)
    assert caught.value.headers["Retry-After"] == "5"
    time.t += 5.0
    await p.acquire("orders")
    assert time.sleeps == []


async def test_the_penalty_box_refuses_every_call_until_it_ends() -> None:
    p, time = pacer({"k": Limit(10, 1.0)})
    p.penalize(600, "HTTP 429")
    with pytest.raises(RateLimitError, match="shut this server out"):
        await p.acquire("k")
    time.t += 600
    await p.acquire("k")


async def test_the_venues_own_count_of_none_left_holds_calls_until_its_reset() -> None:
    p, time = pacer({"k": Limit(50, 1.0)})
    p.observe("k", remaining=3, reset_at=time.t + 1)
    await p.acquire("k")
    assert time.sleeps == []
    p.observe("k", remaining=0, reset_at=time.t + 0.5)
    await p.acquire("k")
    assert time.sleeps == pytest.approx([0.5])


async def test_a_key_missing_from_the_table_is_an_error_not_unpaced() -> None:
    p, _ = pacer({"k": Limit(1, 1.0)})
    with pytest.raises(KeyError):
        await p.acquire("other")


def test_a_limit_needs_calls_and_a_window() -> None:
    with pytest.raises(ValueError, match="calls >= 1"):
        Limit(0, 1.0)
