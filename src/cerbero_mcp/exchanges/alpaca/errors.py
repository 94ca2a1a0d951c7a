"""Alpaca error answers → the common error classes: data for the shared `ErrorTable`.

Alpaca answers `{"code": <8 digits>, "message": ".."}` whose first three digits echo the HTTP
status (401 may carry only `{"message": "unauthorized"}`). 403 `40310000` covers several refusals —
insufficient buying power, the pattern-day-trader rule, a blocked account, a cost basis under the
minimum — so the message decides the class there (BROAD). Every 4xx, 429 included, is Alpaca
refusing the request before acting on it: a definite rejection of a write. A 5xx (or a transport
failure) after an order POST left is "may have been placed".
"""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.base import ErrorTable

FORBIDDEN = 40310000
NOT_FOUND = 40410000
UNPROCESSABLE = 42210000
RATE_LIMITED = 42910000
EXACT: dict[int | str, type[errors.CerberoError]] = {
    40010000: errors.InvalidInputError,  # malformed request
    40010001: errors.InvalidInputError,  # invalid request parameter
    40110000: errors.UpstreamAuthError,  # request is not authorized (bad or wrong-environment key)
    40410000: errors.OrderNotFoundError,  # order / position / resource not found
    42910000: errors.RateLimitError,  # too many requests
    50010000: errors.UpstreamError,  # internal server error: may have acted
}
# Messages Alpaca sends under 403 40310000 and 422 42210000 (the code alone does not tell them apart).
BROAD: dict[str, type[errors.CerberoError]] = {
    "insufficient buying power": errors.InsufficientFundsError,
    "insufficient day trading buying power": errors.InsufficientFundsError,
    "insufficient qty available": errors.InsufficientFundsError,
    "insufficient balance": errors.InsufficientFundsError,
    "pattern day trad": errors.InvalidOrderError,
    "cost basis must be": errors.InvalidOrderError,
    "trading is blocked": errors.InvalidOrderError,
    "account is not authorized": errors.UpstreamAuthError,
    "not allowed to short": errors.InvalidOrderError,
    "client_order_id must be unique": errors.InvalidOrderError,
    "asset not found": errors.InvalidInputError,
    "could not find asset": errors.InvalidInputError,
    "is not tradable": errors.InvalidOrderError,
    "order not found": errors.OrderNotFoundError,
    "position does not exist": errors.OrderNotFoundError,
    "position not found": errors.OrderNotFoundError,
    "sub-penny increment": errors.InvalidInputError,
    "unauthorized": errors.UpstreamAuthError,
    "forbidden": errors.UpstreamAuthError,
    "too many requests": errors.RateLimitError,
}
TABLE = ErrorTable("alpaca", exact=EXACT, broad=BROAD)
STATUS_DEFAULT: dict[int, type[errors.CerberoError]] = {
    400: errors.InvalidInputError,
    401: errors.UpstreamAuthError,
    403: errors.InvalidOrderError,
    404: errors.OrderNotFoundError,
    422: errors.InvalidOrderError,
    429: errors.RateLimitError,
}


def is_definite(status: int) -> bool:
    """Return whether an HTTP status answering a write proves nothing was placed (every 4xx; no 5xx)."""
    return 400 <= status < 500


def to_error(status: int, body: Any, *, write: bool = False) -> errors.CerberoError:
    """Return the common error for one Alpaca error answer (definite for a write unless 5xx)."""
    code = body.get("code") if isinstance(body, dict) else None
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    message = message or f"HTTP {status}"
    code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    details: dict[str, Any] = {"status": status}
    if code is not None:
        details["venue_code"] = code
    note = ""
    if "client_order_id must be unique" in message.lower():
        note = "an order with this client_order_id already exists: look it up, do not resend"
    exact_or_broad = code in EXACT or TABLE.match(message) is not None
    default = None if exact_or_broad else STATUS_DEFAULT.get(status)
    error = TABLE.error(message, code=code, status=status, note=note, details=details, default=default)
    error.definite = write and is_definite(status)
    return error
