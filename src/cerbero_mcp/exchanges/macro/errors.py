"""Each source's error table: what FRED, Finnhub, the Treasury and the CFTC (Socrata) answer → the common classes.

Every source here is read-only, so nothing is "may have been placed": a refusal is a refusal. 429 and
5xx are mapped once by the shared transport (`raise_for_transport_status`, Retry-After kept); the
tables below classify the 4xx answers from each source's own error body.

    FRED     {"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is not registered. ..."}
             400 bad parameter / unknown series, 401-403 key refused, 404 not found, 423 locked, 429, 500
    Finnhub  {"error": "Invalid API key"}: 401 bad key, 403 the plan has no access (premium endpoint), 429
    Treasury an HTML/XML page with a status: 404 unknown feed, 5xx
    Socrata  {"code": "query.compiler.malformed", "error": true, "message": "..."}: 400 bad SoQL,
             403 bad app token, 404 unknown dataset, 429 throttled
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
    UpstreamError,
)
from cerbero_mcp.common.http import UpstreamResponse, raise_for_transport_status
from cerbero_mcp.exchanges.base import ErrorTable

FRED_ERRORS = ErrorTable(
    "FRED",
    exact={401: UpstreamAuthError, 403: UpstreamAuthError, 404: NotFoundError, 423: UpstreamError, 429: RateLimitError},
    broad={
        "api_key": UpstreamAuthError,  # "The value for variable api_key is not registered" (and malformed keys)
        "series does not exist": NotFoundError,
        "does not exist": NotFoundError,
    },
    default=BadRequestError,
)
FINNHUB_ERRORS = ErrorTable(
    "Finnhub",
    exact={401: UpstreamAuthError, 403: UpstreamAuthError, 404: NotFoundError, 429: RateLimitError},
    broad={"api key": UpstreamAuthError, "access": UpstreamAuthError, "limit": RateLimitError},
    default=BadRequestError,
)
TREASURY_ERRORS = ErrorTable("US Treasury", exact={404: NotFoundError, 429: RateLimitError}, default=UpstreamError)
CFTC_ERRORS = ErrorTable(
    "CFTC",
    exact={
        403: UpstreamAuthError,
        404: NotFoundError,
        429: RateLimitError,
        "authentication_required": UpstreamAuthError,
        "permission_denied": UpstreamAuthError,
        "not_found": NotFoundError,
    },
    broad={"app token": UpstreamAuthError, "query.": BadRequestError},
    default=BadRequestError,
)

NOTES = {
    UpstreamAuthError: "the source refused the key: check it, or whether its plan covers this endpoint",
    NotFoundError: "the source does not know this id",
}


def _body(response: UpstreamResponse) -> Any:
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return None


def error_of(table: ErrorTable, response: UpstreamResponse, *, secrets: tuple[str, ...] = ()) -> CerberoError:
    """Return the common error of a source's non-2xx answer (429 and 5xx through the shared transport)."""
    raise_for_transport_status(response, table.venue)  # raises for 429 and >= 500
    body = _body(response)
    message = f"HTTP {response.status}"
    code: int | str = response.status
    if isinstance(body, dict):
        # FRED: error_code/error_message; Finnhub: error; Socrata: code/message.
        text = body.get("error_message") or body.get("message") or body.get("error")
        if isinstance(text, str) and text.strip():
            message = text.strip()
        if isinstance(body.get("code"), str):
            code = body["code"]
    for secret in secrets:  # a source that echoes the request must not echo the key
        if secret:
            message = message.replace(secret, "***")
    cls = table.classify(message, code=code, status=response.status)
    if cls is BadRequestError and response.status not in (400, 422):
        cls = table.classify(message, code=response.status, status=response.status)
    return cls(
        f"{table.venue}: {message[:300]}",
        details={"source": table.venue, "status": response.status},
        suggested_fix=NOTES.get(cls),
    )
