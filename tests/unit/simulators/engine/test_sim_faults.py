"""Faults and the recorder over real loopback uvicorn servers started by the harness."""

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from cerbero_mcp.simulators.engine import SimControl, SimStack, SimulatorConfig, SimulatorSpec, start_simulators


def build_echo(config: SimulatorConfig) -> ASGIApp:
    """Return an app that answers every request with what it received and who it is."""

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "venue": config.venue,
                "env": config.env,
                "seed": config.seed,
                "method": request.method,
                "path": request.url.path,
                "body": json.loads(body) if request.headers.get("content-type") == "application/json" else None,
            }
        )

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE"])])


ECHO = SimulatorSpec(
    venue="echo",
    build_app=build_echo,
    settings_overrides=lambda env, url, creds: {
        f"ECHO_URL_{env.upper()}": url,
        f"ECHO_API_KEY_{env.upper()}": creds["api_key"],
    },
    credentials=lambda env: {"api_key": f"key-{env}", "api_secret": f"secret-{env}"},
)


@pytest.fixture(scope="module")
def stack() -> Iterator[SimStack]:
    with start_simulators([ECHO]) as s:
        yield s


@pytest.fixture
def control(stack: SimStack) -> Iterator[SimControl]:
    c = stack.control("echo", "testnet")
    c.clear_faults()
    c.clear_recorded()
    yield c
    c.clear_faults()


@pytest.fixture
def url(stack: SimStack) -> str:
    return stack.url("echo", "testnet")


async def test_latency_delays_the_response_then_serves_it(control: SimControl, url: str) -> None:
    control.inject("latency", latency_ms=300, count=1)
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(f"{url}/api/ticker") as resp:
            assert resp.status == 200
            assert (await resp.json())["path"] == "/api/ticker"
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        async with session.get(f"{url}/api/ticker") as resp:
            assert resp.status == 200
        assert time.monotonic() - started < 0.3


async def test_http_5xx_answers_the_status_for_count_calls(control: SimControl, url: str) -> None:
    control.inject("http_5xx", status=502, count=2)
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(f"{url}/x") as resp:
                statuses.append(resp.status)
    assert statuses == [502, 502, 200]
    assert control.faults() == []


async def test_rate_limit_answers_429_with_retry_after(control: SimControl, url: str) -> None:
    control.inject("rate_limit", retry_after=2, count=1)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/x") as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"


async def test_malformed_answers_200_with_a_body_that_is_not_json(control: SimControl, url: str) -> None:
    control.inject("malformed", count=1)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/x") as resp:
        assert resp.status == 200
        text = await resp.text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_drop_closes_the_connection_mid_response(control: SimControl, url: str) -> None:
    control.inject("drop", count=1)
    async with aiohttp.ClientSession() as session:
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
            async with session.get(f"{url}/x") as resp:
                await resp.read()
        async with session.get(f"{url}/x") as resp:  # the next call is served normally
            assert resp.status == 200


async def test_faults_aim_by_path_prefix_method_and_probability(control: SimControl, url: str) -> None:
    control.inject("http_5xx", path_prefix="/private", method="POST")
    control.inject("rate_limit", probability=0.0)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/private/buy", json={}) as resp:
            assert resp.status == 503
        async with session.get(f"{url}/private/buy") as resp:
            assert resp.status == 200
        for _ in range(10):
            async with session.post(f"{url}/public/ticker", json={}) as resp:
                assert resp.status == 200
    control.clear_faults()
    control.inject("http_5xx", probability=1.0)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/public/ticker") as resp:
        assert resp.status == 503


async def test_control_routes_over_http_inject_list_and_clear(control: SimControl, url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/__sim__/faults", json={"kind": "http_5xx", "status": 504, "count": 1}) as resp:
            assert resp.status == 201
            fault = (await resp.json())["fault"]
        assert (fault["kind"], fault["status"], fault["remaining"]) == ("http_5xx", 504, 1)
        async with session.get(f"{url}/__sim__/faults") as resp:
            assert [f["id"] for f in (await resp.json())["faults"]] == [fault["id"]]
        async with session.post(f"{url}/__sim__/faults", json={"kind": "meteor"}) as resp:
            assert resp.status == 422
        async with session.delete(f"{url}/__sim__/faults") as resp:
            assert await resp.json() == {"cleared": 1}
        async with session.get(f"{url}/api/after") as resp:
            assert resp.status == 200
        async with session.get(f"{url}/__sim__/requests") as resp:
            recorded = (await resp.json())["requests"]
        assert [r["path"] for r in recorded] == ["/api/after"]  # control calls are not recorded
        async with session.delete(f"{url}/__sim__/requests") as resp:
            assert await resp.json() == {"cleared": 1}
        async with session.get(f"{url}/__sim__/nope") as resp:
            assert resp.status == 404
    assert control.recorded() == []


async def test_recorder_keeps_the_request_but_not_its_secrets(control: SimControl, url: str) -> None:
    headers = {
        "Authorization": "Bearer top-secret",
        "Cookie": "session=top-secret",
        "X-BAPI-API-KEY": "top-secret",
        "X-BAPI-SIGN": "top-secret",
        "X-Access-Token": "top-secret",
        "X-Request-Id": "req-1",
    }
    body = {
        "method": "public/auth",
        "params": {"client_id": "me", "client_secret": "top-secret", "amount": 10},
        "signature": {"r": "top-secret"},
        "orders": [{"apiKey": "top-secret", "symbol": "BTCUSDT"}],
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/v2/private/buy?client_secret=top-secret&instrument=BTC", json=body,
                                headers=headers) as resp:  # fmt: skip
            assert resp.status == 200
        async with session.get(f"{url}/__sim__/requests?limit=1") as resp:
            over_http = (await resp.json())["requests"]
    (rec,) = control.recorded()
    assert over_http == [rec.to_dict()]
    assert "top-secret" not in json.dumps(over_http)
    assert (rec.method, rec.path) == ("POST", "/api/v2/private/buy")
    assert rec.query_params == {"client_secret": "***", "instrument": "BTC"}
    assert rec.headers["x-request-id"] == "req-1"
    assert not {"authorization", "cookie", "x-bapi-api-key", "x-bapi-sign", "x-access-token"} & set(rec.headers)
    assert rec.body["params"] == {"client_id": "me", "client_secret": "***", "amount": 10}
    assert rec.body["signature"] == "***"
    assert rec.body["orders"] == [{"apiKey": "***", "symbol": "BTCUSDT"}]
    assert rec.fault is None


async def test_form_bodies_are_masked_and_the_app_still_gets_the_body(control: SimControl, url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/oauth", data={"oauth_token": "top-secret", "x": "1"}) as resp:
            assert resp.status == 200
        async with session.put(f"{url}/orders", json={"qty": 1}) as resp:
            assert (await resp.json())["body"] == {"qty": 1}
    form, put = control.recorded()
    assert form.body == {"oauth_token": "***", "x": "1"}
    assert put.body == {"qty": 1}


async def test_concurrent_calls_are_served_while_one_is_delayed(control: SimControl, url: str) -> None:
    control.inject("latency", latency_ms=400, path_prefix="/slow")
    async with aiohttp.ClientSession() as session:

        async def get(path: str) -> float:
            started = time.monotonic()
            async with session.get(f"{url}{path}") as resp:
                await resp.read()
            return time.monotonic() - started

        slow, fast = await asyncio.gather(get("/slow"), get("/fast"))
    assert slow >= 0.4 > fast
