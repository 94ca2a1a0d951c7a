"""IBKR's error texts → the common error classes: data for the shared `ErrorTable`.

The Client Portal API reports most failures as text: `{"error": "..."}` (often at HTTP 200 for
order rejections), or an order-reply question whose message names the problem. Both tables match
lower-cased fragments, the longest found wins (IBKR has no error codes worth a table).

"Not found" alone names nothing: IBKR says it of orders ("OrderID 123 not found") and of contracts
("Contract ID 123 not found"), so each fragment names what is missing, and a text about a contract
or conid is never read as a missing order.
"""

from __future__ import annotations

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.base import ErrorTable

BROAD: dict[str, type[errors.CerberoError]] = {
    "insufficient": errors.InsufficientFundsError,
    "buying power": errors.InsufficientFundsError,
    "margin": errors.InsufficientFundsError,
    "already in use": errors.InvalidOrderError,  # duplicate cOID
    "local order id": errors.InvalidOrderError,
    "order not found": errors.OrderNotFoundError,
    "orderid": errors.OrderNotFoundError,  # "OrderID 123 not found", TWS's "OrderId 1 ... is not found"
    "order id": errors.OrderNotFoundError,
    "no such order": errors.OrderNotFoundError,
    "cannot be cancelled": errors.InvalidOrderError,  # the order exists and no longer works (filled, cancelled)
    "cannot be modified": errors.InvalidOrderError,
    "conid": errors.InvalidInputError,
    "contract id": errors.InvalidInputError,
    "invalid contract": errors.InvalidInputError,
    "contract not found": errors.InvalidInputError,
    "no contract": errors.InvalidInputError,
    "security definition": errors.InvalidInputError,
    "not authenticated": errors.UpstreamAuthError,
    "no bridge": errors.UpstreamError,
    "accounts not primed": errors.UpstreamError,
    "rate limit": errors.RateLimitError,
}
# Order-reply questions that must never be confirmed blindly: they signal a problem with the order
# (margin, suitability, credit), not a formality.
REFUSED_QUESTIONS: dict[str, type[errors.CerberoError]] = {
    "margin": errors.InsufficientFundsError,
    "buying power": errors.InsufficientFundsError,
    "credit": errors.InsufficientFundsError,
    "suitab": errors.InvalidOrderError,
    "not permitted": errors.InvalidOrderError,
    "trading permission": errors.InvalidOrderError,
}
TABLE = ErrorTable("ibkr", broad=BROAD)
QUESTIONS = ErrorTable("ibkr", broad=REFUSED_QUESTIONS)


def to_error(
    message: str, *, status: int | None = None, default: type[errors.CerberoError] | None = None
) -> errors.CerberoError:
    """Return the common error for an IBKR error text."""
    return TABLE.error(message, status=status, details=None if status is None else {"status": status}, default=default)


def refused_question(messages: list[str], message_ids: list[str]) -> errors.CerberoError | None:
    """Return the error for an order question that signals a real problem, or None for a formality."""
    text = " ".join(messages)
    cls = QUESTIONS.match(text)
    if cls is None:
        return None
    return cls(
        f"ibkr asked to confirm a problem with the order and it was not confirmed: {text}",
        details={"venue": "ibkr", "message_ids": message_ids},
        suggested_fix="change the order (size, account funds or permissions) and send it again",
    )
