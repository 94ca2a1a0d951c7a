"""Deribit error codes → the common error classes: data for the shared `ErrorTable`."""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common import errors
from cerbero_mcp.common.http import mark_definite
from cerbero_mcp.exchanges.base import ErrorTable

# Codes from the Deribit v2 clients and legacy docs (see shared/reference/upstreams.md); the table on
# docs.deribit.com/articles/errors contradicts them and is not used.
EXACT: dict[int | str, type[errors.CerberoError]] = {
    10000: errors.UpstreamAuthError,  # authorization_required
    10004: errors.OrderNotFoundError,  # order_not_found
    10009: errors.InsufficientFundsError,  # not_enough_funds
    10028: errors.RateLimitError,  # too_many_requests
    11050: errors.InvalidOrderError,  # bad_request
    13004: errors.UpstreamAuthError,  # invalid_credentials
    13009: errors.UpstreamAuthError,  # unauthorized
    13032: errors.InvalidOrderError,  # non_unique_order_label
    -32602: errors.InvalidInputError,  # Invalid params
    -32601: errors.InvalidInputError,  # Method not found
    # Deribit's own words for "something failed, no information": the request may have been acted
    # on, so after a write they are not definite refusals (UpstreamError is never one).
    10001: errors.UpstreamError,  # error
    11031: errors.UpstreamError,  # other_error
    11094: errors.UpstreamError,  # internal_server_error
    13008: errors.UpstreamError,  # request_failed
    # Transient: the venue could not act now; trying later may work (ccxt: ExchangeNotAvailable,
    # OnMaintenance, DDoSProtection). After an order POST the first three are not definite refusals
    # (UpstreamError never is), so the order is reported as "may have been placed" and never re-sent;
    # a full matching-engine queue refused the request outright, like a rate limit.
    10040: errors.UpstreamError,  # retry
    10041: errors.UpstreamError,  # settlement_in_progress
    11051: errors.UpstreamError,  # system_maintenance
    10047: errors.RateLimitError,  # matching_engine_queue_full
}
# Order-validation messages Deribit returns under generic codes.
BROAD: dict[str, type[errors.CerberoError]] = {
    "not_enough_funds": errors.InsufficientFundsError,
    "order_not_found": errors.OrderNotFoundError,
    "instrument_not_found": errors.InvalidInputError,
    "invalid_amount": errors.InvalidOrderError,
    "invalid_price": errors.InvalidOrderError,
    "post_only_reject": errors.InvalidOrderError,
    "reduce_only": errors.InvalidOrderError,
    "price_too_high": errors.InvalidOrderError,
    "price_too_low": errors.InvalidOrderError,
    "already_filled": errors.InvalidOrderError,
    "already_closed": errors.InvalidOrderError,
    "invalid_arguments": errors.InvalidInputError,
}
TABLE = ErrorTable("deribit", exact=EXACT, broad=BROAD)
AUTH_EXPIRED = 13009


def to_error(
    code: int, message: str, data: Any = None, *, http_status: int | None = None, write: bool = False
) -> errors.CerberoError:
    """Return the common error for a Deribit error object (its `data` reason is quoted, not matched)."""
    details: dict[str, Any] = {"venue_code": code}
    reason = ""
    if isinstance(data, dict):
        reason = str(data.get("reason") or data.get("param") or "")
        details["venue_data"] = {k: v for k, v in data.items() if k in ("reason", "param")}
    return mark_definite(TABLE.error(message, code=code, status=http_status, note=reason, details=details), write)
