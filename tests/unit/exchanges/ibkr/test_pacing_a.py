"""IBKR's pacing table in the gateway: never over a documented window, wait when short, refuse when long."""

from __future__ import annotations

import bisect

import pytest

from cerbero_mcp.common.errors import RateLimitError
from cerbero_mcp.common.pacing import Pacer
from cerbero_mcp.exchanges.ibkr.pacing import GLOBAL, MAX_WAIT_S, PENALTY_S, TABLE, keys_for

# IBKR's documented limits (calls, seconds), as the gateway must never exceed them in any window.
DOCUMENTED = {
    GLOBAL: (50, 1.0),
    "/iserver/marketdata/snapshot": (10, 1.0),
    "/iserver/account/orders": (1, 5.0),
    "/iserver/account/trades": (1, 5.0),
    "/portfolio/accounts": (1, 5.0),
    "/tickle": (1, 1.0),
}


class Clock:
    """A clock the pacer's sleeps move."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


def pacer(clock: Clock) -> Pacer:
    return Pacer("ibkr", TABLE, max_wait_s=MAX_WAIT_S, clock=clock, sleep=clock.sleep)


def most_in_a_window(times: list[float], window: float) -> int:
    """Return the most calls found in any half-open window of `window` seconds."""
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


@pytest.mark.parametrize("key", sorted(DOCUMENTED))
async def test_calls_as_fast_as_the_pacer_allows_stay_within_ibkrs_window(key: str) -> None:
    clock = Clock()
    paced = pacer(clock)
    calls, window = DOCUMENTED[key]
    keys = (GLOBAL,) if key == GLOBAL else (GLOBAL, key)
    times = []
    for _ in range(calls * 6):
        await paced.acquire(*keys)
        times.append(clock.t)
    assert most_in_a_window(times, window) <= calls
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 0.75 * calls / window  # and it does not crawl either


def test_each_request_counts_against_the_session_and_its_endpoint() -> None:
    assert keys_for("GET", "/iserver/account/orders") == (GLOBAL, "/iserver/account/orders")
    assert keys_for("POST", "/tickle") == (GLOBAL, "/tickle")
    assert keys_for("GET", "/iserver/account/order/status/1") == (GLOBAL,)
    assert keys_for("POST", "/iserver/account/orders") == (GLOBAL,)  # placing is not listing


async def test_a_short_wait_is_waited_and_a_long_one_refused_before_sending() -> None:
    clock = Clock()
    paced = pacer(clock)
    orders = keys_for("GET", "/iserver/account/orders")
    await paced.acquire(*orders)
    start = clock.t
    await paced.acquire(*orders)
    assert clock.t - start >= 5.0  # the second list waited its five seconds


async def test_callers_queued_beyond_the_longest_wait_are_refused_before_sending() -> None:
    clock = Clock()

    async def concurrent(seconds: float) -> None:  # callers that wait side by side: the clock stays
        return None

    paced = Pacer("ibkr", TABLE, max_wait_s=MAX_WAIT_S, clock=clock, sleep=concurrent)
    orders = keys_for("GET", "/iserver/account/orders")
    for _ in range(3):  # now, in 5.5 s and in 11 s
        await paced.acquire(*orders)
    with pytest.raises(RateLimitError) as refused:
        await paced.acquire(*orders)
    assert "nothing was sent" in (refused.value.suggested_fix or "")


async def test_ibkrs_429_shuts_every_call_out_for_ten_minutes() -> None:
    clock = Clock()
    paced = pacer(clock)
    paced.penalize(PENALTY_S, "IBKR answered 429")
    with pytest.raises(RateLimitError) as refused:
        await paced.acquire(GLOBAL)
    assert int(refused.value.headers["Retry-After"]) == int(PENALTY_S)
    clock.t += PENALTY_S
    await paced.acquire(GLOBAL)
