"""The opaque cursor of get_news: where the next (older) page of the merged feed starts.

The merged feed has no upstream cursor of its own: CoinDesk pages back by time (`to_ts`), CryptoPanic
by page number. The cursor carries what resumes both: the time the next page starts at (`before`),
the items at or before it already answered (so ties and merged copies are not repeated), fingerprints
of the stories answered near it (so a copy of one of them found only later is not answered again),
the CryptoPanic page to read from, and a fingerprint of the filters (a cursor only continues the
query that made it). It is base64url JSON: not secret, validated and bounded like any other input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cerbero_mcp.common.errors import InvalidInputError

VERSION = 1
MAX_SEEN = 40
MAX_FINGERPRINTS = 40
# Item keys are written short in the cursor ("p123" for "CryptoPanic:123") to keep it small.
_SHORT = {"CryptoPanic:": "p", "CoinDesk:": "d"}
MAX_CRYPTOPANIC_PAGE = 1000


@dataclass
class Cursor:
    """Where a page of the merged feed starts."""

    filters: str
    before: float | None = None  # unix seconds: only items at or before it
    seen: dict[str, float] = field(default_factory=dict)  # item key -> its unix time, already answered
    answered: dict[str, float] = field(default_factory=dict)  # story fingerprint -> newest copy's unix time
    cryptopanic_page: int = 1


def filters_key(*parts: Any) -> str:
    """Return a short fingerprint of the request's filters."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _bounded(entries: dict[str, float], limit: int) -> dict[str, float]:
    # Keep the newest: those are the ones nearest the next page's start, the likeliest to come back.
    return dict(sorted(entries.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def _short(key: str) -> str:
    for long, short in _SHORT.items():
        if key.startswith(long):
            return short + key[len(long) :]
    return key


def _long(key: str) -> str:
    for long, short in _SHORT.items():
        if key.startswith(short):
            return long + key[len(short) :]
    return key


def _wire_time(when: float) -> int | float:
    # Whole seconds (both sources publish to the second) as JSON integers; anything finer kept.
    return int(when) if when == int(when) else round(when, 3)


def encode(cursor: Cursor) -> str:
    """Return the cursor as an opaque URL-safe string."""
    body = {
        "v": VERSION,
        "f": cursor.filters,
        "b": _wire_time(cursor.before) if cursor.before is not None else None,
        "s": {_short(k): _wire_time(t) for k, t in _bounded(cursor.seen, MAX_SEEN).items()},
        "a": {k: _wire_time(t) for k, t in _bounded(cursor.answered, MAX_FINGERPRINTS).items()},
        "p": cursor.cryptopanic_page,
    }
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid(reason: str) -> InvalidInputError:
    return InvalidInputError(
        f"cursor: {reason}",
        details={"field": "cursor"},
        suggested_fix="pass next_cursor from the previous page unchanged, with the same filters; "
        "omit it for the newest page",
    )


def _times(value: Any, limit: int, what: str) -> dict[str, float]:
    if not isinstance(value, dict) or len(value) > limit:
        raise _invalid(f"{what} is malformed")
    out: dict[str, float] = {}
    for key, when in value.items():
        if not isinstance(key, str) or len(key) > 80 or isinstance(when, bool) or not isinstance(when, int | float):
            raise _invalid(f"{what} is malformed")
        out[key] = float(when)
    return out


def decode(text: str, filters: str) -> Cursor:
    """Return the cursor `text` encodes, or raise 422 INVALID_INPUT when it is malformed or for other filters."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid("not a cursor this tool made") from None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise _invalid("not a cursor this tool made")
    if body.get("f") != filters:
        raise _invalid("it continues a query with other filters")
    before, page = body.get("b"), body.get("p")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int | float) or before < 0):
        raise _invalid("its start time is malformed")
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_CRYPTOPANIC_PAGE:
        raise _invalid("its page is malformed")
    return Cursor(
        filters=filters,
        before=float(before) if before is not None else None,
        seen={_long(k): t for k, t in _times(body.get("s"), MAX_SEEN, "seen").items()},
        answered=_times(body.get("a"), MAX_FINGERPRINTS, "answered"),
        cryptopanic_page=page,
    )
