"""Deribit through the real app: faults become the right envelope; an order that times out is not re-sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import auth


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "rate_limit", "retry_after": 2}, 429, "RATE_LIMIT"),
        ({"kind": "http_5xx", "status": 503}, 502, "UPSTREAM_ERROR"),
        ({"kind": "malformed"}, 502, "UPSTREAM_ERROR"),
        ({"kind": "drop"}, 502, "UPSTREAM_ERROR"),
        ({"kind": "latency", "latency_ms": 5600}, 504, "UPSTREAM_TIMEOUT"),
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
    control.inject("latency", latency_ms=5600, count=1, path_prefix="/api/v2/private/buy")
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
