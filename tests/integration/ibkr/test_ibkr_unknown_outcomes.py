"""IBKR: a failure after the order POST went through is "may have been placed", never a freed id."""

from __future__ import annotations

import json

import httpx

from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import auth


async def test_a_rate_limit_on_the_follow_up_read_after_the_order_keeps_the_id_blocked(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    control = sim_stack.control("ibkr", "testnet")
    body = {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "client_order_id": "ibkr-429-1"}
    # The order POST succeeds; the read of its status that follows it is rate-limited.
    control.inject("rate_limit", count=1, method="GET", path_prefix="/v1/api/iserver/account/order/status")
    try:
        first = await http.post("/mcp-ibkr/tools/place_order", json=body, headers=auth(bot="ibkr-unknown"))
    finally:
        control.clear_faults()
    assert first.status_code == 429, first.text
    assert first.json()["error"]["details"]["client_order_id"] == "ibkr-429-1"
    again = await http.post("/mcp-ibkr/tools/place_order", json=body, headers=auth(bot="ibkr-unknown"))
    assert again.headers["idempotent-replay"] == "true"
    sent = [
        r
        for r in control.recorded()
        if r.method == "POST" and r.path.endswith("/orders") and "ibkr-429-1" in json.dumps(r.body)
    ]
    assert len(sent) == 1
