"""The time the gateway runs on: the wall clock in production, a pinned clock in tests.

Every "now" of the tools (request windows, data timestamps, signatures the venue checks for
freshness) comes from `now()` / `utcnow()`, so the tests can run the gateway and the simulators on
one clock that starts at a fixed instant, whatever the date of the machine.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time in epoch seconds."""

    def now(self) -> float:
        """Return the current time in epoch seconds (UTC)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        """Return `time.time()`."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class StartedClock:
    """A clock that starts at a fixed instant and runs on at wall-clock speed (monotonic)."""

    def __init__(self, start: float) -> None:
        """Start at `start` epoch seconds, now."""
        self.start = float(start)
        self._origin = time.monotonic()

    def now(self) -> float:
        """Return the start instant plus the seconds elapsed since construction."""
        return self.start + (time.monotonic() - self._origin)

    def __repr__(self) -> str:
        return f"StartedClock({self.start!r})"


class SkippingClock(StartedClock):
    """A StartedClock whose waits are skipped: `sleep` moves the clock forward instead of the process.

    Tests run on it so that a venue's pacing (IBKR allows its orders list once per 5 s) costs no
    wall-clock time: the gateway and the simulators share the clock, so a skipped wait is a wait
    that happened for both of them.
    """

    def __init__(self, start: float) -> None:
        """Start at `start` epoch seconds, now, with nothing skipped."""
        super().__init__(start)
        self.skipped = 0.0

    def now(self) -> float:
        """Return the start instant plus the seconds elapsed and skipped since construction."""
        return super().now() + self.skipped

    def skip(self, seconds: float) -> None:
        """Move the clock `seconds` forward."""
        self.skipped += max(0.0, seconds)

    def __repr__(self) -> str:
        return f"SkippingClock({self.start!r}, skipped={self.skipped!r})"


_current: Clock = SystemClock()


def use_clock(clock: Clock) -> Clock:
    """Make `clock` the process clock and return the previous one (tests and the test harness only)."""
    global _current
    previous, _current = _current, clock
    return previous


def current() -> Clock:
    """Return the process clock."""
    return _current


def now() -> float:
    """Return the process clock's time in epoch seconds."""
    return _current.now()


def utcnow() -> datetime:
    """Return the process clock's time, timezone-aware in UTC."""
    return datetime.fromtimestamp(_current.now(), UTC)


async def sleep(seconds: float) -> None:
    """Wait `seconds` on the process clock: really, or by moving a SkippingClock forward (tests)."""
    clock = _current
    if isinstance(clock, SkippingClock):
        clock.skip(seconds)
        await asyncio.sleep(0)
    else:
        await asyncio.sleep(seconds)
