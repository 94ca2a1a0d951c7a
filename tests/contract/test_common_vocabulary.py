"""The common vocabulary, the same for every venue, through the real app over HTTP against the simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.simulators.engine.faults import SimControl
from cerbero_mcp.simulators.engine.harness import SimStack
from support.contract_venues import VenueContract
from support.stack import Gateway, serve_gateway
from support.tokens import MAINNET, TESTNET, auth


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the served gateway."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield client


async def call(
    http: httpx.AsyncClient, venue: str, tool: str, body: dict[str, Any], token: str = TESTNET
) -> httpx.Response:
    """Call one tool."""
    return await http.post(f"/mcp-{venue}/tools/{tool}", json=body, headers=auth(token, "contract"))


async def ok(http: httpx.AsyncClient, venue: str, tool: str, body: dict[str, Any], token: str = TESTNET) -> Any:
    """Call one tool and return its JSON, failing the test on anything but 200."""
    response = await call(http, venue, tool, body, token)
    assert response.status_code == 200, response.text
    return response.json()


def orders_sent(control: SimControl, before: int, contract: VenueContract) -> list[Any]:
    """Return the order placements the venue received after the `before`-th recorded request."""
    return [r for r in control.recorded()[before:] if contract.is_order(r.method, r.path)]


async def flatten(http: httpx.AsyncClient, c: VenueContract) -> None:
    """Cancel every order and close the position, so each test starts flat."""
    await ok(http, c.venue, "cancel_all_orders", {"instrument": c.instrument})
    await ok(http, c.venue, "close_position", {"instrument": c.instrument})


async def test_environment_info_names_the_environment_and_capabilities(
    http: httpx.AsyncClient, contract: VenueContract, sim_stack: SimStack
) -> None:
    for token, env in ((TESTNET, "testnet"), (MAINNET, "mainnet")):
        info = await ok(http, contract.venue, "environment_info", {}, token)
        assert info["environment"] == env
        assert info["base_url"].startswith(sim_stack.url(contract.venue, env))
        assert info["credentials_configured"] is True
        assert info["capabilities"]["place_order"] is True


async def test_market_data_shapes(http: httpx.AsyncClient, contract: VenueContract) -> None:
    ticker = await ok(http, contract.venue, "get_ticker", {"instrument": contract.instrument})
    assert Decimal(ticker["bid"]) < Decimal(ticker["ask"])
    book = await ok(http, contract.venue, "get_orderbook", {"instrument": contract.instrument, "depth": 5})
    assert 1 <= len(book["bids"]) <= 5
    bids = [Decimal(level["price"]) for level in book["bids"]]
    asks = [Decimal(level["price"]) for level in book["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    bars = await ok(
        http, contract.venue, "get_bars", {"instrument": contract.instrument, "resolution": "1m", "limit": 30}
    )
    assert 1 <= len(bars["bars"]) <= 30
    stamps = [bar["ts"] for bar in bars["bars"]]
    assert stamps == sorted(stamps)
    for bar in bars["bars"]:
        assert Decimal(bar["low"]) <= min(Decimal(bar["open"]), Decimal(bar["close"]))
        assert Decimal(bar["high"]) >= max(Decimal(bar["open"]), Decimal(bar["close"]))


async def test_order_round_trip_place_list_amend_cancel(http: httpx.AsyncClient, contract: VenueContract) -> None:
    await flatten(http, contract)
    mid = Decimal((await ok(http, contract.venue, "get_ticker", {"instrument": contract.instrument}))["mark"])
    price = contract.resting_price(mid, "buy")
    placed = await ok(
        http,
        contract.venue,
        "place_order",
        {
            "instrument": contract.instrument,
            "side": "buy",
            "type": "limit",
            "quantity": str(contract.small_quantity),
            "price": str(price),
            "client_order_id": "contract-rt-1",
            **({"post_only": True} if contract.supports_post_only else {}),
        },
    )
    order_id = placed["order"]["order_id"]
    assert placed["order"]["status"] == "open"
    assert placed["order"]["client_order_id"] == "contract-rt-1"

    listed = await ok(http, contract.venue, "get_open_orders", {"instrument": contract.instrument})
    mine = [o for o in listed["orders"] if o["order_id"] == order_id]
    assert len(mine) == 1
    assert Decimal(mine[0]["price"]) == price

    new_price = price - contract.tick * 10
    amended = await ok(http, contract.venue, "amend_order", {"order_id": order_id, "price": str(new_price)})
    assert Decimal(amended["order"]["price"]) == new_price
    # An amend that is a replace at the venue (Alpaca) answers with the new order's id; the rest follows it.
    order_id = amended["order"]["order_id"]
    listed = await ok(http, contract.venue, "get_open_orders", {"instrument": contract.instrument})
    assert [Decimal(o["price"]) for o in listed["orders"] if o["order_id"] == order_id] == [new_price]

    cancelled = await ok(http, contract.venue, "cancel_order", {"order_id": order_id})
    assert cancelled["order"]["status"] == "cancelled"
    listed = await ok(http, contract.venue, "get_open_orders", {"instrument": contract.instrument})
    assert order_id not in [o["order_id"] for o in listed["orders"]]


async def test_market_buy_position_close_flat(http: httpx.AsyncClient, contract: VenueContract) -> None:
    await flatten(http, contract)
    bought = await ok(
        http,
        contract.venue,
        "place_order",
        {"instrument": contract.instrument, "side": "buy", "type": "market", "quantity": str(contract.small_quantity)},
    )
    assert bought["order"]["status"] == "filled"
    assert sum(Decimal(f["quantity"]) for f in bought["fills"]) == contract.small_quantity
    positions = await ok(http, contract.venue, "get_positions", {"instrument": contract.instrument})
    assert [(p["side"], Decimal(p["size"])) for p in positions["positions"]] == [("long", contract.small_quantity)]

    closed = await ok(http, contract.venue, "close_position", {"instrument": contract.instrument})
    assert closed["was_flat"] is False
    assert closed["order"]["order"]["reduce_only"] is True
    positions = await ok(http, contract.venue, "get_positions", {"instrument": contract.instrument})
    assert positions["positions"] == []
    again = await ok(http, contract.venue, "close_position", {"instrument": contract.instrument})
    assert again["was_flat"] is True


async def test_insufficient_funds_is_400(http: httpx.AsyncClient, contract: VenueContract) -> None:
    response = await call(
        http,
        contract.venue,
        "place_order",
        {
            "instrument": contract.instrument,
            "side": "buy",
            "type": "market",
            "quantity": str(contract.unaffordable_quantity),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INSUFFICIENT_FUNDS"


async def test_unknown_instrument_is_a_clear_4xx(http: httpx.AsyncClient, contract: VenueContract) -> None:
    for tool, body in (
        ("get_ticker", {"instrument": contract.unknown_instrument}),
        ("place_order", {"instrument": contract.unknown_instrument, "side": "buy", "type": "market", "quantity": "1"}),
    ):
        response = await call(http, contract.venue, tool, body)
        assert 400 <= response.status_code < 500, response.text
        assert "not found" in response.json()["error"]["message"]


async def test_misaligned_price_is_refused_with_nearest_valid_values(
    http: httpx.AsyncClient, contract: VenueContract, sim_stack: SimStack
) -> None:
    control = sim_stack.control(contract.venue, "testnet")
    before = len(control.recorded())
    response = await call(
        http,
        contract.venue,
        "place_order",
        {
            "instrument": contract.instrument,
            "side": "buy",
            "type": "limit",
            "quantity": str(contract.small_quantity),
            "price": str(Decimal(1000) + contract.tick / 3),
        },
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert error["details"]["nearest_valid"] == [str(Decimal(1000)), str((Decimal(1000) + contract.tick).normalize())]
    assert orders_sent(control, before, contract) == []


async def test_dry_run_sends_nothing(http: httpx.AsyncClient, contract: VenueContract, sim_stack: SimStack) -> None:
    control = sim_stack.control(contract.venue, "testnet")
    before = len(control.recorded())
    result = await ok(
        http,
        contract.venue,
        "place_order",
        {
            "instrument": contract.instrument,
            "side": "buy",
            "type": "market",
            "quantity": str(contract.small_quantity),
            "dry_run": True,
        },
    )
    assert result["dry_run"] is True
    assert result["would_send"] is not None
    assert orders_sent(control, before, contract) == []


async def test_leverage_cap_refuses_before_sending_and_lets_reduce_only_through(
    sim_stack: SimStack, tmp_path: Path, contract: VenueContract
) -> None:
    control = sim_stack.control(contract.venue, "testnet")
    with serve_gateway(sim_stack, tmp_path, **{contract.leverage_setting: "2"}) as capped:
        async with httpx.AsyncClient(base_url=capped.url, timeout=30) as http:
            before = len(control.recorded())
            response = await call(
                http,
                contract.venue,
                "place_order",
                {
                    "instrument": contract.instrument,
                    "side": "buy",
                    "type": "market",
                    "quantity": str(contract.leveraged_quantity),
                },
            )
            assert response.status_code == 403
            error = response.json()["error"]
            assert error["code"] == "LEVERAGE_CAP_EXCEEDED"
            assert error["details"]["cap"] == "2"
            assert Decimal(error["details"]["ratio"]) > 2
            assert orders_sent(control, before, contract) == []
            reduce_only = await call(
                http,
                contract.venue,
                "place_order",
                {
                    "instrument": contract.instrument,
                    "side": "sell",
                    "type": "market",
                    "quantity": str(contract.leveraged_quantity),
                    "reduce_only": True,
                },
            )
            assert reduce_only.status_code != 403
