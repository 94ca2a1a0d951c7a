"""IBKR's error texts → the common error classes (a table, not an if-chain).

The Client Portal API reports most failures as text: `{"error": "..."}` (often at HTTP 200 for
order rejections), or an order-reply question whose message names the problem. The tables match
lower-cased fragments, first match wins.
"""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common import errors

BROAD: tuple[tuple[str, type[errors.CerberoError]], ...] = (
    ("insufficient", errors.InsufficientFundsError),
    ("buying power", errors.InsufficientFundsError),
    ("margin", errors.InsufficientFundsError),
    ("already in use", errors.InvalidOrderError),  # duplicate cOID
    ("local order id", errors.InvalidOrderError),
    ("order not found", errors.OrderNotFoundError),
    ("not found", errors.OrderNotFoundError),
    ("no such order", errors.OrderNotFoundError),
    ("invalid conid", errors.InvalidInputError),
    ("contract not found", errors.InvalidInputError),
    ("not authenticated", errors.UpstreamAuthError),
    ("no bridge", errors.UpstreamError),
    ("accounts not primed", errors.UpstreamError),
    ("rate limit", errors.RateLimitError),
)
# Order-reply questions that must never be confirmed blindly: they signal a problem with the order
# (margin, suitability, credit), not a formality.
REFUSED_QUESTIONS: tuple[tuple[str, type[errors.CerberoError]], ...] = (
    ("margin", errors.InsufficientFundsError),
    ("buying power", errors.InsufficientFundsError),
    ("credit", errors.InsufficientFundsError),
    ("suitab", errors.InvalidOrderError),
    ("not permitted", errors.InvalidOrderError),
    ("trading permission", errors.InvalidOrderError),
)


def to_error(
    message: str, *, status: int | None = None, default: type[errors.CerberoError] | None = None
) -> errors.CerberoError:
    """Return the common error for an IBKR error text."""
    lowered = message.lower()
    cls = next((c for fragment, c in BROAD if fragment in lowered), None)
    if cls is None:
        cls = default or (errors.UpstreamError if status is not None and status >= 500 else errors.InvalidOrderError)
    details: dict[str, Any] = {"venue": "ibkr"}
    if status is not None:
        details["status"] = status
    return cls(f"ibkr: {message}", details=details)


def refused_question(messages: list[str], message_ids: list[str]) -> errors.CerberoError | None:
    """Return the error for an order question that signals a real problem, or None for a formality."""
    text = " ".join(messages)
    lowered = text.lower()
    for fragment, cls in REFUSED_QUESTIONS:
        if fragment in lowered:
            return cls(
                f"ibkr asked to confirm a problem with the order and it was not confirmed: {text}",
                details={"venue": "ibkr", "message_ids": message_ids},
                suggested_fix="change the order (size, account funds or permissions) and send it again",
            )
    return None
