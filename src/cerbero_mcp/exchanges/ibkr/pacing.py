"""IBKR's pacing table: the one place the gateway's limits for the Client Portal Web API are written.

Source: IBKR Campus, Web API trading documentation, "Pacing Limitations"
(https://www.interactivebrokers.com/campus/ibkr-api-page/web-api-trading/#pacing-limitations):
a global limit of 50 requests a second for each authenticated username (one Web API session; 10 a
second through the CP Gateway tool, which this gateway does not use), per-endpoint limits (the table
below; the docs spell the orders and trades lists `/iserver/orders` and `/iserver/trades`), and a
429 that may put the caller's IP address in a penalty box for 10 minutes (repeat violators may be
blocked for good). ibind's client notes the same 429 for `/iserver/marketdata/history` (5 concurrent).

The gateway keeps MARGIN under each documented rate: IBKR measures on its side of the network, where
two requests sent exactly one interval apart may arrive a little closer, and one 429 costs ten minutes.
"""

from __future__ import annotations

from cerbero_mcp.common.pacing import Limit, Pacer

GLOBAL = "global"
PENALTY_S = 600.0
MARGIN = 1.1  # each window is 10 % longer than documented
MAX_WAIT_S = 11.0  # the orders list (1 per 5 s) may queue two callers; longer waits are refused, nothing sent


def _limit(calls: int, per_s: float, note: str) -> Limit:
    return Limit(calls, per_s * MARGIN, note)


# (method, path template) → limit; "*" matches any method.
ENDPOINTS: dict[tuple[str, str], Limit] = {
    ("GET", "/iserver/marketdata/snapshot"): _limit(10, 1.0, "10 req/s"),
    ("GET", "/iserver/scanner/params"): _limit(1, 900.0, "1 req/15 mins"),
    ("POST", "/iserver/scanner/run"): _limit(1, 1.0, "1 req/sec"),
    ("GET", "/iserver/account/trades"): _limit(1, 5.0, "1 req/5 secs"),
    ("GET", "/iserver/account/orders"): _limit(1, 5.0, "1 req/5 secs"),
    ("GET", "/iserver/account/pnl/partitioned"): _limit(1, 5.0, "1 req/5 secs"),
    ("GET", "/portfolio/accounts"): _limit(1, 5.0, "1 req/5 secs"),
    ("GET", "/portfolio/subaccounts"): _limit(1, 5.0, "1 req/5 secs"),
    ("POST", "/pa/performance"): _limit(1, 900.0, "1 req/15 mins"),
    ("POST", "/pa/summary"): _limit(1, 900.0, "1 req/15 mins"),
    ("POST", "/pa/transactions"): _limit(1, 900.0, "1 req/15 mins"),
    ("*", "/tickle"): _limit(1, 1.0, "1 req/sec (documented for GET; this gateway POSTs it)"),
    ("GET", "/sso/validate"): _limit(1, 60.0, "1 req/min"),
}
TABLE: dict[str, Limit] = {
    GLOBAL: _limit(50, 1.0, "50 req/s per authenticated username"),
    **{path: limit for (_, path), limit in ENDPOINTS.items()},
}


def keys_for(method: str, path: str) -> tuple[str, ...]:
    """Return the pacing buckets one request counts against: the session's, and its endpoint's if listed."""
    if (method.upper(), path) in ENDPOINTS or ("*", path) in ENDPOINTS:
        return (GLOBAL, path)
    return (GLOBAL,)


def make_pacer() -> Pacer:
    """Return a pacer for one IBKR session (one per environment's client)."""
    return Pacer("ibkr", TABLE, max_wait_s=MAX_WAIT_S)
