"""The IBKR Client Portal simulator, driven by a small OAuth client written here (independent of oauth.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig, start_simulators
from cerbero_mcp.simulators.ibkr import oauth as sim_oauth
from cerbero_mcp.simulators.ibkr.simulator import SPEC, build_app

T0 = 1_772_463_600.0  # Monday 2026-03-02 10:00 New York: the regular session is open
SATURDAY = T0 + 5 * 86_400
BASE = "http://ibkr.sim"
AAPL, SPY, MSFT = 265598, 756733, 272093
ACCT = "DU1234567"
RFC3526_BITS = 2048


# --- an independent first-party OAuth client ----------------------------------------------------


def oauth_header(params: dict[str, str], realm: str = "limited_poa") -> str:
    return f'OAuth realm="{realm}", ' + ", ".join(f'{k}="{v}"' for k, v in sorted(params.items()))


def base_string(method: str, url: str, params: dict[str, str], prepend: str = "") -> str:
    pairs = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{prepend}{method}&{quote_plus(url)}&{quote_plus(pairs)}"


def k_bytes(k: int, *, sign_rule: bool = True) -> bytes:
    raw = k.to_bytes((k.bit_length() + 7) // 8, "big")
    return b"\x00" + raw if sign_rule and k.bit_length() % 8 == 0 else raw


def private_key(path: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@dataclass
class Consumer:
    """What the operator holds, and the LST it minted."""

    creds: dict[str, str]
    clock: ManualClock
    base: str = BASE
    lst: str | None = None

    @property
    def prepend(self) -> str:
        secret = base64.b64decode(self.creds["access_token_secret"])
        return private_key(self.creds["encryption_key_path"]).decrypt(secret, padding.PKCS1v15()).hex()

    def oauth_params(self, method: str) -> dict[str, str]:
        return {
            "oauth_consumer_key": self.creds["consumer_key"],
            "oauth_nonce": secrets.token_hex(8),
            "oauth_signature_method": method,
            "oauth_timestamp": str(int(self.clock.now())),
            "oauth_token": self.creds["access_token"],
        }

    def lst_request(self, dh_random: int, *, tamper: bool = False) -> tuple[str, dict[str, str]]:
        prime = int(self.creds["dh_prime"], 16)
        url = f"{self.base}/v1/api/oauth/live_session_token"
        params = {**self.oauth_params("RSA-SHA256"), "diffie_hellman_challenge": format(pow(2, dh_random, prime), "x")}
        text = base_string("POST", url, params, prepend=self.prepend)
        sig = private_key(self.creds["signature_key_path"]).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        if tamper:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        params["oauth_signature"] = quote_plus(base64.b64encode(sig).decode())
        return url, {"Authorization": oauth_header(params), "User-Agent": "test"}

    def finish(self, answer: dict[str, Any], dh_random: int, *, sign_rule: bool = True) -> tuple[str, bool]:
        """Return (LST, whether it validates against live_session_token_signature)."""
        k = pow(int(answer["diffie_hellman_response"], 16), dh_random, int(self.creds["dh_prime"], 16))
        lst = base64.b64encode(hmac.new(k_bytes(k, sign_rule=sign_rule), bytes.fromhex(self.prepend), "sha1").digest())
        check = hmac.new(base64.b64decode(lst), self.creds["consumer_key"].encode(), hashlib.sha1).hexdigest()
        return lst.decode(), check == answer["live_session_token_signature"]

    def signed(self, method: str, path: str, *, lst: str | None = None) -> tuple[str, dict[str, str]]:
        url = f"{self.base}/v1/api{path}"
        params = self.oauth_params("HMAC-SHA256")
        key = base64.b64decode(lst or self.lst or "")
        digest = hmac.new(key, base_string(method, url, params).encode(), hashlib.sha256).digest()
        params["oauth_signature"] = quote_plus(base64.b64encode(digest).decode())
        return url, {"Authorization": oauth_header(params)}


class Sim:
    """The simulator over ASGI with the consumer's credentials."""

    def __init__(self, http: httpx.AsyncClient, consumer: Consumer, app: Any) -> None:
        self.http = http
        self.c = consumer
        self.app = app
        self.venue = app.state.venue
        self.auto_remint = False  # like a real client: mint again once when the LST has expired

    async def mint(self, *, tamper: bool = False) -> httpx.Response:
        dh_random = secrets.randbits(256)
        url, headers = self.c.lst_request(dh_random, tamper=tamper)
        r = await self.http.post(url, headers=headers)
        if r.status_code == 200:
            lst, valid = self.c.finish(r.json(), dh_random)
            assert valid
            self.c.lst = lst
        return r

    async def call(self, method: str, path: str, *, json_body: Any = None, params: Any = None) -> httpx.Response:
        url, headers = self.c.signed(method, path)
        r = await self.http.request(method, url, headers=headers, json=json_body, params=params)
        if r.status_code == 401 and self.auto_remint and "expired" in r.text:
            assert (await self.mint()).status_code == 200
            url, headers = self.c.signed(method, path)
            r = await self.http.request(method, url, headers=headers, json=json_body, params=params)
        return r

    async def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = await self.call(method, path, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    async def start(self) -> None:
        assert (await self.mint()).status_code == 200
        await self.ok("POST", "/iserver/auth/ssodh/init", json_body={"publish": True, "compete": True})
        await self.ok("GET", "/iserver/accounts")
        await self.ok("GET", "/portfolio/accounts")
        assert (await self.ok("GET", "/iserver/account/orders"))["orders"] == []  # the list's pre-flight

    async def place(self, *orders: dict[str, Any], confirm: bool = True) -> Any:
        answer = await self.ok("POST", f"/iserver/account/{ACCT}/orders", json_body={"orders": list(orders)})
        while confirm and isinstance(answer, list) and answer and "messageIds" in answer[0]:
            answer = await self.ok("POST", f"/iserver/reply/{answer[0]['id']}", json_body={"confirmed": True})
        return answer

    async def orders(self) -> dict[int, dict[str, Any]]:
        body = await self.ok("GET", "/iserver/account/orders")
        return {o["orderId"]: o for o in body["orders"]}

    def mid(self, conid: int = AAPL) -> float:
        return float(self.venue.market.model.mid(self.venue.market.contracts[conid].symbol, self.c.clock.now()))


@pytest.fixture(scope="module")
def creds() -> dict[str, str]:
    return SPEC.credentials("testnet")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def make_app(creds: dict[str, str], clock: ManualClock, **kw: Any) -> Any:
    # A manual clock that seldom moves would trip IBKR's pacing: these tests are about everything else.
    return build_app(SimulatorConfig("ibkr", "testnet", 7, creds, clock), **{"rate_limit": False, **kw})


@pytest.fixture
async def sim(creds: dict[str, str], clock: ManualClock) -> AsyncIterator[Sim]:
    app = make_app(creds, clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield Sim(http, Consumer(dict(creds), clock), app)


@pytest.fixture
async def ready(sim: Sim) -> Sim:
    await sim.start()
    sim.auto_remint = True
    return sim


def lmt(side: str, qty: int, price: float, **kw: Any) -> dict[str, Any]:
    return {"conid": AAPL, "orderType": "LMT", "side": side, "quantity": qty, "price": round(price, 2), "tif": "GTC",
            **kw}  # fmt: skip


# --- credentials and OAuth -----------------------------------------------------------------------


def test_generated_credentials_and_settings(creds: dict[str, str]) -> None:
    for name in ("signature_key_path", "encryption_key_path"):
        path = Path(creds[name])
        assert path.name in ("private_signature.pem", "private_encryption.pem")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert private_key(str(path)).key_size == 2048
    assert len(creds["consumer_key"]) == 9
    assert creds["consumer_key"].isupper()
    assert creds["account_id"] == ACCT
    assert SPEC.credentials("mainnet")["account_id"].startswith("U")
    prime = int(creds["dh_prime"], 16)
    assert prime.bit_length() == RFC3526_BITS
    assert pow(2, prime - 1, prime) == 1
    secret = base64.b64decode(creds["access_token_secret"])
    assert len(private_key(creds["encryption_key_path"]).decrypt(secret, padding.PKCS1v15())) == 32
    over = SPEC.settings_overrides("testnet", "http://127.0.0.1:1", creds)
    assert over["IBKR_URL_TESTNET"] == "http://127.0.0.1:1/v1/api"
    assert over["IBKR_CONSUMER_KEY_TESTNET"] == creds["consumer_key"]
    assert over["IBKR_DH_PRIME_TESTNET"] == creds["dh_prime"]
    live = SPEC.settings_overrides("mainnet", "u", creds)
    assert {"IBKR_URL_LIVE", "IBKR_ACCESS_TOKEN_SECRET_LIVE", "IBKR_SIGNATURE_KEY_PATH_LIVE"} <= set(live)
    assert len(live) == 8


async def test_lst_is_minted_validated_and_signs_later_calls(sim: Sim) -> None:
    r = await sim.mint()
    answer = r.json()
    assert answer["live_session_token_expiration"] == int((T0 + 86_400) * 1000)
    tickle = await sim.ok("POST", "/tickle")
    assert len(tickle["session"]) == 32
    assert tickle["iserver"]["authStatus"]["authenticated"] is False
    assert (await sim.call("GET", "/iserver/auth/status", params={"x": "1"})).status_code == 200  # query unsigned
    r = await sim.http.post(f"{BASE}/v1/api/tickle")
    assert (r.status_code, r.json()) == (401, {"error": "missing OAuth authorization"})
    url, headers = sim.c.signed("POST", "/tickle", lst=base64.b64encode(b"x" * 20).decode())
    r = await sim.http.post(url, headers=headers)
    assert (r.status_code, r.json()["error"]) == (401, "invalid signature")
    url, headers = sim.c.signed("POST", "/tickle")
    assert (await sim.http.post(url, headers=headers)).status_code == 200
    assert (await sim.http.post(url, headers=headers)).json()["error"] == "nonce already used"
    url, headers = sim.c.signed("GET", "/tickle")  # signed for another method
    assert (await sim.http.post(url, headers=headers)).status_code == 401
    sim.c.clock.advance(86_400)
    assert (await sim.call("POST", "/tickle")).json()["error"] == "live session token expired or not issued"


async def test_a_tampered_or_misaddressed_or_stale_lst_request_gets_401(sim: Sim) -> None:
    r = await sim.mint(tamper=True)
    assert (r.status_code, r.json()) == (401, {"error": "invalid signature"})
    sim.c.base = "http://api.ibkr.com"  # signed for IBKR's host, sent to the simulator
    url, headers = sim.c.lst_request(secrets.randbits(256))
    sim.c.base = BASE
    r = await sim.http.post(url.replace("http://api.ibkr.com", BASE), headers=headers)
    assert (r.status_code, r.json()) == (401, {"error": "invalid signature"})
    url, headers = sim.c.lst_request(secrets.randbits(256))
    r = await sim.http.post(url, headers={"Authorization": headers["Authorization"].replace("limited_poa", "x")})
    assert (r.status_code, r.json()) == (401, {"error": "invalid realm 'x'"})
    sim.c.clock.set(T0 - 301)  # the client signs with a clock five minutes behind
    url, headers = sim.c.lst_request(secrets.randbits(256))
    sim.c.clock.set(T0)
    r = await sim.http.post(url, headers=headers)
    assert (r.status_code, r.json()) == (401, {"error": "invalid timestamp"})
    assert (await sim.mint()).status_code == 200


async def test_the_leading_zero_rule_on_both_sides(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sim_oauth.shared_secret_bytes(0x80FF) == b"\x00\x80\xff"
    assert sim_oauth.shared_secret_bytes(0x7FFF) == b"\x7f\xff"
    b = secrets.randbits(256) | 1
    fixed = SimpleNamespace(randbits=lambda n: b, token_hex=secrets.token_hex, token_bytes=secrets.token_bytes)
    monkeypatch.setattr(sim_oauth, "secrets", fixed)
    prime = int(sim.c.creds["dh_prime"], 16)
    for want_zero in (True, False):
        a = next(a for a in (secrets.randbits(256) for _ in range(5000))
                 if (pow(pow(2, a, prime), b, prime).bit_length() % 8 == 0) == want_zero)  # fmt: skip
        url, headers = sim.c.lst_request(a)
        answer = (await sim.http.post(url, headers=headers)).json()
        assert sim.c.finish(answer, a, sign_rule=True)[1]
        # a client that forgets the sign byte only gets it right when K's top bit is clear
        assert sim.c.finish(answer, a, sign_rule=False)[1] is (not want_zero)
        assert sim.c.finish({**answer, "live_session_token_signature": "00" * 20}, a)[1] is False


def test_ibind_as_an_oracle_mints_and_signs_against_the_simulator(creds: dict[str, str]) -> None:
    """ibind's own OAuth 1.0a routines (with the wall clock, as ibind reads it) are accepted."""
    from ibind.oauth import oauth1a as ib

    clock = ManualClock(time.time())
    with TestClient(make_app(creds, clock), base_url=BASE) as client:
        prepend = ib.calculate_live_session_token_prepend(
            creds["access_token_secret"], ib.read_private_key(creds["encryption_key_path"])
        )
        dh_random = ib.generate_dh_random_bytes()
        url = f"{BASE}/v1/api/oauth/live_session_token"
        params = {
            "oauth_consumer_key": creds["consumer_key"], "oauth_nonce": ib.generate_oauth_nonce(),
            "oauth_signature_method": "RSA-SHA256", "oauth_timestamp": ib.generate_request_timestamp(),
            "oauth_token": creds["access_token"],
            "diffie_hellman_challenge": ib.generate_dh_challenge(creds["dh_prime"], dh_random, 2),
        }  # fmt: skip
        text = ib.generate_base_string("POST", url, params, prepend=prepend)
        params["oauth_signature"] = ib.generate_rsa_sha_256_signature(
            text, ib.read_private_key(creds["signature_key_path"])
        )
        answer = client.post(
            url, headers={"Authorization": ib.generate_authorization_header_string(params, "limited_poa")}
        )
        body = answer.json()
        lst = ib.calculate_live_session_token(creds["dh_prime"], dh_random, body["diffie_hellman_response"], prepend)
        assert ib.validate_live_session_token(lst, body["live_session_token_signature"], creds["consumer_key"])
        url = f"{BASE}/v1/api/tickle"
        params = {
            "oauth_consumer_key": creds["consumer_key"], "oauth_nonce": ib.generate_oauth_nonce(),
            "oauth_signature_method": "HMAC-SHA256", "oauth_timestamp": ib.generate_request_timestamp(),
            "oauth_token": creds["access_token"],
        }  # fmt: skip
        params["oauth_signature"] = ib.generate_hmac_sha_256_signature(
            ib.generate_base_string("POST", url, params), lst
        )
        r = client.post(url, headers={"Authorization": ib.generate_authorization_header_string(params, "limited_poa")})
        assert r.status_code == 200
        assert "session" in r.json()


async def test_expire_lst_forces_a_remint(sim: Sim) -> None:
    await sim.start()
    r = await sim.http.post(f"{BASE}/__ibkr__/expire-lst")
    assert r.json() == {"expired": True}
    assert (await sim.call("POST", "/tickle")).status_code == 401
    assert (await sim.mint()).status_code == 200
    assert (await sim.ok("POST", "/tickle"))["iserver"]["authStatus"]["authenticated"] is True


async def test_register_rotates_the_credentials(sim: Sim, tmp_path: Path) -> None:
    await sim.start()
    keys = {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in ("signature", "encryption")}
    body: dict[str, str] = {}
    for name, key in keys.items():
        path = tmp_path / f"private_{name}.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
        body[f"public_{name}_key"] = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    r = await sim.http.post(f"{BASE}/__ibkr__/register", json={"public_signature_key": "nope"})
    assert r.status_code == 400
    issued = (await sim.http.post(f"{BASE}/__ibkr__/register", json=body)).json()
    assert issued["consumer_key"] != sim.c.creds["consumer_key"]
    assert len(issued["consumer_key"]) == 9
    assert (await sim.call("POST", "/tickle")).status_code == 401  # the old LST died with the old keys
    r = await sim.mint()
    assert (r.status_code, r.json()) == (401, {"error": "invalid consumer"})
    sim.c.creds.update(issued, signature_key_path=str(tmp_path / "private_signature.pem"),
                       encryption_key_path=str(tmp_path / "private_encryption.pem"))  # fmt: skip
    assert (await sim.mint()).status_code == 200
    assert "session" in await sim.ok("POST", "/tickle")


# --- brokerage session and priming ---------------------------------------------------------------


async def test_no_bridge_before_ssodh_init_and_the_priming_rules(sim: Sim) -> None:
    await sim.mint()
    r = await sim.call("GET", "/iserver/accounts")
    assert (r.status_code, r.json()) == (400, {"error": "no bridge"})
    assert (await sim.ok("GET", "/iserver/auth/status"))["authenticated"] is False
    assert (await sim.call("POST", "/iserver/auth/ssodh/init", json_body={})).status_code == 400
    init = await sim.ok("POST", "/iserver/auth/ssodh/init", json_body={"publish": True, "compete": True})
    assert (init["authenticated"], init["connected"], init["competing"]) == (True, True, False)
    r = await sim.call("GET", "/iserver/marketdata/snapshot", params={"conids": AAPL, "fields": "31"})
    assert (r.status_code, r.json()["error"]) == (400, "accounts not primed: call /iserver/accounts first")
    r = await sim.call("DELETE", f"/iserver/account/{ACCT}/order/1000000001")
    assert r.json()["error"].startswith("accounts not primed")
    r = await sim.call("GET", f"/portfolio/{ACCT}/summary")
    assert r.json()["error"].startswith("portfolio accounts not primed")
    accounts = await sim.ok("GET", "/iserver/accounts")
    assert accounts["accounts"] == [ACCT]
    assert accounts["isPaper"] is True
    assert (await sim.call("GET", "/iserver/marketdata/snapshot", params={"conids": AAPL})).status_code == 200
    assert (await sim.ok("GET", "/portfolio/accounts"))[0]["id"] == ACCT
    summary = await sim.ok("GET", f"/portfolio/{ACCT}/summary")
    assert summary["netliquidation"] == {**summary["netliquidation"], "amount": 1_000_000.0, "currency": "USD"}
    assert (await sim.call("GET", "/portfolio/U999/summary")).status_code == 400
    await sim.http.post(f"{BASE}/__ibkr__/drop-brokerage-session")
    assert (await sim.ok("POST", "/tickle"))["iserver"]["authStatus"]["authenticated"] is False
    assert (await sim.call("GET", "/iserver/account/orders")).json() == {"error": "no bridge"}
    await sim.ok("POST", "/iserver/auth/ssodh/init", json_body={"publish": True, "compete": True})
    r = await sim.call("GET", "/iserver/marketdata/snapshot", params={"conids": AAPL})
    assert r.json()["error"].startswith("accounts not primed")  # a new brokerage session is primed again


async def test_snapshot_preflight_then_string_fields(ready: Sim) -> None:
    q = {"conids": f"{AAPL},{MSFT}", "fields": "31,84,86,88,85,7295,7296,55"}
    first = await ready.ok("GET", "/iserver/marketdata/snapshot", params=q)
    assert [set(row) for row in first] == [{"conid", "conidEx", "_updated", "server_id"}] * 2
    second = await ready.ok("GET", "/iserver/marketdata/snapshot", params=q)
    row = second[0]
    assert row["conid"] == AAPL
    assert row["55"] == "AAPL"
    assert all(isinstance(row[f], str) for f in ("31", "84", "86", "88", "85", "7295", "7296"))
    assert float(row["84"]) < float(row["86"])
    assert abs(float(row["31"]) - ready.mid()) < 0.02
    assert float(row["88"]) > 0  # lots of 100 shares for US stocks: may be fractional
    assert float(row["85"]) > 0
    r = await ready.call("GET", "/iserver/marketdata/snapshot", params={"conids": "42", "fields": "31"})
    assert r.status_code == 400


async def test_contracts_option_chains_history_and_hours(ready: Sim) -> None:
    found = await ready.ok("GET", "/iserver/secdef/search", params={"symbol": "aapl"})
    found = [hit for hit in found if hit["description"] == "NASDAQ"]  # the US listing, after a foreign one
    assert found[0]["conid"] == str(AAPL)
    assert found[0]["companyName"] == "APPLE INC"
    opt = next(s for s in found[0]["sections"] if s["secType"] == "OPT")
    month = opt["months"].split(";")[0]
    assert month == "MAR26"
    assert (await ready.ok("GET", "/trsrv/stocks", params={"symbols": "SPY,NOPE"})) == {
        "SPY": [{"name": "SPDR S&P 500 ETF TRUST", "chineseName": None, "assetClass": "STK",
                 "contracts": [{"conid": SPY, "exchange": "ARCA", "isUS": True}]}], "NOPE": []}  # fmt: skip
    strikes = await ready.ok("GET", "/iserver/secdef/strikes", params={"conid": AAPL, "sectype": "OPT", "month": month})
    assert strikes["call"] == strikes["put"]
    assert len(strikes["call"]) > 10
    strike = min(strikes["call"], key=lambda k: abs(k - ready.mid()))
    info = await ready.ok("GET", "/iserver/secdef/info", params={"conid": AAPL, "sectype": "OPT", "month": month,
                                                                 "strike": strike, "right": "C"})  # fmt: skip
    assert info[0]["maturityDate"] == "20260320"
    assert info[0]["right"] == "C"
    assert info[0]["multiplier"] == "100"
    q = {"conids": info[0]["conid"], "fields": "31,84,86,7308"}
    await ready.ok("GET", "/iserver/marketdata/snapshot", params=q)
    quote = (await ready.ok("GET", "/iserver/marketdata/snapshot", params=q))[0]
    assert 0.2 < float(quote["7308"]) < 0.8
    assert float(quote["84"]) < float(quote["86"])
    bars = await ready.ok("GET", "/iserver/marketdata/history", params={"conid": AAPL, "period": "2d", "bar": "1h"})
    hours = [b["t"] for b in bars["data"]]
    assert bars["barLength"] == 3600
    assert hours == sorted(hours)
    assert len(hours) == 8
    assert all(b["o"] == round(b["o"], 2) for b in bars["data"])
    daily = await ready.ok("GET", "/iserver/marketdata/history", params={"conid": AAPL, "period": "1m", "bar": "1d"})
    assert len(daily["data"]) in (21, 22)
    assert all(b["l"] <= b["o"] <= b["h"] for b in daily["data"])
    sched = await ready.ok("GET", "/trsrv/secdef/schedule", params={"assetClass": "STK", "symbol": "AAPL"})
    monday = sched[0]["schedules"][0]
    assert sched[0]["timezone"] == "America/New_York"
    assert monday["tradingScheduleDate"] == "20260302"
    assert monday["tradingTimes"] == [{"openingTime": "0930", "closingTime": "1600", "cancelDayOrders": "Y"}]
    assert sched[0]["schedules"][5]["tradingTimes"] == []  # Saturday


# --- orders --------------------------------------------------------------------------------------


async def test_questions_reply_and_suppression(ready: Sim) -> None:
    big = lmt("BUY", 300, ready.mid() * 0.99, cOID="big-1")  # about 69,000 USD: above the value limit
    q = await ready.ok("POST", f"/iserver/account/{ACCT}/orders", json_body={"orders": [big]})
    assert q[0]["messageIds"] == ["o451"]
    assert "Total Value Limit" in q[0]["message"][0]
    assert not q[0]["isSuppressed"]
    placed = await ready.ok("POST", f"/iserver/reply/{q[0]['id']}", json_body={"confirmed": True})
    assert placed[0]["order_status"] == "Submitted"
    assert placed[0]["local_order_id"] == "big-1"
    r = await ready.call("POST", f"/iserver/reply/{q[0]['id']}", json_body={"confirmed": True})
    assert r.status_code == 400  # a reply id is used once
    orders = await ready.orders()
    row = orders[int(placed[0]["order_id"])]
    assert (row["order_ref"], row["side"], row["orderType"], row["totalSize"], row["status"]) == (
        "big-1", "BUY", "Limit", 300.0, "Submitted")  # fmt: skip
    await ready.ok("POST", "/iserver/questions/suppress", json_body={"messageIds": ["o451"]})
    answer = await ready.place(lmt("BUY", 300, ready.mid() * 0.98, cOID="big-2"), confirm=False)
    assert answer[0]["order_status"] == "Submitted"
    ready.c.clock.set(SATURDAY)
    await ready.mint()
    q = await ready.ok("POST", f"/iserver/account/{ACCT}/orders",
                       json_body={"orders": [{"conid": MSFT, "orderType": "MKT", "side": "BUY", "quantity": 1,
                                              "tif": "DAY"}]})  # fmt: skip
    assert q[0]["messageIds"] == ["o10151"]
    r = await ready.call("POST", f"/iserver/reply/{q[0]['id']}", json_body={"confirmed": False})
    assert "not confirmed" in r.json()["error"]


async def test_a_margin_question_and_insufficient_funds(ready: Sim) -> None:
    huge = {"conid": SPY, "orderType": "MKT", "side": "BUY", "quantity": 5000, "tif": "DAY"}
    await ready.ok("POST", "/iserver/questions/suppress", json_body={"messageIds": ["o451"]})
    q = await ready.ok("POST", f"/iserver/account/{ACCT}/orders", json_body={"orders": [huge]})
    assert q[0]["messageIds"] == ["o2137"]
    assert "margin" in q[0]["message"][0]
    r = await ready.ok("POST", f"/iserver/reply/{q[0]['id']}", json_body={"confirmed": True})
    assert "insufficient funds" in r["error"]
    assert await ready.orders() == {}


async def test_order_validation_is_strict(ready: Sim) -> None:
    cases = [
        ({"orderType": "STP", "price": None}, "needs price"),
        ({"orderType": "STP", "auxPrice": 200}, "takes no auxPrice"),
        ({"orderType": "MKT"}, "takes no price"),
        ({"tif": "FOK"}, "tif"),
        ({"side": "HOLD"}, "side"),
        ({"conid": 42}, "Invalid contract id"),
        ({"price": 200.001}, "price increment"),
        ({"quantity": 0}, "Invalid order size"),
        ({"orderType": "STOP_LIMIT"}, "auxPrice"),
    ]
    for change, text in cases:
        order = {**lmt("BUY", 1, 200.0), **change}
        answer = await ready.place({k: v for k, v in order.items() if v is not None})
        assert text in answer["error"], (change, answer)
    two = await ready.place(lmt("BUY", 1, 200.0), lmt("BUY", 1, 201.0))
    assert "bracket" in two["error"]


async def test_coid_is_unique_for_a_day(ready: Sim) -> None:
    assert (await ready.place(lmt("BUY", 1, 150.0, cOID="once")))[0]["order_status"] == "Submitted"
    assert await ready.place(lmt("BUY", 1, 151.0, cOID="once")) == {
        "error": "Local order ID=once is already registered."
    }
    ready.c.clock.advance(86_401)
    assert (await ready.place(lmt("BUY", 1, 151.0, cOID="once")))[0]["order_status"] == "Submitted"


async def test_bracket_children_wait_for_the_parent_then_cancel_each_other(ready: Sim) -> None:
    mid = ready.mid()
    parent = lmt("BUY", 10, mid * 0.997, cOID="entry-1")
    tp = lmt("SELL", 10, mid * 1.004, parentId="entry-1")
    sl = {"conid": AAPL, "orderType": "STP", "side": "SELL", "quantity": 10, "price": round(mid * 0.990, 2),
          "tif": "GTC", "parentId": "entry-1"}  # fmt: skip
    placed = await ready.place(parent, tp, sl)
    assert [p["order_status"] for p in placed] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    pid, tid, sid = (int(p["order_id"]) for p in placed)
    assert placed[1]["parent_order_id"] == str(pid)
    orders = await ready.orders()
    assert orders[tid]["parentId"] == pid
    assert orders[sid]["parentId"] == pid
    assert orders[sid]["price"]
    same_side = await ready.place(lmt("BUY", 1, mid * 0.9, cOID="e2"), lmt("BUY", 1, mid * 0.8, parentId="e2"))
    assert "opposite side" in same_side["error"]
    for _ in range(400):  # one big step at a time: the replay must start the children at the parent's fill
        ready.c.clock.advance(1800)
        orders = await ready.orders()
        if orders[tid]["status"] in ("Filled", "Cancelled"):
            break
    statuses = {k: orders[k]["status"] for k in (pid, tid, sid)}
    assert statuses[pid] == "Filled"
    assert sorted((statuses[tid], statuses[sid])) == ["Cancelled", "Filled"]
    trades = await ready.ok("GET", "/iserver/account/trades", params={"days": 7})
    times = {t["order_id"]: t["trade_time_r"] for t in trades}
    child = tid if statuses[tid] == "Filled" else sid
    assert times[pid] <= times[child]
    positions = await ready.ok("GET", f"/portfolio/{ACCT}/positions/0")
    assert positions == []  # entry and exit: flat again


async def test_a_market_entry_starts_its_children_at_once(ready: Sim) -> None:
    mid = ready.mid()
    placed = await ready.place(
        {"conid": AAPL, "orderType": "MKT", "side": "BUY", "quantity": 5, "tif": "DAY", "cOID": "mkt-entry"},
        lmt("SELL", 5, mid * 1.05, parentId="mkt-entry"),
        {"conid": AAPL, "orderType": "STP", "side": "SELL", "quantity": 5, "price": round(mid * 0.95, 2), "tif": "GTC",
         "parentId": "mkt-entry"},
    )  # fmt: skip
    assert [p["order_status"] for p in placed] == ["Filled", "Submitted", "Submitted"]
    positions = await ready.ok("GET", f"/portfolio/{ACCT}/positions/0")
    assert positions[0]["conid"] == AAPL
    assert positions[0]["position"] == 5.0
    assert positions[0]["assetClass"] == "STK"
    assert abs(positions[0]["avgCost"] - mid) < 1
    assert "unrealizedPnl" in positions[0]
    summary = await ready.ok("GET", f"/portfolio/{ACCT}/summary")
    assert summary["initmarginreq"]["amount"] > 0
    assert summary["availablefunds"]["amount"] < 1_000_000
    ledger = await ready.ok("GET", f"/portfolio/{ACCT}/ledger")
    assert ledger["USD"]["cashbalance"] < 1_000_000  # the commission


async def test_all_legs_in_one_oca_group_cancel_the_children_on_entry(ready: Sim) -> None:
    mid = ready.mid()
    placed = await ready.place(
        {"conid": AAPL, "orderType": "MKT", "side": "BUY", "quantity": 1, "tif": "DAY", "cOID": "oops",
         "isSingleGroup": True},
        lmt("SELL", 1, mid * 1.05, parentId="oops", isSingleGroup=True),
        lmt("SELL", 1, mid * 1.06, parentId="oops", isSingleGroup=True),
    )  # fmt: skip
    assert [p["order_status"] for p in placed] == ["Filled", "Cancelled", "Cancelled"]


async def test_oco_one_fill_cancels_the_rest(ready: Sim) -> None:
    mid = ready.mid()
    placed = await ready.place(
        lmt("BUY", 2, mid * 0.998, isSingleGroup=True),
        {"conid": AAPL, "orderType": "STP", "side": "BUY", "quantity": 2, "price": round(mid * 1.002, 2), "tif": "GTC",
         "isSingleGroup": True},
    )  # fmt: skip
    ids = [int(p["order_id"]) for p in placed]
    for _ in range(200):
        ready.c.clock.advance(600)
        orders = await ready.orders()
        if any(orders[i]["status"] == "Filled" for i in ids):
            break
    assert sorted(orders[i]["status"] for i in ids) == ["Cancelled", "Filled"]


async def test_modify_with_the_whole_order_and_cancel(ready: Sim) -> None:
    mid = ready.mid()
    placed = await ready.place(lmt("BUY", 3, mid * 0.9, cOID="m1"))
    oid = placed[0]["order_id"]
    path = f"/iserver/account/{ACCT}/order/{oid}"
    r = await ready.ok("POST", path, json_body={"price": round(mid * 0.91, 2)})
    assert "whole order" in r["error"]
    r = await ready.ok("POST", path, json_body={**lmt("SELL", 3, mid * 0.91)})
    assert "side cannot be changed" in r["error"]
    done = await ready.ok("POST", path, json_body=lmt("BUY", 4, mid * 0.91))
    assert done == [{"order_id": oid, "order_status": "Submitted", "encrypt_message": "1"}]
    row = (await ready.orders())[int(oid)]
    assert (row["price"], row["totalSize"]) == (f"{round(mid * 0.91, 2):.2f}", 4.0)
    assert (await ready.ok("GET", f"/iserver/account/order/status/{oid}"))["order_status"] == "Submitted"
    gone = await ready.ok("DELETE", path)
    assert gone == {"msg": "Request was submitted", "order_id": int(oid), "conid": AAPL, "account": ACCT}
    assert "cannot be cancelled" in (await ready.ok("DELETE", path))["error"]
    assert (await ready.ok("DELETE", f"/iserver/account/{ACCT}/order/999"))["error"] == "OrderID 999 not found"
    assert (await ready.orders())[int(oid)]["status"] == "Cancelled"


async def test_trailing_stop_follows_the_mid(ready: Sim) -> None:
    await ready.place({"conid": AAPL, "orderType": "MKT", "side": "BUY", "quantity": 1, "tif": "DAY"})
    placed = await ready.place({"conid": AAPL, "orderType": "TRAIL", "side": "SELL", "quantity": 1, "trailingAmt": 2,
                                "trailingType": "amt", "tif": "GTC"})  # fmt: skip
    oid = int(placed[0]["order_id"])
    row = (await ready.orders())[oid]
    assert row["trailingAmount"] == "2"
    assert abs(float(row["stopPrice"]) - (ready.mid() - 2)) < 0.02
    best = float(row["stopPrice"])
    for _ in range(20):
        ready.c.clock.advance(300)
        row = (await ready.orders())[oid]
        if row["status"] != "Submitted":
            break
        assert float(row["stopPrice"]) >= best  # a sell stop only ratchets up
        best = float(row["stopPrice"])


# --- WebSocket -----------------------------------------------------------------------------------


@pytest.fixture
def ws_client(creds: dict[str, str], clock: ManualClock) -> Iterator[tuple[TestClient, Consumer]]:
    app = make_app(creds, clock, heartbeat_s=0.3, smd_interval_s=0.05)
    with TestClient(app, base_url="http://testserver") as client:
        consumer = Consumer(dict(creds), clock, base="http://testserver")
        dh_random = secrets.randbits(256)
        url, headers = consumer.lst_request(dh_random)
        consumer.lst, valid = consumer.finish(client.post(url, headers=headers).json(), dh_random)
        assert valid
        for method, path, body in (("POST", "/iserver/auth/ssodh/init", {"publish": True, "compete": True}),
                                   ("GET", "/iserver/accounts", None)):  # fmt: skip
            url, headers = consumer.signed(method, path)
            assert client.request(method, url, headers=headers, json=body).status_code == 200
        yield client, consumer


def session_of(client: TestClient, consumer: Consumer) -> str:
    url, headers = consumer.signed("POST", "/tickle")
    return str(client.post(url, headers=headers).json()["session"])


FIELDS = ("31", "84", "86", "88", "85")


def quote_now(venue: Any) -> dict[str, str]:
    with venue.at() as now:
        q = venue.market.quote(venue.market.contracts[AAPL], now)
    return {k: q[k] for k in FIELDS}


def recv(ws: Any) -> dict[str, Any]:
    """Return the next message that is not a heartbeat."""
    while "hb" in (msg := ws.receive_json()):
        pass
    return dict(msg)


def drain(ws: Any) -> None:
    for _ in range(100):
        ws.receive_json()


def next_topic(ws: Any, topic: str, limit: int = 50) -> dict[str, Any]:
    for _ in range(limit):
        msg = ws.receive_json()
        if msg.get("topic") == topic:
            return dict(msg)
    raise AssertionError(f"no {topic} message")


def test_websocket_sts_smd_deltas_depth_tic_heartbeat_and_drop(
    ws_client: tuple[TestClient, Consumer], clock: ManualClock
) -> None:
    client, consumer = ws_client
    venue = client.app.state.venue  # type: ignore[attr-defined]
    token = consumer.creds["access_token"]
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/v1/api/ws?oauth_token=wrong"):
        pass
    session = session_of(client, consumer)
    client.cookies.set("api", session)
    with client.websocket_connect(f"/v1/api/ws?oauth_token={token}") as ws:
        assert ws.receive_json()["topic"] == "system"
        assert ws.receive_json() == {"topic": "sts", "args": {"authenticated": True, "competing": False, "message": "",
                                     "fail": "", "serverName": "CerberoSim", "serverVersion": "sim",
                                     "username": "sim"}}  # fmt: skip
        assert ws.receive_json()["topic"] == "act"
        ws.send_text('smd+265598+{"fields":["31","84","86","88","85"]}')
        full = next_topic(ws, "smd+265598")
        fields = {k: full[k] for k in FIELDS}
        assert full["conid"] == AAPL
        assert fields == quote_now(venue)
        while (msg := ws.receive_json()).get("topic") != "system":  # the clock is frozen: nothing until the heartbeat
            assert not msg.get("topic", "").startswith("smd"), msg
        assert msg == {"topic": "system", "hb": int(clock.now() * 1000)}
        partial = 0
        for _ in range(20):
            clock.advance(0.4)
            current = quote_now(venue)
            expected = {k: v for k, v in current.items() if fields[k] != v}
            if expected:
                delta = next_topic(ws, "smd+265598")
                assert {k: delta[k] for k in FIELDS if k in delta} == expected  # only what changed
                fields = current
                partial += len(expected) < len(FIELDS)
        assert partial
        ws.send_text("tic")
        tic = next_topic(ws, "tic")
        assert tic["alive"] is True
        assert tic["id"] == session
        ws.send_text(f"sbd+{ACCT}+265598+SMART")
        depth = next_topic(ws, f"sbd+{ACCT}+265598+SMART")  # the topic echoes the exchange asked for
        sides = ["ask" if "ask" in row else "bid" for row in depth["data"]]
        assert sides == ["ask"] * 10 + ["bid"] * 10  # a price ladder, highest first
        assert float(depth["data"][0]["price"]) > float(depth["data"][10]["price"])
        ws.send_text("umd+265598+{}")
        ws.send_text(f"ubd+{ACCT}")
        assert client.post("/__ibkr__/drop-websockets").json() == {"closed": 1}
        with pytest.raises(WebSocketDisconnect):
            drain(ws)


def test_websocket_waits_for_the_session_message(ws_client: tuple[TestClient, Consumer]) -> None:
    client, consumer = ws_client
    session = session_of(client, consumer)
    with client.websocket_connect(f"/v1/api/ws?oauth_token={consumer.creds['access_token']}") as ws:
        assert ws.receive_json()["topic"] == "system"
        assert recv(ws) == {"message": "waiting for session"}
        ws.send_text("smd+265598+{}")
        assert recv(ws) == {"topic": "smd+265598", "error": "not authenticated: wait for sts"}
        ws.send_text(json.dumps({"session": "wrong"}))
        assert recv(ws)["args"]["authenticated"] is False
        ws.send_text(json.dumps({"session": session}))
        assert next_topic(ws, "sts")["args"]["authenticated"] is True


# --- over real sockets, through the harness --------------------------------------------------------


async def test_served_by_the_harness_over_loopback() -> None:
    from websockets.asyncio.client import connect

    clock = ManualClock(T0)
    with start_simulators([SPEC], clock=clock, envs=("testnet",)) as stack:
        url = stack.url("ibkr", "testnet")
        consumer = Consumer(dict(stack.credentials("ibkr", "testnet")), clock, base=url)
        assert stack.overrides["IBKR_URL_TESTNET"] == f"{url}/v1/api"
        stack.instance("ibkr", "testnet").app.state.venue.rate_limit = False  # type: ignore[attr-defined]
        async with httpx.AsyncClient() as http:
            sim = Sim(http, consumer, stack.instance("ibkr", "testnet").app)
            await sim.start()
            session = (await sim.ok("POST", "/tickle"))["session"]
            assert (await http.post(f"{url}/__ibkr__/expire-lst")).json() == {"expired": True}
            assert (await sim.call("POST", "/tickle")).status_code == 401
            await sim.mint()
            session = (await sim.ok("POST", "/tickle"))["session"]
            ws_url = url.replace("http://", "ws://") + f"/v1/api/ws?oauth_token={consumer.creds['access_token']}"
            async with connect(ws_url, additional_headers={"Cookie": f"api={session}", "User-Agent": "t"}) as ws:
                assert json.loads(await ws.recv())["topic"] == "system"
                assert json.loads(await ws.recv())["args"]["authenticated"] is True
        recorded = stack.control("ibkr", "testnet").recorded("/v1/api/tickle")
        assert recorded
        assert "authorization" not in {k.lower() for k in recorded[0].headers}
