"""Bybit retCodes → the common error classes: data for the shared `ErrorTable`.

Business errors arrive as HTTP 200 with `retCode != 0` (docs/v5/error.mdx). A code is a definite
refusal of a write (nothing was placed) unless it is one of the TRANSIENT codes: Bybit's own words
for "it failed somewhere inside" (10000 server timeout, 10016 server error, 170001 internal error),
after which an order may still have been accepted.
"""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.base import ErrorTable

RATE_LIMITED = 10006
DUPLICATE_ORDER_LINK_ID = 110072
ORDER_NOT_FOUND = 110001
STALE_TIMESTAMP = 10002
EXACT: dict[int | str, type[errors.CerberoError]] = {
    # auth and environment
    10003: errors.UpstreamAuthError,  # API key is invalid (or used against the wrong environment)
    10004: errors.UpstreamAuthError,  # error sign
    10005: errors.UpstreamAuthError,  # permission denied
    10007: errors.UpstreamAuthError,  # user authentication failed
    10009: errors.UpstreamAuthError,  # IP banned
    10010: errors.UpstreamAuthError,  # unmatched IP
    33004: errors.UpstreamAuthError,  # api key has expired
    10002: errors.UpstreamAuthError,  # request time outside recv_window: our clock, not the order
    # rate limits
    10006: errors.RateLimitError,  # too many visits
    10018: errors.RateLimitError,  # exceeded the IP rate limit
    # transient: the request may have been acted on
    10000: errors.UpstreamTimeoutError,  # server timeout
    10016: errors.UpstreamError,  # server error / service restarting
    170001: errors.UpstreamError,  # internal error (spot)
    110079: errors.UpstreamError,  # the order is processing, try again later
    # parameters and symbols
    10001: errors.InvalidInputError,  # request parameter error
    10017: errors.InvalidInputError,  # route not found (also: a path demo trading lacks)
    10029: errors.InvalidInputError,  # symbol not on the whitelist
    170121: errors.InvalidInputError,  # invalid symbol
    170130: errors.InvalidInputError,  # data sent for parameter is not valid
    181001: errors.InvalidInputError,  # category only supports linear, option or spot
    181002: errors.InvalidInputError,  # symbol is null
    181003: errors.InvalidInputError,  # side is null
    # funds
    110004: errors.InsufficientFundsError,  # wallet balance is insufficient
    110006: errors.InsufficientFundsError,  # assets cannot cover the position margin
    110007: errors.InsufficientFundsError,  # available balance is insufficient
    110012: errors.InsufficientFundsError,  # insufficient available balance
    110014: errors.InsufficientFundsError,  # insufficient balance to add margin
    110044: errors.InsufficientFundsError,  # available margin is insufficient
    110045: errors.InsufficientFundsError,  # wallet balance is insufficient
    170131: errors.InsufficientFundsError,  # balance insufficient (spot)
    # orders
    110001: errors.OrderNotFoundError,  # order does not exist
    170213: errors.OrderNotFoundError,  # order does not exist (spot)
    110008: errors.InvalidOrderError,  # already filled or cancelled
    110010: errors.InvalidOrderError,  # already cancelled
    110072: errors.InvalidOrderError,  # duplicate orderLinkId
    110003: errors.InvalidOrderError,  # price outside the allowed range
    110017: errors.InvalidOrderError,  # qty truncated to zero
    110020: errors.InvalidOrderError,  # more than 500 active orders
    110021: errors.InvalidOrderError,  # position limit (open interest)
    110057: errors.InvalidOrderError,  # TP/SL params on a conditional or limit order
    110092: errors.InvalidOrderError,  # expected rising trigger
    110093: errors.InvalidOrderError,  # expected falling trigger
    110094: errors.InvalidOrderError,  # notional below the minimum
    170124: errors.InvalidOrderError,  # order amount too large
    170132: errors.InvalidOrderError,  # price too high
    170133: errors.InvalidOrderError,  # price below the minimum
    170134: errors.InvalidOrderError,  # price decimals too long
    170136: errors.InvalidOrderError,  # quantity below the minimum
    170137: errors.InvalidOrderError,  # quantity decimals too long
    170140: errors.InvalidOrderError,  # order value below the minimum
    170210: errors.InvalidOrderError,  # new order rejected
}
# retMsg fragments Bybit returns under generic codes (10001 carries most parameter problems).
BROAD: dict[str, type[errors.CerberoError]] = {
    "not supported symbols": errors.InvalidInputError,
    "symbol invalid": errors.InvalidInputError,
    "order not exists": errors.OrderNotFoundError,
    "order does not exist": errors.OrderNotFoundError,
    "insufficient": errors.InsufficientFundsError,
    "too many visits": errors.RateLimitError,
}
TRANSIENT = frozenset({10000, 10016, 170001, 110079})
TABLE = ErrorTable("bybit", exact=EXACT, broad=BROAD)


def is_definite(code: int) -> bool:
    """Return whether a retCode answering a write proves the write was refused (nothing placed)."""
    return code not in TRANSIENT


def to_error(code: int, message: str, *, write: bool = False, http_status: int | None = None) -> errors.CerberoError:
    """Return the common error for a Bybit retCode/retMsg (definite for a write unless transient)."""
    details: dict[str, Any] = {"venue_code": code}
    note = ""
    if code == DUPLICATE_ORDER_LINK_ID:
        note = "an order with this client_order_id (orderLinkId) already exists: look it up, do not resend"
    elif code == STALE_TIMESTAMP:
        note = "the request's timestamp was outside Bybit's recv window: check this server's clock (NTP)"
    error = TABLE.error(message, code=code, status=http_status, note=note, details=details)
    # Not `mark_definite`: that treats every 5xx-class error as unknown, but an auth refusal (10003,
    # 10004, a 502 here) is Bybit saying it did not take the request; only TRANSIENT codes leave doubt.
    error.definite = write and is_definite(code)
    return error
