"""Deribit order details beyond the shared contract: stops, combos, wire form of writes, options notional."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.exchanges.deribit.expiries import expiry_code, next_quarterly
from cerbero_mcp.exchanges.deribit.exposure import position_notional_usd
from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, auth


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any], token: str = MAINNET) -> httpx.Response:
    """Call a Deribit tool (mainnet instance: this module's orders stay out of the contract suite's way)."""
    return await http.post(f"/mcp-deribit/tools/{name}", json=body, headers=auth(token, "orders"))


def test_options_are_sized_in_coin_and_inverse_futures_in_usd() -> None:
    option = {"kind": "option", "instrument_type": "reversed"}
    perpetual = {"kind": "future", "instrument_type": "reversed"}
    assert position_notional_usd(Decimal("2"), option, Decimal("100000")) == Decimal("200000")
    assert position_notional_usd(Decimal("-500"), perpetual, Decimal("100000")) == Decimal("500")


async def test_writes_are_posted_reads_are_gets(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    control = sim_stack.control("deribit", "mainnet")
    control.clear_recorded()
    response = await tool(
        http, "place_order", {"instrument": "ETH-PERPETUAL", "side": "buy", "type": "market", "quantity": "10"}
    )
    assert response.status_code == 200, response.text
    methods = {r.path.rsplit("/api/v2/", 1)[-1]: r.method for r in control.recorded()}
    assert methods["private/buy"] == "POST"
    assert methods["public/get_instrument"] == "GET"
    await tool(http, "close_position", {"instrument": "ETH-PERPETUAL"})


async def test_stop_market_order_amends_its_trigger_and_refuses_a_limit_price(http: httpx.AsyncClient) -> None:
    ticker = (await tool(http, "get_ticker", {"instrument": "BTC-PERPETUAL"})).json()
    trigger = (Decimal(ticker["mark"]) * Decimal("1.5")).quantize(Decimal("1"))
    placed = await tool(
        http,
        "place_order",
        {
            "instrument": "BTC-PERPETUAL",
            "side": "buy",
            "type": "stop_market",
            "quantity": "10",
            "stop_price": str(trigger),
        },
    )
    assert placed.status_code == 200, placed.text
    order = placed.json()["order"]
    assert order["status"] == "untriggered"
    assert Decimal(order["stop_price"]) == trigger
    moved = await tool(http, "amend_order", {"order_id": order["order_id"], "stop_price": str(trigger + 100)})
    assert moved.status_code == 200, moved.text
    assert Decimal(moved.json()["order"]["stop_price"]) == trigger + 100
    refused = await tool(http, "amend_order", {"order_id": order["order_id"], "price": "1000"})
    assert refused.status_code == 422
    assert "no limit price" in refused.json()["error"]["message"]
    assert (await tool(http, "cancel_order", {"order_id": order["order_id"]})).status_code == 200


async def test_combo_trades_exactly_the_requested_legs(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    # A quarterly at least two weeks out: both strikes have a book whatever the date of the run.
    expiry = expiry_code(next_quarterly(datetime.fromtimestamp(sim_stack.clock.now(), UTC).date()))
    found = (
        await tool(http, "find_by_delta", {"currency": "BTC", "target_delta": 0.3, "kind": "call", "expiry": expiry})
    ).json()
    assert f"-{expiry}-" in found["instrument"], found
    lower = found["instrument"]
    strike = int(found["strike"])
    upper = lower.replace(f"-{strike}-C", f"-{strike + 10000}-C")
    body = {
        "legs": [
            {"instrument": lower, "side": "buy", "quantity": "0.5"},
            {"instrument": upper, "side": "sell", "quantity": "0.5"},
        ],
        "side": "buy",
        "quantity": "2",
        "type": "market",
    }
    before = {p["instrument"]: p for p in (await tool(http, "get_positions", {"currency": "BTC"})).json()["positions"]}
    response = await tool(http, "place_combo_order", body)
    assert response.status_code == 200, response.text
    assert response.json()["combo_instrument"].startswith("BTC-")
    after = {p["instrument"]: p for p in (await tool(http, "get_positions", {"currency": "BTC"})).json()["positions"]}

    def signed(positions: dict[str, Any], name: str) -> Decimal:
        p = positions.get(name)
        if p is None:
            return Decimal(0)
        return Decimal(p["size"]) * (1 if p["side"] == "long" else -1)

    assert signed(after, lower) - signed(before, lower) == Decimal("1")
    assert signed(after, upper) - signed(before, upper) == Decimal("-1")
