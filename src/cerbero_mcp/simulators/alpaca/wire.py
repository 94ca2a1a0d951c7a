"""Alpaca wire plumbing: errors, JSON, number and time text, query and body parsing, page tokens.

Errors are `{"code": <8 digits>, "message": ...}` whose first three digits echo the HTTP status
(40010000 bad request, 40310000 forbidden, 40410000 not found, 42210000 unprocessable, 42910000
rate limited); an unauthenticated request is 401 `{"message": "unauthorized"}` with no code.
Trading money and quantities are strings ("100000", "10.5"); market data numbers are JSON numbers.
Trading times are RFC 3339 in UTC with microseconds and `Z`; `/v2/clock` speaks New York offsets.
`next_page_token` is an opaque base64 token and `null` on the last page (alpaca-py loops on it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

NO_CODE = 0  # an error body with only a message (data 401, unknown path)


class AlpacaError(Exception):
    """An Alpaca error answer: HTTP status, the 8-digit code (NO_CODE: none) and the message."""

    def __init__(
        self, status: int, message: str, code: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        if code is None:
            code = NO_CODE if status == 401 else status * 100_000
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON error body."""
        if self.code == NO_CODE:
            return {"message": self.message}
        return {"code": self.code, "message": self.message}


def invalid(message: str) -> AlpacaError:
    """Return 422 42210000 with `message` (Alpaca's answer to a well-formed but invalid request)."""
    return AlpacaError(422, message, 42210000)


def bad_request(message: str) -> AlpacaError:
    """Return 400 40010000 with `message` (malformed request)."""
    return AlpacaError(400, message, 40010000)


def forbidden(message: str) -> AlpacaError:
    """Return 403 40310000 with `message` (buying power, available qty, other refusals)."""
    return AlpacaError(403, message, 40310000)


def not_found(message: str) -> AlpacaError:
    """Return 404 40410000 with `message`."""
    return AlpacaError(404, message, 40410000)


def encode(payload: Any) -> bytes:
    """Serialise an answer."""
    return json.dumps(payload, separators=(",", ":")).encode()


def text(value: Decimal | None) -> str | None:
    """Return a Decimal as Alpaca prints it (plain notation, no trailing zeros); None stays None."""
    if value is None:
        return None
    if value == 0:
        return "0"
    return f"{value.normalize():f}"


def money(value: Decimal) -> str:
    """Return an account amount as a string, cents kept when present."""
    q = value.quantize(Decimal("0.01"))
    return text(q) or "0"


def num(value: float, places: int = 4) -> float:
    """Return a market-data number without binary noise."""
    return round(float(value), places)


def ts(t: float | None) -> str | None:
    """Return epoch seconds as RFC 3339 UTC with microseconds (trading API timestamps)."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def data_ts(t: float) -> str:
    """Return epoch seconds as market data prints them (RFC 3339, `Z`, trailing zeros trimmed)."""
    d = datetime.fromtimestamp(t, UTC)
    frac = f"{d.microsecond:06d}".rstrip("0")
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def parse_time(value: str, name: str) -> float:
    """Return an RFC 3339 timestamp or a YYYY-MM-DD date (midnight UTC) as epoch seconds; 400 otherwise."""
    raw = value.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC).timestamp()
        d = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"invalid {name}: {value!r}") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()


def make_token(value: str) -> str:
    """Return an opaque page token carrying `value`."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def read_token(token: str) -> str:
    """Return what a page token carries; 400 "invalid page token" when it is not one of ours."""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise bad_request("invalid page token") from None


class Params:
    """Request parameters from a query string or a JSON body, with Alpaca's validation answers."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        """Wrap parsed parameters."""
        self.raw = dict(raw)

    def opt(self, name: str) -> str | None:
        """Return a parameter as text, or None when absent or empty."""
        v = self.raw.get(name)
        if v is None or v == "":
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        """Return a parameter that must be one of `choices` (422 otherwise)."""
        v = self.opt(name)
        if v is None:
            return default
        if v not in choices:
            raise invalid(f"invalid {name}: {v}")
        return v

    def decimal(self, name: str) -> Decimal | None:
        """Return a number parameter (a string or a JSON number) as a Decimal; 422 when not a number."""
        v = self.raw.get(name)
        if v is None or v == "":
            return None
        if isinstance(v, bool):
            raise invalid(f"invalid {name}")
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise invalid(f"invalid {name}") from None
        if not d.is_finite():
            raise invalid(f"invalid {name}")
        return d

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        """Return an integer parameter within [lo, hi] (422 otherwise)."""
        v = self.opt(name)
        if v is None:
            return default
        try:
            n = int(v)
        except ValueError:
            raise invalid(f"invalid {name}: {v}") from None
        if not lo <= n <= hi:
            raise invalid(f"invalid {name}: {v} (must be between {lo} and {hi})")
        return n

    def boolean(self, name: str, default: bool = False) -> bool:
        """Return a boolean parameter (JSON bool or "true"/"false")."""
        v = self.raw.get(name)
        if v is None or v == "":
            return default
        if isinstance(v, bool):
            return v
        s = str(v).lower()
        if s not in ("true", "false"):
            raise invalid(f"invalid {name}: {v}")
        return s == "true"

    def symbols(self, name: str = "symbols") -> list[str]:
        """Return a comma-separated list parameter."""
        v = self.opt(name)
        return [s.strip() for s in v.split(",") if s.strip()] if v else []


def parse_query(raw: bytes) -> Params:
    """Return the query string's parameters (the last value of a repeated key wins)."""
    return Params(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))


def parse_body(raw: bytes) -> Params:
    """Return a JSON object body's fields; 400 when the body is not a JSON object."""
    if not raw.strip():
        return Params({})
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("request body format is invalid") from None
    if not isinstance(body, dict):
        raise bad_request("request body format is invalid")
    return Params(body)
