"""Limits against hostile clients: request body size, header deadline, and open MCP event streams.

MAX_BODY_BYTES              BodyLimitMiddleware: Content-Length checked up front, chunked bodies counted
HTTP_HEADER_TIMEOUT_S       HeaderDeadlineH11Protocol: a connection must finish its request headers in time
HTTP_MAX_HEADER_BYTES       h11's incomplete-event bound (serving.py): larger headers are refused
MCP_MAX_STREAMS[_PER_TOKEN] StreamSlots: open GET /mcp event streams per server and per token
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, ClassVar

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from cerbero_mcp.auth import header
from cerbero_mcp.common.errors import PayloadTooLargeError
from cerbero_mcp.responses import send_error


class _BodyTooLarge(Exception):
    """Raised into the app by the counting `receive` once the body has passed the limit."""


def payload_too_large(limit: int) -> PayloadTooLargeError:
    """Return the 413 error for a body over `limit` bytes (the connection is closed after it)."""
    return PayloadTooLargeError(
        f"request body is larger than {limit} bytes",
        suggested_fix="send a smaller body (tool requests are small JSON objects)",
        details={"max_body_bytes": limit},
        # The unread rest of the body must not be parsed as the next request: close the connection.
        headers={"Connection": "close"},
    )


class BodyLimitMiddleware:
    """Answer 413 to a body over `max_body_bytes` without reading the rest of it (pure ASGI)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length up front, then count the bytes the app actually receives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        request_id = scope.get("state", {}).get("request_id")
        declared = header(scope["headers"], b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await send_error(send, payload_too_large(limit), request_id)
            return
        received = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started and not refused:
                        refused = True
                        await send_error(send, payload_too_large(limit), request_id)
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer: whatever the app makes of the aborted read is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


class HeaderDeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline by which each request's headers must be complete."""

    # uvicorn (0.54) arms `timeout_keep_alive` only after a response and cancels it on any byte
    # received, and neither h11 nor httptools keeps a clock: a connection that never sends anything,
    # or trickles its headers a byte at a time (slowloris), would be held open forever. This deadline
    # is armed when the connection opens and after each response, and disarmed once h11 has parsed a
    # whole request head; when it fires first, the connection is closed.
    header_timeout_s: ClassVar[float] = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the connection and its first header deadline."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        """Feed h11; once a request head is parsed, the deadline no longer applies."""
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        """After a response, the next request's headers get a fresh deadline."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()


def header_deadline_protocol(header_timeout_s: float) -> type[HeaderDeadlineH11Protocol]:
    """Return the h11 protocol class with HTTP_HEADER_TIMEOUT_S as its header deadline."""
    namespace: dict[str, Any] = {"header_timeout_s": header_timeout_s, "__doc__": HeaderDeadlineH11Protocol.__doc__}
    return type("HeaderDeadlineH11Protocol", (HeaderDeadlineH11Protocol,), namespace)


class StreamSlots:
    """Counts of open MCP event streams, per server and per token, with their caps."""

    def __init__(self, max_total: int, max_per_token: int) -> None:
        self.max_total = max_total
        self.max_per_token = max_per_token
        self.total = 0
        self._by_token: Counter[str] = Counter()

    def acquire(self, token: str) -> str | None:
        """Take a slot for `token`; return why not (a message) when a cap is reached."""
        if self.total >= self.max_total:
            return f"this server already has {self.max_total} open MCP event streams (MCP_MAX_STREAMS)"
        if self._by_token[token] >= self.max_per_token:
            return f"this token already has {self.max_per_token} open MCP event streams (MCP_MAX_STREAMS_PER_TOKEN)"
        self.total += 1
        self._by_token[token] += 1
        return None

    def release(self, token: str) -> None:
        """Give back a slot taken by `acquire`."""
        self.total -= 1
        self._by_token[token] -= 1
        if self._by_token[token] <= 0:
            del self._by_token[token]
