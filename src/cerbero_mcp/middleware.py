"""Request context: request id in and out, timing headers, one JSON log line, metrics, last-resort 500."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerbero_mcp.auth import header
from cerbero_mcp.common.errors import UnhandledError
from cerbero_mcp.metrics import Metrics
from cerbero_mcp.responses import send_error

request_log = logging.getLogger("mcp.request")
error_log = logging.getLogger("mcp.error")
TOOL_PATH = re.compile(r"^/mcp-([a-z0-9_]+)/tools/([a-z0-9_]+)$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Longest value of any one field of the request log line: a client's 8 MB User-Agent stays a short line.
MAX_LOGGED_CHARS = 256


def bounded(value: str | None, limit: int = MAX_LOGGED_CHARS) -> str | None:
    """Return `value` cut to `limit` characters with a marker saying how many were dropped."""
    if value is None or len(value) <= limit:
        return value
    return f"{value[:limit]}…[+{len(value) - limit} chars]"


class RequestContextMiddleware:
    """The outermost layer: every request gets an id, a duration, a log line and a metric."""

    def __init__(self, app: ASGIApp, metrics: Metrics, known_tools: set[tuple[str, str]]) -> None:
        self.app = app
        self.metrics = metrics
        self.known_tools = known_tools

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        incoming = header(headers, b"x-request-id") or header(headers, b"x-correlation-id")
        # A client id is echoed only if it is a sane token: it goes into logs and audit verbatim.
        request_id = incoming if incoming and REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status_holder = [500]
        response_started = [False]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                duration_ms = (time.perf_counter() - started) * 1000
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-duration-ms", f"{duration_ms:.3f}".encode()),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            error_log.exception(
                "unhandled error on %s %s request_id=%s", bounded(scope["method"]), bounded(scope["path"]), request_id
            )
            if not response_started[0]:
                await send_error(
                    send_with_headers,
                    UnhandledError("internal error; the request id identifies it in the server log"),
                    request_id,
                )
        finally:
            self._record(scope, state, status_holder[0], started, request_id)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        path: str = scope["path"]
        venue, tool = state.get("venue"), state.get("tool")
        match = TOOL_PATH.match(path)
        if match and (match.group(1), match.group(2)) in self.known_tools:
            venue, tool = match.group(1), match.group(2)
        if venue is not None and tool is not None:
            self.metrics.observe(venue, tool, status, elapsed)
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        # Every text field is bounded: any of them may come from an unauthenticated client.
        fields = {
            "request_id": bounded(request_id),
            "method": bounded(scope["method"]),
            "path": bounded(path),
            "status_code": status,
            "duration_ms": round(elapsed * 1000, 3),
            "actor": bounded(state.get("actor")),
            "bot_tag": bounded(state.get("bot_tag")),
            "exchange": bounded(venue),
            "tool": bounded(tool),
            "client_ip": bounded(client[0] if client else None),
            "user_agent": bounded(header(headers, b"user-agent")),
        }
        if state.get("principal"):
            fields["principal"] = bounded(state["principal"])  # OAuth: the hashed token id, never the token
        request_log.info("request", extra={"fields": fields})
