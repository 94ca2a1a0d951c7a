"""IBKR as the real venue behaves: pacing and its penalty box, cached positions, the orders-list pre-flight.

Each test runs its own simulator with IBKR's pacing on (the session's simulators run with it off), and
its own gateway, so a penalty box or a pre-flight state never leaks into another test.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.common.clock import current
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from cerbero_mcp.simulators.ibkr.simulator import SPEC
from support.stack import Gateway, serve_gateway
from support.tokens import auth

LOOPBACK = "127.0.0.1"


@pytest.fixture
def own_stack() -> Iterator[SimStack]:
    """A private IBKR simulator with pacing on (the default of a simulator instance)."""
    with start_simulators([SPEC], envs=("testnet",)) as stack:
        assert stack.instance("ibkr", "testnet").app.state.venue.rate_limit is True  # type: ignore[attr-defined]
        yield stack


@pytest.fixture
def own_gateway(own_stack: SimStack, tmp_path: Path) -> Iterator[Gateway]:
    """The app against the private simulator."""
    with serve_gateway(own_stack, tmp_path) as served:
        yield served


@pytest.fixture
async def http(own_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the private gateway."""
    async with httpx.AsyncClient(base_url=own_gateway.url, timeout=60) as client:
        yield client


def venue_of(stack: SimStack) -> Any:
    """Return the simulator instance's venue object."""
    return stack.instance("ibkr", "testnet").app.state.venue  # type: ignore[attr-defined]


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    """Call one IBKR tool with the testnet token."""
    return await http.post(f"/mcp-ibkr/tools/{name}", json=body, headers=auth(bot="ibkr-fidelity"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call one tool and return its JSON, failing on anything but 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, response.text
    return response.json()


def not_boxed(stack: SimStack) -> bool:
    """Return whether the simulator never shut the gateway out (it boxes an address on its first 429)."""
    return not venue_of(stack).pacing.boxed(LOOPBACK, current().now())


async def resting_buy(http: httpx.AsyncClient, coid: str | None = None) -> dict[str, Any]:
    """Place a small AAPL limit buy 20 % under the market (it rests)."""
    mark = Decimal((await ok(http, "get_ticker", {"instrument": "AAPL"}))["mark"])
    body: dict[str, Any] = {
        "instrument": "AAPL",
        "side": "buy",
        "type": "limit",
        "quantity": "1",
        "price": str((mark * Decimal("0.8")).quantize(Decimal("0.01"))),
    }
    if coid:
        body["client_order_id"] = coid
    placed: dict[str, Any] = await ok(http, "place_order", body)
    return placed


# --- item 1: pacing --------------------------------------------------------------------------------


async def test_the_tools_keep_to_ibkrs_pacing_and_read_one_order_by_its_status(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    control = own_stack.control("ibkr", "testnet")
    before = len(control.recorded())
    placed = await resting_buy(http)
    order_id = placed["order"]["order_id"]
    assert placed["order"]["status"] == "open"
    listed = await ok(http, "get_open_orders", {"instrument": "AAPL"})
    assert order_id in [o["order_id"] for o in listed["orders"]]
    price = Decimal(placed["order"]["price"]) - Decimal("0.10")
    amended = await ok(http, "amend_order", {"order_id": order_id, "price": str(price)})
    assert Decimal(amended["order"]["price"]) == price
    listed = await ok(http, "get_open_orders", {"instrument": "AAPL"})  # within 5 s of the last list: paced
    assert [Decimal(o["price"]) for o in listed["orders"] if o["order_id"] == order_id] == [price]
    assert (await ok(http, "cancel_order", {"order_id": order_id}))["order"]["status"] == "cancelled"
    assert not_boxed(own_stack)
    lists = [r for r in control.recorded()[before:] if r.method == "GET" and r.path.endswith("/account/orders")]
    gaps = [b.time - a.time for a, b in itertools.pairwise(lists)]
    assert all(gap >= 5 - 0.2 for gap in gaps), gaps
    # one order is read by its status, never by listing them all: only the two list tools listed
    statuses = [r for r in control.recorded()[before:] if "/iserver/account/order/status/" in r.path]
    assert statuses
    assert len(lists) <= 3  # at most the session's pre-flight, and the two get_open_orders


async def test_a_list_read_again_within_its_window_waits_for_it_and_is_read_fresh(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    # an order list seconds old may show an order that has since filled: it is never served again
    control = own_stack.control("ibkr", "testnet")

    def lists() -> list[Any]:
        return [r for r in control.recorded() if r.method == "GET" and r.path.endswith("/account/orders")]

    first = await ok(http, "get_open_orders", {})
    sent = len(lists())
    placed = await resting_buy(http)
    again = await ok(http, "get_open_orders", {})  # within IBKR's 5 s: the gateway waits, then reads
    assert len(lists()) == sent + 1
    assert lists()[-1].time - lists()[-2].time >= 5
    assert placed["order"]["order_id"] in [o["order_id"] for o in again["orders"]]
    assert again["data_timestamp"] > first["data_timestamp"]
    activities = [r for r in control.recorded() if r.path.endswith("/account/trades")]
    await ok(http, "get_activities", {"days": 1})
    await ok(http, "get_activities", {"days": 1})
    assert len([r for r in control.recorded() if r.path.endswith("/account/trades")]) == len(activities) + 2
    assert not_boxed(own_stack)


async def test_a_429_after_the_order_post_left_keeps_the_key_and_the_gateway_waits_out_the_box(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    control = own_stack.control("ibkr", "testnet")
    await ok(http, "get_ticker", {"instrument": "AAPL"})  # session open, snapshot pre-flighted
    body = {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "client_order_id": "pace-429-1"}
    control.inject("rate_limit", count=1, method="GET", path_prefix="/v1/api/iserver/account/order")
    try:
        first = await tool(http, "place_order", body)
    finally:
        control.clear_faults()
    assert first.status_code == 429, first.text
    assert first.json()["error"]["details"]["client_order_id"] == "pace-429-1"
    again = await tool(http, "place_order", body)
    assert again.headers["idempotent-replay"] == "true"
    # IBKR puts a 429's address in its penalty box: the gateway sends nothing until it ends
    before = len(control.recorded())
    boxed = await tool(http, "get_ticker", {"instrument": "AAPL"})
    assert boxed.status_code == 429
    assert boxed.json()["error"]["code"] == "RATE_LIMIT"
    assert int(boxed.headers["Retry-After"]) > 60
    assert len(control.recorded()) == before
    sent = [r for r in control.recorded() if r.method == "POST" and "pace-429-1" in json.dumps(r.body)]
    assert len(sent) == 1


async def test_a_429_answering_the_order_post_itself_is_may_have_been_placed(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    control = own_stack.control("ibkr", "testnet")
    await ok(http, "get_ticker", {"instrument": "AAPL"})
    body = {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "client_order_id": "pace-429-2"}
    control.inject("rate_limit", count=1, method="POST", path_prefix="/v1/api/iserver/account/")
    try:
        first = await tool(http, "place_order", body)
    finally:
        control.clear_faults()
    assert first.status_code == 429, first.text
    again = await tool(http, "place_order", body)
    assert again.headers.get("idempotent-replay") == "true", again.text
    sent = [r for r in control.recorded() if r.method == "POST" and "pace-429-2" in json.dumps(r.body)]
    assert len(sent) == 1


# --- item 2: cached positions ------------------------------------------------------------------------


async def test_close_position_and_reduce_only_read_the_size_after_a_fill(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    assert (await ok(http, "get_positions", {}))["positions"] == []  # IBKR now caches "flat"
    bought = await ok(http, "place_order", {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "3"})
    assert bought["order"]["status"] == "filled"
    positions = await ok(http, "get_positions", {"instrument": "AAPL"})
    assert [(p["side"], p["size"]) for p in positions["positions"]] == [("long", "3")]
    reduced = await ok(
        http,
        "place_order",
        {"instrument": "AAPL", "side": "sell", "type": "market", "quantity": "1", "reduce_only": True},
    )
    assert reduced["order"]["status"] == "filled"
    closed = await ok(http, "close_position", {"instrument": "AAPL"})
    assert closed["was_flat"] is False
    assert Decimal(closed["order"]["order"]["quantity"]) == 2  # the size after both fills, never a flip
    assert (await ok(http, "get_positions", {"instrument": "AAPL"}))["positions"] == []
    assert not_boxed(own_stack)


async def test_positions_are_read_page_by_page_until_an_empty_page(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    venue_of(own_stack).views.page_size = 1  # IBKR documents 30 and 100 a page: assume neither
    for instrument in ("AAPL", "MSFT"):
        await ok(http, "place_order", {"instrument": instrument, "side": "buy", "type": "market", "quantity": "1"})
    positions = await ok(http, "get_positions", {})
    assert sorted(p["instrument"] for p in positions["positions"]) == ["AAPL", "MSFT"]


# --- items 4 and 5: the orders list's pre-flight, direct cancel, cancel-all after a bracket ------------


async def test_cancel_amend_and_cancel_all_reach_orders_the_first_list_does_not_show(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    first = (await resting_buy(http))["order"]["order_id"]
    second = (await resting_buy(http))["order"]["order_id"]
    third = (await resting_buy(http))["order"]["order_id"]
    venue = venue_of(own_stack)
    venue.drop_brokerage_session()  # IBKR's nightly reset: the next session's first list answers empty
    cancelled = await ok(http, "cancel_order", {"order_id": first})
    assert cancelled["order"]["status"] == "cancelled"
    venue.drop_brokerage_session()
    price = Decimal("100.00")
    amended = await ok(http, "amend_order", {"order_id": second, "price": str(price)})
    assert Decimal(amended["order"]["price"]) == price
    venue.drop_brokerage_session()
    result = await ok(http, "cancel_all_orders", {"instrument": "AAPL"})
    assert result["cancelled"] == 2
    assert {venue.desk.find(oid).status for oid in (first, second, third)} == {"Cancelled"}
    assert not_boxed(own_stack)


async def test_cancel_all_after_a_bracket_counts_the_cascaded_children_as_done(
    http: httpx.AsyncClient, own_stack: SimStack
) -> None:
    mark = Decimal((await ok(http, "get_ticker", {"instrument": "AAPL"}))["mark"])
    entry = (mark * Decimal("0.8")).quantize(Decimal("0.01"))
    bracket = await ok(
        http,
        "place_bracket_order",
        {
            "instrument": "AAPL",
            "side": "buy",
            "quantity": "1",
            "entry_type": "limit",
            "entry_price": str(entry),
            "take_profit_price": str((mark * Decimal("1.2")).quantize(Decimal("0.01"))),
            "stop_loss_price": str((entry * Decimal("0.9")).quantize(Decimal("0.01"))),
            "client_order_id": "pace-bracket-1",
        },
    )
    ids = [o["order_id"] for o in bracket["orders"]]
    await ok(http, "get_open_orders", {})  # the session's orders list is started: the bracket is listed
    result = await ok(http, "cancel_all_orders", {})
    assert result["cancelled"] == 3
    venue = venue_of(own_stack)
    assert {venue.desk.find(oid).status for oid in ids} == {"Cancelled"}
