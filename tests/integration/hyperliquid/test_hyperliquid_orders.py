"""Hyperliquid order details beyond the shared contract: cloids, idempotency, market bounds, TP/SL, leverage, dead-man.

Runs on the mainnet instance, so these orders stay out of the contract suite's way (it trades testnet).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.exchanges.hyperliquid.signing import cloid_for
from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, auth

BTC = {"instrument": "BTC"}


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any], token: str = MAINNET) -> httpx.Response:
    """Call a Hyperliquid tool."""
    return await http.post(f"/mcp-hyperliquid/tools/{name}", json=body, headers=auth(token, "hyperliquid-orders"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call a Hyperliquid tool and return its JSON, failing on anything but 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, f"{name}: {response.text}"
    return response.json()


async def mark(http: httpx.AsyncClient, instrument: str = "BTC") -> Decimal:
    """Return a perpetual's mark price."""
    return Decimal((await ok(http, "get_ticker", {"instrument": instrument}))["mark"])


def below(price: Decimal, fraction: str = "0.8") -> str:
    """Return a valid resting buy price (an integer: always allowed) at `fraction` of `price`."""
    return str(int(price * Decimal(fraction)))


def actions(sim_stack: SimStack) -> list[dict[str, Any]]:
    """Return the /exchange actions the mainnet instance received."""
    return [
        r.body["action"]
        for r in sim_stack.control("hyperliquid", "mainnet").recorded()
        if r.path.endswith("/exchange") and isinstance(r.body, dict)
    ]


async def test_limit_order_carries_its_cloid_and_is_amended_and_cancelled_by_client_id(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    price = await mark(http)
    sim_stack.control("hyperliquid", "mainnet").clear_recorded()
    placed = await ok(
        http,
        "place_order",
        {**BTC, "side": "buy", "type": "limit", "quantity": "0.001", "price": below(price), "client_order_id": "hl-1"},
    )
    order = placed["order"]
    assert (order["status"], order["client_order_id"]) == ("open", "hl-1")
    assert placed["info"]["cloid"] == cloid_for("hl-1")
    (sent,) = actions(sim_stack)
    assert sent["orders"][0]["c"] == cloid_for("hl-1")
    listed = await ok(http, "get_open_orders", BTC)
    assert [o["client_order_id"] for o in listed["orders"] if o["order_id"] == order["order_id"]] == ["hl-1"]
    amended = await ok(http, "amend_order", {"order_id": "hl-1", "price": below(price, "0.75")})
    assert Decimal(amended["order"]["price"]) == Decimal(below(price, "0.75"))
    assert actions(sim_stack)[-1]["type"] == "batchModify"
    cancelled = await ok(http, "cancel_order", {"order_id": "hl-1"})
    assert cancelled["order"]["status"] == "cancelled"


async def test_idempotency_by_client_order_id_replays_and_the_venue_knows_the_cloid(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    price = await mark(http)
    body = {
        **BTC,
        "side": "buy",
        "type": "limit",
        "quantity": "0.001",
        "price": below(price),
        "client_order_id": "hl-idem",
    }
    first = await tool(http, "place_order", body)
    assert first.status_code == 200, first.text
    sends = len(actions(sim_stack))
    again = await tool(http, "place_order", body)
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replay") == "true"
    assert again.json()["order"]["order_id"] == first.json()["order"]["order_id"]
    assert len(actions(sim_stack)) == sends  # the replay sent nothing
    other = await tool(http, "place_order", {**body, "price": below(price, "0.7")})
    assert other.status_code == 409
    await ok(http, "cancel_order", {"order_id": "hl-idem"})


async def test_market_order_states_its_slippage_bound_and_fills(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    placed = await ok(http, "place_order", {"instrument": "ETH", "side": "buy", "type": "market", "quantity": "0.01"})
    assert placed["order"]["status"] == "filled"
    assert Decimal(placed["info"]["slippage"]) == Decimal("0.05")
    bound = Decimal(placed["info"]["market_price_bound"])
    assert bound > Decimal(placed["info"]["reference_mid"])
    wire = actions(sim_stack)[-1]["orders"][0]
    assert (Decimal(wire["p"]), wire["t"]) == (bound, {"limit": {"tif": "Ioc"}})
    assert sum(Decimal(f["quantity"]) for f in placed["fills"]) == Decimal("0.01")
    # Protect it, then close it.
    stop = await ok(
        http, "set_stop_loss", {"instrument": "ETH", "trigger_price": below(await mark(http, "ETH"), "0.5")}
    )
    assert (stop["order"]["status"], stop["order"]["reduce_only"]) == ("untriggered", True)
    take = await ok(
        http,
        "set_take_profit",
        {
            "instrument": "ETH",
            "trigger_price": below(await mark(http, "ETH"), "2"),
            "type": "limit",
            "price": below(await mark(http, "ETH"), "1.9"),
        },
    )
    assert actions(sim_stack)[-1]["orders"][0]["t"]["trigger"]["tpsl"] == "tp"
    assert take["kind"] == "tp"
    closed = await ok(http, "close_position", {"instrument": "ETH"})
    assert not closed["was_flat"]
    assert actions(sim_stack)[-1]["orders"][0]["r"] is True
    await ok(http, "cancel_all_orders", {"instrument": "ETH"})


async def test_misaligned_size_and_small_orders_are_refused_before_sending(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    sends = len(actions(sim_stack))
    size = await tool(http, "place_order", {**BTC, "side": "buy", "type": "market", "quantity": "0.000001"})
    assert size.status_code == 422
    assert size.json()["error"]["details"]["nearest_valid"] == ["0.00001"]
    small = await tool(http, "place_order", {**BTC, "side": "buy", "type": "market", "quantity": "0.00001"})
    assert small.status_code == 422
    assert small.json()["error"]["details"]["minimum"] == "10"
    assert len(actions(sim_stack)) == sends


async def test_leverage_funding_basis_and_dead_man_switch(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    leverage = await ok(http, "set_leverage", {"instrument": "BTC", "leverage": 5, "margin_mode": "isolated"})
    assert leverage["leverage"] == 5
    assert actions(sim_stack)[-1] == {"type": "updateLeverage", "asset": 0, "isCross": False, "leverage": 5}
    too_high = await tool(http, "set_leverage", {"instrument": "BTC", "leverage": 200})
    assert too_high.status_code == 422
    funding = await ok(http, "get_funding_rate", {"instrument": "BTC", "history": 5})
    assert funding["current_rate"] is not None
    assert len(funding["history"]) == 5
    stamps = [p["ts"] for p in funding["history"]]
    assert stamps == sorted(stamps)
    basis = await ok(http, "get_basis", {"instrument": "HYPE"})
    assert basis["spot"] == "@107"
    armed = await ok(http, "schedule_cancel", {"in_seconds": 30})
    assert armed["scheduled_at"] is not None
    assert actions(sim_stack)[-1]["type"] == "scheduleCancel"
    early = await tool(http, "schedule_cancel", {"at": "2000-01-01T00:00:00Z"})
    assert early.status_code == 422
    unset = await ok(http, "schedule_cancel", {"unset": True})
    assert unset["scheduled_at"] is None
