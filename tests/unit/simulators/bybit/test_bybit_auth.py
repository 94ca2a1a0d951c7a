"""The Bybit simulator's signatures, environments, rate limits and Demo Trading subset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bybit_sim import CREDS, T0, T0_MS, Sim, make_app, open_sim, sign
from pybit import _helpers
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

from cerbero_mcp.simulators.bybit.auth import IP_LIMIT
from cerbero_mcp.simulators.bybit.simulator import DEMO_SPEC, SPEC
from cerbero_mcp.simulators.engine import ManualClock, SimStack, installed_simulators, start_simulators

WALLET = "accountType=UNIFIED"


@pytest.fixture
def stack() -> Iterator[SimStack]:
    """Serve a testnet and a mainnet instance on loopback, on a clock frozen at T0."""
    with start_simulators([SPEC], clock=ManualClock(T0)) as s:
        yield s


def pybit_session(stack: SimStack, env: str, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> HTTP:
    """Return pybit's own client pointed at an instance, stamping requests with the simulator's clock."""
    monkeypatch.setattr(_helpers, "generate_timestamp", lambda: int(stack.clock.now() * 1000))
    creds = stack.credentials("bybit", env)
    session = HTTP(testnet=True, api_key=creds["api_key"], api_secret=creds["api_secret"], max_retries=1, **kw)
    session.endpoint = stack.url("bybit", env)
    return session


# --- signatures --------------------------------------------------------------------------------


def test_signatures_computed_by_pybit_are_accepted(stack: SimStack, monkeypatch: pytest.MonkeyPatch) -> None:
    session = pybit_session(stack, "testnet", monkeypatch)
    wallet = session.get_wallet_balance(accountType="UNIFIED", coin="USDT,BTC")
    assert wallet["retCode"] == 0
    assert {c["coin"] for c in wallet["result"]["list"][0]["coin"]} == {"USDT", "BTC"}
    ack = session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                              price="90000", orderLinkId="pybit-1", timeInForce="GTC")  # fmt: skip
    assert set(ack["result"]) == {"orderId", "orderLinkId"}
    assert ack["result"]["orderLinkId"] == "pybit-1"
    opened = session.get_open_orders(category="linear", symbol="BTCUSDT", orderLinkId="pybit-1")
    assert [o["orderStatus"] for o in opened["result"]["list"]] == ["New"]
    leg = {
        "symbol": "ETHUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.1",
        "price": "3000",
        "orderLinkId": "pb-2",
    }
    batch = session.place_batch_order(category="linear", request=[leg])
    assert batch["retExtInfo"]["list"] == [{"code": 0, "msg": "OK"}]
    cancelled = session.cancel_order(category="linear", symbol="BTCUSDT", orderLinkId="pybit-1")
    assert cancelled["result"]["orderLinkId"] == "pybit-1"


def test_a_testnet_key_on_the_mainnet_instance_is_10003(stack: SimStack, monkeypatch: pytest.MonkeyPatch) -> None:
    session = pybit_session(stack, "testnet", monkeypatch)
    session.endpoint = stack.url("bybit", "mainnet")
    with pytest.raises(InvalidRequestError) as err:
        session.get_wallet_balance(accountType="UNIFIED")
    assert err.value.status_code == 10003
    assert stack.credentials("bybit", "testnet")["api_key"] != stack.credentials("bybit", "mainnet")["api_key"]
    overrides = stack.overrides
    assert overrides["BYBIT_URL_TESTNET"] == stack.url("bybit", "testnet")
    assert overrides["BYBIT_API_KEY_LIVE"] == stack.credentials("bybit", "mainnet")["api_key"]
    assert overrides["BYBIT_API_SECRET_TESTNET"] == stack.credentials("bybit", "testnet")["api_secret"]


async def test_a_bad_signature_is_10004_and_the_signature_covers_the_raw_bytes(sim: Sim) -> None:
    headers = sim.headers(WALLET)
    headers["X-BAPI-SIGN"] = headers["X-BAPI-SIGN"][:-1] + ("0" if headers["X-BAPI-SIGN"][-1] != "0" else "1")
    r = await sim.http.get(f"/v5/account/wallet-balance?{WALLET}", headers=headers)
    assert (r.status_code, r.json()["retCode"]) == (200, 10004)
    # the same parameters in another order are other bytes: signed for one, sent as the other, refused
    headers = sim.headers("accountType=UNIFIED&coin=USDT")
    r = await sim.http.get("/v5/account/wallet-balance?coin=USDT&accountType=UNIFIED", headers=headers)
    assert r.json()["retCode"] == 10004
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
            "price": "90000"}  # fmt: skip
    compact = json.dumps(body, separators=(",", ":"))
    r = await sim.http.post("/v5/order/create", content=compact, headers=sim.headers(json.dumps(body)))
    assert r.json()["retCode"] == 10004
    r = await sim.http.post("/v5/order/create", content=compact, headers=sim.headers(compact))
    assert r.json()["retCode"] == 0


async def test_the_recv_window_rule_bounds_the_timestamp(sim: Sim) -> None:
    cases = [(T0_MS - 5000, 0), (T0_MS - 5001, 10002), (T0_MS + 999, 0), (T0_MS + 1000, 10002)]
    for ts, expected in cases:
        r = await sim.http.get(f"/v5/account/wallet-balance?{WALLET}", headers=sim.headers(WALLET, ts=ts))
        assert r.json()["retCode"] == expected, (ts, r.json())
    r = await sim.http.get(
        f"/v5/account/wallet-balance?{WALLET}", headers=sim.headers(WALLET, ts=T0_MS - 9000, window="10000")
    )
    assert r.json()["retCode"] == 0


async def test_missing_auth_headers_are_http_401(sim: Sim) -> None:
    r = await sim.http.get(f"/v5/account/wallet-balance?{WALLET}")
    assert r.status_code == 401
    headers = sim.headers(WALLET)
    del headers["X-BAPI-SIGN"]
    r = await sim.http.get(f"/v5/account/wallet-balance?{WALLET}", headers=headers)
    assert r.status_code == 401


async def test_an_unknown_key_is_10003(sim: Sim) -> None:
    headers = {**sim.headers(WALLET), "X-BAPI-API-KEY": "someoneelseskey123"}
    r = await sim.http.get(f"/v5/account/wallet-balance?{WALLET}", headers=headers)
    assert (r.status_code, r.json()["retCode"], r.json()["retMsg"]) == (200, 10003, "API key is invalid.")


# --- rate limits -------------------------------------------------------------------------------


def order(i: int, **kw: Any) -> dict[str, Any]:
    return {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
            "price": "80000", "orderLinkId": f"rl-{i}", **kw}  # fmt: skip


async def test_per_endpoint_limits_send_headers_and_answer_10006(sim: Sim, clock: ManualClock) -> None:
    statuses = []
    for i in range(10):
        r = await sim.post("/v5/order/create", order(i))
        assert r.json()["retCode"] == 0
        assert r.headers["X-Bapi-Limit"] == "10"
        assert r.headers["X-Bapi-Limit-Reset-Timestamp"] == str(T0_MS)
        statuses.append(int(r.headers["X-Bapi-Limit-Status"]))
    assert statuses == list(range(9, -1, -1))
    r = await sim.post("/v5/order/create", order(10))
    assert (r.status_code, r.json()["retCode"], r.json()["retMsg"]) == (200, 10006, "Too many visits!")
    assert r.headers["X-Bapi-Limit-Status"] == "0"
    assert r.headers["X-Bapi-Limit-Reset-Timestamp"] == str(T0_MS + 1000)
    # another endpoint has its own budget, and spot orders have 20/s of their own
    r = await sim.get("/v5/order/realtime", "category=linear&symbol=BTCUSDT")
    assert (r.headers["X-Bapi-Limit"], r.headers["X-Bapi-Limit-Status"]) == ("50", "49")
    spot = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
            "price": "80000"}  # fmt: skip
    r = await sim.post("/v5/order/create", spot)
    assert (r.json()["retCode"], r.headers["X-Bapi-Limit"]) == (0, "20")
    clock.advance(1.0)
    r = await sim.post("/v5/order/create", order(11))
    assert r.json()["retCode"] == 0
    assert r.headers["X-Bapi-Limit-Status"] == "9"


async def test_the_ip_limit_is_http_403_then_a_ban(sim: Sim, clock: ManualClock) -> None:
    for _ in range(IP_LIMIT):
        r = await sim.http.get("/v5/market/time")
        assert r.status_code == 200
    r = await sim.http.get("/v5/market/time")
    assert r.status_code == 403
    assert "access too frequent" in r.text
    clock.advance(60.0)  # the window has passed, but the ban lasts ten minutes
    assert (await sim.http.get("/v5/market/time")).status_code == 403
    clock.advance(541.0)
    assert (await sim.http.get("/v5/market/time")).status_code == 200


async def test_the_rate_limit_switch_turns_both_limits_off(clock: ManualClock) -> None:
    async for sim in open_sim(make_app(clock, rate_limit=False), clock):
        for i in range(12):
            r = await sim.post("/v5/order/create", order(i))
            assert r.json()["retCode"] == 0
            assert r.headers["X-Bapi-Limit-Status"] == "9"  # never drained while the limits are off
        for _ in range(IP_LIMIT + 5):
            r = await sim.http.get("/v5/market/time")
        assert r.status_code == 200
        sim.venue.rate_limit = True
        codes = [(await sim.post("/v5/order/create", order(100 + i))).json()["retCode"] for i in range(11)]
        assert codes == [0] * 10 + [10006]


# --- Demo Trading ------------------------------------------------------------------------------


async def test_demo_serves_the_documented_subset_only(clock: ManualClock) -> None:
    async for sim in open_sim(make_app(clock, demo=True), clock):
        assert (await sim.public("/v5/market/tickers", category="linear", symbol="BTCUSDT"))["retCode"] == 0
        assert (await sim.ok("/v5/account/wallet-balance", WALLET))["retCode"] == 0
        assert (await sim.code("/v5/account/fee-rate", "category=linear")) == (10001, "Demo trading are not supported.")
        spot_batch = {"category": "spot", "request": [{"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                                                       "qty": "0.001", "price": "80000"}]}  # fmt: skip
        assert (await sim.code("/v5/order/create-batch", spot_batch)) == (10001, "Demo trading are not supported.")
        linear_batch = {"category": "linear", "request": [order(1)]}
        assert (await sim.ok("/v5/order/create-batch", linear_batch))["retExtInfo"]["list"][0]["code"] == 0
    async for sim in open_sim(make_app(clock), clock):
        assert (await sim.ok("/v5/account/fee-rate", "category=linear&symbol=BTCUSDT"))["result"]["list"] == [
            {"symbol": "BTCUSDT", "baseCoin": "", "takerFeeRate": "0.00055", "makerFeeRate": "0.0002"}
        ]


def test_the_harness_finds_the_bybit_spec() -> None:
    assert installed_simulators(("bybit",)) == [SPEC]


def test_demo_spec_runs_the_testnet_instance_as_demo() -> None:
    with start_simulators([DEMO_SPEC], clock=ManualClock(T0)) as stack:
        testnet = stack.instance("bybit", "testnet").app.state.venue  # type: ignore[attr-defined]
        mainnet = stack.instance("bybit", "mainnet").app.state.venue  # type: ignore[attr-defined]
        assert (testnet.demo, mainnet.demo) == (True, False)
        creds = stack.credentials("bybit", "testnet")
        query = "category=linear"
        ts = int(T0 * 1000)
        headers = {"X-BAPI-API-KEY": creds["api_key"], "X-BAPI-TIMESTAMP": str(ts), "X-BAPI-RECV-WINDOW": "5000",
                   "X-BAPI-SIGN": sign(creds["api_secret"], ts, creds["api_key"], "5000", query)}  # fmt: skip
        r = httpx.get(f"{stack.url('bybit', 'testnet')}/v5/account/fee-rate?{query}", headers=headers)
        assert r.json()["retMsg"] == "Demo trading are not supported."


# --- paths and categories ----------------------------------------------------------------------


async def test_unknown_paths_are_404_and_bad_categories_are_illegal(sim: Sim) -> None:
    r = await sim.http.get("/v5/market/nothing-here")
    assert (r.status_code, r.json()["retCode"]) == (404, 10017)
    r = await sim.http.post("/v5/market/tickers")  # a GET path called with POST
    assert r.status_code == 404
    body = (await sim.http.get("/v5/market/tickers", params={"category": "futures"})).json()
    assert (body["retCode"], body["retMsg"]) == (10001, "Illegal category")
    body = (await sim.http.get("/v5/market/funding/history", params={"category": "spot", "symbol": "BTCUSDT"})).json()
    assert (body["retCode"], body["retMsg"]) == (10001, "Illegal category")
    body = (await sim.http.get("/v5/market/tickers", params={"category": "linear", "symbol": "BTCUSD"})).json()
    assert (body["retCode"], body["retMsg"]) == (10001, "params error: symbol invalid")
    assert (await sim.code("/v5/order/create", order(1, category="inverse"))) == (10001, "Not supported symbols")
    r = await sim.http.request("GET", "/v5/market/time", content=b"{}")
    assert r.status_code == 403


async def test_testnet_and_mainnet_instances_keep_their_own_keys(clock: ManualClock) -> None:
    other = {"api_key": "MAINKEY0123456789a", "api_secret": "mainsecret0123456789abcdefghijklmnop"}
    async for main in open_sim(make_app(clock, env="mainnet", creds=other), clock, creds=CREDS):
        assert (await main.code("/v5/account/wallet-balance", WALLET))[0] == 10003


# --- faults and the recorder -------------------------------------------------------------------


def test_faults_and_the_recorder_wrap_the_instances(stack: SimStack, monkeypatch: pytest.MonkeyPatch) -> None:
    session = pybit_session(stack, "testnet", monkeypatch)
    control = stack.control("bybit", "testnet")
    control.inject("http_5xx", status=503, count=1, path_prefix="/v5/order/create")
    with pytest.raises(FailedRequestError) as err:
        session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                            price="90000", orderLinkId="faulted")  # fmt: skip
    assert err.value.status_code == 503
    ack = session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                              price="90000", orderLinkId="after-fault")  # fmt: skip
    assert ack["retCode"] == 0
    sent = control.recorded("/v5/order/create")
    assert [r.fault for r in sent] == ["http_5xx", None]
    assert sent[1].body["orderLinkId"] == "after-fault"
    assert "x-bapi-sign" not in sent[1].headers
    assert "x-bapi-api-key" not in sent[1].headers
    assert sent[1].headers["x-bapi-timestamp"] == str(T0_MS)
    assert stack.control("bybit", "mainnet").recorded("/v5/order/create") == []
    info = session.get_account_info()
    assert info["result"]["marginMode"] == "REGULAR_MARGIN"
