"""The Deribit simulator behaves as Deribit documents it where our adapter once misread the venue (issue 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cerbero_mcp.simulators.deribit.simulator import build_app
from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig

T0 = 1_772_452_800.0  # 2026-03-02T12:00:00Z, a Monday
CREDS = {"client_id": "bot-id", "client_secret": "bot-secret"}
CALL = "BTC-25DEC26-100000-C"


class Sim:
    """One simulator app over ASGI, logged in."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token = ""

    async def call(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
        r = await self.http.post("/api/v2/", json=body, headers=headers)
        return r.status_code, r.json()

    async def ok(self, method: str, params: dict[str, Any] | None = None) -> Any:
        status, body = await self.call(method, params)
        assert status == 200, body
        return body["result"]

    async def error(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, body = await self.call(method, params)
        assert "error" in body, body
        return status, body["error"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def make_app(clock: ManualClock, **kw: Any) -> Any:
    return build_app(SimulatorConfig("deribit", "testnet", 11, CREDS, clock), **kw)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Sim]:
    transport = httpx.ASGITransport(app=make_app(clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://deribit.sim") as http:
        sim = Sim(http)
        sim.token = (await sim.ok("public/auth", {"grant_type": "client_credentials", **CREDS}))["access_token"]
        yield sim


# --- item 13: post-only without reject_post_only is moved inside the spread -------------------------


async def test_crossing_post_only_is_moved_inside_the_spread_without_the_flag(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    ask = Decimal(str(ticker["best_ask_price"]))
    placed = await sim.ok(
        "private/buy",
        {"instrument_name": "BTC-PERPETUAL", "amount": 100, "type": "limit", "price": str(ask + 50), "post_only": True},
    )
    order = placed["order"]
    assert placed["trades"] == []
    assert order["order_state"] == "open"
    assert Decimal(str(order["price"])) == ask - Decimal("0.5")  # one tick short of the best ask
    assert order["post_only"] is True
    assert order["reject_post_only"] is False


async def test_crossing_post_only_with_the_flag_is_refused_with_11054(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    params = {"instrument_name": "BTC-PERPETUAL", "amount": 100, "type": "limit", "price": ticker["best_bid_price"],
              "post_only": True, "reject_post_only": True}  # fmt: skip
    status, err = await sim.error("private/sell", params)
    assert (status, err["code"], err["message"]) == (400, 11054, "post_only_reject")
    assert await sim.ok("private/get_open_orders_by_currency", {"currency": "BTC"}) == []


async def test_post_only_is_only_good_til_cancelled(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    price = ticker["best_bid_price"] - 100
    params = {"instrument_name": "BTC-PERPETUAL", "amount": 100, "type": "limit", "price": price,
              "post_only": True, "time_in_force": "good_til_day"}  # fmt: skip
    status, err = await sim.error("private/buy", params)
    assert (status, err["code"], err["data"]["param"]) == (400, -32602, "time_in_force")


async def test_post_only_edit_that_would_take_is_moved_unless_the_edit_rejects(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    ask = Decimal(str(ticker["best_ask_price"]))
    placed = await sim.ok(
        "private/buy",
        {"instrument_name": "BTC-PERPETUAL", "amount": 100, "type": "limit", "price": str(ask - 500),
         "post_only": True, "reject_post_only": True},
    )  # fmt: skip
    order_id = placed["order"]["order_id"]
    status, err = await sim.error(
        "private/edit", {"order_id": order_id, "amount": 100, "price": str(ask + 10), "reject_post_only": True}
    )
    assert (status, err["code"]) == (400, 11054)
    moved = await sim.ok("private/edit", {"order_id": order_id, "amount": 100, "price": str(ask + 10)})
    assert Decimal(str(moved["order"]["price"])) == ask - Decimal("0.5")


# --- item 14: options publish and enforce tick_size_steps ---------------------------------------------


async def test_options_publish_tick_size_steps(sim: Sim) -> None:
    inst = await sim.ok("public/get_instrument", {"instrument_name": CALL})
    assert inst["tick_size"] == 0.0001
    assert inst["tick_size_steps"] == [{"above_price": 0.005, "tick_size": 0.0005}]
    listed = await sim.ok("public/get_instruments", {"currency": "BTC", "kind": "option"})
    assert all(i["tick_size_steps"] == inst["tick_size_steps"] for i in listed)
    perpetual = await sim.ok("public/get_instrument", {"instrument_name": "BTC-PERPETUAL"})
    assert perpetual["tick_size_steps"] == []


@pytest.mark.parametrize(("price", "accepted"), [("0.0023", True), ("0.0125", True), ("0.0123", False)])
async def test_option_prices_follow_their_tick_tier(sim: Sim, price: str, accepted: bool) -> None:
    params = {"instrument_name": CALL, "amount": "0.1", "type": "limit", "price": price}
    if accepted:
        placed = await sim.ok("private/buy", params)
        assert str(placed["order"]["price"]) == price
        return
    status, err = await sim.error("private/buy", params)
    assert (status, err["code"], err["data"]["param"]) == (400, -32602, "price")
    assert err["data"]["nearest"] == ["0.012", "0.0125"]


async def test_option_edit_follows_the_tick_tier(sim: Sim) -> None:
    placed = await sim.ok("private/buy", {"instrument_name": CALL, "amount": "0.1", "type": "limit", "price": "0.004"})
    status, err = await sim.error(
        "private/edit", {"order_id": placed["order"]["order_id"], "amount": "0.1", "price": "0.0071"}
    )
    assert (status, err["code"]) == (400, -32602)


# --- item 17: a connection-scoped token is valid only on its connection; a session token on any -------


async def test_connection_scoped_token_is_refused_on_another_connection(clock: ManualClock) -> None:
    app = make_app(clock)
    first = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.1", 5001)), base_url="http://d")
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.1", 5002)), base_url="http://d")
    async with first, other:
        a, b = Sim(first), Sim(other)
        grant = await a.ok("public/auth", {"grant_type": "client_credentials", **CREDS})
        assert "connection" in grant["scope"].split()
        a.token = b.token = grant["access_token"]
        assert (await a.ok("private/get_account_summary", {"currency": "BTC"}))["currency"] == "BTC"
        status, err = await b.error("private/get_account_summary", {"currency": "BTC"})
        assert (status, err["code"]) == (401, 13009)
        session = await a.ok("public/auth", {"grant_type": "client_credentials", **CREDS, "scope": "session:bot"})
        assert "session:bot" in session["scope"].split()
        assert "connection" not in session["scope"].split()
        a.token = b.token = session["access_token"]
        for sim in (a, b):
            assert (await sim.ok("private/get_account_summary", {"currency": "BTC"}))["currency"] == "BTC"


# --- item 19: matching-engine credits ------------------------------------------------------------------


async def test_matching_engine_credits_allow_a_burst_of_20_then_5_per_second(sim: Sim, clock: ManualClock) -> None:
    buy = {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"}
    for _ in range(20):
        await sim.ok("private/buy", buy)
    status, err = await sim.error("private/buy", buy)
    assert (status, err["code"], err["message"]) == (429, 10028, "too_many_requests")
    clock.advance(0.2)
    await sim.ok("private/buy", buy)
    status, _ = await sim.error("private/buy", buy)
    assert status == 429


async def test_rate_limits_can_be_switched_off(clock: ManualClock) -> None:
    app = make_app(clock, rate_limit=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://d") as http:
        sim = Sim(http)
        sim.token = (await sim.ok("public/auth", {"grant_type": "client_credentials", **CREDS}))["access_token"]
        for _ in range(30):
            await sim.ok("private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"})


# --- item 16: USDC-settled linear perpetuals ---------------------------------------------------------


async def test_usdc_account_lists_linear_perpetuals_sized_in_the_coin(sim: Sim) -> None:
    listed = await sim.ok("public/get_instruments", {"currency": "USDC"})
    names = {i["instrument_name"]: i for i in listed}
    assert set(names) == {"BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL"}
    btc = names["BTC_USDC-PERPETUAL"]
    assert (btc["instrument_type"], btc["settlement_currency"], btc["price_index"]) == ("linear", "USDC", "btc_usdc")
    assert (btc["tick_size"], btc["min_trade_amount"], btc["contract_size"]) == (1, 0.001, 0.001)
    await sim.ok("private/buy", {"instrument_name": "ETH_USDC-PERPETUAL", "amount": "2", "type": "market"})
    [position] = await sim.ok("private/get_positions", {"currency": "USDC"})
    assert (position["instrument_name"], position["size"], position["size_currency"]) == ("ETH_USDC-PERPETUAL", 2, 2)
    assert await sim.ok("private/get_positions", {"currency": "ETH"}) == []


async def test_option_books_show_only_prices_on_their_tick_tier(sim: Sim) -> None:
    instruments = await sim.ok("public/get_instruments", {"currency": "BTC", "kind": "option"})
    names = [i["instrument_name"] for i in instruments if "-25DEC26-" in i["instrument_name"]][::3]  # within credits
    seen_above = 0
    for name in names:
        book = await sim.ok("public/get_order_book", {"instrument_name": name, "depth": 20})
        for price, _ in book["bids"] + book["asks"]:
            price = Decimal(str(price))
            tick = Decimal("0.0005") if price > Decimal("0.005") else Decimal("0.0001")
            assert price % tick == 0, (name, price)
            seen_above += price > Decimal("0.005")
        ticker = await sim.ok("public/ticker", {"instrument_name": name})
        assert book["best_bid_price"] == ticker["best_bid_price"]
    assert seen_above > 0
