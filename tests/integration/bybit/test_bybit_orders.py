"""Bybit order details beyond the shared contract: TP/SL, batches, idempotency by orderLinkId, categories.

Runs on the mainnet instance, so these orders stay out of the contract suite's way (it trades testnet).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, auth

LINEAR = {"instrument": "BTCUSDT", "category": "linear"}


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any], token: str = MAINNET) -> httpx.Response:
    """Call a Bybit tool."""
    return await http.post(f"/mcp-bybit/tools/{name}", json=body, headers=auth(token, "bybit-orders"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call a Bybit tool and return its JSON, failing on anything but 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, f"{name}: {response.text}"
    return response.json()


async def mark(http: httpx.AsyncClient) -> Decimal:
    """Return BTCUSDT's mark price."""
    return Decimal((await ok(http, "get_ticker", LINEAR))["mark"])


def below(price: Decimal, fraction: str = "0.8") -> str:
    """Return a resting buy price on the 0.10 tick, `fraction` of `price`."""
    return str((price * Decimal(fraction)).quantize(Decimal("0.1")))


async def test_a_symbol_listed_as_spot_and_perpetual_needs_its_category(http: httpx.AsyncClient) -> None:
    response = await tool(http, "get_ticker", {"instrument": "BTCUSDT"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["categories"] == ["linear", "spot"]
    spot = await ok(http, "get_ticker", {"instrument": "BTCUSDT", "category": "spot"})
    perp = await ok(http, "get_ticker", LINEAR)
    assert spot["info"]["category"] == "spot"
    assert perp["info"]["category"] == "linear"
    inverse = await ok(http, "get_ticker", {"instrument": "BTCUSD"})
    assert inverse["info"]["category"] == "inverse"


async def test_limit_order_with_tp_sl_is_read_back_amended_by_link_id_and_cancelled(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    price = await mark(http)
    control = sim_stack.control("bybit", "mainnet")
    control.clear_recorded()
    placed = await ok(
        http,
        "place_order",
        {
            **LINEAR,
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": below(price),
            "take_profit": below(price, "1.2"),
            "stop_loss": below(price, "0.7"),
            "client_order_id": "tpsl-1",
        },
    )
    order = placed["order"]
    assert (order["status"], order["client_order_id"]) == ("open", "tpsl-1")
    assert Decimal(order["info"]["takeProfit"]) == Decimal(below(price, "1.2"))
    paths = [r.path for r in control.recorded()]
    assert "/v5/order/create" in paths
    assert paths.index("/v5/order/realtime", paths.index("/v5/order/create")) > 0  # the state is read back
    amended = await ok(http, "amend_order", {"order_id": "tpsl-1", "price": below(price, "0.75")})
    assert Decimal(amended["order"]["price"]) == Decimal(below(price, "0.75"))
    cancelled = await ok(http, "cancel_order", {"order_id": order["order_id"]})
    assert cancelled["order"]["status"] == "cancelled"


async def test_position_take_profit_and_stop_loss_are_set_and_read_back(http: httpx.AsyncClient) -> None:
    await ok(http, "close_position", LINEAR)
    bought = await ok(http, "place_order", {**LINEAR, "side": "buy", "type": "market", "quantity": "0.002"})
    assert bought["order"]["status"] == "filled"
    assert sum(Decimal(f["quantity"]) for f in bought["fills"]) == Decimal("0.002")
    price = await mark(http)
    tp = await ok(http, "set_take_profit", {**LINEAR, "price": below(price, "1.3")})
    assert Decimal(tp["take_profit"]) == Decimal(below(price, "1.3"))
    sl = await ok(http, "set_stop_loss", {**LINEAR, "price": below(price, "0.7")})
    assert Decimal(sl["stop_loss"]) == Decimal(below(price, "0.7"))
    assert sl["position"]["side"] == "long"
    closed = await ok(http, "close_position", LINEAR)
    assert closed["was_flat"] is False
    assert closed["order"]["order"]["reduce_only"] is True


async def test_batch_places_each_order_and_reports_a_partial_failure(http: httpx.AsyncClient) -> None:
    price = await mark(http)
    first = await ok(
        http,
        "place_batch_order",
        {
            "category": "linear",
            "orders": [
                {
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "quantity": "0.001",
                    "price": below(price),
                    "client_order_id": "b-1",
                },
                {
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "quantity": "0.001",
                    "price": below(price, "0.79"),
                    "client_order_id": "b-2",
                },
            ],
        },
    )
    assert (first["placed"], first["failed"], first["partial"]) == (2, 0, False)
    assert [r["order"]["client_order_id"] for r in first["results"]] == ["b-1", "b-2"]
    # b-1 again at the venue (a new batch, so the gateway's idempotency does not replay it): Bybit's 110072.
    second = await ok(
        http,
        "place_batch_order",
        {
            "category": "linear",
            "orders": [
                {
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "quantity": "0.001",
                    "price": below(price),
                    "client_order_id": "b-3",
                },
                {
                    "instrument": "BTCUSDT",
                    "side": "buy",
                    "quantity": "0.001",
                    "price": below(price),
                    "client_order_id": "b-1",
                },
            ],
        },
    )
    assert (second["placed"], second["failed"], second["partial"]) == (1, 1, True)
    assert second["results"][1]["error"]["code"] == 110072
    await ok(http, "cancel_all_orders", LINEAR)


async def test_a_batch_leg_is_checked_like_an_order(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    control = sim_stack.control("bybit", "mainnet")
    control.clear_recorded()
    response = await tool(
        http,
        "place_batch_order",
        {
            "category": "linear",
            "orders": [{"instrument": "BTCUSDT", "side": "buy", "quantity": "0.0015", "price": "50000"}],
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["order"] == 0
    assert "/v5/order/create-batch" not in [r.path for r in control.recorded()]


async def test_idempotency_by_order_link_id_replays_and_the_venue_knows_the_id(http: httpx.AsyncClient) -> None:
    price = await mark(http)
    body = {
        **LINEAR,
        "side": "buy",
        "type": "limit",
        "quantity": "0.001",
        "price": below(price),
        "client_order_id": "idem-1",
    }
    first = await tool(http, "place_order", body)
    assert first.status_code == 200, first.text
    again = await tool(http, "place_order", body)
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replay") == "true"
    assert again.json()["order"]["order_id"] == first.json()["order"]["order_id"]
    other = await tool(http, "place_order", {**body, "price": below(price, "0.7")})
    assert other.status_code == 409
    listed = await ok(http, "get_open_orders", LINEAR)
    assert [o["client_order_id"] for o in listed["orders"] if o["order_id"] == first.json()["order"]["order_id"]] == [
        "idem-1"
    ]
    await ok(http, "cancel_order", {"order_id": "idem-1", **LINEAR})


async def test_funding_open_interest_and_basis(http: httpx.AsyncClient) -> None:
    funding = await ok(http, "get_funding_rate", {**LINEAR, "history": 5})
    assert funding["current_rate"] is not None
    assert funding["next_funding_time"] is not None
    stamps = [p["ts"] for p in funding["history"]]
    assert stamps == sorted(stamps)
    oi = await ok(http, "get_open_interest", {**LINEAR, "interval": "1h", "limit": 5})
    assert 1 <= len(oi["points"]) <= 5
    basis = await ok(http, "get_basis", {"coin": "BTC"})
    kinds = [p["kind"] for p in basis["points"]]
    assert kinds[0] == "perpetual"
    assert "future" in kinds
    term = await ok(http, "get_basis_term_structure", {"coin": "BTC"})
    days = [p["days_to_expiry"] for p in term["points"]]
    assert days == sorted(days)
    assert all(p["annualized_pct"] is not None for p in term["points"])
