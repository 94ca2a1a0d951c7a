"""Each source's error table: what CryptoPanic, CoinDesk and LunarCrush answer → the common classes.

Every source here is read-only, so nothing is "may have been placed": a refusal is a refusal. 429 and
5xx are mapped once by the shared transport (`raise_for_transport_status`, Retry-After kept); the
tables below classify the 4xx answers from each source's own error body.

    CryptoPanic  {"status": "Incomplete", "info": "..."} or {"detail": "..."}: 401 missing or bad auth_token,
                 403 the plan has no access (e.g. a filter or field above the plan), 404 unknown path, 429
    CoinDesk     {"Data": {}, "Err": {"type": 1, "message": "...", "other_info": {...}}} with the HTTP status:
                 400 bad parameter, 401 bad or missing key, 403 key without the permission, 404, 429
    LunarCrush   {"error": "..."} (or {"message": "..."}): 400 bad parameter, 401 bad key, 402/403 the plan
                 has no access, 404 unknown coin, 429 over the plan's per-minute or per-day limit
"""

from __future__ import annotations

import json
from typing import Any

from cerbero_mcp.common.errors import (
    BadRequestError,
    CerberoError,
    NotFoundError,
    RateLimitError,
    UpstreamAuthError,
)
from cerbero_mcp.common.http import UpstreamResponse, raise_for_transport_status
from cerbero_mcp.exchanges.base import ErrorTable
from cerbero_mcp.exchanges.sentiment.untrusted import clean_text

CRYPTOPANIC_ERRORS = ErrorTable(
    "CryptoPanic",
    exact={401: UpstreamAuthError, 403: UpstreamAuthError, 404: NotFoundError, 429: RateLimitError},
    broad={"token": UpstreamAuthError, "auth": UpstreamAuthError, "rate limit": RateLimitError},
    default=BadRequestError,
)
COINDESK_ERRORS = ErrorTable(
    "CoinDesk",
    exact={401: UpstreamAuthError, 403: UpstreamAuthError, 404: NotFoundError, 429: RateLimitError},
    broad={"api key": UpstreamAuthError, "api_key": UpstreamAuthError, "rate limit": RateLimitError},
    default=BadRequestError,
)
LUNARCRUSH_ERRORS = ErrorTable(
    "LunarCrush",
    exact={
        401: UpstreamAuthError,
        402: UpstreamAuthError,
        403: UpstreamAuthError,
        404: NotFoundError,
        429: RateLimitError,
    },
    broad={
        "api key": UpstreamAuthError,
        "bearer": UpstreamAuthError,
        "subscription": UpstreamAuthError,
        "not found": NotFoundError,
    },
    default=BadRequestError,
)

NOTES = {
    UpstreamAuthError: "the source refused the key: check it, or whether its plan covers this endpoint",
    NotFoundError: "the source does not know this coin or path",
    BadRequestError: "the source refused the parameters: check the request against the tool's schema",
}


def _body(response: UpstreamResponse) -> Any:
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return None


def _message(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    err = body.get("Err")  # CoinDesk wraps its error in Err
    if isinstance(err, dict):
        body = err
    for field in ("message", "error", "detail", "info"):
        # The source's words are third-party text too: sanitised like any title before they reach an answer.
        text = clean_text(body.get(field), 300) if isinstance(body.get(field), str) else None
        if text:
            return text
    return None


def error_of(table: ErrorTable, response: UpstreamResponse, *, secrets: tuple[str, ...] = ()) -> CerberoError:
    """Return the common error of a source's non-2xx answer (429 and 5xx through the shared transport)."""
    raise_for_transport_status(response, table.venue)  # raises for 429 and >= 500
    message = _message(_body(response)) or f"HTTP {response.status}"
    for secret in secrets:  # a source that echoes the request must not echo the key
        if secret:
            message = message.replace(secret, "***")
    cls = table.classify(message, code=response.status, status=response.status)
    return cls(
        f"{table.venue}: {message[:300]}",
        details={"source": table.venue, "status": response.status},
        suggested_fix=NOTES.get(cls),
    )
