"""Time for the simulators: the process clock, or a manual clock that tests set and advance.

Every time in the engine is epoch seconds as a `float` (UTC). Venue simulators convert to their
own wire units (milliseconds, nanoseconds, ISO 8601) at the edge; `now_ms()` is a convenience.
`Clock` and `SystemClock` are the gateway's (`cerbero_mcp.common.clock`), so a simulator and the
gateway can run on one clock.
"""

from __future__ import annotations

import threading

from cerbero_mcp.common.clock import Clock, SystemClock

__all__ = ["Clock", "ManualClock", "PinnedClock", "SystemClock", "now_ms"]


def now_ms(clock: Clock) -> int:
    """Return the clock's current time in whole epoch milliseconds."""
    return int(clock.now() * 1000)


class ManualClock:
    """A clock that only moves when told to; safe to set from a test thread while a server reads it."""

    def __init__(self, start: float = 1_735_689_600.0) -> None:
        """Start at `start` epoch seconds (default 2025-01-01T00:00:00Z)."""
        self._lock = threading.Lock()
        self._now = float(start)

    def now(self) -> float:
        """Return the time last set."""
        return self._now

    def set(self, t: float) -> None:
        """Jump to epoch seconds `t` (backwards is allowed; the engine ignores time going back)."""
        with self._lock:
            self._now = float(t)

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("advance() takes a non-negative number of seconds; use set() to go back")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


class PinnedClock:
    """A venue simulator's clock, held still while one request is served (one instant per request)."""

    def __init__(self, clock: Clock) -> None:
        """Wrap `clock`."""
        self.clock = clock
        self.pinned: float | None = None
        self._last = clock.now()

    def now(self) -> float:
        """Return the pinned instant during a request, else the wrapped clock's time."""
        return self.pinned if self.pinned is not None else self.clock.now()

    def pin(self) -> float:
        """Hold the clock at the wrapped clock's time (never earlier than the last pin) and return it."""
        now = max(self.clock.now(), self._last)
        self._last = self.pinned = now
        return now

    def release(self) -> None:
        """Let the clock run again after a request."""
        self.pinned = None
