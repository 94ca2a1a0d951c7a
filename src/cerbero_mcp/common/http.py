"""The shared upstream transport: one aiohttp session per (venue, environment).

Every venue client sends through `UpstreamHTTP`. It owns the connection pool, the timeouts and the
mapping of transport failures to the common error classes, most specific first:

    timeout (connect or read)        → UpstreamTimeoutError   (504, retryable for reads)
    refused / DNS / TLS / reset      → UpstreamError          (502, retryable)
    HTTP 429                         → RateLimitError         (429, retryable, Retry-After kept)
    HTTP 5xx                         → UpstreamError          (502, retryable)
    body that is not the JSON asked  → UpstreamError          (502, retryable)

A write (`idempotent=False`) is never retried here, and its timeout says the order may have been
placed — the caller adds how to look it up. aiohttp is used rather than httpx because it is the
fastest asyncio client measured on this workload (DESIGN.md, "Upstream HTTP").
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from cerbero_mcp.common.errors import (
    CerberoError,
    RateLimitError,
    UpstreamError,
    UpstreamTimeoutError,
)

MAY_HAVE_BEEN_PLACED = "the request may have been placed"


@dataclass(frozen=True)
class UpstreamResponse:
    """What a venue answered: status, headers and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    elapsed_ms: float

    def json(self, *, exact: bool = False) -> Any:
        """Decode the body as JSON (`exact`: numbers with a fraction as Decimal); not JSON → UpstreamError."""
        try:
            return json.loads(self.body, parse_float=Decimal) if exact else json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UpstreamError(
                f"upstream answered HTTP {self.status} with a body that is not valid JSON",
                details={"status": self.status, "body_prefix": self.body[:120].decode("utf-8", "replace")},
            ) from exc


@dataclass
class UpstreamStats:
    """Counters a readiness probe and the metrics read."""

    requests: int = 0
    failures: int = 0
    last_error: str | None = None
    last_ok_monotonic: float | None = field(default=None)


class UpstreamHTTP:
    """One pooled aiohttp session for one (venue, environment)."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 10.0,
        pool_size: int = 100,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._pool_size = pool_size
        self._default_headers = dict(default_headers or {})
        self._session: aiohttp.ClientSession | None = None
        self.stats = UpstreamStats()

    def _ensure_session(self) -> aiohttp.ClientSession:
        # Created lazily, inside the running loop, because aiohttp binds a session to its loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300, enable_cleanup_closed=True)
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=self.connect_timeout_s, sock_read=self.read_timeout_s
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers=self._default_headers,
                auto_decompress=True,
                raise_for_status=False,
            )
        return self._session

    def url(self, path: str) -> str:
        """Join `path` to the base URL."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        timeout_s: float | None = None,
    ) -> UpstreamResponse:
        """Send one request and return the raw response; transport failures raise common errors.

        HTTP status codes are not interpreted here except through `raise_for_transport_status`,
        which venue clients call after reading their own error envelopes.
        """
        session = self._ensure_session()
        url = self.url(path)
        if not idempotent:
            note_write_sent()
        started = time.perf_counter()
        self.stats.requests += 1
        extra: dict[str, Any] = {}
        if timeout_s is not None:
            extra["timeout"] = aiohttp.ClientTimeout(
                total=None, sock_connect=self.connect_timeout_s, sock_read=timeout_s
            )
        try:
            async with session.request(
                method,
                url,
                params=_clean_params(params),
                json=json_body,
                data=data,
                headers=headers,
                **extra,
            ) as resp:
                body = await resp.read()
                response = UpstreamResponse(
                    status=resp.status,
                    headers=dict(resp.headers.items()),
                    body=body,
                    url=str(resp.url),
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                )
        except CerberoError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            self._failed("timeout")
            raise self._timeout_error(method, path, idempotent) from exc
        except aiohttp.ClientConnectorError as exc:
            self._failed("connect")
            raise UpstreamError(
                f"could not connect to {self.venue}: {exc.os_error.strerror or type(exc.os_error).__name__}",
                details={"venue": self.venue},
                suggested_fix="check the venue URL setting and that the venue is reachable",
            ) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            self._failed("disconnected")
            message = f"{self.venue} closed the connection before answering completely"
            details: dict[str, Any] = {"venue": self.venue}
            if not idempotent:
                message += f"; {MAY_HAVE_BEEN_PLACED} and was not re-sent"
                details["may_have_been_placed"] = True
            raise UpstreamError(message, details=details) from exc
        except aiohttp.ClientError as exc:
            self._failed(type(exc).__name__)
            raise UpstreamError(
                f"{self.venue} request failed: {type(exc).__name__}", details={"venue": self.venue}
            ) from exc
        self.stats.last_ok_monotonic = time.monotonic()
        return response

    def _timeout_error(self, method: str, path: str, idempotent: bool) -> UpstreamTimeoutError:
        if idempotent:
            return UpstreamTimeoutError(
                f"{self.venue} did not answer within {self.read_timeout_s:g} s",
                details={"venue": self.venue},
            )
        return UpstreamTimeoutError(
            f"{self.venue} did not answer within {self.read_timeout_s:g} s; {MAY_HAVE_BEEN_PLACED} and was not re-sent",
            details={"venue": self.venue, "may_have_been_placed": True},
            suggested_fix="look the order up by its client_order_id before sending it again",
        )

    def _failed(self, reason: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = reason

    async def aclose(self) -> None:
        """Close the pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class SendLog:
    """How many writes (non-idempotent requests) the current call has put on the wire.

    The write pipeline opens one per write tool call (`tracking_sends`); the transport counts into it
    just before a write leaves. An error after a write left is "may have been placed" unless the venue
    definitely refused it; an error before any write left means nothing was sent.
    """

    def __init__(self) -> None:
        self.writes = 0


_SENDS: ContextVar[SendLog | None] = ContextVar("cerbero_sends", default=None)


@contextmanager
def tracking_sends() -> Iterator[SendLog]:
    """Count the writes sent upstream inside the block (by this task and what it awaits)."""
    log = SendLog()
    token = _SENDS.set(log)
    try:
        yield log
    finally:
        _SENDS.reset(token)


def note_write_sent() -> None:
    """Record that a write is about to leave (called by the transport)."""
    log = _SENDS.get()
    if log is not None:
        log.writes += 1


def mark_definite(error: CerberoError, write: bool) -> CerberoError:
    """Mark a venue's answer to a write as a definite refusal (5xx-class errors never are)."""
    error.definite = write and error.status < 500
    return error


def raise_for_transport_status(response: UpstreamResponse, venue: str) -> None:
    """Raise the common error for 429 and 5xx answers; leave 2xx/4xx to the venue's table."""
    if response.status == 429:
        retry_after = response.headers.get("Retry-After")
        details: dict[str, Any] = {"venue": venue}
        headers: dict[str, str] = {}
        if retry_after:
            details["retry_after_s"] = retry_after
            headers["Retry-After"] = retry_after
        raise RateLimitError(
            f"{venue} rate-limited the request",
            details=details,
            headers=headers,
            suggested_fix=f"wait {retry_after} s and retry" if retry_after else "slow down and retry",
        )
    if response.status >= 500:
        raise UpstreamError(
            f"{venue} answered HTTP {response.status}", details={"venue": venue, "status": response.status}
        )


_PLACEHOLDER = re.compile(r'"\\u0000dec(\d+)\\u0000"')


def dumps_exact(value: Any) -> str:
    """Serialise to JSON with every Decimal written as the exact number it is (not a float, not a string)."""
    # json has no hook for emitting a raw number, so Decimals travel as unique placeholders that are
    # swapped for their exact text after encoding; venues want JSON numbers, and floats would round.
    decimals: list[str] = []

    def swap(node: Any) -> Any:
        if isinstance(node, Decimal):
            if not node.is_finite():
                raise ValueError(f"cannot send non-finite number {node}")
            decimals.append(format(node, "f"))
            return f"\x00dec{len(decimals) - 1}\x00"
        if isinstance(node, dict):
            return {key: swap(item) for key, item in node.items()}
        if isinstance(node, list | tuple):
            return [swap(item) for item in node]
        return node

    text = json.dumps(swap(value), separators=(",", ":"))
    # One pass over the text (a replace per number would rescan it per number: quadratic on big answers).
    return _PLACEHOLDER.sub(lambda match: decimals[int(match.group(1))], text) if decimals else text


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    # None is never sent upstream; booleans in the lower-case form venues expect.
    if params is None:
        return None
    cleaned: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            cleaned[key] = "true" if value else "false"
        else:
            cleaned[key] = str(value)
    return cleaned
