"""Unknown means unknown, on every venue: an order POST is never re-sent unless the venue definitely refused it.

A timeout, a dropped connection, a 5xx or a 200 whose body cannot be read on the order POST is "may
have been placed": the answer says how to look the order up, the same client_order_id replays that
answer and nothing reaches the venue again. A definite refusal (the venue's own error) or a refusal
before anything was sent frees the id.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cerbero_mcp.simulators.engine.harness import SimStack
from support.contract_venues import VenueContract
from support.stack import Gateway
from support.tokens import TESTNET, auth

IDS = itertools.count(1)


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the served gateway."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield client


def order(c: VenueContract, client_order_id: str, quantity: Any = None) -> dict[str, Any]:
    """Return a small market order with a client order id."""
    return {
        "instrument": c.instrument,
        "side": "buy",
        "type": "market",
        "quantity": str(quantity or c.small_quantity),
        "client_order_id": client_order_id,
    }


def sends_of(sim_stack: SimStack, c: VenueContract, client_order_id: str) -> int:
    """Return how many order POSTs carrying `client_order_id` the testnet venue received."""
    return sum(
        1
        for r in sim_stack.control(c.venue, "testnet").recorded()
        if c.is_order(r.method, r.path) and c.wire_client_id(client_order_id) in json.dumps(r.body)
    )


async def place(http: httpx.AsyncClient, c: VenueContract, body: dict[str, Any]) -> httpx.Response:
    """Call place_order with the testnet token."""
    return await http.post(f"/mcp-{c.venue}/tools/place_order", json=body, headers=auth(TESTNET, "unknown"))


@pytest.mark.parametrize(
    "fault",
    [{"kind": "malformed"}, {"kind": "http_5xx", "status": 503}, {"kind": "drop"}],
    ids=["truncated-200", "5xx", "dropped"],
)
async def test_an_order_post_with_no_readable_answer_is_unknown_and_never_resent(
    http: httpx.AsyncClient, sim_stack: SimStack, contract: VenueContract, fault: dict[str, Any]
) -> None:
    coid = f"unk-{contract.venue}-{fault['kind']}-{next(IDS)}"
    control = sim_stack.control(contract.venue, "testnet")
    control.inject(count=1, method="POST", path_prefix=contract.order_fault_prefix, **fault)
    try:
        first = await place(http, contract, order(contract, coid))
    finally:
        control.clear_faults()
    assert first.status_code in (502, 504), first.text
    error = first.json()["error"]
    assert error["details"]["client_order_id"] == coid
    assert "lookup" in error["details"]
    assert sends_of(sim_stack, contract, coid) == 1
    again = await place(http, contract, order(contract, coid))
    assert again.status_code == first.status_code
    assert again.headers["idempotent-replay"] == "true"
    assert sends_of(sim_stack, contract, coid) == 1


async def test_a_definite_refusal_by_the_venue_frees_the_id(
    http: httpx.AsyncClient, sim_stack: SimStack, contract: VenueContract
) -> None:
    coid = f"def-{contract.venue}-{next(IDS)}"
    body = order(contract, coid, contract.unaffordable_quantity)
    first = await place(http, contract, body)
    assert first.status_code == 400, first.text
    assert first.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    again = await place(http, contract, body)
    assert again.status_code == 400
    assert "idempotent-replay" not in again.headers
    assert sends_of(sim_stack, contract, coid) == 2  # freed: the venue refused it, so sending again is safe


async def test_a_refusal_before_anything_is_sent_frees_the_id(
    http: httpx.AsyncClient, sim_stack: SimStack, contract: VenueContract
) -> None:
    coid = f"pre-{contract.venue}-{next(IDS)}"
    body = {**order(contract, coid), "type": "limit", "price": str(contract.tick / 3 + 1000)}
    first = await place(http, contract, body)
    assert first.status_code == 422, first.text
    again = await place(http, contract, body)
    assert again.status_code == 422
    assert "idempotent-replay" not in again.headers
    assert sends_of(sim_stack, contract, coid) == 0
