"""Pre-trade checks every venue applies before sending: tick size, lot size, minimum notional.

Misaligned values are refused with INVALID_INPUT and the nearest valid values — never rounded
silently, because a rounded order is an order the caller did not ask for.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from cerbero_mcp.common.errors import InvalidInputError


def plain(value: Decimal) -> str:
    """Return a Decimal as plain text without exponent or trailing zeros (1000, not 1E+3)."""
    return format(value.normalize(), "f")


def nearest_multiples(value: Decimal, step: Decimal) -> tuple[Decimal, Decimal]:
    """Return the multiples of `step` just below and just above `value`."""
    below = (value / step).to_integral_value(rounding=ROUND_FLOOR) * step
    above = (value / step).to_integral_value(rounding=ROUND_CEILING) * step
    return below, above


def check_increment(field: str, value: Decimal | None, step: Decimal | None, *, minimum: Decimal | None = None) -> None:
    """Refuse `value` unless it is a multiple of `step` (and at least `minimum`)."""
    if value is None or step is None or step <= 0:
        return
    if minimum is not None and value < minimum:
        raise InvalidInputError(
            f"{field} {value} is below the minimum {plain(minimum)}",
            details={"field": field, "value": str(value), "minimum": plain(minimum)},
            suggested_fix=f"use {field} >= {plain(minimum)}",
        )
    if value % step != 0:
        below, above = nearest_multiples(value, step)
        valid = [plain(v) for v in (below, above) if v > 0 and (minimum is None or v >= minimum)]
        raise InvalidInputError(
            f"{field} {value} is not a multiple of {plain(step)}; nearest valid: {', '.join(valid)}",
            details={"field": field, "value": str(value), "increment": plain(step), "nearest_valid": valid},
            suggested_fix=f"send {field} as one of {', '.join(valid)}",
        )


def check_min_notional(notional: Decimal, minimum: Decimal | None, details: dict[str, Any] | None = None) -> None:
    """Refuse an order whose notional is below the venue's minimum."""
    if minimum is not None and notional < minimum:
        raise InvalidInputError(
            f"order notional {plain(notional)} is below the minimum {plain(minimum)}",
            details={"notional": plain(notional), "minimum": plain(minimum), **(details or {})},
            suggested_fix="increase the quantity",
        )
