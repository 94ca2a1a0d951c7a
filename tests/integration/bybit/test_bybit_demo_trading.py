"""Bybit Demo Trading as the testnet URL: its subset of endpoints works, what it lacks is a clear 4xx, unsent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cerbero_mcp.simulators.bybit.simulator import DEMO_SPEC
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from support.stack import Gateway, serve_gateway
from support.tokens import TESTNET, auth


@pytest.fixture(scope="module")
def demo_stack() -> Iterator[SimStack]:
    """Start Bybit's simulator with its testnet instance run as Demo Trading."""
    stack = start_simulators([DEMO_SPEC])
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def demo_gateway(demo_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the gateway with BYBIT_URL_TESTNET pointing at the demo instance."""
    with serve_gateway(demo_stack, Path(tmp_path_factory.mktemp("bybit-demo"))) as served:
        yield served


@pytest.fixture
async def http(demo_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=demo_gateway.url, timeout=30) as client:
        yield client


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, object]) -> httpx.Response:
    """Call a Bybit tool with the testnet token (the demo instance)."""
    return await http.post(f"/mcp-bybit/tools/{name}", json=body, headers=auth(TESTNET, "bybit-demo"))


async def test_demo_trading_serves_account_orders_and_linear_batches(http: httpx.AsyncClient) -> None:
    account = await tool(http, "get_account", {})
    assert account.status_code == 200, account.text
    ticker = (await tool(http, "get_ticker", {"instrument": "BTCPERP"})).json()
    price = str((float(ticker["mark"]) * 0.8) // 1)
    batch = await tool(
        http,
        "place_batch_order",
        {
            "category": "linear",
            "orders": [{"instrument": "BTCPERP", "side": "buy", "quantity": "0.001", "price": price}],
        },
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["placed"] == 1


async def test_a_spot_batch_on_demo_is_a_clear_4xx(http: httpx.AsyncClient) -> None:
    # On a loopback URL the client cannot tell demo from testnet (on api-demo.* it refuses before
    # sending: unit tests), so here Bybit's own refusal comes back, as a clear 4xx.
    response = await tool(
        http,
        "place_batch_order",
        {
            "category": "spot",
            "orders": [{"instrument": "BTCUSDT", "side": "buy", "quantity": "0.001", "price": "50000"}],
        },
    )
    assert 400 <= response.status_code < 500, response.text
    assert "demo trading" in response.json()["error"]["message"].lower()
