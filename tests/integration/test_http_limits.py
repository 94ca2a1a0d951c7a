"""Hostile input: body size, logged field sizes, header size and deadline, connection and stream caps, proxies."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.routing import Route

from cerbero_mcp.mcp_endpoint import MCPEndpoint
from cerbero_mcp.server import build_app
from cerbero_mcp.serving import uvicorn_config
from cerbero_mcp.settings import Settings
from support import toy
from support.lifespan import running
from support.tokens import MAINNET, TESTNET, auth

ECHO = "/mcp-toy/tools/echo"
DEADLINE_S = 10.0  # generous: every limit below is configured at 1-2 s


def toy_app(settings: Settings, **overrides: str) -> FastAPI:
    """Return the toy app built with `overrides` (environment-style names) applied to `settings`."""
    return build_app(settings.with_overrides({k.upper(): v for k, v in overrides.items()}), [toy.TOOLS])


@asynccontextmanager
async def in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client bound to `app` in this process, its lifespan running."""
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000", timeout=30) as http:
            yield http


@contextmanager
def served(app: FastAPI) -> Iterator[tuple[str, int]]:
    """Serve `app` with the production uvicorn configuration (serving.uvicorn_config) on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn_config(app, app.state.cerbero.settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)
        sock.close()


def connect(address: tuple[str, int]) -> socket.socket:
    """Open a raw TCP connection to the served app."""
    return socket.create_connection(address, timeout=DEADLINE_S)


def request_bytes(method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> bytes:
    """Return an HTTP/1.1 request as bytes."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(sock: socket.socket) -> bytes:
    """Return one response (head and Content-Length body) read from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    """Return the status code of a raw response (0 when there is none)."""
    parts = response.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def closed_by_server(sock: socket.socket, within_s: float = DEADLINE_S) -> bool:
    """Return whether the server closes `sock` (EOF or reset) within `within_s`, draining what it sends."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            try:
                if not sock.recv(65536):
                    return True
            except ConnectionError:
                return True
    return False


def request_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Return the fields of every `mcp.request` log line captured so far."""
    return [r.fields for r in caplog.records if r.name == "mcp.request"]  # type: ignore[attr-defined]


# --- 1. request body size -------------------------------------------------------------------


async def test_a_body_over_max_body_bytes_is_413_before_auth_and_a_body_under_it_is_served(settings: Settings) -> None:
    async with in_process(toy_app(settings, max_body_bytes="2048")) as http:
        big = json.dumps({"message": "x" * 4096}).encode()
        for headers in (auth(), {}):  # with or without a token: the body is refused first
            response = await http.post(ECHO, content=big, headers={**headers, "Content-Type": "application/json"})
            assert response.status_code == 413
            body = response.json()
            assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
            assert body["error"]["type"] == "PayloadTooLargeError"
            assert body["error"]["details"] == {"max_body_bytes": 2048}
            assert body["request_id"] == response.headers["x-request-id"]
            assert response.headers["connection"] == "close"
        fits = await http.post(ECHO, json={"message": "x" * 1900}, headers=auth())
        assert fits.json()["error"]["code"] == "INVALID_INPUT"  # read and validated (echo takes <= 100 chars)


async def test_a_chunked_body_is_counted_and_the_rest_is_never_read(settings: Settings) -> None:
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'{"message": "'
        for _ in range(1024):  # 1 MiB in all, against a 4 KiB limit
            pulled += 1
            yield b"x" * 1024
        yield b'"}'

    async with in_process(toy_app(settings, max_body_bytes="4096")) as http:
        response = await http.post(ECHO, content=chunks(), headers={**auth(), "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert pulled <= 5  # the stream stopped just past the limit


def test_a_declared_200_mb_body_is_answered_413_and_the_connection_closed_unread(settings: Settings) -> None:
    with served(toy_app(settings)) as address, connect(address) as sock:
        headers = {**auth(), "Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)}
        sock.sendall(request_bytes("POST", ECHO, headers, b"x" * 65536))
        response = read_response(sock)
        assert status_of(response) == 413
        assert b"PAYLOAD_TOO_LARGE" in response
        assert closed_by_server(sock)


# --- 2. log amplification -------------------------------------------------------------------


async def test_every_logged_field_is_bounded(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp.request")
    huge = "A" * 100_000
    assert (await client.get("/health", headers={"User-Agent": huge})).status_code == 200
    assert (await client.get("/" + "p" * 20_000)).status_code in (401, 404)
    first, second = request_logs(caplog)[-2:]
    assert len(first["user_agent"]) < 300
    assert first["user_agent"].startswith("A" * 256)
    assert first["user_agent"].endswith(f"…[+{100_000 - 256} chars]")
    assert len(second["path"]) < 300
    assert all(len(str(value)) < 300 for line in (first, second) for value in line.values())


def test_a_request_head_over_http_max_header_bytes_is_refused(settings: Settings) -> None:
    app = toy_app(settings, http_max_header_bytes="65536")
    with served(app) as address:
        with connect(address) as sock:
            sock.sendall(request_bytes("GET", "/health", {"User-Agent": "A" * 32 * 1024}))
            assert status_of(read_response(sock)) == 200
        with connect(address) as sock:
            try:
                sock.sendall(request_bytes("GET", "/health", {"User-Agent": "A" * 256 * 1024}))
                status = status_of(read_response(sock))
            except ConnectionError:
                status = 0
            assert status in (0, 400, 431)
            assert closed_by_server(sock)


# --- 3. connections and streams -------------------------------------------------------------


def test_a_silent_connection_is_dropped_after_the_header_timeout(settings: Settings) -> None:
    with served(toy_app(settings, http_header_timeout_s="1")) as address, connect(address) as sock:
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < DEADLINE_S


def test_a_slowloris_connection_is_dropped_though_it_keeps_sending(settings: Settings) -> None:
    trickle = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"s" * 1000
    with served(toy_app(settings, http_header_timeout_s="1")) as address, connect(address) as sock:
        deadline = time.monotonic() + DEADLINE_S
        dropped = False
        for byte in trickle:
            if time.monotonic() > deadline:
                break
            try:
                sock.sendall(bytes([byte]))
            except ConnectionError:
                dropped = True
                break
            if closed_by_server(sock, within_s=0.2):
                dropped = True
                break
        assert dropped


def test_an_idle_keep_alive_connection_is_dropped(settings: Settings) -> None:
    with served(toy_app(settings, http_keep_alive_s="1")) as address, connect(address) as sock:
        sock.sendall(request_bytes("GET", "/health"))
        assert status_of(read_response(sock)) == 200
        assert closed_by_server(sock)


def test_connections_over_max_connections_answer_503(settings: Settings) -> None:
    app = toy_app(settings, max_connections="2", http_keep_alive_s="30", http_header_timeout_s="30")
    with served(app) as address, connect(address) as one, connect(address) as two:
        # One at a time: the server counts a connection from its accept, so the third opens last.
        one.sendall(request_bytes("GET", "/health"))
        assert status_of(read_response(one)) == 200
        two.sendall(request_bytes("GET", "/health"))
        assert status_of(read_response(two)) == 200
        with connect(address) as three:
            three.sendall(request_bytes("GET", "/health"))
            assert status_of(read_response(three)) == 503
        time.sleep(0.5)  # the server forgets the third when it sees it closed
        one.sendall(request_bytes("GET", "/health"))
        assert status_of(read_response(one)) == 200


def mcp_endpoint(app: FastAPI) -> MCPEndpoint:
    """Return the app's /mcp endpoint."""
    route = next(r for r in app.router.routes if isinstance(r, Route) and r.path == "/mcp")
    assert isinstance(route.endpoint, MCPEndpoint)
    return route.endpoint


def stream_headers(token: str) -> dict[str, str]:
    """Return the headers of a GET /mcp event stream."""
    return {**auth(token), "Accept": "text/event-stream"}


@pytest.mark.parametrize(
    ("overrides", "second_token", "setting"),
    [
        ({"mcp_max_streams": "5", "mcp_max_streams_per_token": "1"}, TESTNET, "MCP_MAX_STREAMS_PER_TOKEN"),
        ({"mcp_max_streams": "1", "mcp_max_streams_per_token": "5"}, MAINNET, "MCP_MAX_STREAMS"),
    ],
    ids=["per-token", "per-server"],
)
async def test_mcp_streams_are_capped_and_closed_after_their_lifetime(
    settings: Settings, overrides: dict[str, str], second_token: str, setting: str
) -> None:
    app = toy_app(settings, mcp_stream_max_lifetime_s="1.5", **overrides)
    slots = mcp_endpoint(app).streams
    async with in_process(app) as http:
        started = time.monotonic()
        first = asyncio.create_task(http.get("/mcp", headers=stream_headers(TESTNET)))
        while slots.total == 0:
            assert time.monotonic() - started < DEADLINE_S
            await asyncio.sleep(0.01)
        refused = await http.get("/mcp", headers=stream_headers(second_token))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMIT"
        assert setting in refused.json()["error"]["message"]
        opened = await asyncio.wait_for(first, DEADLINE_S)  # closed by the server at its maximum lifetime
        assert opened.status_code == 200
        assert opened.headers["content-type"].startswith("text/event-stream")
    assert slots.total == 0


# --- 4. forwarding headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "logged"), [("10.9.9.9", "127.0.0.1"), ("127.0.0.1", "203.0.113.7")], ids=["stranger", "proxy"]
)
def test_x_forwarded_for_is_trusted_only_from_forwarded_allow_ips(
    settings: Settings, caplog: pytest.LogCaptureFixture, allowed: str, logged: str
) -> None:
    caplog.set_level(logging.INFO, logger="mcp.request")
    with served(toy_app(settings, forwarded_allow_ips=allowed)) as address, connect(address) as sock:
        sock.sendall(request_bytes("GET", "/health", {"X-Forwarded-For": "203.0.113.7"}))
        assert status_of(read_response(sock)) == 200
    assert request_logs(caplog)[-1]["client_ip"] == logged


def test_forwarded_allow_ips_defaults_to_loopback(settings: Settings) -> None:
    assert settings.forwarded_allow_ips == "127.0.0.1"
    assert uvicorn_config(toy_app(settings), settings).forwarded_allow_ips == "127.0.0.1"
