"""Per-key request windows, the way the sentiment sources count calls.

`FixedWindow` counts calls in calendar-aligned windows (LunarCrush's minute and day, CoinDesk's
second / minute / hour): every call made in a window counts, the count resets at the window's end.
`SlidingWindow` counts the calls of the last `seconds` (CryptoPanic's per-second limit).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class WindowState:
    """What one window says about a call: allowed or not, calls left, and when the window resets."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float


@dataclass(slots=True)
class FixedWindow:
    """At most `limit` calls per key in each calendar-aligned window of `seconds`."""

    limit: int
    seconds: float
    _used: dict[str, tuple[float, int]] = field(default_factory=dict)

    def peek(self, key: str, now: float) -> WindowState:
        """Return the window's state for one more call of `key` at `now`, without counting it."""
        start = math.floor(now / self.seconds) * self.seconds
        window, used = self._used.get(key, (start, 0))
        if window != start:
            used = 0
        return WindowState(used < self.limit, self.limit, max(self.limit - used, 0), start + self.seconds)

    def take(self, key: str, now: float) -> WindowState:
        """Count one call of `key` at `now` and return the state after it."""
        start = math.floor(now / self.seconds) * self.seconds
        window, used = self._used.get(key, (start, 0))
        if window != start:
            used = 0
        used += 1
        self._used[key] = (start, used)
        return WindowState(True, self.limit, max(self.limit - used, 0), start + self.seconds)


@dataclass(slots=True)
class SlidingWindow:
    """At most `limit` calls per key in any `seconds` long interval."""

    limit: int
    seconds: float
    _calls: dict[str, deque[float]] = field(default_factory=dict)

    def peek(self, key: str, now: float) -> WindowState:
        """Return the window's state for one more call of `key` at `now`, without counting it."""
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - self.seconds:
            calls.popleft()
        reset = calls[0] + self.seconds if calls else now
        return WindowState(len(calls) < self.limit, self.limit, max(self.limit - len(calls), 0), reset)

    def take(self, key: str, now: float) -> WindowState:
        """Count one call of `key` at `now` and return the state after it."""
        calls = self._calls.setdefault(key, deque())
        calls.append(now)
        return self.peek(key, now)


def admit(windows: Sequence[FixedWindow | SlidingWindow], key: str, now: float) -> WindowState | None:
    """Count a call in every window if all admit it; else return the first refusing window's state."""
    for window in windows:
        state = window.peek(key, now)
        if not state.allowed:
            return state
    for window in windows:
        window.take(key, now)
    return None
