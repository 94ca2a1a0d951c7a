"""IBKR orders as IBKR documents them (issue 13 items 6, 7, 10): OTO in one request, trails, per-contract increments."""

from __future__ import annotations

import json
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import httpx

from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import auth


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    """Call an IBKR tool with the testnet token."""
    return await http.post(f"/mcp-ibkr/tools/{name}", json=body, headers=auth(bot="ibkr-fidelity-b"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call an IBKR tool and require 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, response.text
    return response.json()


def order_posts(sim_stack: SimStack, marker: str) -> list[dict[str, Any]]:
    """Return the bodies of the order POSTs (placements and modifies) that mention `marker`."""
    return [
        r.body
        for r in sim_stack.control("ibkr", "testnet").recorded()
        if r.method == "POST" and "/iserver/account/" in r.path and "/order" in r.path and marker in json.dumps(r.body)
    ]


async def option_above(http: httpx.AsyncClient, floor: Decimal) -> tuple[str, Decimal]:
    """Return an AAPL option (conid:<n>) whose last price is above `floor`, and that price."""
    chain = await ok(http, "get_option_chain", {"symbol": "AAPL", "strikes": 1})
    for option in chain["options"]:
        instrument = f"conid:{option['conid']}"
        last = Decimal((await ok(http, "get_ticker", {"instrument": instrument}))["last"])
        if last > floor:
            return instrument, last
    raise AssertionError(f"no AAPL option near the money above {floor}")


async def test_oto_is_one_request_whose_child_names_the_trigger(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    ticker = await ok(http, "get_ticker", {"instrument": "QQQ"})
    low = (Decimal(ticker["bid"]) * Decimal("0.8")).quantize(Decimal("0.01"))
    high = (Decimal(ticker["ask"]) * Decimal("1.2")).quantize(Decimal("0.01"))
    placed = await ok(
        http,
        "place_oto_order",
        {
            "trigger": {"instrument": "QQQ", "side": "buy", "type": "limit", "quantity": "1", "price": str(low)},
            "child": {"instrument": "QQQ", "side": "sell", "type": "limit", "quantity": "1", "price": str(high)},
            "client_order_id": "oto-b-1",
        },
    )
    posts = order_posts(sim_stack, "oto-b-1")
    assert len(posts) == 1  # the trigger cannot fill before its child exists
    trigger, child = posts[0]["orders"]
    assert (trigger["cOID"], child["parentId"]) == ("oto-b-1", "oto-b-1")
    assert [o["status"] for o in placed["orders"]] == ["open", "untriggered"]
    await ok(http, "cancel_all_orders", {"instrument": "QQQ"})


async def test_trailing_stop_sends_trailing_amt_and_an_amend_carries_the_trail(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    placed = await ok(
        http,
        "place_order",
        {
            "instrument": "AAPL",
            "side": "sell",
            "type": "trailing_stop",
            "quantity": "1",
            "trailing_amount": "5",
            "client_order_id": "trail-b-1",
        },
    )
    sent = order_posts(sim_stack, "trail-b-1")[0]["orders"][0]
    assert (sent["trailingAmt"], sent["trailingType"]) == (5, "amt")
    assert "auxPrice" not in sent
    order_id = placed["order"]["order_id"]
    amended = await ok(http, "amend_order", {"order_id": order_id, "quantity": "2"})
    assert Decimal(amended["order"]["quantity"]) == 2
    modify = [
        r.body
        for r in sim_stack.control("ibkr", "testnet").recorded()
        if r.method == "POST" and r.path.endswith(f"/order/{order_id}")
    ]
    assert len(modify) == 1
    assert (modify[0]["trailingAmt"], modify[0]["trailingType"], modify[0]["quantity"]) == (5, "amt", 2)
    assert "auxPrice" not in modify[0]
    await ok(http, "cancel_order", {"order_id": order_id})


async def test_option_prices_follow_the_contract_increment_rules(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    instrument, last = await option_above(http, Decimal(4))
    # Below the market (it rests), above $3 (where IBKR's option increment is 0.05), off that increment.
    price = ((last * Decimal("0.8")) / Decimal("0.05")).to_integral_value(ROUND_FLOOR) * Decimal("0.05")
    assert price > 3
    off = price + Decimal("0.01")
    body = {"instrument": instrument, "side": "buy", "type": "limit", "quantity": "1", "client_order_id": "opt-b-1"}
    refused = await tool(http, "place_order", {**body, "price": str(off)})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["details"]["increment"] == "0.05"
    assert [Decimal(x) for x in error["details"]["nearest_valid"]] == [price, price + Decimal("0.05")]
    assert order_posts(sim_stack, "opt-b-1") == []
    placed = await ok(http, "place_order", {**body, "price": str(price), "client_order_id": "opt-b-2"})
    await ok(http, "cancel_order", {"order_id": placed["order"]["order_id"]})
