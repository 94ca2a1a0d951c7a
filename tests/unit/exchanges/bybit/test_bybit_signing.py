"""Bybit signing against pybit (the SDK as oracle) and against the bytes that really leave the client."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import string
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pybit import _helpers
from pybit.unified_trading import HTTP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.bybit.client import BybitClient, json_body, query_string, sign
from support.live_server import live_server

KEY, SECRET = "documented-key", "documented-secret-0123456789"
SAFE = string.ascii_letters + string.digits + "-_"


def random_text(rng: random.Random, size: int = 12) -> str:
    """Return a random value made of the characters Bybit's symbols, ids and coins use."""
    return "".join(rng.choice(SAFE) for _ in range(rng.randint(1, size)))


def random_params(rng: random.Random) -> dict[str, Any]:
    """Return random request parameters the way a tool builds them (Decimals for numbers)."""
    params: dict[str, Any] = {
        "category": rng.choice(["linear", "inverse", "spot", "option"]),
        "symbol": random_text(rng).upper(),
    }
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(["qty", "price", "orderLinkId", "limit", "cursor", "triggerPrice", "stopLoss", "side"])
        if name in ("qty", "price", "triggerPrice", "stopLoss"):
            params[name] = Decimal(rng.randint(1, 10**8)).scaleb(-rng.randint(0, 8))
        elif name == "limit":
            params[name] = rng.randint(1, 200)
        else:
            params[name] = random_text(rng, 36)
    return params


def as_text(params: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters as a pybit user passes them (numbers as strings)."""
    return {k: (format(x, "f") if isinstance(x, Decimal) else x) for k, x in params.items()}


def pybit_headers(session: HTTP, payload: str, stamp: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Return the headers pybit would send for `payload` at timestamp `stamp`."""
    monkeypatch.setattr(_helpers, "generate_timestamp", lambda: stamp)
    headers: dict[str, str] = session._prepare_headers(payload, session.recv_window)
    return headers


@pytest.mark.parametrize("seed", range(40))
def test_get_query_and_headers_equal_pybits_on_random_requests(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    params = random_params(rng)
    session = HTTP(api_key=KEY, api_secret=SECRET, recv_window=5000)
    ours = query_string(params)
    theirs = session.prepare_payload(
        "GET", {k: (format(x, "f") if isinstance(x, Decimal) else x) for k, x in params.items()}
    )
    assert ours == theirs
    client = BybitClient(UpstreamHTTP("bybit", "http://127.0.0.1:1"), "testnet", KEY, SECRET, recv_window_ms=5000)
    stamp = 1_700_000_000_000 + seed
    expected = pybit_headers(session, theirs, stamp, monkeypatch)
    got = client.auth_headers(ours, stamp)
    for name in ("X-BAPI-API-KEY", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW", "X-BAPI-SIGN", "X-BAPI-SIGN-TYPE"):
        assert got[name] == expected[name], name


@pytest.mark.parametrize("seed", range(40))
def test_post_body_and_signature_equal_pybits_on_random_requests(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(1000 + seed)
    params = random_params(rng)
    if rng.random() < 0.5:
        params["reduceOnly"] = rng.random() < 0.5
    session = HTTP(api_key=KEY, api_secret=SECRET, recv_window=5000)
    ours = json_body(params)
    # pybit turns qty/price/triggerPrice/stopLoss into str(value); ours writes every Decimal exactly.
    theirs = session.prepare_payload(
        "POST", {k: (format(x, "f") if isinstance(x, Decimal) else x) for k, x in params.items()}
    )
    assert ours == theirs
    stamp = 1_700_000_000_000 + seed
    expected = pybit_headers(session, theirs, stamp, monkeypatch)
    assert sign(SECRET, stamp, KEY, 5000, ours) == expected["X-BAPI-SIGN"]


def test_guide_pre_sign_strings_are_what_is_signed() -> None:
    # docs/v5/guide.mdx: GET pre-sign "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C".
    query = query_string({"category": "option", "symbol": "BTC-29JUL22-25000-C"})
    assert query == "category=option&symbol=BTC-29JUL22-25000-C"
    pre_sign = "1658384314791XXXXXXXXXX5000" + query
    expected = hmac.new(SECRET.encode(), pre_sign.encode(), hashlib.sha256).hexdigest()
    assert sign(SECRET, 1658384314791, "XXXXXXXXXX", 5000, query) == expected


@pytest.fixture(scope="module")
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve a Bybit-shaped answer on loopback and record each request's raw query, body and headers."""
    seen: list[dict[str, Any]] = []

    async def answer(request: Request) -> JSONResponse:
        seen.append(
            {
                "method": request.method,
                "query": request.scope["query_string"].decode(),
                "body": (await request.body()).decode(),
                "headers": dict(request.headers),
            }
        )
        return JSONResponse({"retCode": 0, "retMsg": "OK", "result": {"list": []}, "retExtInfo": {}, "time": 1})

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
    with live_server(app) as url:
        yield url, seen


def verifies(record: dict[str, Any], payload: str) -> bool:
    """Return whether the recorded X-BAPI-SIGN is the HMAC of what the server received."""
    headers = record["headers"]
    pre_sign = headers["x-bapi-timestamp"] + headers["x-bapi-api-key"] + headers["x-bapi-recv-window"] + payload
    return hmac.compare_digest(
        headers["x-bapi-sign"], hmac.new(SECRET.encode(), pre_sign.encode(), hashlib.sha256).hexdigest()
    )


async def test_signature_covers_the_exact_query_bytes_received_even_with_encoded_cursors(
    recorder: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = recorder
    client = BybitClient(UpstreamHTTP("bybit", url), "testnet", KEY, SECRET)
    try:
        # Cursors as Bybit documents them (execution list, order list): percent-encoded : , = &.
        for cursor in ("132766%3A2%2C132766%3A2", "page_args%3Dfd4300ae%26symbol%3D6%26", "lastid%3D19408935"):
            seen.clear()
            await client.order_realtime("linear", symbol="BTCUSDT", cursor=cursor)
            assert len(seen) == 1
            assert verifies(seen[0], seen[0]["query"]), seen[0]["query"]
    finally:
        await client.aclose()


async def test_signature_covers_the_exact_body_bytes_received(recorder: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = recorder
    client = BybitClient(UpstreamHTTP("bybit", url), "testnet", KEY, SECRET)
    try:
        seen.clear()
        params = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "qty": Decimal("0.001")}
        await client.order_create({**params, "orderType": "Market", "orderLinkId": "sig-1"})
        body = seen[0]["body"]
        assert json.loads(body)["qty"] == "0.001"  # numbers travel as exact strings
        assert verifies(seen[0], body)
        assert seen[0]["headers"]["content-type"] == "application/json"
    finally:
        await client.aclose()
