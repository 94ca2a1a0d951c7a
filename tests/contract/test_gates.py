"""The write gates over every installed venue's own declarations (not a toy): a new venue joins by existing.

Every write tool of the venue is called with its own request example (an amend with a resting order
of the venue's contract instrument) against gateways configured to refuse: the kill switch, an
allowlist without the instrument, a tiny quantity cap, a tiny notional cap and a tiny leverage cap.
Each `opens` write must be refused with its gate's code and place nothing at the venue; each
`reduces` write must reach the venue through an engaged kill switch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.contracts import ToolSpec
from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.simulators.engine.harness import SimStack
from support.contract_venues import VenueContract
from support.stack import Gateway, serve_gateway
from support.tokens import ADMIN, TESTNET, auth

REFUSALS: dict[str, tuple[dict[str, str], str]] = {
    # gateway name: (settings, the code every opening write must answer)
    "allowlist": ({"SYMBOL_ALLOWLIST": "*.*=NONE"}, "SYMBOL_NOT_ALLOWED"),
    "quantity": ({"MAX_ORDER_QTY": "*.*=0.00000001"}, "ORDER_QTY_LIMIT"),
    "notional": ({"MAX_ORDER_NOTIONAL_USD": "*.*=0.00000001"}, "ORDER_NOTIONAL_LIMIT"),
    "leverage": ({"{VENUE}_MAX_LEVERAGE": "0.00000001"}, "LEVERAGE_CAP_EXCEEDED"),
    # The risk desk's gates (issue 20). The run's clock is 15:00-16:00 UTC: the window below is shut.
    "total_notional": ({"MAX_TOTAL_NOTIONAL_USD": "*.*=0.00000001"}, "TOTAL_NOTIONAL_LIMIT"),
    "trading_window": ({"TRADING_WINDOWS": "*.*=03:00-03:01 UTC"}, "OUTSIDE_TRADING_WINDOW"),
    "approval": ({"REQUIRE_APPROVAL_ABOVE_USD": "*.*=0.00000001"}, "APPROVAL_REQUIRED"),
    "net_delta": ({"MAX_NET_DELTA_USD": "*.*=0.00000001"}, "NET_DELTA_LIMIT"),
}
# Every risk-desk gate set to refuse at once: reducing writes must still reach the venue.
RISK_ALL = {
    "MAX_TOTAL_NOTIONAL_USD": "*.*=0.00000001",
    "MAX_NET_DELTA_USD": "*.*=0.00000001",
    "TRADING_WINDOWS": "*.*=03:00-03:01 UTC",
    "REQUIRE_APPROVAL_ABOVE_USD": "*.*=0.00000001",
    "PDT_GUARD": "true",
}
# Orders per minute under a burst: the cross-venue cap reads every venue's account after the limits gate, so
# concurrent writes interleave between the limits' check and the send, as they do in production.
BURST_LIMIT = 3
# (Twelve concurrent portfolio reads of five simulators on a loaded CI machine: a wide per-venue budget, so the
# cap never fails closed on a late read; that is not the subject.)
BURST = {
    "MAX_ORDERS_PER_MINUTE": f"testnet.*={BURST_LIMIT}",
    "MAX_TOTAL_NOTIONAL_USD": "testnet.*=1000000000000",
    "RISK_VENUE_TIMEOUT_S": "30",
}
RISK_CODES = {"TOTAL_NOTIONAL_LIMIT", "NET_DELTA_LIMIT", "OUTSIDE_TRADING_WINDOW", "APPROVAL_REQUIRED", "PDT_LIMIT"}
# Every refusal is 403, but a write held for an admin's approval is accepted for review: 202.
STATUS = {"approval": 202}


def write_specs(venue: str, risk: str) -> list[ToolSpec]:
    """Return the venue's write tools of one risk."""
    toolset = next(t for t in installed_toolsets() if t.venue == venue)
    return [spec for spec in toolset.specs if spec.kind == "write" and spec.risk == risk]


@pytest.fixture(scope="module")
def gateways(
    sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory, contract: VenueContract
) -> Iterator[dict[str, Gateway]]:
    """Serve one gateway per refusing configuration, plus an open one and one for the kill switch."""
    configs = {name: settings for name, (settings, _) in REFUSALS.items()}
    configs["open"] = {}
    configs["kill_switch"] = {}
    configs["risk_all"] = RISK_ALL
    configs["burst"] = BURST
    with ExitStack() as stack:
        served = {}
        for name, settings in configs.items():
            extra = {key.replace("{VENUE}", contract.venue.upper()): value for key, value in settings.items()}
            state = Path(tmp_path_factory.mktemp(f"gates-{contract.venue}-{name}"))
            served[name] = stack.enter_context(serve_gateway(sim_stack, state, **extra))
        yield served


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client (each call names its gateway's URL)."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def call(
    http: httpx.AsyncClient, gateway: Gateway, venue: str, tool: str, body: dict[str, Any]
) -> httpx.Response:
    """Call one tool on one gateway with the testnet token."""
    return await http.post(f"{gateway.url}/mcp-{venue}/tools/{tool}", json=body, headers=auth(TESTNET, "gates"))


async def resting_order(http: httpx.AsyncClient, gateway: Gateway, c: VenueContract) -> str:
    """Place a passive limit order far from the market on the open gateway; return its id."""
    ticker = (await call(http, gateway, c.venue, "get_ticker", {"instrument": c.instrument})).json()
    mid = (Decimal(ticker["bid"]) + Decimal(ticker["ask"])) / 2
    body = {
        "instrument": c.instrument,
        "side": "buy",
        "type": "limit",
        "quantity": str(c.small_quantity),
        "price": str(c.resting_price(mid, "buy")),
    }
    response = await call(http, gateway, c.venue, "place_order", body)
    assert response.status_code == 200, response.text
    return str(response.json()["order"]["order_id"])


async def body_for(spec: ToolSpec, http: httpx.AsyncClient, gateways: dict[str, Gateway], c: VenueContract) -> Any:
    """Return the request a gate is tried with: the tool's example, an amend of a real resting order."""
    if spec.name == "amend_order":
        order_id = await resting_order(http, gateways["open"], c)
        return {"order_id": order_id, "quantity": str(c.small_quantity * 2)}
    body = dict(spec.examples()[0])
    body.pop("dry_run", None)
    return body


def recorded(sim_stack: SimStack, venue: str) -> int:
    """Return how many requests the venue's testnet instance has received."""
    return len(sim_stack.control(venue, "testnet").recorded())


def orders_since(sim_stack: SimStack, c: VenueContract, before: int) -> list[str]:
    """Return the order placements the venue received since `before`."""
    return [
        f"{r.method} {r.path}"
        for r in sim_stack.control(c.venue, "testnet").recorded()[before:]
        if c.is_order(r.method, r.path)
    ]


@pytest.mark.parametrize("gate", sorted(REFUSALS))
async def test_every_opening_write_is_refused_by_each_limit_and_places_nothing(
    gate: str, http: httpx.AsyncClient, gateways: dict[str, Gateway], contract: VenueContract, sim_stack: SimStack
) -> None:
    specs = write_specs(contract.venue, "opens")
    assert specs, f"{contract.venue} declares no opening write"
    code = REFUSALS[gate][1]
    for spec in specs:
        body = await body_for(spec, http, gateways, contract)
        before = recorded(sim_stack, contract.venue)
        response = await call(http, gateways[gate], contract.venue, spec.name, body)
        assert response.status_code == STATUS.get(gate, 403), f"{spec.mcp_name} {body}: {response.text}"
        assert response.json()["error"]["code"] == code, f"{spec.mcp_name}: {response.text}"
        assert orders_since(sim_stack, contract, before) == [], f"{spec.mcp_name} reached the venue"


async def test_kill_switch_refuses_every_opening_write_and_lets_every_reducing_write_reach_the_venue(
    http: httpx.AsyncClient, gateways: dict[str, Gateway], contract: VenueContract, sim_stack: SimStack
) -> None:
    gateway = gateways["kill_switch"]
    engaged = await http.post(
        f"{gateway.url}/admin/kill-switch",
        json={"env": "testnet", "engaged": True, "reason": "gate contract"},
        headers=auth(ADMIN, None),
    )
    assert engaged.status_code == 200, engaged.text
    try:
        for spec in write_specs(contract.venue, "opens"):
            body = await body_for(spec, http, gateways, contract)
            before = recorded(sim_stack, contract.venue)
            response = await call(http, gateway, contract.venue, spec.name, body)
            assert response.status_code == 423, f"{spec.mcp_name}: {response.text}"
            assert response.json()["error"]["code"] == "KILL_SWITCH_ENGAGED"
            assert recorded(sim_stack, contract.venue) == before, f"{spec.mcp_name} reached the venue"
        reducing = write_specs(contract.venue, "reduces")
        assert {"cancel_order", "cancel_all_orders", "close_position"} <= {spec.name for spec in reducing}
        for spec in reducing:
            body = await body_for(spec, http, gateways, contract)
            before = recorded(sim_stack, contract.venue)
            response = await call(http, gateway, contract.venue, spec.name, body)
            assert response.status_code != 423, f"{spec.mcp_name}: {response.text}"
            assert recorded(sim_stack, contract.venue) > before, f"{spec.mcp_name} did not reach the venue"
        # A reduce-only order is risk-reducing too, whatever tool carries it.
        before = recorded(sim_stack, contract.venue)
        reduce_only = {"instrument": contract.instrument, "side": "sell", "type": "market", "reduce_only": True}
        response = await call(
            http, gateway, contract.venue, "place_order", {**reduce_only, "quantity": str(contract.small_quantity)}
        )
        assert response.status_code != 423, response.text
        assert recorded(sim_stack, contract.venue) > before
    finally:
        await http.post(
            f"{gateway.url}/admin/kill-switch",
            json={"env": "testnet", "engaged": False, "reason": "gate contract done"},
            headers=auth(ADMIN, None),
        )


async def test_no_risk_desk_gate_blocks_a_reducing_write(
    http: httpx.AsyncClient, gateways: dict[str, Gateway], contract: VenueContract, sim_stack: SimStack
) -> None:
    gateway = gateways["risk_all"]
    for spec in write_specs(contract.venue, "reduces"):
        body = await body_for(spec, http, gateways, contract)
        before = recorded(sim_stack, contract.venue)
        response = await call(http, gateway, contract.venue, spec.name, body)
        assert response.status_code not in (202, 403, 503), f"{spec.mcp_name}: {response.text}"
        assert recorded(sim_stack, contract.venue) > before, f"{spec.mcp_name} did not reach the venue"
    reduce_only = {"instrument": contract.instrument, "side": "sell", "type": "market", "reduce_only": True}
    before = recorded(sim_stack, contract.venue)
    response = await call(
        http, gateway, contract.venue, "place_order", {**reduce_only, "quantity": str(contract.small_quantity)}
    )
    if response.status_code >= 400:
        assert response.json()["error"]["code"] not in RISK_CODES, response.text
    assert recorded(sim_stack, contract.venue) > before


async def test_a_burst_of_concurrent_orders_never_exceeds_the_orders_per_minute_limit(
    http: httpx.AsyncClient, gateways: dict[str, Gateway], contract: VenueContract, sim_stack: SimStack
) -> None:
    ticker = (
        await call(http, gateways["open"], contract.venue, "get_ticker", {"instrument": contract.instrument})
    ).json()
    price = contract.resting_price((Decimal(ticker["bid"]) + Decimal(ticker["ask"])) / 2, "buy")
    body = {"instrument": contract.instrument, "side": "buy", "type": "limit", "price": str(price)}
    before = recorded(sim_stack, contract.venue)
    burst = 4 * BURST_LIMIT
    quantity = str(contract.small_quantity)
    responses = await asyncio.gather(
        *(
            call(http, gateways["burst"], contract.venue, "place_order", {**body, "quantity": quantity})
            for _ in range(burst)
        )
    )
    sent = orders_since(sim_stack, contract, before)
    for placed in (r for r in responses if r.status_code == 200):
        await call(
            http, gateways["open"], contract.venue, "cancel_order", {"order_id": placed.json()["order"]["order_id"]}
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * BURST_LIMIT + [403] * (burst - BURST_LIMIT), [r.text for r in responses]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 403} == {"ORDER_RATE_LIMIT"}
    assert len(sent) == BURST_LIMIT, sent
