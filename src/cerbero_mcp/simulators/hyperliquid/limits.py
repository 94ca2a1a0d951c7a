"""Hyperliquid's rate limits (hyperliquid.gitbook.io, rate-limits).

- Per IP: REST requests share 1200 weight per minute; /exchange weighs 1 + floor(batch/40), /info
  2, 20 or 60 by type (plus 1 per 60 candles returned, 1 per 20 funding rows or fills). Over it the
  venue answers HTTP 429.
- Per address (actions only): 10,000 requests plus 1 per USDC traded since inception; a batch of
  n orders or cancels counts n. Once exhausted one request per 10 s still passes; cancels may go to
  min(limit + 100,000, 2 × limit). Over it the action fails with HTTP 200 `{"status": "err"}`.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal

IP_WEIGHT_PER_MIN = 1200
WINDOW_S = 60.0
ADDRESS_BUFFER = 10_000
CANCEL_EXTRA = 100_000
EXHAUSTED_EVERY_S = 10.0


class IpLimit:
    """A sliding one-minute weight window per client IP."""

    def __init__(self, limit: int = IP_WEIGHT_PER_MIN) -> None:
        """Allow `limit` weight per minute per IP."""
        self.limit = limit
        self._spent: dict[str, deque[tuple[float, int]]] = {}

    def take(self, ip: str, weight: int, now: float) -> bool:
        """Spend `weight` for `ip` at `now`; return False (nothing spent) when over the limit."""
        q = self._spent.setdefault(ip, deque())
        while q and q[0][0] <= now - WINDOW_S:
            q.popleft()
        used = sum(w for _, w in q)
        if used + weight > self.limit:
            return False
        q.append((now, weight))
        return True

    def charge(self, ip: str, weight: int, now: float) -> None:
        """Spend `weight` after answering (the per-item extras), even past the limit: the next request pays."""
        if weight > 0:
            self._spent.setdefault(ip, deque()).append((now, weight))


class AddressLimit:
    """The per-address action budget that grows with traded volume."""

    def __init__(self) -> None:
        """Start with nothing used."""
        self.used = 0
        self._last_exhausted: float = -math.inf

    def cap(self, volume: Decimal) -> int:
        """Return the request cap for a cumulative traded volume (USDC)."""
        return ADDRESS_BUFFER + int(volume)

    def take(self, n: int, volume: Decimal, now: float, *, cancel: bool) -> str | None:
        """Count an action of `n` requests; return the venue's refusal text when over budget."""
        cap = self.cap(volume)
        limit = min(cap + CANCEL_EXTRA, 2 * cap) if cancel else cap
        if self.used + n <= limit:
            self.used += n
            return None
        if now - self._last_exhausted >= EXHAUSTED_EVERY_S:
            self._last_exhausted = now
            self.used += n
            return None
        return (
            f"Too many cumulative requests sent ({self.used + n} > {limit}) for cumulative volume traded "
            f"${volume:.2f}. Place taker orders to free up 1 request per USDC traded."
        )
