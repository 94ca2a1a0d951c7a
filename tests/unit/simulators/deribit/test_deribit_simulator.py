"""The Deribit simulator over HTTP (ASGI and real loopback sockets) and through the real DeribitClient."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
import numpy as np
import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.common import options as quant
from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit import analytics, tools
from cerbero_mcp.exchanges.deribit import schemas as s
from cerbero_mcp.exchanges.deribit.client import DeribitClient
from cerbero_mcp.simulators.deribit.simulator import SPEC, TOKEN_TTL_S, build_app
from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig, start_simulators

T0 = 1_772_452_800.0  # 2026-03-02T12:00:00Z, a Monday
T0_MS = int(T0 * 1000)
CREDS = {"client_id": "bot-id", "client_secret": "bot-secret"}
OPTION_EXPIRIES = {"6MAR26", "13MAR26", "20MAR26", "27MAR26", "24APR26", "29MAY26", "26JUN26", "25SEP26", "25DEC26"}
BTC_STRIKES = set(range(50_000, 200_001, 5_000))
CALL = "BTC-25DEC26-100000-C"


class Sim:
    """One simulator app driven over ASGI."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock) -> None:
        self.http = http
        self.clock = clock
        self.token: str | None = None

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, token: str | None = None, rpc_id: int = 1
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params or {}}
        r = await self.http.post("/api/v2/", json=body, headers=headers)
        return r.status_code, r.json()

    async def ok(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        status, body = await self.call(method, params, **kw)
        assert status == 200, body
        return body["result"]

    async def private(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if self.token is None:
            self.token = await self.login()
        return await self.ok(method, params, token=self.token)

    async def private_error(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.token is None:
            self.token = await self.login()
        status, body = await self.call(method, params, token=self.token)
        assert "error" in body, body
        return status, body["error"]

    async def login(self) -> str:
        result = await self.ok("public/auth", {"grant_type": "client_credentials", **CREDS})
        return str(result["access_token"])


def make_app(clock: ManualClock, env: Literal["testnet", "mainnet"] = "testnet", seed: int = 11, **kw: Any) -> Any:
    return build_app(SimulatorConfig("deribit", env, seed, CREDS, clock), **kw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Sim]:
    transport = httpx.ASGITransport(app=make_app(clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://deribit.sim") as http:
        yield Sim(http, clock)


def aligned(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 8)


# --- protocol, auth and limits -----------------------------------------------------------------


async def test_auth_issues_bearer_tokens_and_refuses_a_bad_secret(sim: Sim) -> None:
    result = await sim.ok("public/auth", {"grant_type": "client_credentials", **CREDS})
    assert result["token_type"] == "bearer"
    assert result["expires_in"] == TOKEN_TTL_S == 900
    assert result["access_token"] != result["refresh_token"]
    assert "connection" in result["scope"]
    status, body = await sim.call(
        "public/auth", {"grant_type": "client_credentials", "client_id": "bot-id", "client_secret": "wrong"}
    )
    assert status == 401
    assert body["error"]["code"] == 13004
    assert body["error"]["message"] == "invalid_credentials"
    r = await sim.http.get("/api/v2/public/auth", params={"grant_type": "client_credentials", **CREDS})
    assert r.status_code == 200
    assert r.json()["result"]["access_token"]


async def test_private_calls_need_a_live_token_and_refresh_works(sim: Sim, clock: ManualClock) -> None:
    for token in (None, "not-a-token"):
        status, body = await sim.call("private/get_account_summary", {"currency": "BTC"}, token=token)
        assert (status, body["error"]["code"], body["error"]["message"]) == (401, 13009, "unauthorized")
    grant = await sim.ok("public/auth", {"grant_type": "client_credentials", **CREDS})
    summary = await sim.ok("private/get_account_summary", {"currency": "BTC"}, token=grant["access_token"])
    assert summary["balance"] == 10
    clock.advance(TOKEN_TTL_S + 1)
    status, body = await sim.call("private/get_positions", {}, token=grant["access_token"])
    assert (status, body["error"]["code"]) == (401, 13009)
    fresh = await sim.ok("public/auth", {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]})
    assert await sim.ok("private/get_positions", {}, token=fresh["access_token"]) == []
    status, body = await sim.call(
        "public/auth", {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    )
    assert (status, body["error"]["code"]) == (401, 13004)  # refresh tokens are single use


async def test_signed_requests_and_the_client_signature_grant(sim: Sim, clock: ManualClock) -> None:
    def sign(ts: int, nonce: str, payload: str) -> str:
        return hmac.new(CREDS["client_secret"].encode(), payload.encode(), hashlib.sha256).hexdigest()

    uri = "/api/v2/private/get_account_summary?currency=BTC"
    for age_s, expected in ((0, 200), (61, 401)):
        ts = T0_MS - age_s * 1000
        sig = sign(ts, "n1", f"{ts}\nn1\nGET\n{uri}\n\n")
        header = f"deri-hmac-sha256 id={CREDS['client_id']},ts={ts},sig={sig},nonce=n1"
        r = await sim.http.get(uri, headers={"Authorization": header})
        assert r.status_code == expected, r.text
    basic = base64.b64encode(f"{CREDS['client_id']}:{CREDS['client_secret']}".encode()).decode()
    r = await sim.http.get(uri, headers={"Authorization": f"Basic {basic}"})
    assert r.json()["result"]["currency"] == "BTC"
    grant = {"grant_type": "client_signature", "client_id": CREDS["client_id"], "timestamp": T0_MS, "nonce": "n2",
             "data": "", "signature": sign(T0_MS, "n2", f"{T0_MS}\nn2\n")}  # fmt: skip
    assert (await sim.ok("public/auth", grant))["token_type"] == "bearer"
    status, _ = await sim.call("public/auth", {**grant, "signature": "0" * 64})
    assert status == 401


async def test_token_lifetime_can_be_shortened(clock: ManualClock) -> None:
    transport = httpx.ASGITransport(app=make_app(clock, token_ttl_s=5))
    async with httpx.AsyncClient(transport=transport, base_url="http://deribit.sim") as http:
        sim = Sim(http, clock)
        grant = await sim.ok("public/auth", {"grant_type": "client_credentials", **CREDS})
        assert grant["expires_in"] == 5
        clock.advance(6)
        status, _ = await sim.call("private/get_positions", {}, token=grant["access_token"])
        assert status == 401


async def test_get_and_post_forms_share_one_envelope(sim: Sim) -> None:
    status, body = await sim.call("public/test", rpc_id=7)
    assert status == 200
    assert body["id"] == 7
    assert body["jsonrpc"] == "2.0"
    assert body["testnet"] is True
    assert body["usIn"] == T0_MS * 1000
    assert body["usOut"] - body["usIn"] == body["usDiff"] > 0
    r = await sim.http.post("/api/v2", json={"jsonrpc": "2.0", "id": 8, "method": "public/get_time"})
    assert (r.status_code, r.json()["id"], r.json()["result"]) == (200, 8, T0_MS)
    r = await sim.http.get("/api/v2/public/get_time")
    assert r.json()["result"] == T0_MS
    token = await sim.login()
    r = await sim.http.get(
        "/api/v2/private/get_account_summary", params={"currency": "ETH"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.json()["result"]["equity"] == 150
    status, body = await sim.call("public/no_such_method", rpc_id=9)
    assert (status, body["id"], body["error"]["code"]) == (400, 9, -32601)
    r = await sim.http.get("/api/v2/public/deeper/path")
    assert (r.status_code, r.json()["error"]["code"]) == (400, -32601)
    r = await sim.http.post("/api/v2/", content=b"{not json")
    assert (r.status_code, r.json()["error"]["code"]) == (400, -32700)
    r = await sim.http.get("/api/v2/public/get_order_book", params={"instrument_name": "BTC-PERPETUAL", "depth": "7"})
    assert r.status_code == 400
    assert r.json()["error"]["data"]["param"] == "depth"


async def test_mainnet_instance_has_its_own_prices(clock: ManualClock) -> None:
    prices = {}
    envs: tuple[tuple[Literal["testnet", "mainnet"], int], ...] = (("testnet", 1), ("mainnet", 2))
    for env, seed in envs:
        transport = httpx.ASGITransport(app=make_app(clock, env, seed))
        async with httpx.AsyncClient(transport=transport, base_url="http://deribit.sim") as http:
            clock.set(T0 + 3 * 86400)
            _, body = await Sim(http, clock).call("public/get_index_price", {"index_name": "btc_usd"})
            assert body["testnet"] is (env == "testnet")
            prices[env] = body["result"]["index_price"]
    assert prices["testnet"] != prices["mainnet"]


async def test_credit_bucket_answers_10028_when_hammered(sim: Sim, clock: ManualClock) -> None:
    token = await sim.login()  # one public call already spent
    for _ in range(99):
        assert (await sim.call("public/test"))[0] == 200
    status, body = await sim.call("public/test")
    assert (status, body["error"]["code"], body["error"]["message"]) == (429, 10028, "too_many_requests")
    assert await sim.ok("private/get_positions", {}, token=token) == []  # another client, another bucket
    clock.advance(0.05)  # 500 credits at 10,000 per second
    assert (await sim.call("public/test"))[0] == 200
    assert (await sim.call("public/test"))[0] == 429


# --- instruments and market data ---------------------------------------------------------------


async def test_instruments_use_deribit_names_and_a_fixed_strike_grid(sim: Sim, clock: ManualClock) -> None:
    futures = await sim.ok("public/get_instruments", {"currency": "BTC", "kind": "future"})
    names = [i["instrument_name"] for i in futures]
    assert names == ["BTC-27MAR26", "BTC-26JUN26", "BTC-25SEP26", "BTC-25DEC26", "BTC-PERPETUAL"]
    perp = futures[-1]
    assert perp["instrument_type"] == "reversed"
    assert (perp["contract_size"], perp["min_trade_amount"], perp["tick_size"]) == (10, 10, 0.5)
    assert perp["settlement_period"] == "perpetual"
    opts = await sim.ok("public/get_instruments", {"currency": "BTC", "kind": "option"})
    by_expiry: dict[str, set[tuple[int, str]]] = {}
    for item in opts:
        _, code, strike, kind = item["instrument_name"].split("-")
        by_expiry.setdefault(code, set()).add((int(strike), kind))
        expiry = datetime.fromtimestamp(item["expiration_timestamp"] / 1000, UTC)
        assert (expiry.hour, expiry.minute, expiry.weekday()) == (8, 0, 4)
        assert (item["min_trade_amount"], item["contract_size"], item["quote_currency"]) == (0.1, 1, "BTC")
    assert set(by_expiry) == OPTION_EXPIRIES
    assert all(pairs == {(k, c) for k in BTC_STRIKES for c in "CP"} for pairs in by_expiry.values())
    one = await sim.ok("public/get_instrument", {"instrument_name": CALL})
    assert (one["strike"], one["option_type"], one["kind"]) == (100_000, "call", "option")
    eth = await sim.ok("public/get_instruments", {"currency": "ETH"})
    eth_perp = next(i for i in eth if i["instrument_name"] == "ETH-PERPETUAL")
    assert (eth_perp["contract_size"], eth_perp["tick_size"]) == (1, 0.05)
    eth_strikes = {int(i["instrument_name"].split("-")[2]) for i in eth if i["kind"] == "option"}
    assert eth_strikes == set(range(1_000, 8_001, 250))
    status, body = await sim.call("public/get_instrument", {"instrument_name": "BTC-1JAN20-1-C"})
    assert status == 400
    assert body["error"]["code"] == -32602
    assert body["error"]["data"]["reason"] == "instrument not found"
    assert body["error"]["data"]["param"] == "instrument_name"
    clock.set(datetime(2026, 3, 6, 9, tzinfo=UTC).timestamp())  # the first Friday has expired
    live = {i["instrument_name"] for i in await sim.ok("public/get_instruments", {"currency": "BTC", "kind": "option"})}
    expired = await sim.ok("public/get_instruments", {"currency": "BTC", "kind": "option", "expired": True})
    assert "BTC-6MAR26-100000-C" not in live
    assert "BTC-3APR26-100000-C" in live  # a new weekly was listed
    assert {i["instrument_name"].split("-")[1] for i in expired} == {"6MAR26"}


async def test_ticker_and_order_book_shapes(sim: Sim) -> None:
    perp = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    assert perp["timestamp"] == T0_MS
    assert perp["best_bid_price"] < perp["mark_price"] < perp["best_ask_price"]
    assert perp["open_interest"] > 0
    assert isinstance(perp["current_funding"], float)
    assert isinstance(perp["funding_8h"], float)
    assert set(perp["stats"]) >= {"high", "low", "volume", "volume_usd", "price_change"}
    assert perp["stats"]["low"] <= perp["mark_price"] <= perp["stats"]["high"]
    assert 50_000 < perp["index_price"] < 200_000
    option = await sim.ok("public/ticker", {"instrument_name": CALL})
    assert set(option["greeks"]) == {"delta", "gamma", "vega", "theta", "rho"}
    assert 0 < option["greeks"]["delta"] < 1
    assert 20 < option["mark_iv"] < 150
    assert option["bid_iv"] <= option["mark_iv"] <= option["ask_iv"]
    assert option["underlying_index"] == "BTC-25DEC26"
    assert option["underlying_price"] > option["index_price"]  # positive carry
    book = await sim.ok("public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 10})
    bids, asks = book["bids"], book["asks"]
    assert len(bids) == len(asks) == 10
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert bids[0][0] == book["best_bid_price"] < asks[0][0] == book["best_ask_price"]
    assert all(q > 0 and q % 10 == 0 for _, q in bids + asks)
    assert isinstance(book["change_id"], int)
    status, body = await sim.call("public/ticker", {"instrument_name": "BTC-NOPE"})
    assert (status, body["error"]["code"]) == (400, -32602)


async def test_candles_stop_at_now_and_add_up_across_resolutions(sim: Sim) -> None:
    params = {"instrument_name": "BTC-PERPETUAL", "resolution": "1"}
    minutes = await sim.ok(
        "public/get_tradingview_chart_data",
        {**params, "start_timestamp": T0_MS - 600_000, "end_timestamp": T0_MS + 3_600_000},
    )
    assert minutes["status"] == "ok"
    assert minutes["ticks"][-1] <= T0_MS
    assert np.all(np.diff(minutes["ticks"]) == 60_000)
    assert {len(minutes[k]) for k in ("open", "high", "low", "close", "volume", "cost")} == {len(minutes["ticks"])}
    start = T0_MS - 3_600_000
    ones = await sim.ok(
        "public/get_tradingview_chart_data", {**params, "start_timestamp": start, "end_timestamp": start + 240_000}
    )
    five = await sim.ok(
        "public/get_tradingview_chart_data",
        {**params, "resolution": "5", "start_timestamp": start, "end_timestamp": start},
    )
    assert ones["ticks"] == [start + i * 60_000 for i in range(5)]
    assert five["ticks"] == [start]
    assert five["open"][0] == ones["open"][0]
    assert five["close"][0] == ones["close"][-1]
    assert five["high"][0] == max(ones["high"])
    assert five["low"][0] == min(ones["low"])
    assert five["volume"][0] == pytest.approx(sum(ones["volume"]), rel=1e-9)
    assert five["cost"][0] == pytest.approx(sum(ones["cost"]), rel=1e-9)
    future = await sim.ok(
        "public/get_tradingview_chart_data",
        {**params, "start_timestamp": T0_MS + 60_000, "end_timestamp": T0_MS + 600_000},
    )
    assert future["status"] == "no_data"
    assert future["ticks"] == []
    daily = await sim.ok(
        "public/get_tradingview_chart_data",
        {**params, "resolution": "1D", "start_timestamp": T0_MS - 5 * 86_400_000, "end_timestamp": T0_MS},
    )
    assert all(t % 86_400_000 == 0 for t in daily["ticks"])
    assert daily["close"][-1] == minutes["close"][-1]


async def test_book_summaries_carry_mark_iv_the_forward_and_open_interest(sim: Sim) -> None:
    rows = await sim.ok("public/get_book_summary_by_currency", {"currency": "BTC", "kind": "option"})
    assert len(rows) == len(OPTION_EXPIRIES) * len(BTC_STRIKES) * 2
    assert all(r["mark_iv"] > 0 and r["underlying_price"] > 0 for r in rows)
    forwards: dict[str, set[float]] = {}
    for r in rows:
        forwards.setdefault(r["instrument_name"].split("-")[1], set()).add(r["underlying_price"])
    assert all(len(f) == 1 for f in forwards.values())
    futures = {
        r["instrument_name"]: r
        for r in await sim.ok("public/get_book_summary_by_currency", {"currency": "BTC", "kind": "future"})
    }
    assert futures["BTC-PERPETUAL"]["funding_8h"] is not None
    assert forwards["25DEC26"].pop() == pytest.approx(futures["BTC-25DEC26"]["mark_price"], rel=1e-4)
    near = [r for r in rows if r["instrument_name"].startswith("BTC-6MAR26-")]
    spot = near[0]["underlying_price"]
    atm = [r for r in near if abs(float(r["instrument_name"].split("-")[2]) / spot - 1) < 0.05]
    wings = [r for r in near if float(r["instrument_name"].split("-")[2]) >= 150_000]
    assert {r["instrument_name"][-1] for r in atm if r["open_interest"] > 0} == {"C", "P"}
    assert np.mean([r["open_interest"] for r in atm]) > 5 * np.mean([r["open_interest"] for r in wings])
    everything = await sim.ok("public/get_book_summary_by_currency", {"currency": "BTC"})
    assert len(everything) == len(rows) + len(futures)


async def test_the_smile_has_negative_skew(sim: Sim) -> None:
    rows = await sim.ok("public/get_book_summary_by_currency", {"currency": "BTC", "kind": "option"})
    quotes = []
    for r in rows:
        _, code, strike, kind = r["instrument_name"].split("-")
        expiry = analytics.parse_expiry(code).timestamp()
        quotes.append(
            quant.OptionQuote(
                strike=float(strike),
                expiry_years=(expiry - T0) / (365 * 86400),
                kind="call" if kind == "C" else "put",
                iv=r["mark_iv"] / 100,
                forward=r["underlying_price"],
                open_interest=r["open_interest"],
            )
        )
    skew = quant.skew_25d(quant.OptionChain.from_quotes(quotes))
    finite = [(p, c) for p, c in zip(skew.put_25d_iv, skew.call_25d_iv, strict=True) if math.isfinite(p - c)]
    assert len(finite) >= 6
    assert all(put > call for put, call in finite)  # puts richer


async def test_dvol_pages_backwards_through_continuation(sim: Sim) -> None:
    start = T0_MS - 60 * 86_400_000
    params = {"currency": "BTC", "resolution": "3600", "start_timestamp": start, "end_timestamp": T0_MS + 3_600_000}
    first = await sim.ok("public/get_volatility_index_data", params)
    assert len(first["data"]) == 1000
    assert first["data"][-1][0] == T0_MS  # never after now
    assert first["continuation"] == first["data"][0][0] - 1
    second = await sim.ok("public/get_volatility_index_data", {**params, "end_timestamp": first["continuation"]})
    assert second["continuation"] is None
    ticks = [p[0] for p in second["data"] + first["data"]]
    assert ticks == list(range(start, T0_MS + 1, 3_600_000))
    for _, o, h, lo, c in second["data"] + first["data"]:
        assert 40 < lo <= min(o, c) <= max(o, c) <= h < 70
    assert await sim.ok("public/get_volatility_index_data", params) == first  # deterministic
    status, _ = await sim.call("public/get_volatility_index_data", {**params, "currency": "USDC"})
    assert status == 400


# --- orders and positions ----------------------------------------------------------------------


async def test_post_only_limit_rests_then_is_edited_and_cancelled(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    price = ticker["best_bid_price"] - 10
    placed = await sim.private(
        "private/buy",
        {
            "instrument_name": "BTC-PERPETUAL",
            "amount": 100,
            "type": "limit",
            "price": price,
            "post_only": True,
            "label": "bot-1",
        },
    )
    order = placed["order"]
    assert (order["order_id"], order["order_state"], order["label"], placed["trades"]) == ("BTC-1", "open", "bot-1", [])
    assert (order["amount"], order["price"], order["post_only"], order["filled_amount"]) == (100, price, True, 0)
    book = await sim.ok("public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 100})
    assert any(p == price and q >= 100 for p, q in book["bids"])
    by_ccy = await sim.private("private/get_open_orders_by_currency", {"currency": "BTC"})
    by_inst = await sim.private("private/get_open_orders_by_instrument", {"instrument_name": "BTC-PERPETUAL"})
    assert [o["order_id"] for o in by_ccy] == [o["order_id"] for o in by_inst] == ["BTC-1"]
    status, err = await sim.private_error(
        "private/buy",
        {
            "instrument_name": "BTC-PERPETUAL",
            "amount": 100,
            "type": "limit",
            "price": ticker["best_ask_price"],
            "post_only": True,
            "reject_post_only": True,  # without it Deribit would move the order inside the spread
        },
    )
    assert (status, err["code"], err["message"]) == (400, 11054, "post_only_reject")
    edited = await sim.private("private/edit", {"order_id": "BTC-1", "amount": 200, "price": price - 1})
    assert (edited["order"]["order_id"], edited["order"]["amount"], edited["order"]["price"]) == (
        "BTC-1",
        200,
        price - 1,
    )
    assert edited["order"]["replaced"] is True
    summary = await sim.private("private/get_account_summary", {"currency": "BTC"})
    assert summary["initial_margin"] > 0  # the resting order reserves margin
    cancelled = await sim.private("private/cancel", {"order_id": "BTC-1"})
    assert cancelled["order_state"] == "cancelled"
    assert await sim.private("private/get_open_orders_by_currency", {"currency": "BTC"}) == []
    state = await sim.private("private/get_order_state", {"order_id": "BTC-1"})
    assert state["order_state"] == "cancelled"
    for method in ("private/cancel", "private/get_order_state"):
        status, err = await sim.private_error(method, {"order_id": "BTC-999"})
        assert (status, err["code"]) == (400, 10004)
    status, err = await sim.private_error("private/cancel", {"order_id": "BTC-1"})
    assert err["code"] == 10004
    nxt = await sim.private(
        "private/sell",
        {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": ticker["best_ask_price"] + 50},
    )
    assert nxt["order"]["order_id"] == "BTC-2"  # the refused post-only used no id


async def test_market_round_trip_opens_and_closes_a_position(sim: Sim, clock: ManualClock) -> None:
    bought = await sim.private(
        "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 1000, "type": "market", "label": "open"}
    )
    assert bought["order"]["order_state"] == "filled"
    assert bought["order"]["price"] == bought["order"]["average_price"]  # documented: a number once executed
    assert sum(t["amount"] for t in bought["trades"]) == 1000
    assert all(t["liquidity"] == "T" and t["fee"] > 0 for t in bought["trades"])
    (pos,) = await sim.private("private/get_positions", {"currency": "BTC", "kind": "future"})
    assert (pos["instrument_name"], pos["direction"], pos["size"], pos["kind"]) == (
        "BTC-PERPETUAL",
        "buy",
        1000,
        "future",
    )
    assert pos["average_price"] == bought["order"]["average_price"]
    assert pos["size_currency"] == pytest.approx(1000 / pos["mark_price"], rel=1e-6)
    assert pos["initial_margin"] > 0
    summary = await sim.private("private/get_account_summary", {"currency": "BTC"})
    assert summary["delta_total"] == pytest.approx(pos["delta"])
    assert summary["equity"] == pytest.approx(summary["balance"] + summary["session_upl"])
    clock.advance(120)
    status, err = await sim.private_error(
        "private/sell", {"instrument_name": "BTC-PERPETUAL", "amount": 2000, "type": "market", "reduce_only": True}
    )
    assert (status, err["code"]) == (400, 11052)
    sold = await sim.private(
        "private/sell", {"instrument_name": "BTC-PERPETUAL", "amount": 1000, "type": "market", "reduce_only": True}
    )
    assert sold["order"]["order_state"] == "filled"
    assert sold["order"]["order_id"] == "BTC-2"
    (flat,) = await sim.private("private/get_positions", {"currency": "BTC"})
    assert (flat["size"], flat["direction"]) == (0, "zero")
    assert flat["realized_profit_loss"] == pytest.approx(sum(t["profit_loss"] for t in sold["trades"]))
    summary = await sim.private("private/get_account_summary", {"currency": "BTC"})
    assert summary["session_rpl"] == pytest.approx(flat["realized_profit_loss"])
    assert summary["initial_margin"] == 0


async def test_refusals_map_to_deribit_codes_and_use_no_order_id(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    low = ticker["best_bid_price"] - 1000
    status, err = await sim.private_error(
        "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 100_000_000, "type": "limit", "price": low}
    )
    assert (status, err["code"], err["message"]) == (400, 10009, "not_enough_funds")
    status, err = await sim.private_error("private/buy", {"instrument_name": CALL, "amount": 1000, "type": "market"})
    assert err["code"] == 10009
    status, err = await sim.private_error("private/buy", {"instrument_name": "BTC-NOPE", "amount": 10})
    assert (err["code"], err["data"]["reason"]) == (-32602, "instrument not found")
    status, err = await sim.private_error(
        "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 15, "type": "market"}
    )
    assert (err["code"], err["data"]["reason"]) == (-32602, "amount must be a multiple of contract_size")
    status, err = await sim.private_error(
        "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": low + 0.3}
    )
    assert (err["code"], err["data"]["reason"]) == (-32602, "price must be a multiple of tick_size")
    status, err = await sim.private_error(
        "private/buy",
        {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": low, "label": "x" * 65},
    )
    assert err["data"]["param"] == "label"
    ids = []
    for name, amount in (("BTC-PERPETUAL", 10), ("BTC-PERPETUAL", 10), ("ETH-PERPETUAL", 1), (CALL, 0.1)):
        result = await sim.private(
            "private/buy", {"instrument_name": name, "amount": amount, "type": "market", "label": "same"}
        )
        ids.append(result["order"]["order_id"])
    assert ids == ["BTC-1", "BTC-2", "ETH-1", "BTC-3"]  # labels may repeat
    labelled = await sim.private("private/get_order_state_by_label", {"currency": "BTC", "label": "same"})
    assert len(labelled) == 3


async def test_fill_or_kill_that_cannot_fill_comes_back_cancelled(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    result = await sim.private(
        "private/buy",
        {
            "instrument_name": "BTC-PERPETUAL",
            "amount": 100,
            "type": "limit",
            "price": ticker["best_bid_price"] - 100,
            "time_in_force": "fill_or_kill",
        },
    )
    order = result["order"]
    assert (order["order_id"], order["order_state"], order["filled_amount"], result["trades"]) == (
        "BTC-1",
        "cancelled",
        0,
        [],
    )
    assert (await sim.private("private/get_order_state", {"order_id": "BTC-1"}))["order_state"] == "cancelled"


async def test_stop_orders_wait_untriggered(sim: Sim) -> None:
    ticker = await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
    params = {
        "instrument_name": "BTC-PERPETUAL",
        "amount": 100,
        "type": "stop_market",
        "trigger_price": aligned(ticker["mark_price"] * 1.2, 0.5),
    }
    _, err = await sim.private_error("private/buy", params)
    assert err["data"]["param"] == "trigger"
    stop = (await sim.private("private/buy", {**params, "trigger": "last_price"}))["order"]
    assert (stop["order_state"], stop["order_type"], stop["trigger"], stop["triggered"]) == (
        "untriggered",
        "stop_market",
        "last_price",
        False,
    )
    assert stop["trigger_price"] == params["trigger_price"]
    stops = await sim.private("private/get_open_orders_by_currency", {"currency": "BTC", "type": "trigger_all"})
    assert [o["order_id"] for o in stops] == [stop["order_id"]]


async def test_cancel_all_variants_return_counts(sim: Sim) -> None:
    btc = (await sim.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"}))["best_bid_price"] - 500
    eth = (await sim.ok("public/ticker", {"instrument_name": "ETH-PERPETUAL"}))["best_bid_price"] - 50
    for name, amount, price in (
        ("BTC-PERPETUAL", 10, btc),
        ("BTC-PERPETUAL", 20, btc),
        (CALL, 0.1, 0.001),
        ("ETH-PERPETUAL", 1, eth),
        ("ETH-PERPETUAL", 2, eth),
    ):
        await sim.private("private/buy", {"instrument_name": name, "amount": amount, "type": "limit", "price": price})
    assert await sim.private("private/cancel_all_by_instrument", {"instrument_name": "BTC-PERPETUAL"}) == 2
    assert await sim.private("private/cancel_all_by_currency", {"currency": "ETH"}) == 2
    assert await sim.private("private/cancel_all", {}) == 1
    assert await sim.private("private/cancel_all", {}) == 0


async def test_combo_trades_every_leg_at_once(sim: Sim) -> None:
    legs = [
        {"instrument_name": CALL, "amount": 1, "direction": "buy"},
        {"instrument_name": "BTC-25DEC26-120000-C", "amount": 1, "direction": "sell"},
    ]
    combo = await sim.private("private/create_combo", {"trades": legs})
    assert combo["id"] == "BTC-CS-25DEC26-100000_120000"
    assert set(combo) == {"id", "instrument_id", "state", "state_timestamp", "creation_timestamp", "legs"}
    assert [leg["amount"] for leg in combo["legs"]] == [1, -1]
    again = await sim.private("private/create_combo", {"trades": [{**leg, "amount": 2} for leg in legs]})
    assert again["id"] == combo["id"]  # ratios are normalised
    rules = await sim.ok("public/get_instrument", {"instrument_name": combo["id"]})
    assert (rules["instrument_name"], rules["kind"]) == (combo["id"], "option_combo")
    assert (rules["tick_size"], rules["min_trade_amount"]) == (0.0001, 0.1)
    result = await sim.private("private/buy", {"instrument_name": combo["id"], "amount": 1, "type": "market"})
    order, trades = result["order"], result["trades"]
    assert (order["order_id"], order["order_state"], order["instrument_name"]) == ("BTC-1", "filled", combo["id"])
    assert sorted((t["instrument_name"], t["direction"], t["amount"]) for t in trades) == [
        (CALL, "buy", 1),
        ("BTC-25DEC26-120000-C", "sell", 1),
    ]
    assert all(t["combo_id"] == combo["id"] and t["order_id"] == "BTC-1" for t in trades)
    prices = {t["instrument_name"]: Decimal(str(t["price"])) for t in trades}
    assert Decimal(str(order["average_price"])) == prices[CALL] - prices["BTC-25DEC26-120000-C"]
    positions = {
        p["instrument_name"]: p["size"] for p in await sim.private("private/get_positions", {"currency": "BTC"})
    }
    assert positions == {CALL: 1, "BTC-25DEC26-120000-C": -1}
    before = await sim.private("private/get_account_summary", {"currency": "BTC"})
    status, err = await sim.private_error(
        "private/sell", {"instrument_name": combo["id"], "amount": 1, "type": "limit", "price": 0.5}
    )
    assert (status, err["code"]) == (400, 11050)
    _, err = await sim.private_error("private/buy", {"instrument_name": combo["id"], "amount": 30, "type": "market"})
    assert err["code"] == 10009  # the short leg cannot be margined: nothing of the combo happens
    after = await sim.private("private/get_account_summary", {"currency": "BTC"})
    assert (after["balance"], after["initial_margin"]) == (before["balance"], before["initial_margin"])
    positions = {
        p["instrument_name"]: p["size"] for p in await sim.private("private/get_positions", {"currency": "BTC"})
    }
    assert positions == {CALL: 1, "BTC-25DEC26-120000-C": -1}
    nxt = await sim.private("private/sell", {"instrument_name": combo["id"], "amount": 1, "type": "market"})
    assert nxt["order"]["order_id"] == "BTC-2"
    flat = {p["instrument_name"]: p["size"] for p in await sim.private("private/get_positions", {"currency": "BTC"})}
    assert flat == {CALL: 0, "BTC-25DEC26-120000-C": 0}


# --- through the gateway's client and tools ------------------------------------------------------


class Ctx:
    """The part of a ToolContext the Deribit tools use."""

    environment = "testnet"

    def __init__(self, client: DeribitClient) -> None:
        self._client = client

    async def client(self) -> DeribitClient:
        return self._client

    def require_credentials(self) -> dict[str, str]:
        return {}


async def test_the_deribit_client_over_loopback() -> None:
    clock = ManualClock(T0)
    with start_simulators([SPEC], clock=clock) as stack:
        url = stack.url("deribit", "testnet")
        assert stack.overrides["DERIBIT_URL_TESTNET"] == f"{url}/api/v2"
        assert stack.overrides["DERIBIT_URL_LIVE"] == f"{stack.url('deribit', 'mainnet')}/api/v2"
        creds = stack.credentials("deribit", "testnet")
        assert stack.overrides["DERIBIT_CLIENT_SECRET_TESTNET"] == creds["client_secret"]
        assert stack.overrides["DERIBIT_CLIENT_ID_LIVE"] == stack.credentials("deribit", "mainnet")["client_id"]
        client = DeribitClient(
            UpstreamHTTP("deribit", f"{url}/api/v2"), "testnet", creds["client_id"], creds["client_secret"]
        )
        bad = DeribitClient(UpstreamHTTP("deribit", f"{url}/api/v2"), "testnet", creds["client_id"], "nope")
        try:
            await client.probe()
            ticker = await client.public_ticker("BTC-PERPETUAL")
            assert isinstance(ticker["mark_price"], Decimal)
            summary = await client.private_get_account_summary("BTC")
            assert summary["equity"] == 10
            result = await client.private_buy(
                {"instrument_name": "BTC-PERPETUAL", "amount": Decimal(100), "type": "market"}
            )
            assert result["order"]["order_id"] == "BTC-1"
            clock.advance(TOKEN_TTL_S + 1)  # the client's token is now refused once: it refreshes and repeats
            positions = await client.private_get_positions("BTC")
            assert positions[0]["size"] == 100
            recorded = stack.control("deribit", "testnet").recorded("/api/v2/public/auth")
            grants = [r.query_params.get("grant_type") or r.body["params"]["grant_type"] for r in recorded]
            assert grants == ["client_credentials", "refresh_token"]
            with pytest.raises(errors.InsufficientFundsError):
                await client.private_buy({"instrument_name": CALL, "amount": Decimal(1000), "type": "market"})
            with pytest.raises(errors.InvalidInputError):
                await client.public_get_instrument("BTC-NOPE")
            with pytest.raises(errors.OrderNotFoundError):
                await client.private_get_order_state("BTC-999")
            with pytest.raises(errors.UpstreamAuthError):
                await bad.private_get_positions()
            assert await client.private_cancel_all() == 0
        finally:
            await client.aclose()
            await bad.aclose()


async def test_the_gateway_tools_run_against_the_simulator() -> None:
    clock = ManualClock(T0 + 1_800)  # off the hour: a window that ends on the hour holds one more bar
    previous = use_clock(clock)  # the tools measure expiries and windows on the process clock
    with start_simulators([SPEC], clock=clock, envs=("testnet",)) as stack:
        creds = stack.credentials("deribit", "testnet")
        client = DeribitClient(
            UpstreamHTTP("deribit", f"{stack.url('deribit', 'testnet')}/api/v2"),
            "testnet",
            creds["client_id"],
            creds["client_secret"],
        )
        ctx: Any = Ctx(client)
        try:
            ticker = await tools.get_ticker(ctx, v.InstrumentRequest(instrument="BTC-PERPETUAL"))
            assert ticker.bid is not None
            assert ticker.ask is not None
            assert ticker.bid < ticker.ask
            bars = await tools.get_bars(ctx, v.BarsRequest(instrument="BTC-PERPETUAL", resolution="4h", limit=12))
            assert len(bars.bars) == 12
            skew = await analytics.get_skew_25d(ctx, s.SurfaceRequest(currency="BTC"))
            assert skew.points
            assert all(p.risk_reversal_25d < 0 for p in skew.points)
            term = await analytics.get_term_structure(ctx, s.SurfaceRequest(currency="ETH"))
            assert len(term.points) >= 6
            found = await analytics.find_by_delta(ctx, s.FindByDeltaRequest(target_delta=0.25, kind="call"))
            assert 0.1 < found.delta < 0.4
            dvol = await analytics.get_dvol(ctx, s.DvolRequest(currency="BTC", resolution="1h", hours=24 * 60))
            assert len(dvol.points) == 24 * 60
            rank = await analytics.get_iv_rank(ctx, s.IvRankRequest(currency="ETH", lookback_days=365))
            assert 0 <= rank.iv_rank <= 100
            placed = await tools.place_order(
                ctx, v.PlaceOrderRequest(instrument="BTC-PERPETUAL", side="buy", type="market", quantity=Decimal(100))
            )
            assert placed.order.status == "filled"
            positions = await tools.get_positions(ctx, v.PositionsRequest(currency="BTC"))
            assert [(p.instrument, p.side, p.size) for p in positions.positions] == [
                ("BTC-PERPETUAL", "long", Decimal(100))
            ]
            closed = await tools.close_position(ctx, v.ClosePositionRequest(instrument="BTC-PERPETUAL"))
            assert closed.order is not None
            assert closed.order.order.status == "filled"
            combo = await analytics.place_combo_order(
                ctx,
                s.ComboOrderRequest(
                    legs=[
                        s.ComboLeg(instrument=found.instrument, side="buy", quantity=Decimal(1)),
                        s.ComboLeg(instrument="BTC-PERPETUAL", side="sell", quantity=Decimal(10)),
                    ],
                    side="buy",
                    quantity=Decimal(1),
                    type="market",
                ),
            )
            assert combo.order.status == "filled"
            assert len(combo.fills) >= 2
        finally:
            await client.aclose()
            use_clock(previous)
