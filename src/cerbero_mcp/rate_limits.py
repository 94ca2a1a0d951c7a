"""Per-caller limits on tool calls: RATE_LIMIT_PER_BOT and MAX_CONCURRENT_CALLS_PER_TOKEN.

RATE_LIMIT_PER_BOT is scoped rules like the order limits (`env.venue=value`, `*` for any part, the most
specific rule wins), each value `<calls>/<window>` where the window is `s`, `min` or `h`, optionally
with a count: `10/s`, `60/min`, `1000/h`, `100/10s`, `500/5min`. Example:
`RATE_LIMIT_PER_BOT=mainnet.*=60/min,*=10/s`. Empty: no per-bot limit.

Every tool call (REST and MCP, reads and writes) counts against the window of its
(environment, venue, bot tag), a sliding window of the shared `Pacer` that refuses at once
(429 RATE_LIMIT with Retry-After) rather than waiting. MAX_CONCURRENT_CALLS_PER_TOKEN caps the
calls one token has in flight (a static token, or one OAuth token by its hashed id) → 429 as well.

The state is in memory, per process: behind several replicas each one counts its own calls. It is
bounded: a window whose last call is older than the window's length is forgotten (a fresh window
behaves the same), and at most `max_keys` windows are kept (the least recently used goes first).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cerbero_mcp.common import clock
from cerbero_mcp.common.errors import RateLimitError
from cerbero_mcp.common.pacing import Limit, LocalWindows, Pacer
from cerbero_mcp.limits import ScopedRules
from cerbero_mcp.settings import ConfigError, Settings

SETTING = "RATE_LIMIT_PER_BOT"
_VALUE = re.compile(r"^(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|min|m|h|hour)$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
MAX_KEYS = 100_000
_KEY = "calls"


def parse_rate(text: str) -> Limit:
    """Parse `<calls>/<window>` (e.g. `60/min`, `100/10s`); ConfigError says the syntax."""
    match = _VALUE.match(text.strip())
    if match is None:
        raise ConfigError(
            f"{SETTING}: {text!r} is not a rate; write <calls>/<window> with s, min or h, e.g. 60/min, 10/s, 100/10s"
        )
    calls = int(match.group(1))
    per_s = float(match.group(2) or 1) * _UNIT_S[match.group(3).lower()]
    if calls < 1 or per_s <= 0:
        raise ConfigError(f"{SETTING}: {text!r} needs at least 1 call in a window longer than 0 s")
    return Limit(calls, per_s, note=text.strip())


@dataclass
class _Window:
    pacer: Pacer
    limit: Limit
    last_used: float


class CallLimits:
    """The per-bot sliding windows and the per-token in-flight counts of one process."""

    def __init__(self, rules: ScopedRules, max_concurrent_per_token: int, *, max_keys: int = MAX_KEYS) -> None:
        self.rules = rules
        self.limits = {scope: parse_rate(value) for scope, value in rules.rules.items()}
        self.max_concurrent_per_token = max_concurrent_per_token
        self.max_keys = max_keys
        self._windows: OrderedDict[tuple[str, str, str], _Window] = OrderedDict()
        self._in_flight: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> CallLimits:
        """Parse RATE_LIMIT_PER_BOT and read MAX_CONCURRENT_CALLS_PER_TOKEN; ConfigError on a bad rule."""
        return cls(ScopedRules.parse(SETTING, settings.rate_limit_per_bot), settings.max_concurrent_calls_per_token)

    def limit_for(self, env: str, venue: str) -> Limit | None:
        """Return the rate of the most specific rule for (env, venue), None when unlimited."""
        for key in ((env, venue), (env, "*"), ("*", venue), ("*", "*")):
            if key in self.limits:
                return self.limits[key]
        return None

    def in_flight(self, token: str) -> int:
        """Return how many calls `token` has in flight."""
        return self._in_flight[token]

    def windows(self) -> int:
        """Return how many per-bot windows are kept (bounded memory)."""
        return len(self._windows)

    async def check_rate(self, env: str, venue: str, bot_tag: str) -> None:
        """Count one call of (env, venue, bot_tag); raise 429 RATE_LIMIT (with Retry-After) when the window is full."""
        limit = self.limit_for(env, venue)
        if limit is None:
            return
        now = clock.now()
        self._forget_idle(now)
        key = (env, venue, bot_tag)
        window = self._windows.get(key)
        if window is None or window.limit != limit:
            # max_wait_s=0: a caller over its budget is told to come back, never held in the server.
            pacer = Pacer(f"{venue} bot", {_KEY: limit}, max_wait_s=0.0)
            # This process's memory, even when the venue pacers share PostgreSQL (issue 19): the scope names
            # the bot, so a shared backend could take it over later without every bot sharing one window.
            pacer.scope = f"bot/{env}/{venue}/{bot_tag}"
            pacer.backend = LocalWindows()
            window = _Window(pacer, limit, now)
            self._windows[key] = window
            while len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
        self._windows.move_to_end(key)
        try:
            await window.pacer.acquire(_KEY)
        except RateLimitError as exc:
            retry = (exc.details or {}).get("retry_after_s", limit.per_s)
            raise RateLimitError(
                f"bot tag {bot_tag!r} made {limit.calls} calls to {venue} on {env} in the last {limit.per_s:g} s"
                f" ({SETTING}: {limit.note})",
                details={"venue": venue, "environment": env, "retry_after_s": retry, "limit": limit.note},
                headers=exc.headers,
                suggested_fix="wait Retry-After seconds before the next call",
            ) from None
        window.last_used = now

    def _forget_idle(self, now: float) -> None:
        # In least-recently-used order: stop at the first window still inside its length.
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if now - window.last_used < window.limit.per_s:
                return
            del self._windows[key]

    @asynccontextmanager
    async def admit(self, env: str, venue: str, bot_tag: str, token: str) -> AsyncIterator[None]:
        """Admit one tool call: a free slot of `token` and room in the bot's window, else 429 (nothing runs)."""
        self._check_slot(token)  # first: a call refused for concurrency does not use up the bot's window
        await self.check_rate(env, venue, bot_tag)
        async with self.slot(token):
            yield

    def _check_slot(self, token: str) -> None:
        if self._in_flight[token] >= self.max_concurrent_per_token:
            raise RateLimitError(
                f"this token already has {self.max_concurrent_per_token} tool calls in flight"
                " (MAX_CONCURRENT_CALLS_PER_TOKEN)",
                details={"retry_after_s": 1, "limit": self.max_concurrent_per_token},
                headers={"Retry-After": "1"},
                suggested_fix="wait for a call to finish before starting another",
            )

    @asynccontextmanager
    async def slot(self, token: str) -> AsyncIterator[None]:
        """Hold one of `token`'s MAX_CONCURRENT_CALLS_PER_TOKEN slots for the block; 429 when none is free."""
        self._check_slot(token)
        self._in_flight[token] += 1
        try:
            yield
        finally:
            self._in_flight[token] -= 1
            if self._in_flight[token] <= 0:
                del self._in_flight[token]
