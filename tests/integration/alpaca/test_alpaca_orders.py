"""Alpaca order details beyond the shared contract: brackets, replace semantics, idempotency by client_order_id,
the 207 answers, and Alpaca's own tools (clock, calendar, option chain paging, activities, snapshots).

Runs on the mainnet instance, so these orders stay out of the contract suite's way (it trades testnet).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, auth


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any], token: str = MAINNET) -> httpx.Response:
    """Call an Alpaca tool."""
    return await http.post(f"/mcp-alpaca/tools/{name}", json=body, headers=auth(token, "alpaca-orders"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call an Alpaca tool and return its JSON, failing on anything but 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, f"{name}: {response.text}"
    return response.json()


async def last(http: httpx.AsyncClient, symbol: str = "AAPL") -> Decimal:
    """Return the symbol's last trade price."""
    ticker = await ok(http, "get_ticker", {"instrument": symbol})
    return Decimal(ticker["last"] or ticker["mark"])


def cents(price: Decimal) -> str:
    return str(price.quantize(Decimal("0.01")))


def order_posts(sim_stack: SimStack) -> int:
    return sum(
        1 for r in sim_stack.control("alpaca", "mainnet").recorded() if r.method == "POST" and r.path == "/v2/orders"
    )


async def test_a_bracket_order_carries_both_exits_as_legs(http: httpx.AsyncClient) -> None:
    price = await last(http)
    placed = await ok(
        http,
        "place_order",
        {
            "instrument": "AAPL",
            "side": "buy",
            "type": "limit",
            "quantity": "1",
            "price": cents(price * Decimal("0.8")),
            "time_in_force": "gtc",
            "order_class": "bracket",
            "take_profit": {"limit_price": cents(price * 2)},
            "stop_loss": {"stop_price": cents(price * Decimal("0.7"))},
            "client_order_id": "int-bracket-1",
        },
    )
    assert placed["order"]["info"]["order_class"] == "bracket"
    legs = placed["info"]["legs"]
    assert sorted(leg["side"] for leg in legs) == ["sell", "sell"]
    cancelled = await ok(http, "cancel_order", {"order_id": "int-bracket-1"})
    assert cancelled["order"]["status"] == "cancelled"


async def test_amend_is_a_replace_with_a_new_id_and_the_new_client_id_finds_it(http: httpx.AsyncClient) -> None:
    price = await last(http)
    placed = await ok(
        http,
        "place_order",
        {
            "instrument": "AAPL",
            "side": "buy",
            "type": "limit",
            "quantity": "1",
            "price": cents(price * Decimal("0.8")),
            "time_in_force": "gtc",
            "client_order_id": "int-replace-a",
        },
    )
    old_id = placed["order"]["order_id"]
    new_price = cents(price * Decimal("0.79"))
    amended = await ok(
        http, "amend_order", {"order_id": old_id, "price": new_price, "client_order_id": "int-replace-b"}
    )
    assert amended["order"]["order_id"] != old_id
    assert amended["info"]["replaces"] == old_id
    assert amended["order"]["client_order_id"] == "int-replace-b"
    assert Decimal(amended["order"]["price"]) == Decimal(new_price)
    # The old order is done ("replaced"): cancelling it cancels nothing and says so.
    stale = await ok(http, "cancel_order", {"order_id": old_id})
    assert stale["order"]["status"] == "cancelled"
    assert stale["info"]["accepted"] is False
    # The new client id reaches the new order.
    cancelled = await ok(http, "cancel_order", {"order_id": "int-replace-b"})
    assert cancelled["order"]["order_id"] == amended["order"]["order_id"]
    assert cancelled["order"]["status"] == "cancelled"


async def test_the_same_client_order_id_twice_places_one_order(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    price = await last(http)
    body = {
        "instrument": "AAPL",
        "side": "buy",
        "type": "limit",
        "quantity": "1",
        "price": cents(price * Decimal("0.8")),
        "time_in_force": "gtc",
        "client_order_id": "int-idem-1",
    }
    before = order_posts(sim_stack)
    first = await ok(http, "place_order", body)
    second = await ok(http, "place_order", body)
    assert second["order"]["order_id"] == first["order"]["order_id"]
    assert order_posts(sim_stack) == before + 1
    await ok(http, "cancel_order", {"order_id": "int-idem-1"})


async def test_cancel_all_reports_every_order_of_the_207(http: httpx.AsyncClient) -> None:
    price = await last(http)
    for n in range(2):
        await ok(
            http,
            "place_order",
            {
                "instrument": "AAPL",
                "side": "buy",
                "type": "limit",
                "quantity": "1",
                "price": cents(price * Decimal("0.7")),
                "time_in_force": "gtc",
                "client_order_id": f"int-all-{n}",
            },
        )
    result = await ok(http, "cancel_all_orders", {})
    assert result["cancelled"] >= 2
    assert all(r["status"] == 200 and r["cancelled"] for r in result["results"])
    assert (await ok(http, "get_open_orders", {"instrument": "AAPL"}))["orders"] == []


async def test_a_market_buy_shows_its_fill_in_activities_and_close_all_flattens(http: httpx.AsyncClient) -> None:
    bought = await ok(
        http,
        "place_order",
        {"instrument": "MSFT", "side": "buy", "type": "market", "quantity": "3", "time_in_force": "day"},
    )
    order_id = bought["order"]["order_id"]
    # The test clock is pinned inside a regular session: the market order fills (Alpaca may first answer
    # "accepted"; the fill shows in the account's FILL activities).
    assert bought["order"]["status"] in ("open", "filled")
    activities = await ok(http, "get_activities", {"activity_types": ["FILL"], "page_size": 100})
    fills = [a for a in activities["activities"] if a["order_id"] == order_id]
    assert sum(Decimal(a["quantity"]) for a in fills) == Decimal(3)
    closed = await ok(http, "close_all_positions", {"cancel_orders": True})
    assert "MSFT" in [r["instrument"] for r in closed["results"]]
    assert all(200 <= r["status"] < 300 for r in closed["results"])
    positions = await ok(http, "get_positions", {"instrument": "MSFT"})
    assert positions["positions"] == []


async def test_clock_and_calendar_are_utc(http: httpx.AsyncClient) -> None:
    clock = await ok(http, "get_clock", {})
    assert isinstance(clock["is_open"], bool)
    assert clock["next_open"].endswith("Z")
    assert clock["next_close"].endswith("Z")
    today = utcnow().date()
    calendar = await ok(http, "get_calendar", {"start": today.isoformat()})
    days = calendar["days"]
    assert days
    assert all(day["open"].endswith("Z") for day in days)
    assert all(
        datetime.fromisoformat(d["open"].replace("Z", "+00:00"))
        < datetime.fromisoformat(d["close"].replace("Z", "+00:00"))
        for d in days
    )


async def test_the_option_chain_pages_with_greeks(http: httpx.AsyncClient) -> None:
    first = await ok(http, "get_option_chain", {"underlying": "AAPL", "type": "call", "limit": 5})
    assert len(first["options"]) == 5
    assert all(o["right"] == "call" and o["symbol"].startswith("AAPL") for o in first["options"])
    assert any(o["greeks"] and o["greeks"]["delta"] is not None for o in first["options"])
    assert first["next_page_token"]
    second = await ok(
        http,
        "get_option_chain",
        {"underlying": "AAPL", "type": "call", "limit": 5, "page_token": first["next_page_token"]},
    )
    assert {o["symbol"] for o in second["options"]}.isdisjoint({o["symbol"] for o in first["options"]})


async def test_snapshots_of_stocks_and_crypto(http: httpx.AsyncClient) -> None:
    stocks = await ok(http, "get_snapshot", {"instruments": ["AAPL", "MSFT"]})
    assert [s["instrument"] for s in stocks["snapshots"]] == ["AAPL", "MSFT"]
    assert all(s["latest_quote"] and s["daily_bar"] for s in stocks["snapshots"])
    mixed = await tool(http, "get_snapshot", {"instruments": ["AAPL", "BTC/USD"]})
    assert mixed.status_code == 422


async def test_a_sub_penny_price_is_refused_before_sending(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    before = order_posts(sim_stack)
    response = await tool(
        http, "place_order", {"instrument": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "100.005"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["nearest_valid"] == ["100", "100.01"]
    assert order_posts(sim_stack) == before
