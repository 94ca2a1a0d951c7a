"""The Hyperliquid simulator's rate limits (IP weight, address budget) and its harness view (SPEC, faults, recorder)."""

from __future__ import annotations

import httpx
from hl_sim import OWNER, T0, T0_MS, Sim, make_app, open_sim, order_wire

from cerbero_mcp.simulators.engine import ManualClock, SimControl, start_simulators
from cerbero_mcp.simulators.hyperliquid.limits import AddressLimit
from cerbero_mcp.simulators.hyperliquid.simulator import SPEC


async def test_ip_weight_is_1200_per_minute_then_429(sim: Sim) -> None:
    for _ in range(60):  # meta weighs 20
        assert (await sim.http.post("/info", json={"type": "meta"})).status_code == 200
    r = await sim.http.post("/info", json={"type": "allMids"})
    assert r.status_code == 429
    sim.clock.advance(60)
    assert (await sim.http.post("/info", json={"type": "allMids"})).status_code == 200


async def test_light_info_types_weigh_two(sim: Sim) -> None:
    for _ in range(600):
        assert (await sim.http.post("/info", json={"type": "l2Book", "coin": "BTC"})).status_code == 200
    assert (await sim.http.post("/info", json={"type": "l2Book", "coin": "BTC"})).status_code == 429


async def test_exchange_batch_weighs_one_plus_a_fortieth(sim: Sim) -> None:
    for _ in range(59):
        await sim.http.post("/info", json={"type": "meta"})  # 1180 of 1200
    for _ in range(9):
        await sim.http.post("/info", json={"type": "allMids"})  # 1198
    orders = [order_wire(0, True, "90000", "0.001") for _ in range(40)]  # weight 2
    assert (await sim.send(sim.signed({"type": "order", "orders": orders, "grouping": "na"}))).status_code == 200
    assert (await sim.send(sim.signed({"type": "noop"}))).status_code == 429


async def test_candles_add_weight_per_sixty_rows(sim: Sim) -> None:
    req = {"coin": "BTC", "interval": "1m", "startTime": T0_MS - 1200 * 60_000, "endTime": T0_MS}
    rows = await sim.info({"type": "candleSnapshot", "req": req})  # 20 + len(rows) // 60
    assert len(rows) >= 1200
    spent = 20 + len(rows) // 60
    for _ in range((1200 - spent) // 20):
        assert (await sim.http.post("/info", json={"type": "meta"})).status_code == 200
    left = (1200 - spent) % 20
    for _ in range(left // 2):
        assert (await sim.http.post("/info", json={"type": "allMids"})).status_code == 200
    assert (await sim.http.post("/info", json={"type": "allMids"})).status_code == 429


async def test_limits_off_never_429(clock: ManualClock) -> None:
    async for s in open_sim(make_app(clock, rate_limit=False), clock):
        for _ in range(70):
            assert (await s.http.post("/info", json={"type": "meta"})).status_code == 200


async def test_address_budget_refusal_is_an_action_error(sim: Sim) -> None:
    sim.venue.exchange.address_limit.used = 10_000
    body = await sim.act({"type": "order", "orders": [order_wire(0, True, "90000", "0.001")], "grouping": "na"})
    assert body["status"] == "ok"  # the one request per 10 s an exhausted address keeps
    body = await sim.act({"type": "order", "orders": [order_wire(0, True, "90000", "0.001")], "grouping": "na"})
    assert body == {
        "status": "err",
        "response": "Too many cumulative requests sent (10002 > 10000) for cumulative volume traded $0.00. "
        "Place taker orders to free up 1 request per USDC traded.",
    }
    # cancels keep a larger budget, so open orders can still be cancelled
    assert (await sim.act({"type": "cancel", "cancels": [{"a": 0, "o": 1}]}))["status"] == "ok"
    sim.clock.advance(10)
    assert (await sim.act({"type": "noop"}))["status"] == "ok"


async def test_user_rate_limit_reports_the_budget(sim: Sim) -> None:
    await sim.act({"type": "order", "orders": [order_wire(0, True, "90000", "0.001")] * 3, "grouping": "na"})
    limit = await sim.info({"type": "userRateLimit", "user": OWNER})
    assert limit == {"cumVlm": "0.0", "nRequestsUsed": 3, "nRequestsCap": 10_000}


def test_address_cap_grows_with_volume_and_cancels_get_more() -> None:
    from decimal import Decimal

    limit = AddressLimit()
    assert limit.cap(Decimal("2500.7")) == 12_500
    limit.used = 12_500
    assert limit.take(1, Decimal("2500"), T0, cancel=True) is None  # min(12,500 + 100,000, 25,000)
    limit.used = 25_000
    assert limit.take(1, Decimal("2500"), T0, cancel=True) is None  # the one per 10 s
    assert limit.take(1, Decimal("2500"), T0 + 1, cancel=True) is not None


def test_spec_points_each_environment_at_its_instance() -> None:
    clock = ManualClock(T0)
    with start_simulators([SPEC], clock=clock) as stack:
        test, main = stack.instance("hyperliquid", "testnet"), stack.instance("hyperliquid", "mainnet")
        assert test.config.credentials["private_key"] != main.config.credentials["private_key"]
        o = stack.overrides
        assert o["HYPERLIQUID_URL_TESTNET"] == test.url
        assert o["HYPERLIQUID_URL_LIVE"] == main.url
        for suffix, inst in (("TESTNET", test), ("LIVE", main)):
            creds = inst.config.credentials
            assert o[f"HYPERLIQUID_WALLET_ADDRESS_{suffix}"] == creds["wallet_address"]
            assert o[f"HYPERLIQUID_API_WALLET_ADDRESS_{suffix}"] == creds["api_wallet_address"]
            assert o[f"HYPERLIQUID_PRIVATE_KEY_{suffix}"] == creds["private_key"]
        assert test.app.state.venue.mainnet is False  # type: ignore[attr-defined]
        assert main.app.state.venue.mainnet is True  # type: ignore[attr-defined]
        r = httpx.post(test.url + "/info", json={"type": "meta"})
        assert r.status_code == 200


async def test_faults_and_the_recorder_wrap_the_simulator(clock: ManualClock) -> None:
    control = SimControl(make_app(clock), clock=clock)
    control.inject("http_5xx", path_prefix="/exchange", count=1)
    transport = httpx.ASGITransport(app=control)
    async with httpx.AsyncClient(transport=transport, base_url="http://hyperliquid.sim") as http:
        s = Sim(http, clock, control.app)
        assert (await s.send(s.signed({"type": "noop"}))).status_code == 503
        assert (await s.act({"type": "noop"}))["status"] == "ok"
    recorded = control.recorded("/exchange")
    assert [r.fault for r in recorded] == ["http_5xx", None]
    assert recorded[1].body["action"] == {"type": "noop"}
    assert recorded[1].body["signature"] == "***"  # the recorder masks signatures
