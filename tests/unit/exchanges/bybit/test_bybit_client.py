"""The Bybit client's transport rules: envelopes, definite vs unknown write failures, pacing, the IP ban."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.common import errors
from cerbero_mcp.common.clock import now
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.bybit.client import IP_BAN_S, PACING, BybitClient, pace_key
from support.live_server import live_server


class Script:
    """What the loopback 'Bybit' answers next, and what it received."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {"retCode": 0, "retMsg": "OK", "result": {}, "retExtInfo": {}, "time": 1}
        self.headers: dict[str, str] = {}
        self.received: list[str] = []


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Script]]:
    script = Script()

    async def answer(request: Request) -> Response:
        script.received.append(f"{request.method} {request.url.path}")
        body = script.body if isinstance(script.body, str) else json.dumps(script.body)
        return Response(body, script.status, headers=script.headers, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
    with live_server(app) as url:
        yield url, script


@pytest.fixture
async def client(served: tuple[str, Script]) -> Any:
    url, script = served
    script.status, script.headers, script.received[:] = 200, {}, []
    script.body = {"retCode": 0, "retMsg": "OK", "result": {}, "retExtInfo": {}, "time": 1}
    made = BybitClient(UpstreamHTTP("bybit", url), "testnet", "key", "secret")
    yield made
    await made.aclose()


ORDER = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.001"}


def fail(code: int, message: str) -> dict[str, Any]:
    """Return Bybit's HTTP-200 business error envelope."""
    return {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": 1}


def test_every_private_endpoint_the_client_calls_has_a_documented_limit() -> None:
    for path, category in (
        ("/v5/order/create", "spot"),
        ("/v5/order/create", "linear"),
        ("/v5/order/cancel-all", "option"),
        ("/v5/order/realtime", "linear"),
        ("/v5/order/realtime", None),
        ("/v5/position/trading-stop", None),
        ("/v5/account/wallet-balance", None),
    ):
        key = pace_key(path, category)
        assert key in PACING, (path, category)
    assert PACING[pace_key("/v5/order/create", "spot") or ""].calls == 20
    assert PACING[pace_key("/v5/order/cancel-all", "option") or ""].calls == 1
    assert PACING["ip"].calls == 600
    assert PACING["ip"].per_s == 5.0


async def test_a_business_error_on_an_order_is_a_definite_refusal(client: BybitClient, served: Any) -> None:
    served[1].body = fail(110007, "ab not enough for new order")
    with pytest.raises(errors.InsufficientFundsError) as caught:
        await client.order_create(dict(ORDER))
    assert caught.value.definite is True
    assert caught.value.details == {"venue": "bybit", "venue_code": 110007}


async def test_a_duplicate_order_link_id_is_invalid_order_and_says_to_look_it_up(
    client: BybitClient, served: Any
) -> None:
    served[1].body = fail(110072, "OrderLinkedID is duplicate")
    with pytest.raises(errors.InvalidOrderError) as caught:
        await client.order_create({**ORDER, "orderLinkId": "dup-1"})
    assert caught.value.definite is True
    assert "look it up" in caught.value.message


@pytest.mark.parametrize("code", [10016, 10000, 170001])
async def test_a_server_error_code_after_an_order_post_is_not_definite(
    code: int, client: BybitClient, served: Any
) -> None:
    served[1].body = fail(code, "Server error")
    with pytest.raises(errors.CerberoError) as caught:
        await client.order_create(dict(ORDER))
    assert caught.value.definite is False
    assert caught.value.retryable is True


async def test_rate_limit_code_carries_retry_after_from_the_reset_header(client: BybitClient, served: Any) -> None:
    served[1].body = fail(10006, "Too many visits!")
    served[1].headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(int((now() + 3) * 1000))}
    with pytest.raises(errors.RateLimitError) as caught:
        await client.order_realtime("linear", symbol="BTCUSDT")
    assert caught.value.headers["Retry-After"] in ("3", "4")


async def test_limit_headers_feed_the_pacer_so_the_next_call_waits_or_is_refused_unsent(
    client: BybitClient, served: Any
) -> None:
    served[1].headers = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(int((now() + 30) * 1000))}
    await client.order_realtime("linear", symbol="BTCUSDT")
    sent = len(served[1].received)
    with pytest.raises(errors.RateLimitError) as caught:
        await client.order_realtime("linear", symbol="BTCUSDT")
    assert len(served[1].received) == sent  # refused before sending
    assert "nothing was sent" in (caught.value.suggested_fix or "")


async def test_http_403_is_an_ip_ban_the_client_sits_out_without_calling_again(
    client: BybitClient, served: Any
) -> None:
    served[1].status, served[1].body = 403, "access too frequent"
    with pytest.raises(errors.RateLimitError) as caught:
        await client.market_time()
    assert caught.value.headers["Retry-After"] == str(int(IP_BAN_S))
    served[1].status, served[1].body = 200, {"retCode": 0, "retMsg": "OK", "result": {}, "time": 1}
    sent = len(served[1].received)
    for _ in range(3):
        with pytest.raises(errors.RateLimitError):
            await client.market_time()
    assert len(served[1].received) == sent
    assert client.pacer.penalty_left() > IP_BAN_S - 60


async def test_a_private_call_without_keys_is_not_configured_and_sends_nothing(served: Any) -> None:
    url, script = served
    script.received.clear()
    bare = BybitClient(UpstreamHTTP("bybit", url), "mainnet", None, None, ["BYBIT_API_KEY_LIVE (or BYBIT_API_KEY)"])
    try:
        with pytest.raises(errors.NotConfiguredError) as caught:
            await bare.account_wallet_balance()
        assert "BYBIT_API_KEY" in caught.value.message
        assert script.received == []
    finally:
        await bare.aclose()


async def test_a_5xx_without_envelope_is_upstream_error(client: BybitClient, served: Any) -> None:
    served[1].status, served[1].body = 502, "<html>bad gateway</html>"
    with pytest.raises(errors.UpstreamError):
        await client.market_time()


async def test_demo_host_refuses_a_spot_batch_before_sending() -> None:
    demo = BybitClient(UpstreamHTTP("bybit", "https://api-demo.bybit.com"), "testnet", "key", "secret")
    assert demo.demo is True
    with pytest.raises(errors.InvalidInputError) as caught:
        await demo.order_create_batch("spot", [])
    assert "Demo Trading" in caught.value.message
    await demo.aclose()
