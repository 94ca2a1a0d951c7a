"""Fault injection and request recording around any simulator ASGI app.

`SimControl(app)` is itself an ASGI app. It serves a control surface under `/__sim__/` and passes
everything else to `app`, after recording it and, when an injected fault matches, misbehaving:

    POST   /__sim__/faults     inject: {"kind", "count"?, "probability"?, "latency_ms"?, "status"?,
                               "retry_after"?, "path_prefix"?, "method"?}  → 201 {"fault": {...}}
    GET    /__sim__/faults     → {"faults": [...]} (active ones)
    DELETE /__sim__/faults     → {"cleared": n}; DELETE /__sim__/faults/{id} removes one
    GET    /__sim__/requests   → {"requests": [...]} (optional ?path_prefix=&limit=)
    DELETE /__sim__/requests   → {"cleared": n}

Kinds: `latency` sleeps `latency_ms` then serves; `http_5xx` answers `status` (default 503);
`rate_limit` answers 429 with `Retry-After`; `malformed` answers 200 with a truncated JSON body;
`drop` starts a response whose Content-Length it never honours and aborts, so the server closes
the socket mid-body and the client sees a payload/disconnect error, never a clean response.
A fault applies to matching requests (path prefix, method) `count` times (None: until cleared),
each with `probability` (None: always; draws come from a seeded RNG). The first matching fault
wins. The control routes are neither recorded nor faulted. Tests in the same process use the
Python API (`inject`, `faults`, `clear_faults`, `recorded`, `clear_recorded`) directly.

Recorded requests keep method, path, query, headers and body with secrets removed by the shared
rule in `common.redaction`: sensitive headers (Authorization, Cookie, API keys, signatures,
tokens…) are dropped; sensitive query parameters and body fields are masked as "***".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerbero_mcp.common.redaction import MASK, is_sensitive_key, redact
from cerbero_mcp.simulators.engine.clock import Clock

FaultKind = Literal["latency", "http_5xx", "rate_limit", "malformed", "drop"]
CONTROL_PREFIX = "/__sim__"
MALFORMED_BODY = b'{"jsonrpc": "2.0", "result": {"simulated": "malformed respo'
DROP_DECLARED_LENGTH = 4096
MAX_BODY_RECORDED = 256 * 1024


class SimulatedDrop(Exception):
    """Raised inside the ASGI call to make the server abort the connection (a `drop` fault)."""


class FaultSpec(BaseModel):
    """What to inject; the body of `POST /__sim__/faults`."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    count: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    latency_ms: float = Field(default=0.0, ge=0.0, le=600_000.0)
    status: int = Field(default=503, ge=500, le=599)
    retry_after: float = Field(default=1.0, ge=0.0)
    path_prefix: str | None = None
    method: str | None = None


@dataclass(slots=True)
class Fault:
    """An injected fault: its spec, calls left (None: unlimited) and how often it fired."""

    id: int
    spec: FaultSpec
    remaining: int | None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Return whether this fault is aimed at a request."""
        s = self.spec
        return (s.path_prefix is None or path.startswith(s.path_prefix)) and (
            s.method is None or s.method.upper() == method
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the fault as the control API shows it."""
        return {"id": self.id, **self.spec.model_dump(), "remaining": self.remaining, "hits": self.hits}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the simulator received, secrets removed; `body` is parsed JSON/form when possible."""

    time: float
    method: str
    path: str
    query: str
    query_params: dict[str, str]
    headers: dict[str, str]
    body: Any
    fault: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as the control API shows it."""
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "query_params": self.query_params,
            "headers": self.headers,
            "body": self.body,
            "fault": self.fault,
        }


class SimControl:
    """An ASGI wrapper that records requests and injects faults (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, seed: int = 0, clock: Clock | None = None, max_recorded: int = 10_000) -> None:
        """Wrap `app`; `seed` drives probabilistic faults; `clock` stamps records (default: wall clock)."""
        self.app = app
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._recorded: deque[RecordedRequest] = deque(maxlen=max_recorded)

    # --- Python API ---------------------------------------------------------------------------

    def inject(
        self,
        kind: FaultKind,
        *,
        count: int | None = None,
        probability: float | None = None,
        latency_ms: float = 0.0,
        status: int = 503,
        retry_after: float = 1.0,
        path_prefix: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """Inject a fault and return it (ValidationError on bad arguments)."""
        spec = FaultSpec(
            kind=kind,
            count=count,
            probability=probability,
            latency_ms=latency_ms,
            status=status,
            retry_after=retry_after,
            path_prefix=path_prefix,
            method=method,
        )
        return self.inject_spec(spec)

    def inject_spec(self, spec: FaultSpec) -> Fault:
        """Inject a validated fault spec and return the active fault."""
        with self._lock:
            fault = Fault(next(self._ids), spec, spec.count)
            self._faults.append(fault)
            return fault

    def faults(self) -> list[Fault]:
        """Return the active faults, oldest first."""
        with self._lock:
            return list(self._faults)

    def remove_fault(self, fault_id: int) -> bool:
        """Remove one fault; return whether it existed."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear_faults(self) -> int:
        """Remove every fault; return how many there were."""
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
            return n

    def recorded(self, path_prefix: str | None = None) -> list[RecordedRequest]:
        """Return the recorded requests, oldest first (optionally only those under `path_prefix`)."""
        with self._lock:
            return [r for r in self._recorded if path_prefix is None or r.path.startswith(path_prefix)]

    def clear_recorded(self) -> int:
        """Forget the recorded requests; return how many there were."""
        with self._lock:
            n = len(self._recorded)
            self._recorded.clear()
            return n

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                p = fault.spec.probability
                if p is not None and self._rng.random() >= p:
                    continue
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
            return None

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the control routes, or record, maybe misbehave, and pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            await self._control(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        method: str = scope["method"]
        fault = self._pick(method, path)
        self._record(scope, body, fault)
        if fault is not None:
            spec = fault.spec
            if spec.kind == "latency":
                await asyncio.sleep(spec.latency_ms / 1000.0)
            elif spec.kind == "http_5xx":
                await _send_json(send, spec.status, {"error": {"code": spec.status, "message": "simulated failure"}})
                return
            elif spec.kind == "rate_limit":
                retry = f"{spec.retry_after:g}"
                await _send_json(
                    send,
                    429,
                    {"error": {"code": 429, "message": "simulated rate limit"}},
                    [(b"retry-after", retry.encode())],
                )
                return
            elif spec.kind == "malformed":
                await _send_raw(send, 200, MALFORMED_BODY, b"application/json")
                return
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(DROP_DECLARED_LENGTH).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"result": {', "more_body": True})
                raise SimulatedDrop("simulated dropped connection")
        await self.app(scope, _replay(body, receive), send)

    def _record(self, scope: Scope, body: bytes, fault: Fault | None) -> None:
        headers: dict[str, str] = {}
        content_type = ""
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name == "content-type":
                content_type = value
            if is_sensitive_key(name) or name in ("authorization", "cookie", "set-cookie", "proxy-authorization"):
                continue
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raw_query = scope.get("query_string", b"").decode("latin-1")
        pairs = [(k, MASK if is_sensitive_key(k) else v) for k, v in parse_qsl(raw_query, keep_blank_values=True)]
        record = RecordedRequest(
            time=self._clock.now() if self._clock is not None else time.time(),
            method=scope["method"],
            path=scope["path"],
            query=urlencode(pairs, safe="*"),
            query_params=dict(pairs),
            headers=headers,
            body=_parse_body(body, content_type),
            fault=fault.spec.kind if fault is not None else None,
        )
        with self._lock:
            self._recorded.append(record)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"].rstrip("/")
        body = await _read_body(receive)
        if body is None:
            return
        if path == CONTROL_PREFIX + "/faults":
            if method == "GET":
                await _send_json(send, 200, {"faults": [f.to_dict() for f in self.faults()]})
            elif method == "POST":
                try:
                    spec = FaultSpec.model_validate_json(body or b"{}")
                except ValidationError as exc:
                    errors = json.loads(exc.json(include_url=False, include_context=False))
                    await _send_json(send, 422, {"error": "invalid fault", "details": errors})
                    return
                await _send_json(send, 201, {"fault": self.inject_spec(spec).to_dict()})
            elif method == "DELETE":
                await _send_json(send, 200, {"cleared": self.clear_faults()})
            else:
                await _send_json(send, 405, {"error": "method not allowed"})
        elif path.startswith(CONTROL_PREFIX + "/faults/") and method == "DELETE":
            ref = path.rsplit("/", 1)[1]
            removed = ref.isdigit() and self.remove_fault(int(ref))
            await _send_json(send, 200 if removed else 404, {"removed": removed})
        elif path == CONTROL_PREFIX + "/requests":
            if method == "GET":
                params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                items = self.recorded(params.get("path_prefix"))
                limit = params.get("limit", "")
                if limit.isdigit():
                    items = items[-int(limit) :] if int(limit) else []
                await _send_json(send, 200, {"requests": [r.to_dict() for r in items]})
            elif method == "DELETE":
                await _send_json(send, 200, {"cleared": self.clear_recorded()})
            else:
                await _send_json(send, 405, {"error": "method not allowed"})
        else:
            await _send_json(send, 404, {"error": f"no control route {path}"})


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _parse_body(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    if len(body) > MAX_BODY_RECORDED:
        return f"<{len(body)} bytes, not recorded>"
    text = body.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        return {k: MASK if is_sensitive_key(k) else v for k, v in parse_qsl(text, keep_blank_values=True)}
    try:
        return redact(json.loads(text))
    except ValueError:
        return text


async def _send_raw(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send_raw(send, status, json.dumps(payload).encode(), b"application/json", extra)
