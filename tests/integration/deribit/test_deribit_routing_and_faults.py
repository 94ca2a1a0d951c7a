"""Deribit through the real app: each token reaches only its environment; faults become envelopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges.deribit.tools import TOOLS
from cerbero_mcp.sim.harness import SimStack
from support.tokens import MAINNET, TESTNET, auth

# place before amend/cancel, so the examples' order ids can exist
ORDERED_TOOLS = sorted(TOOLS.specs, key=lambda spec: (spec.name not in ("place_order",), spec.name))


@pytest.mark.parametrize(("token", "env", "other"), [(TESTNET, "testnet", "mainnet"), (MAINNET, "mainnet", "testnet")])
async def test_every_tool_reaches_only_the_token_environment(
    http: httpx.AsyncClient, sim_stack: SimStack, token: str, env: str, other: str
) -> None:
    mine, theirs = sim_stack.control("deribit", env), sim_stack.control("deribit", other)
    for spec in ORDERED_TOOLS:
        mine.clear_recorded()
        theirs.clear_recorded()
        response = await http.post(spec.path, json=spec.examples()[0], headers=auth(token))
        assert response.status_code < 500, f"{spec.name}: {response.text}"
        assert theirs.recorded() == [], f"{spec.name} reached {other}"
        if spec.name != "environment_info":
            assert mine.recorded(), f"{spec.name} never reached {env}"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "rate_limit", "retry_after": 2}, 429, "RATE_LIMIT"),
        ({"kind": "http_5xx", "status": 503}, 502, "UPSTREAM_ERROR"),
        ({"kind": "malformed"}, 502, "UPSTREAM_ERROR"),
        ({"kind": "drop"}, 502, "UPSTREAM_ERROR"),
        ({"kind": "latency", "latency_ms": 2600}, 504, "UPSTREAM_TIMEOUT"),
    ],
)
async def test_faults_become_the_right_envelope(
    http: httpx.AsyncClient, sim_stack: SimStack, fault: dict[str, Any], status: int, code: str
) -> None:
    control = sim_stack.control("deribit", "testnet")
    control.inject(count=1, **fault)
    response = await http.post("/mcp-deribit/tools/get_ticker", json={"instrument": "BTC-PERPETUAL"}, headers=auth())
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["retryable"] is True
    control.clear_faults()


async def test_order_post_that_times_out_is_reported_and_never_resent(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    control = sim_stack.control("deribit", "testnet")
    control.clear_recorded()
    control.inject("latency", latency_ms=2600, count=1, path_prefix="/api/v2/private/buy")
    order = {
        "instrument": "BTC-PERPETUAL",
        "side": "buy",
        "type": "market",
        "quantity": "10",
        "client_order_id": "slow-1",
    }
    response = await http.post("/mcp-deribit/tools/place_order", json=order, headers=auth())
    assert response.status_code == 504, response.text
    error = response.json()["error"]
    assert "may have been placed" in error["message"]
    assert "slow-1" in error["message"]
    assert error["details"]["client_order_id"] == "slow-1"
    assert len(control.recorded(path_prefix="/api/v2/private/buy")) == 1
    replay = await http.post("/mcp-deribit/tools/place_order", json=order, headers=auth())
    assert replay.status_code == 504
    assert replay.headers["idempotent-replay"] == "true"
    assert len(control.recorded(path_prefix="/api/v2/private/buy")) == 1
