"""Pacing of upstream calls from one table of a venue's documented limits.

Every venue limits how fast a client may call it (IBKR per endpoint and per session, Deribit by
credits, Bybit per endpoint with headers telling what is left), and answers a client that goes over
with a refusal or a penalty box that shuts it out for minutes. A `Pacer` keeps the gateway under the
limits before the request leaves: each call reserves a slot in every bucket it belongs to, waits for
the slot when the wait is short, and is refused with 429 RATE_LIMIT (never sent) when it is long.

Each key is a sliding window: a call may go once fewer than `calls` calls went (or are reserved to
go) in the `per_s` seconds before it. A sliding window is what the strictest venues count (IBKR, Bybit),
and it never breaks a fixed-window count either; a token bucket would not do, as it lets a full burst
through right after a window was spent (twice the limit in one window). Reservations are kept in order,
so concurrent callers queue fairly without a background task; the state is at most `calls` floats a key.
Hand-written because no maintained asyncio library paces on an injectable clock, which the tests
need (they run on a pinned clock, never on the wall clock's speed).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from cerbero_mcp.common.clock import Clock, current
from cerbero_mcp.common.clock import sleep as clock_sleep
from cerbero_mcp.common.errors import RateLimitError

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls per `per_s` seconds, in bursts of up to `calls`."""

    calls: int
    per_s: float
    note: str = ""

    def __post_init__(self) -> None:
        if self.calls < 1 or not self.per_s > 0:
            raise ValueError("a limit needs calls >= 1 and per_s > 0")


class Pacer:
    """Sliding windows by key from a venue's table: wait when the wait is short, refuse (429) when it is not."""

    def __init__(
        self,
        venue: str,
        table: Mapping[str, Limit],
        *,
        max_wait_s: float = 5.0,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        """Pace calls to `venue` by `table`; a call that would wait over `max_wait_s` is refused."""
        self.venue = venue
        self.table = dict(table)
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep or clock_sleep  # the process clock's: real, or skipped in tests
        self._sent: dict[str, deque[float]] = {}  # per key, the times of its last `calls` calls, in order
        self._not_before: dict[str, float] = {}
        self._penalty_until = 0.0
        self._penalty_reason = ""
        self.waited_s = 0.0  # total seconds spent waiting, for metrics and tests

    def _now(self) -> float:
        return (self._clock or current()).now()

    def penalize(self, seconds: float, reason: str) -> None:
        """Shut every call out for `seconds` (the venue's penalty box, an IP ban): refuse, never hammer."""
        self._penalty_until = max(self._penalty_until, self._now() + seconds)
        self._penalty_reason = reason

    def penalty_left(self) -> float:
        """Return the seconds left in the penalty box (0 when out)."""
        return max(0.0, self._penalty_until - self._now())

    def observe(self, key: str, remaining: int, reset_at: float) -> None:
        """Take the venue's own count (rate-limit headers): none left means no call on `key` before `reset_at`."""
        if remaining <= 0:
            self._not_before[key] = max(self._not_before.get(key, 0.0), reset_at)

    def delay(self, *keys: str) -> float:
        """Return how long a call on `keys` would wait now (no reservation)."""
        now = self._now()
        return max(0.0, max((self._allowed_at(key, now) for key in keys), default=now) - now)

    def _allowed_at(self, key: str, now: float) -> float:
        limit = self.table.get(key)
        if limit is None:
            # Fail closed: a call with no documented limit is a mistake in the venue's table.
            raise KeyError(f"{self.venue} pacing table has no limit for {key!r}")
        at = max(now, self._not_before.get(key, 0.0))
        sent = self._sent.get(key)
        if sent:
            at = max(at, sent[-1])  # in order: a call never overtakes one reserved before it
            if len(sent) >= limit.calls:
                at = max(at, sent[0] + limit.per_s)
        return at

    async def acquire(self, *keys: str) -> None:
        """Reserve a slot in every window of `keys`, waiting for it if short; raise RATE_LIMIT if not."""
        penalty = self.penalty_left()
        if penalty > 0:
            raise self._refusal(
                penalty, f"{self.venue} shut this server out ({self._penalty_reason}); no call is sent until it ends"
            )
        now = self._now()
        at = max((self._allowed_at(key, now) for key in keys), default=now)
        wait = at - now if at - now > 1e-6 else 0.0  # float dust of the bucket arithmetic is no wait
        if wait > self.max_wait_s:
            raise self._refusal(wait, f"the gateway's pace for {self.venue} ({', '.join(keys)}) is spent")
        for key in keys:
            sent = self._sent.setdefault(key, deque())
            sent.append(max(at, now))
            while len(sent) > self.table[key].calls:
                sent.popleft()
        if wait > 0:
            self.waited_s += wait
            await self._sleep(wait)

    def _refusal(self, wait_s: float, message: str) -> RateLimitError:
        return RateLimitError(
            message,
            details={"venue": self.venue, "retry_after_s": round(wait_s, 3)},
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            suggested_fix="retry after the Retry-After seconds; nothing was sent to the venue",
        )
