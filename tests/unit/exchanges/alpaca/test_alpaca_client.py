"""The Alpaca client's transport rules: auth headers, error table, definite vs unknown write failures, pacing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.common import errors
from cerbero_mcp.common.clock import now
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.alpaca.client import DATA, PACING, TRADING, AlpacaClient
from cerbero_mcp.exchanges.alpaca.errors import to_error
from support.fixtures import load_fixture
from support.live_server import live_server


class Script:
    """What the loopback 'Alpaca' answers next, and what it received."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {}
        self.headers: dict[str, str] = {}
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Script]]:
    script = Script()

    async def answer(request: Request) -> Response:
        script.received.append(
            (
                request.method,
                request.scope["raw_path"].decode() + ("?" + request.url.query if request.url.query else ""),
                dict(request.headers),
                await request.body(),
            )
        )
        if script.status == 204:
            return Response(None, 204)
        body = script.body if isinstance(script.body, str) else json.dumps(script.body, default=str)
        return Response(body, script.status, headers=script.headers, media_type="application/json")

    methods = ["GET", "POST", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", answer, methods=methods)])
    with live_server(app) as url:
        yield url, script


@pytest.fixture
async def client(served: tuple[str, Script]) -> Any:
    url, script = served
    script.status, script.headers, script.body, script.received[:] = 200, {}, {}, []
    made = AlpacaClient(UpstreamHTTP("alpaca", url), "testnet", "key-id", "secret-key")
    yield made
    await made.aclose()


ORDER = {"symbol": "AAPL", "qty": Decimal("1.5"), "side": "buy", "type": "limit", "limit_price": Decimal("190.10")}


async def test_every_request_carries_both_apca_headers(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.body = load_fixture("alpaca", "clock")
    await client.clock()
    headers = script.received[-1][2]
    assert headers["apca-api-key-id"] == "key-id"
    assert headers["apca-api-secret-key"] == "secret-key"


async def test_an_order_body_carries_prices_and_quantities_as_exact_strings(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.body = load_fixture("alpaca", "order_create")
    await client.create_order(ORDER)
    method, path, _, body = script.received[-1]
    assert (method, path) == ("POST", "/v2/orders")
    assert json.loads(body) == {"symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "limit", "limit_price": "190.10"}


async def test_insufficient_buying_power_is_a_definite_insufficient_funds(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.status, script.body = 403, load_fixture("alpaca", "error_403_buying_power")
    with pytest.raises(errors.InsufficientFundsError) as caught:
        await client.create_order(ORDER)
    assert caught.value.definite is True
    assert caught.value.details is not None
    assert caught.value.details["venue_code"] == 40310000


def test_other_40310000_refusals_are_told_apart_by_message() -> None:
    pdt = to_error(403, {"code": 40310000, "message": "trade denied due to pattern day trading protection"})
    cost = to_error(403, {"code": 40310000, "message": "cost basis must be >= minimal amount of order 1"})
    funds = to_error(403, {"code": 40310000, "message": "insufficient buying power"})
    assert (type(pdt), type(cost), type(funds)) == (
        errors.InvalidOrderError,
        errors.InvalidOrderError,
        errors.InsufficientFundsError,
    )


def test_a_duplicate_client_order_id_says_to_look_it_up() -> None:
    error = to_error(422, {"code": 42210000, "message": "client_order_id must be unique"}, write=True)
    assert isinstance(error, errors.InvalidOrderError)
    assert error.definite is True
    assert "look it up" in str(error)


def test_unauthorized_without_a_code_is_upstream_auth() -> None:
    assert isinstance(to_error(401, load_fixture("alpaca", "error_401")), errors.UpstreamAuthError)


def test_unknown_order_is_order_not_found() -> None:
    assert isinstance(to_error(404, load_fixture("alpaca", "error_404_order")), errors.OrderNotFoundError)


async def test_a_5xx_after_an_order_post_is_not_definite(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.status, script.body = 500, {"code": 50010000, "message": "internal server error"}
    with pytest.raises(errors.UpstreamError) as caught:
        await client.create_order(ORDER)
    assert caught.value.definite is False
    assert len(script.received) == 1  # never re-sent


async def test_a_5xx_html_page_after_an_order_post_is_upstream_error_sent_once(
    client: AlpacaClient, served: Any
) -> None:
    _, script = served
    script.status, script.body = 502, "<html>bad gateway</html>"
    with pytest.raises(errors.UpstreamError) as caught:
        await client.create_order(ORDER)
    assert caught.value.definite is False
    assert len(script.received) == 1


async def test_a_429_shuts_calls_out_until_the_reset_and_carries_retry_after(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.status, script.body = 429, {"code": 42910000, "message": "too many requests"}
    script.headers = {
        "X-RateLimit-Limit": "200",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(now()) + 30),
    }
    with pytest.raises(errors.RateLimitError) as caught:
        await client.account()
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 31
    script.status, script.body, script.headers = 200, {}, {}
    with pytest.raises(errors.RateLimitError):
        await client.account()
    assert len(script.received) == 1  # the second call was refused before sending


async def test_no_remaining_calls_in_the_headers_stop_the_next_call_unsent(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.body = {}
    script.headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now()) + 50)}
    await client.account()
    script.headers = {}
    with pytest.raises(errors.RateLimitError):
        await client.account()
    assert len(script.received) == 1


async def test_cancel_answers_204_without_body(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.status = 204
    assert await client.cancel_order("61e69015-8549-4bfd-b9c3-01e75843f47d") is None
    assert script.received[-1][:2] == ("DELETE", "/v2/orders/61e69015-8549-4bfd-b9c3-01e75843f47d")


async def test_cancel_all_returns_the_207_list(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.status, script.body = 207, load_fixture("alpaca", "cancel_all_207")
    rows = await client.cancel_orders()
    assert [row["status"] for row in rows] == [200, 404]


async def test_a_call_without_keys_is_not_configured_and_sends_nothing(served: Any) -> None:
    url, script = served
    script.received[:] = []
    bare = AlpacaClient(UpstreamHTTP("alpaca", url), "testnet", None, None, ["ALPACA_API_KEY_ID_TESTNET"])
    with pytest.raises(errors.NotConfiguredError):
        await bare.account()
    await bare.aclose()
    assert script.received == []


async def test_market_data_goes_to_the_data_host_with_the_feed(served: Any) -> None:
    url, script = served
    script.received[:] = []
    script.status, script.headers, script.body = 200, {}, load_fixture("alpaca", "stock_snapshot")
    trading = UpstreamHTTP("alpaca", "http://127.0.0.1:9")  # nothing listens: a trading call would fail
    made = AlpacaClient(trading, "testnet", "k", "s", data_http=UpstreamHTTP("alpaca", url), feed="sip")
    snaps = await made.stock_snapshots(["AAPL"])
    await made.aclose()
    assert "AAPL" in snaps
    _method, path, _, _ = script.received[-1]
    assert path.startswith("/v2/stocks/snapshots?")
    assert "feed=sip" in path
    assert "symbols=AAPL" in path


def test_the_pacing_table_has_the_documented_trading_and_data_limits() -> None:
    assert (PACING[TRADING].calls, PACING[TRADING].per_s) == (200, 60.0)
    assert (PACING[DATA].calls, PACING[DATA].per_s) == (200, 60.0)


async def test_a_crypto_symbol_is_one_path_segment(client: AlpacaClient, served: Any) -> None:
    _, script = served
    script.body = {"symbol": "BTC/USD", "class": "crypto", "tradable": True}
    await client.asset("BTC/USD")
    assert script.received[-1][1] == "/v2/assets/BTC%2FUSD"
