"""Hyperliquid's error texts → the common error classes: data for the shared `ErrorTable`.

Hyperliquid has no error codes. An action the venue refuses as a whole answers HTTP 200
`{"status": "err", "response": "<text>"}`; an order it refuses answers `{"status": "ok"}` with
`{"error": "<text>"}` in that order's `statuses` entry (docs: exchange-endpoint, error-responses).
Both are definite: the venue looked at the action and did not apply it. Anything else after an
action left (a timeout, a 5xx, a body that is not that envelope) is "may have been applied".
"""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.base import ErrorTable

# Message fragments (case-insensitive, longest wins) of the documented error strings.
BROAD: dict[str, type[errors.CerberoError]] = {
    # signing and the account: a bad signature recovers another address, which "does not exist"
    "does not exist": errors.UpstreamAuthError,  # User or API Wallet 0x... does not exist.
    "must deposit before performing actions": errors.UpstreamAuthError,
    "invalid nonce": errors.UpstreamAuthError,  # our clock or a reused nonce: the action was not applied
    "nonce": errors.UpstreamAuthError,
    "signature": errors.UpstreamAuthError,
    "vault not registered": errors.UpstreamAuthError,
    # funds
    "insufficient margin": errors.InsufficientFundsError,
    "insufficient spot balance": errors.InsufficientFundsError,
    "insufficient balance": errors.InsufficientFundsError,
    # orders
    "tick size": errors.InvalidOrderError,  # Price must be divisible by tick size.
    "minimum value of $10": errors.InvalidOrderError,
    "reduce only order would increase position": errors.InvalidOrderError,
    "post only order would have immediately matched": errors.InvalidOrderError,
    "could not immediately match": errors.InvalidOrderError,
    "open interest is at cap": errors.InvalidOrderError,
    "too aggressive": errors.InvalidOrderError,  # price too far from the oracle
    "invalid size": errors.InvalidOrderError,
    "invalid leverage": errors.InvalidOrderError,
    "cannot switch leverage type": errors.InvalidOrderError,
    "never placed, already canceled, or filled": errors.OrderNotFoundError,
    "order was never placed": errors.OrderNotFoundError,
    "cannot modify canceled or filled order": errors.OrderNotFoundError,
    "unknown oid": errors.OrderNotFoundError,
    "cloid": errors.InvalidOrderError,  # duplicate cloid
    # inputs
    "failed to deserialize": errors.InvalidInputError,
    "asset": errors.InvalidInputError,  # unknown asset id
    "scheduled cancel": errors.InvalidInputError,  # schedule cancel time too early / too many
    # pacing
    "too many cumulative requests": errors.RateLimitError,  # per-address action budget spent
    "rate limit": errors.RateLimitError,
}
TABLE = ErrorTable("hyperliquid", broad=BROAD)
# The per-address budget refills at one action per 10 s once spent (docs: rate-limits).
ADDRESS_BUDGET_NOTE = (
    "the account's action budget is spent: it grows with traded volume (1 per 1 USDC), else 1 per 10 s"
)


def to_error(
    message: str, *, write: bool = False, http_status: int | None = None, index: int | None = None
) -> errors.CerberoError:
    """Return the common error for one Hyperliquid error text (definite for a write: the venue refused it)."""
    details: dict[str, Any] = {"venue_message": message}
    if index is not None:
        details["order"] = index
    note = ""
    lowered = message.lower()
    if "does not exist" in lowered:
        note = (
            "the signature recovered this address: check HYPERLIQUID_PRIVATE_KEY, the API wallet's approval "
            "and the environment"
        )
    elif "nonce" in lowered:
        note = "nonces are millisecond timestamps: check this server's clock (NTP)"
    elif "too many cumulative requests" in lowered:
        note = ADDRESS_BUDGET_NOTE
    error = TABLE.error(message, status=http_status, note=note, details=details)
    # An "err" envelope or a per-order error is the venue refusing the action: nothing was applied.
    error.definite = write
    return error
