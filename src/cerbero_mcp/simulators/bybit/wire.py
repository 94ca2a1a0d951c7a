"""Bybit v5 wire plumbing: the envelope, typed errors, parameter parsing, number text and cursors.

Every answer is `{"retCode", "retMsg", "result", "retExtInfo", "time"}`; business errors travel as
HTTP 200 with `retCode != 0` (docs/v5/guide.mdx, error.mdx). Numbers leave as strings, as Bybit
sends them. Request fields that Bybit types as strings (qty, price, triggerPrice, takeProfit,
stopLoss, …) must arrive as JSON strings; a JSON number there is a parameter error, as it is for
Bybit's own typed gateway. Pagination cursors are opaque URL-encoded tokens (`page_args%3D…`);
`""` means the last page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

OK = "OK"


class BybitError(Exception):
    """A Bybit answer other than success: retCode, retMsg, and the HTTP status it travels with (200 mostly)."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 200,
        result: Any = None,
        ext: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status
        self.result = {} if result is None else result
        self.ext = ext or {}


def param_error(message: str) -> BybitError:
    """Return Bybit's 10001 (request parameter error) with `message`."""
    return BybitError(10001, message)


def envelope(result: Any, now_ms: int, *, code: int = 0, message: str = OK, ext: Any = None) -> dict[str, Any]:
    """Return the v5 response envelope."""
    return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": ext or {}, "time": now_ms}


def encode(payload: Any) -> bytes:
    """Serialise an answer (every number in it is already a string or an int)."""
    return json.dumps(payload, separators=(",", ":")).encode()


def text(value: Decimal | None) -> str:
    """Return a Decimal as Bybit prints it (plain notation, no exponent); None as ""."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def on_step(value: Decimal, step: Decimal) -> str:
    """Return `value` printed with the decimals of `step` (Bybit prints prices to the tick: "100000.10")."""
    exp = step.as_tuple().exponent
    places = -exp if isinstance(exp, int) and exp < 0 else 0
    return f"{value:.{places}f}"


def fnum(value: float | None, places: int = 8) -> str:
    """Return a float rounded to `places` decimals as plain text ("" for None or non-finite)."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return ""
    return text(Decimal(repr(round(value, places) + 0.0)))


def ms(t: float) -> int:
    """Return epoch milliseconds of epoch seconds."""
    return round(t * 1000)


# --- cursors ------------------------------------------------------------------------------------


def make_cursor(**fields: str) -> str:
    """Return an opaque, URL-encoded cursor carrying `fields` (Bybit's `page_args%3D…` style)."""
    return quote("&".join(f"{k}={v}" for k, v in fields.items()), safe="")


def read_cursor(cursor: str, *names: str) -> dict[str, str]:
    """Return the fields of a cursor this venue issued; 10001 when it is not one."""
    raw = unquote(cursor)
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if not fields or any(n not in fields for n in names):
        raise param_error("params error: cursor invalid")
    return fields


# --- parameters ---------------------------------------------------------------------------------

_MISSING = object()


class Params:
    """The parameters of one call: the query of a GET (strings) or the JSON object of a POST."""

    def __init__(self, raw: Mapping[str, Any], *, from_query: bool) -> None:
        """Wrap the raw mapping; `from_query` says every value is text."""
        self.raw = dict(raw)
        self.from_query = from_query

    def has(self, name: str) -> bool:
        """Return whether `name` was sent with a non-empty value."""
        value = self.raw.get(name)
        return value is not None and value != ""

    def text(self, name: str, default: str | None = None, *, choices: Iterable[str] | None = None) -> str:
        """Return a string parameter (10001 when required and missing, or not a string)."""
        value = self.raw.get(name)
        if value is None or value == "":
            if default is None:
                raise param_error(f"params error: {name} is required")
            return default
        if not isinstance(value, str):
            raise param_error(f"params error: {name} must be a string")
        if choices is not None and value not in set(choices):
            raise param_error(f"params error: {name} invalid")
        return value

    def opt(self, name: str, *, choices: Iterable[str] | None = None) -> str | None:
        """Return an optional string parameter, None when absent."""
        return self.text(name, "", choices=choices) or None if self.has(name) else None

    def decimal(self, name: str) -> Decimal | None:
        """Return a numeric string parameter as a Decimal (None when absent; 10001 when not a number)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise param_error(f"params error: {name} must be a string")
        try:
            number = Decimal(value)
        except (InvalidOperation, ValueError):
            raise param_error(f"params error: {name} invalid") from None
        if not number.is_finite():
            raise param_error(f"params error: {name} invalid")
        return number

    def integer(self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None) -> int:
        """Return an integer parameter (a JSON integer, or digits in a query)."""
        value = self.raw.get(name, _MISSING)
        if value is _MISSING or value is None or value == "":
            if default is None:
                raise param_error(f"params error: {name} is required")
            return default
        if isinstance(value, bool):
            raise param_error(f"params error: {name} invalid")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.lstrip("-").isdigit():
            number = int(value)
        else:
            raise param_error(f"params error: {name} invalid")
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise param_error(f"params error: {name} out of range [{lo}, {hi}]")
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        """Return a boolean parameter (JSON true/false, or "true"/"false" in a query)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise param_error(f"params error: {name} invalid")

    def items(self, name: str) -> list[dict[str, Any]]:
        """Return a list-of-objects parameter (the `request` array of a batch)."""
        value = self.raw.get(name)
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            raise param_error(f"params error: {name} invalid")
        return value


def parse_query(raw: bytes) -> Params:
    """Return the parameters of a GET from its raw query string."""
    return Params(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)), from_query=True)


def parse_body(raw: bytes) -> Params:
    """Return the parameters of a POST from its raw JSON body (10001 when it is not a JSON object)."""
    if not raw.strip():
        return Params({}, from_query=False)
    try:
        body = json.loads(raw)
    except ValueError:
        raise param_error("params error: request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise param_error("params error: request body must be a JSON object")
    return Params(body, from_query=False)
