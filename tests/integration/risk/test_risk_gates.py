"""The risk desk's gates in the write pipeline, against the simulators: caps, PDT, approvals, reducing writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.common.clock import SkippingClock
from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import ADMIN, TESTNET, auth

TTL_S = 5


@pytest.fixture(scope="module")
def gated(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve a gateway with approvals above $50 on Hyperliquid and the PDT guard on Alpaca."""
    settings = {
        "REQUIRE_APPROVAL_ABOVE_USD": "testnet.hyperliquid=50",
        "APPROVAL_TTL_S": str(TTL_S),
        "PDT_GUARD": "testnet.alpaca=true",
    }
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("risk-gates")), **settings) as served:
        yield served


@pytest.fixture
async def http(gated: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the gated gateway."""
    async with httpx.AsyncClient(base_url=gated.url, timeout=30) as client:
        yield client


async def call(http: httpx.AsyncClient, venue: str, name: str, body: dict[str, Any]) -> httpx.Response:
    """Call a venue tool with the testnet token."""
    return await http.post(f"/mcp-{venue}/tools/{name}", json=body, headers=auth(TESTNET))


def orders_sent(sim_stack: SimStack) -> int:
    """Return how many actions Hyperliquid's testnet received."""
    return len(sim_stack.control("hyperliquid", "testnet").recorded("/exchange"))


async def resting_buy(http: httpx.AsyncClient, quantity: str = "0.001") -> dict[str, Any]:
    """Return a Hyperliquid limit buy far below the market (~$70 for 0.001 BTC): it rests, never fills."""
    ticker = (await call(http, "hyperliquid", "get_ticker", {"instrument": "BTC"})).json()
    price = (Decimal(ticker["bid"]) * Decimal("0.7")).quantize(Decimal(1))
    return {"instrument": "BTC", "side": "buy", "quantity": quantity, "price": str(price)}


async def decide(http: httpx.AsyncClient, approval_id: str, decision: str, reason: str = "test") -> httpx.Response:
    """Approve or reject a held write with the admin token."""
    return await http.post(
        f"/admin/approvals/{approval_id}", json={"decision": decision, "reason": reason}, headers=auth(ADMIN, None)
    )


async def held(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Send a write above the threshold; assert it is held (202) with its preview and return the approval id."""
    response = await call(http, "hyperliquid", "place_order", body)
    assert response.status_code == 202, response.text
    error = response.json()["error"]
    assert error["code"] == "APPROVAL_REQUIRED"
    details = error["details"]
    assert details["state"] == "pending"
    assert details["threshold_usd"] == "50"
    assert details["preview"]["params"]["quantity"] == body["quantity"]
    assert details["preview"]["would_send"]["dry_run"] is True  # the venue's own dry run: what would be sent
    return str(details["approval_id"])


async def test_approval_flow_202_then_approved_resend_passes_once(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    body = await resting_buy(http)
    before = orders_sent(sim_stack)
    approval_id = await held(http, body)
    assert orders_sent(sim_stack) == before  # held: nothing sent
    pending = await call(http, "hyperliquid", "place_order", {**body, "approval_id": approval_id})
    assert pending.status_code == 403
    assert pending.json()["error"]["details"]["state"] == "pending"
    listed = (await http.get("/admin/approvals", params={"state": "pending"}, headers=auth(TESTNET, None))).json()
    assert approval_id in {a["approval_id"] for a in listed["approvals"]}
    assert (await decide(http, approval_id, "approve")).json()["state"] == "approved"
    passed = await call(http, "hyperliquid", "place_order", {**body, "approval_id": approval_id})
    assert passed.status_code == 200, passed.text
    assert orders_sent(sim_stack) == before + 1
    again = await call(http, "hyperliquid", "place_order", {**body, "approval_id": approval_id})
    assert again.status_code == 403
    assert again.json()["error"]["details"]["state"] == "used"
    await call(http, "hyperliquid", "cancel_order", {"order_id": passed.json()["order"]["order_id"]})
    audit = (await http.get("/admin/audit", params={"action": "admin.approval"}, headers=auth(ADMIN, None))).json()
    assert any(r["target"] == approval_id and r["outcome"] == "ok" for r in audit["records"])


async def test_a_rejected_an_altered_and_an_expired_approval_are_refused(
    http: httpx.AsyncClient, sim_stack: SimStack, session_clock: SkippingClock
) -> None:
    body = await resting_buy(http)
    rejected = await held(http, body)
    assert (await decide(http, rejected, "reject", "too large")).json()["state"] == "rejected"
    response = await call(http, "hyperliquid", "place_order", {**body, "approval_id": rejected})
    assert response.status_code == 403
    assert response.json()["error"]["details"]["state"] == "rejected"
    assert "too large" in response.json()["error"]["message"]

    altered = await held(http, body)
    await decide(http, altered, "approve")
    bigger = {**body, "quantity": "0.002", "approval_id": altered}
    response = await call(http, "hyperliquid", "place_order", bigger)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["state"] == "altered"

    expiring = await held(http, body)
    await decide(http, expiring, "approve")
    before = orders_sent(sim_stack)
    session_clock.skip(TTL_S + 1)  # the approval's TTL passes on the process clock
    response = await call(http, "hyperliquid", "place_order", {**body, "approval_id": expiring})
    assert response.status_code == 403
    assert response.json()["error"]["details"]["state"] == "expired"
    assert orders_sent(sim_stack) == before
    late = await decide(http, (await held(http, body)), "approve")
    assert late.status_code == 200  # a fresh one is fine
    stale = await held(http, body)
    session_clock.skip(TTL_S + 1)
    assert (await decide(http, stale, "approve")).status_code == 403  # past its TTL: it cannot be decided


async def test_only_the_admin_decides_and_a_bot_sees_its_own_environment(http: httpx.AsyncClient) -> None:
    approval_id = await held(http, await resting_buy(http))
    refused = await http.post(f"/admin/approvals/{approval_id}", json={"decision": "approve"}, headers=auth(TESTNET))
    assert refused.status_code == 403
    seen = await http.get(f"/admin/approvals/{approval_id}", headers=auth(TESTNET, None))
    assert seen.status_code == 200
    assert seen.json()["preview"]["tool"] == "hyperliquid_place_order"
    from support.tokens import MAINNET

    assert (await http.get(f"/admin/approvals/{approval_id}", headers=auth(MAINNET, None))).status_code == 404


async def test_a_small_write_and_a_reducing_write_are_never_held(http: httpx.AsyncClient) -> None:
    small = await call(http, "hyperliquid", "place_order", await resting_buy(http, "0.0002"))  # ~$14: below $50
    assert small.status_code == 200, small.text
    await call(http, "hyperliquid", "cancel_order", {"order_id": small.json()["order"]["order_id"]})
    reduce_only = {"instrument": "BTC", "side": "sell", "type": "market", "quantity": "0.01", "reduce_only": True}
    response = await call(http, "hyperliquid", "place_order", reduce_only)
    assert response.status_code != 202, response.text


@pytest.fixture(scope="module")
def capped(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve a gateway with a cross-venue cap far above the sims' totals (it reads every venue on each write)."""
    settings = {"MAX_TOTAL_NOTIONAL_USD": "testnet.*=1000000000"}
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("risk-capped")), **settings) as served:
        yield served


async def test_the_cross_venue_cap_fails_closed_naming_the_venue_it_cannot_read(
    capped: Gateway, sim_stack: SimStack
) -> None:
    async with httpx.AsyncClient(base_url=capped.url, timeout=30) as http:
        await check_fails_closed(http, sim_stack)


async def check_fails_closed(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    """Refuse an opening write while Bybit's account cannot be read; let a reducing one through."""
    body = await resting_buy(http, "0.0002")
    fault = sim_stack.control("bybit", "testnet").inject("http_5xx", status=503, path_prefix="/v5/account")
    try:
        before = orders_sent(sim_stack)
        response = await call(http, "hyperliquid", "place_order", body)
        sent_by_opening = orders_sent(sim_stack) - before
        before = orders_sent(sim_stack)
        reducing = await call(
            http,
            "hyperliquid",
            "place_order",
            {"instrument": "BTC", "side": "sell", "type": "market", "quantity": "0.0002", "reduce_only": True},
        )
        sent_by_reducing = orders_sent(sim_stack) - before
    finally:
        sim_stack.control("bybit", "testnet").remove_fault(fault.id)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "EXPOSURE_UNKNOWN"
    assert "bybit" in error["message"]
    assert "bybit" in error["details"]["venues"]
    assert sent_by_opening == 0
    # Reducing writes never wait for the total: this one reached the venue (whatever the venue said).
    assert sent_by_reducing == 1
    assert reducing.json().get("error", {}).get("code") != "EXPOSURE_UNKNOWN"


async def test_the_cross_venue_cap_refuses_with_the_current_total_and_the_cap(
    gateway: Gateway, sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = {"MAX_TOTAL_NOTIONAL_USD": "testnet.*=1000", "MAX_NET_DELTA_USD": "testnet.*=1000000000"}
    # A position worth about $2,000 (through a gateway without the cap) makes the total > $1,000.
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as plain_gateway:  # no risk settings
        opened = await call(
            plain_gateway,
            "bybit",
            "place_order",
            {"instrument": "BTCPERP", "side": "buy", "type": "market", "quantity": "0.02"},
        )
    assert opened.status_code == 200, opened.text
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("risk-cap")), **settings) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            portfolio = (await client.post("/mcp-risk/tools/get_portfolio", json={}, headers=auth())).json()
            response = await call(client, "hyperliquid", "place_order", await resting_buy(client, "0.0002"))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "TOTAL_NOTIONAL_LIMIT"
    assert error["details"]["cap_usd"] == "1000"
    current = Decimal(error["details"]["current_total_usd"])
    assert current > 1000  # the sims' positions: the same total the portfolio reports
    assert abs(current - Decimal(portfolio["gross_notional_usd"])) / current < Decimal("0.05")


async def test_pdt_guard_refuses_the_fourth_day_trade_of_a_small_margin_account(
    http: httpx.AsyncClient, sim_stack: SimStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    trading = sim_stack.instance("alpaca", "testnet").app.state.venue.trading  # type: ignore[attr-defined]
    real_account = trading.account

    def small_margin_account(now: float) -> dict[str, Any]:
        # The sim's paper account is a $100k cash account: the test makes it a $20k margin account
        # (Alpaca's multiplier 2); the day-trade count stays the sim's own.
        return {**real_account(now), "multiplier": "2", "equity": "20000", "last_equity": "20000"}

    monkeypatch.setattr(trading, "account", small_margin_account)
    buy = {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "time_in_force": "day"}
    sell = {**buy, "side": "sell"}
    for _ in range(3):
        status = (await http.post("/mcp-risk/tools/validate_pdt", json={"venue": "alpaca"}, headers=auth())).json()
        assert status["applies"] is True
        if status["day_trades"] >= 3:
            break
        bought = await call(http, "alpaca", "place_order", buy)
        assert bought.status_code == 200, bought.text
        sold = await call(http, "alpaca", "place_order", sell)
        assert sold.status_code == 200, sold.text  # day trade 1, 2, 3: allowed
    assert (await call(http, "alpaca", "place_order", buy)).status_code == 200  # opening: not a day trade
    refused = await call(http, "alpaca", "place_order", sell)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "PDT_LIMIT"
    assert error["details"]["day_trades"] >= 3
    assert error["details"]["count_source"] == "alpaca daytrade_count"
    closed = await call(http, "alpaca", "close_position", {"instrument": "AAPL"})  # reducing: always passes
    assert closed.status_code == 200, closed.text


async def test_opening_writes_take_an_approval_id_in_both_schemas(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    body = schema["paths"]["/mcp-hyperliquid/tools/place_order"]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "approval_id" in schema["components"]["schemas"][ref]["properties"]
    cancel = schema["paths"]["/mcp-hyperliquid/tools/cancel_order"]["post"]["requestBody"]["content"]
    cancel_ref = cancel["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "approval_id" not in schema["components"]["schemas"][cancel_ref]["properties"]
