"""The IBKR simulator's enforcement of the Web API's documented pacing limits.

Written from IBKR's "Pacing Limitations" (IBKR Campus, Web API trading documentation,
https://www.interactivebrokers.com/campus/ibkr-api-page/web-api-trading/#pacing-limitations):

- a global limit per authenticated username (one Web API session): 50 requests a second
  (the CP Gateway tool: 10 a second; this simulator is reached with OAuth, as the Web API is);
- per-endpoint limits (the table below; the docs name the orders and trades lists
  `/iserver/orders` and `/iserver/trades`, the endpoints are `/iserver/account/orders` and
  `/iserver/account/trades`);
- a request over a limit is answered 429 Too Many Requests, and the violator's IP address may be put
  in a penalty box for 10 minutes: every request from it is answered 429 until the box opens.

Limits are sliding windows: at most `calls` requests within any `per_s` seconds. The server sees a
client's requests a little later than the client sent them, and not always equally late, so a
request that the client spaced exactly `per_s` apart is accepted within LEEWAY_S.
Tests of other behaviour turn the enforcement off (`IbkrVenue.rate_limit = False`).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

GLOBAL = "global"
PENALTY_S = 600.0
LEEWAY_S = 0.2


@dataclass(frozen=True)
class Window:
    """At most `calls` requests within any `per_s` seconds."""

    calls: int
    per_s: float


# (method, path template) → limit; "*" matches any method.
ENDPOINTS: dict[tuple[str, str], Window] = {
    ("GET", "/iserver/marketdata/snapshot"): Window(10, 1.0),
    ("GET", "/iserver/scanner/params"): Window(1, 900.0),
    ("POST", "/iserver/scanner/run"): Window(1, 1.0),
    ("GET", "/iserver/account/trades"): Window(1, 5.0),
    ("GET", "/iserver/account/orders"): Window(1, 5.0),
    ("GET", "/iserver/account/pnl/partitioned"): Window(1, 5.0),
    ("GET", "/portfolio/accounts"): Window(1, 5.0),
    ("GET", "/portfolio/subaccounts"): Window(1, 5.0),
    ("POST", "/pa/performance"): Window(1, 900.0),
    ("POST", "/pa/summary"): Window(1, 900.0),
    ("POST", "/pa/transactions"): Window(1, 900.0),
    ("*", "/tickle"): Window(1, 1.0),  # documented for GET; clients POST it too
    ("GET", "/sso/validate"): Window(1, 60.0),
}
GLOBAL_WINDOW = Window(50, 1.0)


@dataclass
class Enforcer:
    """Sliding windows per (client, endpoint) and the penalty box per client address."""

    penalty_s: float = PENALTY_S
    leeway_s: float = LEEWAY_S
    _seen: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _boxed_until: dict[str, float] = field(default_factory=dict)

    def admit(self, client: str, method: str, template: str, now: float) -> str | None:
        """Count one request; return None when it is within the limits, else why it gets 429."""
        until = self._boxed_until.get(client, 0.0)
        if now < until:
            return f"Too Many Requests: this address is in the penalty box for {until - now:.0f} more seconds"
        checks = [(GLOBAL, GLOBAL_WINDOW)]
        limit = ENDPOINTS.get((method, template)) or ENDPOINTS.get(("*", template))
        if limit is not None:
            checks.append((template, limit))
        for key, window in checks:
            seen = self._seen[(client, key)]
            while seen and seen[0] <= now - window.per_s + self.leeway_s:
                seen.popleft()
            if len(seen) >= window.calls:
                self._boxed_until[client] = now + self.penalty_s
                return f"Too Many Requests: {key} allows {window.calls} request(s) per {window.per_s:g} s"
        for key, _ in checks:
            self._seen[(client, key)].append(now)
        return None

    def boxed(self, client: str, now: float) -> bool:
        """Return whether `client` is in the penalty box at `now`."""
        return now < self._boxed_until.get(client, 0.0)
