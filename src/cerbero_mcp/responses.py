"""The error envelope, built the same way by the exception handlers and the ASGI middleware."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.types import Send

from cerbero_mcp.common.errors import CerberoError


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_envelope(error: CerberoError, request_id: str | None) -> dict[str, Any]:
    """Return `{"error": {...}, "request_id", "data_timestamp"}` for `error`."""
    return {"error": error.to_dict(), "request_id": request_id, "data_timestamp": now_iso()}


def error_body(error: CerberoError, request_id: str | None) -> bytes:
    """Return the envelope of `error` as JSON bytes."""
    return json.dumps(error_envelope(error, request_id), separators=(",", ":"), default=str).encode()


async def send_error(send: Send, error: CerberoError, request_id: str | None) -> None:
    """Send a complete error response on a raw ASGI channel (for middleware, before routing)."""
    body = error_body(error, request_id)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers.extend((name.lower().encode(), value.encode()) for name, value in error.headers.items())
    if error.status == 401 and not any(name == b"www-authenticate" for name, _ in headers):
        headers.append((b"www-authenticate", b'Bearer realm="cerbero-mcp"'))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
