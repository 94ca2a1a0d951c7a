"""Hyperliquid's wire conventions: decimal strings, the `{"status": ...}` envelope and its error answers.

Numbers that are prices, sizes or money travel as decimal strings without exponent or trailing
zeros, whole values with one decimal ("100.0", "0.01"); times are integer epoch milliseconds.
Action failures are HTTP 200 `{"status": "err", "response": "<text>"}` (hyperliquid.gitbook.io,
exchange-endpoint and error-responses); a body the server cannot deserialize is HTTP 422 with a
plain-text reason.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any


class ActionError(Exception):
    """An action the venue refuses as a whole: HTTP 200 `{"status": "err", "response": message}`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(Exception):
    """A body the venue cannot deserialize: HTTP `status` with a plain-text message."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def ms(t: float) -> int:
    """Return epoch seconds as integer milliseconds."""
    return math.floor(t * 1000)


def text(x: Decimal | float | int) -> str:
    """Return a number as Hyperliquid writes it: no exponent, no trailing zeros, but whole numbers as "100.0".

    The documented responses print whole values with one decimal ("113377.0", "0.0", "5.0").
    """
    d = x if isinstance(x, Decimal) else Decimal(str(x))
    if d == d.to_integral_value():
        return f"{int(d)}.0"
    return f"{d.normalize():f}"


def fixed(x: float | Decimal, places: int) -> str:
    """Return a float rounded to `places` decimals as a decimal string (no trailing zeros)."""
    return text(Decimal(str(round(float(x), places))))


def decimal_field(value: Any, what: str) -> Decimal:
    """Return a wire decimal string as a Decimal, or 422 when it is not one."""
    if not isinstance(value, str):
        raise BadRequest(f"Failed to deserialize the JSON body into the target type: {what}: invalid type")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise BadRequest(f"Failed to deserialize the JSON body into the target type: {what}: invalid decimal") from None
    if not d.is_finite():
        raise BadRequest(f"Failed to deserialize the JSON body into the target type: {what}: invalid decimal")
    return d


def ok(response: Any) -> dict[str, Any]:
    """Return the success envelope."""
    return {"status": "ok", "response": response}


def err(message: str) -> dict[str, Any]:
    """Return the action-failure envelope."""
    return {"status": "err", "response": message}


def encode(payload: Any) -> bytes:
    """Return compact JSON bytes."""
    return json.dumps(payload, separators=(",", ":")).encode()
