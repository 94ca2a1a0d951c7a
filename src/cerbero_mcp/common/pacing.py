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

Where the windows live is a `PacingBackend`: this process's memory (`LocalWindows`, the default), or a
store every replica shares (issue 19: `state_pg.PostgresPacingBackend`, installed for the whole process
with `use_shared_backend` when STATE_DB is PostgreSQL), so N replicas spend one budget per venue key, not
N. Either way a reservation is atomic: computed and recorded in one step (one synchronous stretch of the
event loop here; one database function under a per-key lock there). Waits stay on the process clock.
The penalty box and the venue's own counts (`observe`) stay per replica: each replica sees its own.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cerbero_mcp.common.clock import Clock, current
from cerbero_mcp.common.clock import sleep as clock_sleep
from cerbero_mcp.common.errors import RateLimitError

Sleep = Callable[[float], Awaitable[None]]
# Float dust of the window arithmetic is no wait.
DUST_S = 1e-6


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls per `per_s` seconds, in bursts of up to `calls`."""

    calls: int
    per_s: float
    note: str = ""

    def __post_init__(self) -> None:
        if self.calls < 1 or not self.per_s > 0:
            raise ValueError("a limit needs calls >= 1 and per_s > 0")


class PacingBackend(Protocol):
    """Where the sliding windows of pacers live; `reserve` is atomic."""

    async def reserve(
        self,
        scope: str,
        keys: Sequence[str],
        table: Mapping[str, Limit],
        now: float,
        floor: Mapping[str, float],
        max_wait_s: float,
    ) -> tuple[float, bool]:
        """Return (at, reserved): the earliest time a call on `keys` may go, and whether a slot at it was taken.

        `at` is the latest of `now`, each key's `floor` (the venue's reset), the last call reserved on
        each key, and, on a full window, its oldest call plus the window. Nothing is reserved (False)
        when `at` is more than `max_wait_s` (and more than float dust) after `now`.
        """
        ...


class LocalWindows:
    """The windows of one Pacer in this process's memory: the times of each key's last `calls` calls."""

    def __init__(self) -> None:
        self.sent: dict[str, deque[float]] = {}

    def allowed_at(self, key: str, limit: Limit, now: float, floor: float) -> float:
        """Return when a call on `key` may go (no reservation)."""
        at = max(now, floor)
        sent = self.sent.get(key)
        if sent:
            at = max(at, sent[-1])  # in order: a call never overtakes one reserved before it
            if len(sent) >= limit.calls:
                at = max(at, sent[0] + limit.per_s)
        return at

    async def reserve(
        self,
        scope: str,
        keys: Sequence[str],
        table: Mapping[str, Limit],
        now: float,
        floor: Mapping[str, float],
        max_wait_s: float,
    ) -> tuple[float, bool]:
        """Reserve a slot on every key of `keys` (no await inside: atomic on the event loop)."""
        at = max((self.allowed_at(key, table[key], now, floor.get(key, 0.0)) for key in keys), default=now)
        if at - now > DUST_S and at - now > max_wait_s:
            return at, False
        for key in keys:
            sent = self.sent.setdefault(key, deque())
            sent.append(max(at, now))
            while len(sent) > table[key].calls:
                sent.popleft()
        return at, True


_shared: PacingBackend | None = None


def use_shared_backend(backend: PacingBackend | None) -> PacingBackend | None:
    """Make every Pacer of the process keep its windows in `backend` (None: each its own); return the previous."""
    global _shared
    previous, _shared = _shared, backend
    return previous


def shared_backend() -> PacingBackend | None:
    """Return the backend every Pacer uses, when one is installed."""
    return _shared


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
        # The budget's name in a shared backend: the venue, or "<venue>/<environment>" once the client
        # registry knows the client's environment (testnet and mainnet are separate budgets).
        self.scope = venue
        self.backend: PacingBackend | None = None  # None: the process's shared backend, else self._local
        self._local = LocalWindows()
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
        """Return when a call on `key` may go by this process's windows (a shared budget may say later)."""
        return self._local.allowed_at(key, self._limit(key), now, self._not_before.get(key, 0.0))

    def _limit(self, key: str) -> Limit:
        limit = self.table.get(key)
        if limit is None:
            # Fail closed: a call with no documented limit is a mistake in the venue's table.
            raise KeyError(f"{self.venue} pacing table has no limit for {key!r}")
        return limit

    async def acquire(self, *keys: str) -> None:
        """Reserve a slot in every window of `keys`, waiting for it if short; raise RATE_LIMIT if not."""
        penalty = self.penalty_left()
        if penalty > 0:
            raise self._refusal(
                penalty, f"{self.venue} shut this server out ({self._penalty_reason}); no call is sent until it ends"
            )
        for key in keys:
            self._limit(key)
        backend = self.backend or _shared or self._local
        now = self._now()
        floor = {key: self._not_before.get(key, 0.0) for key in keys}
        at, reserved = await backend.reserve(self.scope, keys, self.table, now, floor, self.max_wait_s)
        wait = at - now if at - now > DUST_S else 0.0
        if not reserved:
            raise self._refusal(wait, f"the gateway's pace for {self.venue} ({', '.join(keys)}) is spent")
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
