"""IBKR options carry their ×100 multiplier into the notional the limits and the leverage cap see (issue 13 item 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import auth


@pytest.fixture(scope="module")
def capped(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve a gateway whose orders may not exceed 200 USD of notional."""
    state = Path(tmp_path_factory.mktemp("ibkr-notional-b"))
    with serve_gateway(sim_stack, state, MAX_ORDER_NOTIONAL_USD="*.*=200") as served:
        yield served


@pytest.fixture
async def http(capped: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the capped gateway."""
    async with httpx.AsyncClient(base_url=capped.url, timeout=30) as client:
        yield client


async def test_one_option_contract_at_2_50_is_250_usd_of_notional(http: httpx.AsyncClient) -> None:
    headers = auth(bot="ibkr-notional-b")
    chain = await http.post("/mcp-ibkr/tools/get_option_chain", json={"symbol": "AAPL", "strikes": 1}, headers=headers)
    assert chain.status_code == 200, chain.text
    option = chain.json()["options"][0]
    body = {"instrument": f"conid:{option['conid']}", "side": "buy", "type": "limit", "quantity": "1", "price": "2.50"}
    answer = await http.post("/mcp-ibkr/tools/place_order", json=body, headers=headers)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "ORDER_NOTIONAL_LIMIT"
