"""The IBKR simulator as IBKR behaves: pacing and the penalty box, cached positions, the orders list's
pre-flight, the order status endpoint and a bracket's cascading cancel (issue 13, items 1, 2, 4, 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from test_ibkr_simulator import AAPL, ACCT, BASE, Consumer, Sim, clock, creds, lmt, make_app, ready, sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.ibkr.pacing import PENALTY_S

__all__ = ["clock", "creds", "ready", "sim"]  # the fixtures, shared with the simulator's main tests


@pytest.fixture
async def paced(creds: dict[str, str], clock: ManualClock) -> AsyncIterator[Sim]:
    """A started simulator with IBKR's pacing on."""
    app = make_app(creds, clock, rate_limit=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        s = Sim(http, Consumer(dict(creds), clock), app)
        await s.start()
        yield s


async def test_the_orders_list_twice_within_five_seconds_is_429_then_the_address_is_boxed(
    paced: Sim, clock: ManualClock
) -> None:
    clock.advance(5)
    assert (await paced.call("GET", "/iserver/account/orders")).status_code == 200
    clock.advance(4)
    refused = await paced.call("GET", "/iserver/account/orders")
    assert refused.status_code == 429
    # the penalty box: everything from this address is refused, whatever the endpoint, for ten minutes
    clock.advance(30)
    assert (await paced.call("GET", "/iserver/accounts")).status_code == 429
    clock.advance(PENALTY_S - 60)
    assert (await paced.call("POST", "/tickle")).status_code == 429
    clock.advance(31)
    assert (await paced.call("GET", "/iserver/accounts")).status_code == 200
    clock.advance(5)
    assert (await paced.call("GET", "/iserver/account/orders")).status_code == 200


async def test_the_global_limit_and_the_snapshot_limit(paced: Sim, clock: ManualClock) -> None:
    clock.advance(1)
    params = {"conids": str(AAPL), "fields": "31"}
    answers = [(await paced.call("GET", "/iserver/marketdata/snapshot", params=params)).status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]


async def test_fifty_requests_a_second_pass_and_the_fifty_first_does_not(paced: Sim, clock: ManualClock) -> None:
    clock.advance(1)
    answers = [(await paced.call("GET", "/iserver/accounts")).status_code for _ in range(51)]
    assert answers == [200] * 50 + [429]


async def test_with_pacing_off_nothing_is_refused(ready: Sim) -> None:
    for _ in range(5):
        assert (await ready.call("GET", "/iserver/account/orders")).status_code == 200


async def test_the_orders_list_answers_empty_on_its_preflight_and_with_force(ready: Sim) -> None:
    placed = await ready.place(lmt("BUY", 1, ready.mid() * 0.8))
    oid = int(placed[0]["order_id"])
    assert oid in await ready.orders()
    forced = await ready.ok("GET", "/iserver/account/orders", params={"force": "true"})
    assert forced == {"orders": [], "snapshot": False}
    assert oid in await ready.orders()
    ready.venue.drop_brokerage_session()
    await ready.ok("POST", "/iserver/auth/ssodh/init", json_body={"publish": True, "compete": True})
    await ready.ok("GET", "/iserver/accounts")
    assert (await ready.ok("GET", "/iserver/account/orders"))["orders"] == []  # a new session's pre-flight
    assert oid in await ready.orders()


async def test_positions_are_cached_until_invalidated_and_portfolio2_is_not(ready: Sim) -> None:
    assert await ready.ok("GET", f"/portfolio/{ACCT}/positions/0") == []
    await ready.place({"conid": AAPL, "orderType": "MKT", "side": "BUY", "quantity": 4, "tif": "DAY"})
    assert await ready.ok("GET", f"/portfolio/{ACCT}/positions/0") == []  # IBKR's cache: still flat
    now = await ready.ok("GET", f"/portfolio2/{ACCT}/positions")
    assert [(row["conid"], row["position"]) for row in now] == [(str(AAPL), 4.0)]
    assert await ready.ok("POST", f"/portfolio/{ACCT}/positions/invalidate") == {"message": "success"}
    rows = await ready.ok("GET", f"/portfolio/{ACCT}/positions/0")
    assert [(row["conid"], row["position"]) for row in rows] == [(AAPL, 4.0)]
    assert await ready.ok("GET", f"/portfolio/{ACCT}/positions/1") == []


async def test_order_status_and_cancelling_a_parent_cancels_its_children(ready: Sim) -> None:
    mid = ready.mid()
    parent = lmt("BUY", 2, mid * 0.8, cOID="cascade-1")
    tp = lmt("SELL", 2, mid * 1.2, parentId="cascade-1")
    sl: dict[str, Any] = {"conid": AAPL, "orderType": "STP", "side": "SELL", "quantity": 2,
                          "price": round(mid * 0.7, 2), "tif": "GTC", "parentId": "cascade-1"}  # fmt: skip
    pid, tid, sid = (p["order_id"] for p in await ready.place(parent, tp, sl))
    status = await ready.ok("GET", f"/iserver/account/order/status/{tid}")
    assert (status["order_status"], status["side"], status["order_type"]) == ("PreSubmitted", "S", "LIMIT")
    answer = await ready.ok("DELETE", f"/iserver/account/{ACCT}/order/{pid}")
    assert answer["msg"] == "Request was submitted"
    for oid in (pid, tid, sid):
        assert (await ready.ok("GET", f"/iserver/account/order/status/{oid}"))["order_status"] == "Cancelled"
    again = await ready.call("DELETE", f"/iserver/account/{ACCT}/order/{tid}")
    assert "cannot be cancelled" in again.json()["error"]
    missing = await ready.call("GET", "/iserver/account/order/status/123")
    assert "not found" in missing.json()["error"]
