"""JSON-RPC plumbing of the Deribit simulator: typed errors, parameter parsing, exact JSON numbers.

Parameters arrive typed from a POSTed envelope or as strings from a GET query; `Params` accepts
both and answers Deribit's `-32602 Invalid params` with `data: {reason, param}` when one does not
fit. Numbers leave as JSON numbers: Decimals exactly as they are, floats rounded for display and
never NaN (JSON has none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cerbero_mcp.common.http import dumps_exact


class RpcError(Exception):
    """A Deribit error answer: JSON-RPC code, message, optional data, and the HTTP status it travels with."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None, *, status: int = 400) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.data = data
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        """Return the `error` member of the envelope."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def invalid(reason: str, param: str) -> RpcError:
    """Return Deribit's -32602 for one parameter."""
    return RpcError(-32602, "Invalid params", {"reason": reason, "param": param})


def not_found(name: str, param: str = "instrument_name") -> RpcError:
    """Return the -32602 an unknown instrument (`name`) gets."""
    del name  # Deribit names the parameter, not the value
    return RpcError(-32602, "Invalid params", {"reason": "instrument not found", "param": param})


_MISSING = object()


class Params:
    """The `params` of one call, typed on demand (GET gives strings, POST gives JSON types)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        """Wrap the raw mapping."""
        self.raw = dict(raw)

    def has(self, name: str) -> bool:
        """Return whether `name` was sent (and is not null)."""
        return self.raw.get(name) is not None

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise invalid("missing required parameter", name)
            return _MISSING
        return value

    def text(self, name: str, default: str | None = None, *, choices: Iterable[str] | None = None) -> str:
        """Return a string parameter (required when `default` is None)."""
        value = self._get(name, default is None)
        if value is _MISSING:
            assert default is not None
            return default
        if not isinstance(value, str | int | Decimal | float) or isinstance(value, bool):
            raise invalid("must be a string", name)
        text = str(value)
        if choices is not None:
            allowed = list(choices)
            if text not in allowed:
                raise invalid(f"must be one of: {', '.join(allowed)}", name)
        return text

    def opt_text(self, name: str, *, choices: Iterable[str] | None = None) -> str | None:
        """Return an optional string parameter, None when absent."""
        return self.text(name, "", choices=None if choices is None else [*choices, ""]) or None

    def decimal(self, name: str, *, required: bool = True) -> Decimal | None:
        """Return a finite number parameter as a Decimal (None when optional and absent)."""
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if isinstance(value, bool):
            raise invalid("must be a number", name)
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise invalid("must be a number", name) from None
        if not number.is_finite():
            raise invalid("must be a finite number", name)
        return number

    def integer(self, name: str, default: int | None = None) -> int:
        """Return an integer parameter (required when `default` is None)."""
        value = self._get(name, default is None)
        if value is _MISSING:
            assert default is not None
            return default
        number = self.decimal(name)
        assert number is not None
        if number != number.to_integral_value():
            raise invalid("must be an integer", name)
        return int(number)

    def boolean(self, name: str, default: bool = False) -> bool:
        """Return a boolean parameter ("true"/"false" in a query)."""
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid("must be a boolean", name)

    def items(self, name: str) -> list[dict[str, Any]]:
        """Return a list-of-objects parameter (JSON text is accepted from a query string)."""
        value = self._get(name, True)
        if isinstance(value, str):
            try:
                value = json.loads(value, parse_float=Decimal)
            except ValueError:
                raise invalid("must be a JSON array", name) from None
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            raise invalid("must be an array of objects", name)
        return value


def num(value: float | None, digits: int = 8) -> float | None:
    """Return a float rounded for display, None for missing or non-finite values."""
    if value is None:
        return None
    x = float(value)
    if not math.isfinite(x):
        return None
    return round(x, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def dec(value: Decimal | None) -> Decimal | None:
    """Return a Decimal without trailing noise (1e-12 money quantum kept exact)."""
    if value is None:
        return None
    return value.normalize() if value != 0 else Decimal(0)


def encode(payload: Any) -> bytes:
    """Serialise a response with Decimals as exact JSON numbers."""
    return dumps_exact(payload).encode()
