"""Alpaca authentication and rate limits.

- Every request carries `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` (no signature). The trading
  API (paper-api / api) accepts only the keys of its own environment: paper keys fail on live and
  the other way round, with 401 `{"code": 40110000, "message": "request is not authorized"}`.
- Market data (data.alpaca.markets) is one host for both environments and accepts paper and live
  keys alike; a missing or unknown key is 401 `{"message": "unauthorized"}`. Every instance of
  this simulator in the process registers its keys in `DATA_KEYS`, so whichever instance serves
  `ALPACA_DATA_URL` knows both environments' keys.
- Rate limits: 200 requests a minute per account on the trading API and per key on market data
  (the Basic data plan), counted in fixed one-minute windows. Every authenticated answer carries
  `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix seconds, when the
  window resets); over the limit the answer is 429 `{"code": 42910000, "message": "rate limit exceeded"}`.
"""

from __future__ import annotations

import hmac
import math
import threading
from collections.abc import Mapping

from cerbero_mcp.simulators.alpaca.wire import AlpacaError

LIMIT_PER_MIN = 200
WINDOW_S = 60.0
TRADING_UNAUTHORIZED = (40110000, "request is not authorized")

_lock = threading.Lock()
DATA_KEYS: dict[str, str] = {}


def register_data_key(key_id: str, secret: str) -> None:
    """Let the market-data host accept this key (Alpaca's data API takes paper and live keys)."""
    if key_id:
        with _lock:
            DATA_KEYS[key_id] = secret


def _matches(expected: str | None, given: str) -> bool:
    return expected is not None and hmac.compare_digest(expected.encode(), given.encode())


def verify_trading(headers: Mapping[str, str], key_id: str, secret: str) -> str:
    """Return the key id when both headers carry this environment's key; 401 otherwise."""
    given_id = headers.get("apca-api-key-id", "")
    given_secret = headers.get("apca-api-secret-key", "")
    if not given_id or not given_secret or given_id != key_id or not _matches(secret, given_secret):
        raise AlpacaError(401, TRADING_UNAUTHORIZED[1], TRADING_UNAUTHORIZED[0])
    return given_id


def verify_data(headers: Mapping[str, str]) -> str:
    """Return the key id when it is any registered key with its secret; 401 `unauthorized` otherwise."""
    given_id = headers.get("apca-api-key-id", "")
    given_secret = headers.get("apca-api-secret-key", "")
    with _lock:
        expected = DATA_KEYS.get(given_id)
    if not given_id or not given_secret or not _matches(expected, given_secret):
        raise AlpacaError(401, "unauthorized")
    return given_id


class RateLimit:
    """Fixed one-minute windows per (API, key)."""

    def __init__(self, limit: int = LIMIT_PER_MIN) -> None:
        """Count up to `limit` calls a window."""
        self.limit = limit
        self.windows: dict[tuple[str, str], tuple[float, int]] = {}

    def take(self, api: str, key: str, now: float, *, enforce: bool) -> dict[str, str]:
        """Count one call; return the X-RateLimit headers, or raise 429 with them when over."""
        start = math.floor(now / WINDOW_S) * WINDOW_S
        w_start, used = self.windows.get((api, key), (start, 0))
        if w_start != start:
            w_start, used = start, 0
        reset = str(int(w_start + WINDOW_S))
        if not enforce:
            return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.limit - 1),
                    "X-RateLimit-Reset": reset}  # fmt: skip
        if used >= self.limit:
            headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
            raise AlpacaError(429, "rate limit exceeded", 42910000, headers=headers)
        used += 1
        self.windows[(api, key)] = (w_start, used)
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.limit - used),
                "X-RateLimit-Reset": reset}  # fmt: skip
