"""Hostile numbers over HTTP and MCP: refused as INVALID_INPUT naming the field, never a 500, never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from cerbero_mcp.exchanges import VENUES
from cerbero_mcp.simulators.engine.faults import SimControl
from cerbero_mcp.simulators.engine.harness import SimStack
from support.contract_venues import CONTRACTS, VenueContract
from support.live_server import live_server
from support.tokens import TESTNET, auth
from support.toy import ToyClient

PLACE = "/mcp-toy/tools/place_order"
TOY_ORDER = {"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5"}
HOSTILE: list[Any] = [
    "1e400",
    "-1e400",
    "1e-400",
    "9" * 5000,
    "1" * 31,
    "1_000",
    "١٠٠",  # Arabic-Indic digits
    " 1",
    "1\n",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    True,
    [],
    {"value": 1},
    1e300,
]
VENUE_CONTRACTS = [CONTRACTS[venue] for venue in sorted(CONTRACTS) if venue in VENUES]


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert [item["loc"] for item in error["details"]["errors"]] == [f"body.{field}"]  # REST locations start at body
    assert error["message"].startswith(f"invalid input: body.{field}: ")
    assert "may_have_been_placed" not in str(error)


# --- the toy venue, in process ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["qty", "price"])
async def test_toy_refuses_each_hostile_number_and_never_calls_the_venue(
    app: FastAPI, client: httpx.AsyncClient, field: str
) -> None:
    for n, value in enumerate(HOSTILE):
        cid = f"hostile-{field}-{n}"
        body = {**TOY_ORDER, field: value, "client_order_id": cid}
        _refused(await client.post(PLACE, json=body, headers=auth()), field)
        _refused(await client.post(PLACE, json=body, headers=auth()), field)  # the same again: no replay
    assert app.state.cerbero.registry.cached() == {}  # the venue client was never even built


async def test_an_id_refused_for_its_number_is_free_for_the_fixed_order(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = {**TOY_ORDER, "qty": "1e400", "client_order_id": "fix-me"}
    _refused(await client.post(PLACE, json=body, headers=auth()), "qty")
    fixed = await client.post(PLACE, json={**body, "qty": "0.5"}, headers=auth())
    assert fixed.status_code == 200, fixed.text
    assert "idempotent-replay" not in fixed.headers
    toy: ToyClient = app.state.cerbero.registry.cached()[("toy", "testnet")]
    assert [order["client_order_id"] for order in toy.orders] == ["fix-me"]


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"9" * 5000, b"NaN", b"Infinity", b"1" + b"0" * 30])
async def test_hostile_json_numbers_are_4xx(app: FastAPI, client: httpx.AsyncClient, number: bytes) -> None:
    content = b'{"symbol": "BTC-TOY", "side": "buy", "qty": ' + number + b', "client_order_id": "raw-1"}'
    headers = {**auth(), "Content-Type": "application/json"}
    response = await client.post(PLACE, content=content, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert app.state.cerbero.registry.cached() == {}


async def test_numbers_at_the_bounds_are_accepted(client: httpx.AsyncClient) -> None:
    for qty in ("1e-18", "0.000000000000000001", "1.00000000000000000000000000001", 1.1):
        response = await client.post(PLACE, json={**TOY_ORDER, "qty": qty, "dry_run": True}, headers=auth())
        assert response.status_code == 200, (qty, response.text)
    response = await client.post(PLACE, json={**TOY_ORDER, "qty": 1.1, "dry_run": True}, headers=auth())
    assert response.json()["qty"] == "1.1"


@asynccontextmanager
async def _mcp_session(base_url: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {TESTNET}", "X-Bot-Tag": "agent-n"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    """Serve the toy app on a real loopback port."""
    with live_server(app) as url:
        yield url


async def test_mcp_refuses_the_same_numbers(base_url: str) -> None:
    async with _mcp_session(base_url) as session:
        for value in ("1e400", "١٠٠", "1_000", "NaN", True):
            result = await session.call_tool("toy_place_order", {**TOY_ORDER, "qty": value})
            assert result.is_error is True
            assert result.structured_content is not None
            error = result.structured_content["error"]
            assert error["code"] == "INVALID_INPUT"
            assert [item["loc"] for item in error["details"]["errors"]] == ["qty"]


# --- Deribit and IBKR against their simulators ----------------------------------------------------


def _orders_sent(control: SimControl, before: int, contract: VenueContract) -> list[Any]:
    return [r for r in control.recorded()[before:] if contract.is_order(r.method, r.path)]


def _order(contract: VenueContract, **fields: Any) -> dict[str, Any]:
    return {
        "instrument": contract.instrument,
        "side": "buy",
        "type": "limit",
        "quantity": str(contract.small_quantity),
        "price": "100",
        **fields,
    }


async def _call(http: httpx.AsyncClient, venue: str, tool: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(f"/mcp-{venue}/tools/{tool}", json=body, headers=auth(bot="numbers"))


@pytest.mark.parametrize("contract", VENUE_CONTRACTS, ids=lambda c: c.venue)
@pytest.mark.parametrize("field", ["quantity", "price"])
async def test_venues_refuse_each_hostile_number_before_sending(
    http: httpx.AsyncClient, sim_stack: SimStack, contract: VenueContract, field: str
) -> None:
    control = sim_stack.control(contract.venue, "testnet")
    before = len(control.recorded())
    for n, value in enumerate(HOSTILE):
        body = _order(contract, **{field: value, "client_order_id": f"hostile-{field}-{n}"})
        _refused(await _call(http, contract.venue, "place_order", body), field)
        _refused(await _call(http, contract.venue, "place_order", body), field)
    _refused(await _call(http, contract.venue, "amend_order", {"order_id": "1", "price": "1e400"}), "price")
    close = {"instrument": contract.instrument, "type": "limit", "price": "١٠٠"}
    _refused(await _call(http, contract.venue, "close_position", close), "price")
    assert _orders_sent(control, before, contract) == []


@pytest.mark.parametrize("contract", VENUE_CONTRACTS, ids=lambda c: c.venue)
async def test_venues_free_an_id_refused_for_its_number(
    http: httpx.AsyncClient, sim_stack: SimStack, contract: VenueContract
) -> None:
    control = sim_stack.control(contract.venue, "testnet")
    ticker = await _call(http, contract.venue, "get_ticker", {"instrument": contract.instrument})
    price = contract.resting_price(Decimal(ticker.json()["mark"]), "buy")
    body = _order(contract, price=str(price), client_order_id=f"numbers-fix-{contract.venue}")
    before = len(control.recorded())
    _refused(await _call(http, contract.venue, "place_order", {**body, "quantity": "1e400"}), "quantity")
    assert _orders_sent(control, before, contract) == []
    placed = await _call(http, contract.venue, "place_order", body)
    assert placed.status_code == 200, placed.text
    assert "idempotent-replay" not in placed.headers
    assert len(_orders_sent(control, before, contract)) == 1
    cancelled = await _call(http, contract.venue, "cancel_order", {"order_id": placed.json()["order"]["order_id"]})
    assert cancelled.status_code == 200, cancelled.text


@pytest.mark.parametrize("contract", VENUE_CONTRACTS, ids=lambda c: c.venue)
async def test_venue_numbers_at_the_bounds_never_500(http: httpx.AsyncClient, contract: VenueContract) -> None:
    extremes = [
        "1e18",
        "1e-18",
        "999999999999999999.999999999999",
        "0.000000000000000001234567890123456789012345678901",
    ]
    for field in ("quantity", "price"):
        for value in extremes:
            body = _order(contract, **{field: value, "dry_run": True})
            response = await _call(http, contract.venue, "place_order", body)
            assert response.status_code < 500, (field, value, response.text)
