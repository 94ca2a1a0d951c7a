"""IBKR through the real app: OAuth against the simulator, linked orders, streaming."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from cerbero_mcp.simulators.engine.harness import SimStack
from cerbero_mcp.simulators.ibkr.hours import is_rth, session_close_after
from support.tokens import auth


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    """Call an IBKR tool with the testnet token."""
    return await http.post(f"/mcp-ibkr/tools/{name}", json=body, headers=auth(bot="ibkr-tests"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call an IBKR tool and require 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, response.text
    return response.json()


async def open_orders(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Return the working orders."""
    orders: list[dict[str, Any]] = (await ok(http, "get_open_orders", {}))["orders"]
    return orders


async def test_client_mints_an_lst_against_the_simulator_and_trades(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    account = await ok(http, "get_account", {})
    assert Decimal(account["equity"]) > 0
    recorded = sim_stack.control("ibkr", "testnet").recorded()
    paths = [r.path for r in recorded]
    assert "/v1/api/oauth/live_session_token" in paths
    assert "/v1/api/iserver/auth/ssodh/init" in paths
    assert all("authorization" not in {k.lower() for k in r.headers} for r in recorded)


async def test_bracket_leaves_parent_and_two_linked_children_working_after_the_fill(http: httpx.AsyncClient) -> None:
    await ok(http, "cancel_all_orders", {})
    ticker = await ok(http, "get_ticker", {"instrument": "MSFT"})
    last = Decimal(ticker["last"])
    bracket = await ok(
        http,
        "place_bracket_order",
        {
            "instrument": "MSFT",
            "side": "buy",
            "quantity": "3",
            "entry_type": "market",
            "take_profit_price": str((last * Decimal("1.3")).quantize(Decimal("0.01"))),
            "stop_loss_price": str((last * Decimal("0.7")).quantize(Decimal("0.01"))),
            "client_order_id": "bracket-it-1",
        },
    )
    assert len(bracket["orders"]) == 3
    working = [o for o in await open_orders(http) if o["instrument"] == "MSFT"]
    assert sorted(o["type"] for o in working) == ["limit", "stop_market"]
    assert all(o["status"] == "open" for o in working)
    assert all(o["side"] == "sell" for o in working)
    await ok(http, "cancel_all_orders", {"instrument": "MSFT"})
    await ok(http, "close_position", {"instrument": "MSFT"})


async def test_oco_cancels_the_sibling_when_one_fills(http: httpx.AsyncClient) -> None:
    await ok(http, "place_order", {"instrument": "SPY", "side": "buy", "type": "market", "quantity": "2"})
    ticker = await ok(http, "get_ticker", {"instrument": "SPY"})
    bid = Decimal(ticker["bid"])
    await ok(
        http,
        "place_oco_order",
        {
            "orders": [
                {"instrument": "SPY", "side": "sell", "type": "limit", "quantity": "2", "price": str(bid - 5)},
                {"instrument": "SPY", "side": "sell", "type": "limit", "quantity": "2", "price": str(bid + 500)},
            ]
        },
    )
    assert [o for o in await open_orders(http) if o["instrument"] == "SPY"] == []
    positions = (await ok(http, "get_positions", {"instrument": "SPY"}))["positions"]
    assert positions == []


async def test_oto_whose_child_is_refused_places_nothing(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    await ok(http, "cancel_all_orders", {})
    ticker = await ok(http, "get_ticker", {"instrument": "QQQ"})
    low = (Decimal(ticker["bid"]) * Decimal("0.8")).quantize(Decimal("0.01"))
    response = await tool(
        http,
        "place_oto_order",
        {
            "trigger": {"instrument": "QQQ", "side": "buy", "type": "limit", "quantity": "1", "price": str(low)},
            "child": {"instrument": "QQQ", "side": "buy", "type": "limit", "quantity": "5000000", "price": str(low)},
            "client_order_id": "oto-it-1",
        },
    )
    # Trigger and child go in one request: IBKR refuses it whole, so no trigger is left to cancel.
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_ORDER"
    assert [o for o in await open_orders(http) if o["instrument"] == "QQQ"] == []
    posts = [
        r for r in sim_stack.control("ibkr", "testnet").recorded() if r.method == "POST" and "oto-it-1" in str(r.body)
    ]
    assert len(posts) == 1


async def test_margin_question_is_refused_not_confirmed(http: httpx.AsyncClient) -> None:
    response = await tool(
        http, "place_order", {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "10000000"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INSUFFICIENT_FUNDS"
    assert "not confirmed" in error["message"]
    live = [o for o in await open_orders(http) if Decimal(o["quantity"]) == Decimal(10000000)]
    assert live == []


async def test_get_tick_streams_and_survives_a_dropped_socket(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    first = await ok(http, "get_tick", {"instrument": "TSLA"})
    assert Decimal(first["bid"]) < Decimal(first["ask"])
    assert first["last"] is not None
    assert first["bid_size"] is not None
    subscribed = await ok(http, "subscribe_tick", {"instrument": "AAPL"})
    assert subscribed["conid"] in subscribed["active"]
    dropped = await http.post(f"{sim_stack.url('ibkr', 'testnet')}/__ibkr__/drop-websockets")
    assert dropped.status_code == 200
    again = await ok(http, "get_tick", {"instrument": "TSLA"})
    assert Decimal(again["bid"]) < Decimal(again["ask"])
    depth = await ok(http, "get_depth", {"instrument": "TSLA"})
    assert depth["bids"]
    assert depth["asks"]


async def test_clock_reports_exchange_hours_from_the_schedule(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    clock = await ok(http, "get_clock", {"instrument": "AAPL"})
    now = sim_stack.clock.now()  # the venue's and the gateway's
    assert clock["timezone"] == "America/New_York"
    assert clock["is_open"] is is_rth(now)
    assert datetime.fromisoformat(clock["next_close"]).timestamp() == session_close_after(now)
    assert clock["next_open"] is not None
    assert all(session["open"].endswith("Z") and session["close"].endswith("Z") for session in clock["sessions"])
    new_york = ZoneInfo(clock["timezone"])
    local = [
        (datetime.fromisoformat(session["open"]).astimezone(new_york), datetime.fromisoformat(session["close"]))
        for session in clock["sessions"]
    ]
    assert all((o.hour, o.minute) == (9, 30) and (c.astimezone(new_york).hour, c.minute) == (16, 0) for o, c in local)
