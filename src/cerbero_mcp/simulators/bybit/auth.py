"""Bybit v5 authentication and rate limits, as docs/v5/guide.mdx and rate-limit/rate-limit.mdx describe them.

- Signed requests carry `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP`, `X-BAPI-SIGN` and optionally
  `X-BAPI-RECV-WINDOW` (default 5000). The signature is lowercase hex HMAC-SHA256 with the secret
  over `timestamp + api_key + recv_window + X`, X being the raw query string exactly as received
  (GET) or the raw JSON body bytes (POST): recomputed here from what arrived, never re-serialised.
- Checks, in order: a missing header is HTTP 401; a key this environment never issued (another
  environment's key) is 10003; a timestamp outside `server_time - recv_window <= ts < server_time
  + 1000` is 10002; a wrong signature is 10004.
- Per-UID, per-endpoint limits over a rolling one-second window (the documented table, with the
  spot/option variants); every private answer carries `X-Bapi-Limit`, `X-Bapi-Limit-Status` (what
  is left) and `X-Bapi-Limit-Reset-Timestamp` (now, or when the window frees a call once over), and
  a call over the limit is 10006 "Too many visits!".
- The IP limit: 600 requests in a rolling 5 s per client address, on every path; over it the
  address is banned for ten minutes and gets HTTP 403 "access too frequent".
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from cerbero_mcp.simulators.bybit.wire import BybitError, ms

DEFAULT_RECV_WINDOW = 5000
FUTURE_TOLERANCE_MS = 1000
IP_LIMIT = 600
IP_WINDOW_S = 5.0
IP_BAN_S = 600.0

# (path) -> limit per second, with per-category overrides (docs/v5/rate-limit/rate-limit.mdx, UTA 2.0 Pro).
ENDPOINT_LIMITS: dict[str, tuple[int, dict[str, int]]] = {
    "/v5/order/create": (10, {"spot": 20}),
    "/v5/order/amend": (10, {}),
    "/v5/order/cancel": (10, {"spot": 20}),
    "/v5/order/cancel-all": (10, {"option": 1, "spot": 20}),
    "/v5/order/create-batch": (10, {"spot": 20}),
    "/v5/order/realtime": (50, {}),
    "/v5/order/history": (50, {}),
    "/v5/execution/list": (50, {}),
    "/v5/position/list": (50, {}),
    "/v5/position/set-leverage": (10, {}),
    "/v5/position/trading-stop": (10, {}),
    "/v5/account/wallet-balance": (50, {}),
    "/v5/account/info": (50, {}),
}


@dataclass(frozen=True)
class Key:
    """One API key this instance accepts, and the account (UID) it belongs to."""

    api_key: str
    secret: str
    uid: str


class Authenticator:
    """Verifies signed requests against the keys of one environment."""

    def __init__(self, keys: list[Key]) -> None:
        """Accept `keys`."""
        self.keys = {k.api_key: k for k in keys}

    def verify(self, headers: Mapping[str, str], payload: bytes, now: float) -> Key:
        """Return the key a request proves, or raise the error Bybit answers."""
        api_key = headers.get("x-bapi-api-key", "")
        ts_text = headers.get("x-bapi-timestamp", "")
        sign = headers.get("x-bapi-sign", "")
        if not api_key or not ts_text or not sign:
            raise BybitError(10003, "API key is invalid.", status=401)
        key = self.keys.get(api_key)
        if key is None:
            raise BybitError(10003, "API key is invalid.")
        window_text = headers.get("x-bapi-recv-window", str(DEFAULT_RECV_WINDOW))
        if not ts_text.isdigit() or not window_text.isdigit():
            raise BybitError(10001, "params error: X-BAPI-TIMESTAMP and X-BAPI-RECV-WINDOW must be integers")
        ts, window, server = int(ts_text), int(window_text), ms(now)
        if not server - window <= ts < server + FUTURE_TOLERANCE_MS:
            raise BybitError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{server}],recv_window[{window}]",
            )
        origin = ts_text.encode() + api_key.encode() + window_text.encode() + payload
        expected = hmac.new(key.secret.encode(), origin, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sign.lower()):
            raise BybitError(10004, "Error sign, please check your signature generation algorithm.")
        return key


class EndpointLimits:
    """Rolling one-second windows per (UID, endpoint, category group)."""

    def __init__(self) -> None:
        """Start with no calls counted."""
        self.calls: dict[tuple[str, str, str], deque[float]] = {}

    @staticmethod
    def limit_of(path: str, category: str) -> int | None:
        """Return the documented per-second limit of an endpoint (None: not limited here)."""
        entry = ENDPOINT_LIMITS.get(path)
        if entry is None:
            return None
        default, per_category = entry
        return per_category.get(category, default)

    def take(self, uid: str, path: str, category: str, now: float, *, enforce: bool) -> dict[str, str]:
        """Count one call and return the X-Bapi-Limit headers; raise 10006 (with them) when over."""
        limit = self.limit_of(path, category)
        if limit is None:
            return {}
        if not enforce:
            # limits off (the test stack's switch): the headers still come, as a fresh window shows them,
            # so a client pacing from them is never told to wait
            return {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(limit - 1),
                    "X-Bapi-Limit-Reset-Timestamp": str(ms(now))}  # fmt: skip
        group = category if path in ("/v5/order/create", "/v5/order/cancel", "/v5/order/cancel-all",
                                     "/v5/order/create-batch") else ""  # fmt: skip
        window = self.calls.setdefault((uid, path, group), deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            headers = {
                "X-Bapi-Limit": str(limit),
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit-Reset-Timestamp": str(ms(window[0] + 1.0)),
            }
            raise BybitError(10006, "Too many visits!", ext={"headers": headers})
        window.append(now)
        return {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": str(max(limit - len(window), 0)),
            "X-Bapi-Limit-Reset-Timestamp": str(ms(now)),
        }


class IpLimit:
    """600 requests per rolling 5 s per address; over it, a ten-minute ban answered with HTTP 403."""

    def __init__(self) -> None:
        """Start with no calls counted and nobody banned."""
        self.calls: dict[str, deque[float]] = {}
        self.banned_until: dict[str, float] = {}

    def take(self, address: str, now: float) -> None:
        """Count one request from `address`; raise HTTP 403 when it is over the limit or banned."""
        until = self.banned_until.get(address)
        if until is not None:
            if now < until:
                raise BybitError(403, "access too frequent", status=403)
            del self.banned_until[address]
        window = self.calls.setdefault(address, deque())
        while window and window[0] <= now - IP_WINDOW_S:
            window.popleft()
        if len(window) >= IP_LIMIT:
            self.banned_until[address] = now + IP_BAN_S
            window.clear()
            raise BybitError(403, "access too frequent", status=403)
        window.append(now)
