"""The risk desk's tools against the venue simulators: portfolio, exposure, pre-trade check, PDT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import MAINNET, TESTNET, auth

VENUES = {"deribit", "bybit", "hyperliquid", "alpaca", "ibkr"}


async def tool(http: httpx.AsyncClient, name: str, body: dict[str, Any], token: str = TESTNET) -> dict[str, Any]:
    """Call one risk tool and return its 200 answer."""
    response = await http.post(f"/mcp-risk/tools/{name}", json=body, headers=auth(token))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def venue_call(http: httpx.AsyncClient, venue: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call one venue tool with the testnet token and return its 200 answer."""
    response = await http.post(f"/mcp-{venue}/tools/{name}", json=body, headers=auth(TESTNET))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def by_venue(portfolio: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the portfolio's venues by name."""
    return {v["venue"]: v for v in portfolio["venues"]}


async def test_portfolio_reads_every_venue_in_usd_and_states_its_rates(http: httpx.AsyncClient) -> None:
    portfolio = await tool(http, "get_portfolio", {})
    venues = by_venue(portfolio)
    assert set(venues) == VENUES
    assert all(v["status"] == "ok" for v in venues.values()), [
        (v["venue"], v["status"], v["error"]) for v in venues.values()
    ]
    assert portfolio["complete"] is True
    assert portfolio["environment"] == "testnet"
    total = sum(Decimal(v["equity_usd"]) for v in venues.values())
    assert Decimal(portfolio["total_equity_usd"]) == total > 0
    btc = next(r for r in portfolio["rates"] if r["venue"] == "deribit" and r["currency"] == "BTC")
    assert "index" in btc["source"]
    assert Decimal(btc["usd"]) > 1000
    account = next(a for a in venues["deribit"]["accounts"] if a["currency"] == "BTC")
    assert Decimal(account["equity_usd"]) == Decimal(account["equity"]) * Decimal(btc["usd"])


async def test_portfolio_lists_a_new_position_and_a_resting_order(http: httpx.AsyncClient) -> None:
    await venue_call(
        http, "hyperliquid", "place_order", {"instrument": "BTC", "side": "buy", "type": "market", "quantity": "0.001"}
    )
    ticker = await venue_call(http, "hyperliquid", "get_ticker", {"instrument": "BTC"})
    far_below = (Decimal(ticker["bid"]) * Decimal("0.7")).quantize(Decimal(1))
    placed = await venue_call(
        http,
        "hyperliquid",
        "place_order",
        {"instrument": "BTC", "side": "buy", "quantity": "0.001", "price": str(far_below)},
    )
    order_id = placed["order"]["order_id"]
    try:
        hyperliquid = by_venue(await tool(http, "get_portfolio", {}))["hyperliquid"]
        position = next(p for p in hyperliquid["positions"] if p["instrument"] == "BTC")
        assert position["underlying"] == "BTC"
        assert position["kind"] == "perpetual"
        assert Decimal(position["notional_usd"]) == Decimal(position["delta_usd"])
        assert order_id in {o["order_id"] for o in hyperliquid["open_orders"]}
        without = by_venue(await tool(http, "get_portfolio", {"include_orders": False}))["hyperliquid"]
        assert without["open_orders"] == []
    finally:
        await venue_call(http, "hyperliquid", "cancel_order", {"order_id": order_id})


async def test_a_venue_failing_mid_portfolio_gives_a_partial_answer(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    fault = sim_stack.control("bybit", "testnet").inject("http_5xx", status=503, path_prefix="/v5/account")
    try:
        portfolio = await tool(http, "get_portfolio", {})
    finally:
        sim_stack.control("bybit", "testnet").remove_fault(fault.id)
    venues = by_venue(portfolio)
    assert portfolio["complete"] is False
    assert venues["bybit"]["status"] == "error"
    assert venues["bybit"]["error"]["code"] == "UPSTREAM_ERROR"
    assert venues["bybit"]["equity_usd"] is None
    assert all(venues[name]["status"] == "ok" for name in VENUES - {"bybit"})
    others = sum(Decimal(venues[name]["equity_usd"]) for name in VENUES - {"bybit"})
    assert Decimal(portfolio["total_equity_usd"]) == others


@pytest.fixture(scope="module")
def tight(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve a gateway whose venues have two seconds each, and no Hyperliquid credentials on mainnet."""
    settings = {
        "RISK_VENUE_TIMEOUT_S": "2",
        "HYPERLIQUID_WALLET_ADDRESS_LIVE": "",
        "HYPERLIQUID_PRIVATE_KEY_LIVE": "",
        "HYPERLIQUID_WALLET_ADDRESS": "",
        "HYPERLIQUID_PRIVATE_KEY": "",
    }
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("risk-tight")), **settings) as served:
        yield served


@pytest.fixture
async def tight_http(tight: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the tight gateway."""
    async with httpx.AsyncClient(base_url=tight.url, timeout=30) as client:
        yield client


async def test_a_slow_venue_is_cut_at_its_time_budget_and_the_rest_answer(
    tight_http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    await tool(tight_http, "get_portfolio", {"include_orders": False})  # the clients are built and warm
    fault = sim_stack.control("deribit", "testnet").inject("latency", latency_ms=4000)
    try:
        portfolio = await tool(tight_http, "get_portfolio", {"include_orders": False})
    finally:
        sim_stack.control("deribit", "testnet").remove_fault(fault.id)
    venues = by_venue(portfolio)
    assert portfolio["time_budget_s"] == 2
    assert portfolio["complete"] is False
    assert venues["deribit"]["status"] == "timeout"
    assert venues["deribit"]["error"]["code"] == "UPSTREAM_TIMEOUT"
    assert any(v["status"] == "ok" for v in venues.values()), portfolio


async def test_a_venue_without_credentials_for_the_environment_is_not_configured_not_an_error(
    tight_http: httpx.AsyncClient, tight: Gateway
) -> None:
    assert tight.settings.missing_credentials("hyperliquid", "mainnet")
    portfolio = await tool(tight_http, "get_portfolio", {"include_orders": False}, token=MAINNET)
    venues = by_venue(portfolio)
    assert venues["hyperliquid"]["status"] == "not_configured"
    assert venues["hyperliquid"]["error"] is None
    # A venue without credentials never makes the answer incomplete; another venue late on a loaded machine
    # (the 2 s budget of this gateway) may, and is not what this test is about.
    others_ok = all(v["status"] in ("ok", "not_configured") for v in venues.values())
    assert portfolio["complete"] is others_ok
    assert portfolio["environment"] == "mainnet"


def listed_size(report: dict[str, Any], venue: str, instrument: str) -> Decimal:
    """Return the signed size of one venue's instrument in an exposure report (0 when flat)."""
    positions = [p for u in report["underlyings"] for p in u["positions"]]
    return sum(
        (Decimal(p["size"]) for p in positions if p["venue"] == venue and p["instrument"] == instrument), Decimal(0)
    )


async def venue_size(http: httpx.AsyncClient, venue: str, instrument: str) -> Decimal:
    """Return the signed size of one instrument as the venue's own get_positions reports it."""
    positions = (await venue_call(http, venue, "get_positions", {"instrument": instrument}))["positions"]
    sizes = [(p["side"], Decimal(p["size"])) for p in positions if p["instrument"] == instrument]
    return sum((-abs(size) if side == "short" else size for side, size in sizes), Decimal(0))


async def test_exposure_nets_one_underlying_across_venues(http: httpx.AsyncClient) -> None:
    # The simulators are shared with other test files, which leave positions of their own: the oracle is each
    # venue's own get_positions after the trades, not an assumed starting point.
    await venue_call(
        http, "hyperliquid", "place_order", {"instrument": "BTC", "side": "buy", "type": "market", "quantity": "0.002"}
    )
    await venue_call(
        http, "bybit", "place_order", {"instrument": "BTCPERP", "side": "sell", "type": "market", "quantity": "0.01"}
    )
    report = await tool(http, "get_exposure", {"underlying": "BTC"})
    assert [u["underlying"] for u in report["underlyings"]] == ["BTC"]
    btc = report["underlyings"][0]
    for venue, instrument in (("bybit", "BTCPERP"), ("hyperliquid", "BTC")):
        own = await venue_size(http, venue, instrument)
        assert listed_size(report, venue, instrument) == own, (venue, report)
        assert own == 0 or venue in btc["venues"], (venue, report)
    positions = btc["positions"]
    assert len({p["venue"] for p in positions}) >= 2, report  # netting across venues, not within one
    assert Decimal(btc["net_notional_usd"]) == sum(Decimal(p["notional_usd"]) for p in positions)
    known = [Decimal(p["delta_usd"]) for p in positions if p["delta_usd"] is not None]
    assert Decimal(btc["net_delta_usd"]) == sum(known)
    for position in positions:  # a short's notional is negative, a long's positive
        assert (Decimal(position["size"]) > 0) == (Decimal(position["notional_usd"]) > 0)


async def test_pre_trade_check_sizes_from_risk_and_atr_and_sends_nothing(
    http: httpx.AsyncClient, sim_stack: SimStack
) -> None:
    ticker = await venue_call(http, "hyperliquid", "get_ticker", {"instrument": "BTC"})
    entry = (Decimal(ticker["bid"]) * Decimal("0.9")).quantize(Decimal(1))
    before = len(sim_stack.control("hyperliquid", "testnet").recorded("/exchange"))
    body = {
        "venue": "hyperliquid",
        "instrument": "BTC",
        "side": "buy",
        "entry": str(entry),
        "stop": str(entry - 1000),
        "risk_usd": "10",
    }
    report = await tool(http, "pre_trade_check", body)
    assert len(sim_stack.control("hyperliquid", "testnet").recorded("/exchange")) == before  # nothing sent
    assert report["sent"] is False
    assert report["atr"]["value"] > 0
    assert report["atr"]["bars"] >= 15
    sizing = report["sizing"]
    # $10 at risk over a $1,000 stop distance: 0.01 BTC.
    assert Decimal(sizing["quantity"]) == Decimal("0.01")
    assert Decimal(sizing["loss_per_unit_usd"]) == 1000
    checks = {c["check"]: c for c in report["checks"]}
    gates = ["KillSwitchGate", "LimitsGate", "LeverageCapGate", "TradingWindowGate", "PdtGate", "CrossVenueCapGate"]
    assert all(checks[name]["passed"] for name in [*gates, "ApprovalGate", "VenueDryRun"]), report
    assert report["passed"] is True


async def test_pre_trade_check_reports_each_refusal_with_its_numbers(
    sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = {"MAX_ORDER_NOTIONAL_USD": "testnet.*=50", "REQUIRE_APPROVAL_ABOVE_USD": "testnet.*=20"}
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("risk-ptc")), **settings) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            report = await tool(
                client,
                "pre_trade_check",
                {"venue": "alpaca", "instrument": "AAPL", "side": "buy", "entry": "100", "quantity": "1"},
            )
            held = (await client.get("/admin/approvals", headers=auth(TESTNET, None))).json()
    assert held["count"] == 0  # a check only: the approval gate said what it would do, and stored nothing
    checks = {c["check"]: c for c in report["checks"]}
    assert report["passed"] is False
    assert checks["LimitsGate"]["code"] == "ORDER_NOTIONAL_LIMIT"
    assert checks["LimitsGate"]["details"]["limit"] == "50"
    assert checks["ApprovalGate"]["code"] == "APPROVAL_REQUIRED"
    assert checks["ApprovalGate"]["details"] == {"notional_usd": "100", "threshold_usd": "20"}
    assert checks["KillSwitchGate"]["passed"] is True


async def test_validate_pdt_counts_the_alpaca_day_trades_and_sees_the_next_one(http: httpx.AsyncClient) -> None:
    before = await tool(http, "validate_pdt", {"venue": "alpaca"})
    buy = {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "time_in_force": "day"}
    await venue_call(http, "alpaca", "place_order", buy)
    sell_next = await tool(http, "validate_pdt", {"venue": "alpaca", "instrument": "AAPL", "side": "sell"})
    assert sell_next["proposed"]["would_be_day_trade"] is True
    assert sell_next["proposed"]["day_trades_after"] == sell_next["day_trades"] + 1
    await venue_call(http, "alpaca", "place_order", {**buy, "side": "sell"})
    after = await tool(http, "validate_pdt", {"venue": "alpaca"})
    assert after["count_source"] == "alpaca daytrade_count"
    assert after["day_trades"] == before["day_trades"] + 1
    assert after["calendar_source"].startswith("NYSE")
    assert len(after["business_days"]) == 5
    today = after["business_days"][-1]
    assert today in after["day_trade_dates"]
    assert after["oldest_rolls_off"] > today
    # The sim's paper account is a $100,000 cash account: the rule does not limit it.
    assert after["applies"] is False
    assert after["margin_account"] is False


async def test_pre_trade_check_rounds_a_risk_sized_quantity_down_to_the_venue_increment(
    http: httpx.AsyncClient,
) -> None:
    ticker = await venue_call(http, "deribit", "get_ticker", {"instrument": "BTC-PERPETUAL"})
    entry = (Decimal(ticker["bid"]) * Decimal("0.98")).quantize(Decimal(1))
    body = {
        "venue": "deribit",
        "instrument": "BTC-PERPETUAL",
        "side": "buy",
        "entry": str(entry),
        "stop": str(entry - 1500),
        "risk_usd": "100",
    }
    report = await tool(http, "pre_trade_check", body)
    sizing = report["sizing"]
    quantity = Decimal(sizing["quantity"])
    # An inverse perpetual is sized in USD (10 USD contracts): $100 over a 1,500 stop is ~$6,900 of contracts.
    assert quantity % 10 == 0
    assert quantity > 0
    assert quantity * Decimal(sizing["loss_per_unit_usd"]) <= 100
    assert "rounded down" in sizing["method"]
    assert report["order"]["quantity"] == str(quantity)
    assert {c["check"]: c["passed"] for c in report["checks"]}["VenueDryRun"] is True


async def test_validate_pdt_counts_ibkr_day_trades_from_its_fills(http: httpx.AsyncClient) -> None:
    report = await tool(http, "validate_pdt", {"venue": "ibkr", "instrument": "AAPL", "side": "sell"})
    assert report["count_source"].startswith("ibkr fills")
    assert report["calendar_source"].startswith("weekdays")
    assert len(report["business_days"]) == 5
    assert report["day_trades"] == len(report["day_trade_dates"])
    assert report["proposed"]["day_trades_after"] >= report["day_trades"]
