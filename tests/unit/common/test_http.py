"""The shared upstream transport: exact JSON numbers, parameter cleaning, failure mapping on a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
from decimal import Decimal

import pytest

from cerbero_mcp.common.errors import RateLimitError, UpstreamError, UpstreamTimeoutError
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse, dumps_exact, raise_for_transport_status


def test_dumps_exact_writes_decimals_as_exact_json_numbers() -> None:
    text = dumps_exact({"price": Decimal("0.10"), "legs": [Decimal("1E+3"), {"q": Decimal("-2.5")}], "s": "x"})
    assert text == '{"price":0.10,"legs":[1000,{"q":-2.5}],"s":"x"}'
    assert json.loads(text, parse_float=Decimal)["price"] == Decimal("0.10")
    with pytest.raises(ValueError, match="non-finite"):
        dumps_exact({"p": Decimal("NaN")})


def response(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> UpstreamResponse:
    """Build a response as the transport would."""
    return UpstreamResponse(status, headers or {}, body, "http://venue/x", 1.0)


def test_status_mapping_keeps_retry_after() -> None:
    with pytest.raises(RateLimitError) as caught:
        raise_for_transport_status(response(429, headers={"Retry-After": "3"}), "v")
    assert caught.value.headers == {"Retry-After": "3"}
    with pytest.raises(UpstreamError, match="HTTP 503"):
        raise_for_transport_status(response(503), "v")
    raise_for_transport_status(response(400), "v")  # 4xx is the venue table's business


def test_malformed_body_is_an_upstream_error_with_a_prefix_of_it() -> None:
    with pytest.raises(UpstreamError) as caught:
        response(200, b"<html>oops").json()
    assert caught.value.details is not None
    assert caught.value.details["body_prefix"] == "<html>oops"


async def test_refused_connection_is_upstream_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        http = UpstreamHTTP("v", f"http://127.0.0.1:{port}", connect_timeout_s=1)
        with pytest.raises(UpstreamError, match="could not connect to v"):
            await http.request("GET", "/x")
        await http.aclose()


async def test_silent_server_times_out_and_a_write_says_it_may_have_been_placed() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = UpstreamHTTP("v", f"http://127.0.0.1:{port}", read_timeout_s=0.2)
    try:
        with pytest.raises(UpstreamTimeoutError) as read:
            await http.request("GET", "/ticker")
        assert "may have been placed" not in read.value.message
        with pytest.raises(UpstreamTimeoutError) as write:
            await http.request("POST", "/order", json_body={"q": 1}, idempotent=False)
        assert "may have been placed" in write.value.message
        assert write.value.details == {"venue": "v", "may_have_been_placed": True}
    finally:
        await http.aclose()
        server.close()


async def test_none_params_are_not_sent_and_booleans_are_lower_case() -> None:
    seen: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = UpstreamHTTP("v", f"http://127.0.0.1:{port}")
    try:
        await http.request("GET", "/q", params={"a": None, "b": True, "c": Decimal("1.50")})
    finally:
        await http.aclose()
        server.close()
    assert seen[0].startswith(b"GET /q?b=true&c=1.50 HTTP/1.1")
