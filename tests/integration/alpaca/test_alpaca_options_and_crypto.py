"""Alpaca options and crypto end to end through the gateway: an option order on a contract read from the
simulator's chain, the BTC/USD order book, and closing a crypto position.

Runs on the mainnet instance, as test_alpaca_orders.py does, out of the contract suite's way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, auth


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    """Call an Alpaca tool."""
    return await http.post(f"/mcp-alpaca/tools/{name}", json=body, headers=auth(MAINNET, "alpaca-opt-crypto"))


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call an Alpaca tool and return its JSON, failing on anything but 200."""
    response = await tool(http, name, body)
    assert response.status_code == 200, f"{name}: {response.text}"
    return response.json()


async def test_an_option_order_on_a_contract_from_the_chain_is_placed_and_read_back(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    chain = await ok(http, "get_option_chain", {"underlying": "AAPL", "type": "call", "limit": 50})
    # the contract with a two-sided quote nearest the money: its OCC symbol (and so its expiry) comes from the chain
    quoted = [o for o in chain["options"] if o.get("bid") and o.get("ask")]
    assert quoted, chain
    contract = min(quoted, key=lambda o: abs(Decimal(str(o["greeks"]["delta"])) - Decimal("0.5")))
    symbol = contract["symbol"]
    bid = Decimal(str(contract["bid"]))
    price = max((bid * Decimal("0.5")).quantize(Decimal("0.01")), Decimal("0.01"))
    placed = await ok(
        http,
        "place_order",
        {"instrument": symbol, "side": "buy", "type": "limit", "quantity": "1", "price": str(price),
         "time_in_force": "day", "client_order_id": "int-option-1"},
    )  # fmt: skip
    assert placed["order"]["instrument"] == symbol
    assert Decimal(placed["order"]["quantity"]) == 1
    paths = [r.path for r in sim_stack.control("alpaca", "mainnet").recorded() if r.method == "GET"]
    assert f"/v2/options/contracts/{symbol}" in paths
    open_orders = await ok(http, "get_open_orders", {"instrument": symbol})
    assert [o["order_id"] for o in open_orders["orders"]] == [placed["order"]["order_id"]]
    cancelled = await ok(http, "cancel_order", {"order_id": "int-option-1"})
    assert cancelled["order"]["status"] == "cancelled"


async def test_the_btc_usd_order_book_has_levels_on_both_sides(http: httpx.AsyncClient) -> None:
    book = await ok(http, "get_orderbook", {"instrument": "BTC/USD", "depth": 5})
    assert book["bids"]
    assert book["asks"]
    bids = [Decimal(level["price"]) for level in book["bids"]]
    asks = [Decimal(level["price"]) for level in book["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert all(Decimal(level["size"]) > 0 for level in book["bids"] + book["asks"])


async def test_a_crypto_position_closes_through_close_position(http: httpx.AsyncClient) -> None:
    bought = await ok(
        http,
        "place_order",
        {"instrument": "BTC/USD", "side": "buy", "type": "market", "quantity": "0.01", "time_in_force": "gtc"},
    )
    assert bought["order"]["instrument"] == "BTC/USD"
    held = await ok(http, "get_positions", {"instrument": "BTC/USD"})
    assert [Decimal(p["size"]) for p in held["positions"]] == [Decimal("0.01")]
    closed = await ok(http, "close_position", {"instrument": "BTC/USD"})
    assert closed["was_flat"] is False
    assert closed["order"]["order"]["side"] == "sell"
    assert Decimal(closed["order"]["order"]["quantity"]) == Decimal("0.01")
    after = await ok(http, "get_positions", {"instrument": "BTC/USD"})
    assert after["positions"] == []
