"""Deribit through the gateway as the real venue behaves (issue 13, items 13-15), on the mainnet instance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.exchanges.deribit.expiries import expiry_code, next_quarterly
from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, auth


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    """Call a Deribit tool with the mainnet token."""
    return await http.post(f"/mcp-deribit/tools/{name}", json=body, headers=auth(MAINNET, "fidelity"))


def order_posts(stack: SimStack) -> list[Any]:
    """Return the order POSTs the mainnet instance received since the recorder was cleared."""
    return [
        r for r in stack.control("deribit", "mainnet").recorded() if r.path.endswith(("/private/buy", "/private/sell"))
    ]


def option(stack: SimStack) -> str:
    """Return a listed BTC call on the first quarterly at least two weeks out."""
    code = expiry_code(next_quarterly(datetime.fromtimestamp(stack.clock.now(), UTC).date()))
    return f"BTC-{code}-100000-C"


# --- item 13 ----------------------------------------------------------------------------------------


async def test_crossing_post_only_order_is_refused_not_moved(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    ticker = (await tool(http, "get_ticker", {"instrument": "BTC-PERPETUAL"})).json()
    price = Decimal(ticker["ask"]) + 100
    sim_stack.control("deribit", "mainnet").clear_recorded()
    response = await tool(
        http,
        "place_order",
        {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "limit", "quantity": "100", "price": str(price),
         "post_only": True, "client_order_id": "fidelity-po-1"},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["venue_code"] == 11054
    [sent] = order_posts(sim_stack)
    assert sent.body["params"]["reject_post_only"] is True
    opened = (await tool(http, "get_open_orders", {"instrument": "BTC-PERPETUAL"})).json()["orders"]
    assert not [o for o in opened if o["client_order_id"] == "fidelity-po-1"]


async def test_post_only_day_order_is_refused_before_sending(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    ticker = (await tool(http, "get_ticker", {"instrument": "BTC-PERPETUAL"})).json()
    price = (Decimal(ticker["bid"]) * Decimal("0.8")).quantize(Decimal("1"))
    sim_stack.control("deribit", "mainnet").clear_recorded()
    response = await tool(
        http,
        "place_order",
        {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "limit", "quantity": "100", "price": str(price),
         "post_only": True, "time_in_force": "day"},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "gtc" in error["suggested_fix"]
    assert order_posts(sim_stack) == []


async def test_amending_a_post_only_order_across_the_spread_is_refused(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    ticker = (await tool(http, "get_ticker", {"instrument": "BTC-PERPETUAL"})).json()
    price = (Decimal(ticker["bid"]) * Decimal("0.8")).quantize(Decimal("1"))
    placed = await tool(
        http,
        "place_order",
        {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "limit", "quantity": "100", "price": str(price),
         "post_only": True},
    )  # fmt: skip
    assert placed.status_code == 200, placed.text
    order_id = placed.json()["order"]["order_id"]
    try:
        crossing = Decimal(ticker["ask"]) + 100
        amended = await tool(http, "amend_order", {"order_id": order_id, "price": str(crossing)})
        assert amended.status_code == 400, amended.text
        assert amended.json()["error"]["details"]["venue_code"] == 11054
        listed = (await tool(http, "get_open_orders", {"instrument": "BTC-PERPETUAL"})).json()["orders"]
        [mine] = [o for o in listed if o["order_id"] == order_id]
        assert Decimal(mine["price"]) == price
    finally:
        await tool(http, "cancel_order", {"order_id": order_id})


# --- item 14 ----------------------------------------------------------------------------------------


async def test_option_price_off_its_tick_tier_is_refused_with_the_nearest_valid(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    sim_stack.control("deribit", "mainnet").clear_recorded()
    body = {"instrument": option(sim_stack), "side": "buy", "type": "limit", "quantity": "0.1", "price": "0.0123"}
    response = await tool(http, "place_order", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["nearest_valid"] == ["0.012", "0.0125"]
    assert order_posts(sim_stack) == []
    fine = await tool(http, "place_order", {**body, "price": "0.0125"})
    assert fine.status_code == 200, fine.text
    await tool(http, "cancel_order", {"order_id": fine.json()["order"]["order_id"]})


# --- item 15 ----------------------------------------------------------------------------------------


async def test_combo_rules_come_from_the_combo_instrument(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    # 0.1 of each leg per combo unit, 0.5 units: a combo amount of 0.05, under the combo's minimum of 0.1.
    lower = option(sim_stack)
    upper = lower.replace("-100000-C", "-110000-C")
    body = {
        "legs": [
            {"instrument": lower, "side": "buy", "quantity": "0.1"},
            {"instrument": upper, "side": "sell", "quantity": "0.1"},
        ],
        "side": "buy",
        "quantity": "0.5",
        "type": "market",
    }
    control = sim_stack.control("deribit", "mainnet")
    control.clear_recorded()
    response = await tool(http, "place_combo_order", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["minimum"] == "0.1"
    paths = [r.path for r in control.recorded()]
    assert any(p.endswith("/public/get_instrument") for p in paths)  # the rules were read, not assumed
    assert order_posts(sim_stack) == []
