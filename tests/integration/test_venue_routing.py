"""Every tool of every venue, with each token, reaches only that environment's simulator."""

from __future__ import annotations

import httpx
import pytest

from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import MAINNET, TESTNET, auth

FIRST = ("place_order",)  # amend/cancel examples name the first order id a venue gives out
# environment_info makes no call; tools that read IBKR's WebSocket are not seen by the (HTTP) recorder
NO_UPSTREAM = {
    "deribit": {"environment_info"},
    "bybit": {"environment_info"},
    "alpaca": {"environment_info"},
    "hyperliquid": {"environment_info"},
    "ibkr": {
        "environment_info",
        "get_tick",
        "get_depth",
        "subscribe_tick",
        "unsubscribe",
        "get_orderbook",
        "get_orderbook_imbalance",
    },
}

# Alpaca's market data has one host for paper and live (ALPACA_DATA_URL); the simulator serves it from
# its testnet instance, so market-data paths are shared by design. Trading paths stay isolated.
SHARED_DATA_PATHS: dict[str, tuple[str, ...]] = {"alpaca": ("/v2/stocks/", "/v1beta3/crypto/", "/v1beta1/options/")}


# A data provider has one client and one source for both tokens (tests/integration/macro/ covers it).
@pytest.mark.parametrize("toolset", [t for t in installed_toolsets() if t.kind == "venue"], ids=lambda t: t.venue)
@pytest.mark.parametrize(("token", "env", "other"), [(TESTNET, "testnet", "mainnet"), (MAINNET, "mainnet", "testnet")])
async def test_every_tool_reaches_only_the_token_environment(
    http: httpx.AsyncClient, sim_stack: SimStack, toolset: object, token: str, env: str, other: str
) -> None:
    from cerbero_mcp.tooling import ToolSet

    assert isinstance(toolset, ToolSet)
    mine, theirs = sim_stack.control(toolset.venue, env), sim_stack.control(toolset.venue, other)
    for spec in sorted(toolset.specs, key=lambda spec: (spec.name not in FIRST, spec.name)):
        mine.clear_recorded()
        theirs.clear_recorded()
        response = await http.post(spec.path, json=spec.examples()[0], headers=auth(token))
        assert response.status_code < 500, f"{spec.name}: {response.text}"
        shared = [r for r in theirs.recorded() if r.path.startswith(SHARED_DATA_PATHS.get(toolset.venue, ()))]
        crossed = [r for r in theirs.recorded() if r not in shared]
        assert crossed == [], f"{spec.name} reached {other}"
        if spec.name not in NO_UPSTREAM.get(toolset.venue, set()) and response.status_code != 422:
            assert mine.recorded() or shared, f"{spec.name} never reached {env}"
