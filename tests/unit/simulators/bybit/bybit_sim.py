"""Helpers of the Bybit simulator's tests: an instance on a ManualClock, driven over ASGI with real signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from cerbero_mcp.simulators.bybit.simulator import build_app
from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig

T0 = 1_772_452_800.0  # 2026-03-02T12:00:00Z, a Monday
T0_MS = int(T0 * 1000)
CREDS = {"api_key": "TESTKEY0123456789a", "api_secret": "testsecret0123456789abcdefghijklmnop"}


def sign(secret: str, ts: int, api_key: str, window: str, payload: str) -> str:
    """Return Bybit's HMAC-SHA256 signature, computed here independently of the simulator."""
    return hmac.new(secret.encode(), f"{ts}{api_key}{window}{payload}".encode(), hashlib.sha256).hexdigest()


class Sim:
    """One simulator app driven over ASGI, signing as a Bybit client does."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock, app: Any, creds: dict[str, str]) -> None:
        self.http = http
        self.clock = clock
        self.app = app
        self.creds = creds

    @property
    def venue(self) -> Any:
        return self.app.state.venue

    def headers(self, payload: str, *, ts: int | None = None, window: str = "5000") -> dict[str, str]:
        stamp = int(self.clock.now() * 1000) if ts is None else ts
        key, secret = self.creds["api_key"], self.creds["api_secret"]
        return {
            "X-BAPI-API-KEY": key,
            "X-BAPI-TIMESTAMP": str(stamp),
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": sign(secret, stamp, key, window, payload),
            "Content-Type": "application/json",
        }

    async def public(self, path: str, **params: Any) -> dict[str, Any]:
        r = await self.http.get(path, params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def get(self, path: str, query: str) -> httpx.Response:
        return await self.http.get(f"{path}?{query}", headers=self.headers(query))

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(body)
        return await self.http.post(path, content=raw, headers=self.headers(raw))

    async def ok(self, path: str, body: dict[str, Any] | str) -> dict[str, Any]:
        r = await (self.get(path, body) if isinstance(body, str) else self.post(path, body))
        assert r.status_code == 200, r.text
        payload: dict[str, Any] = r.json()
        assert payload["retCode"] == 0, payload
        return payload

    async def code(self, path: str, body: dict[str, Any] | str) -> tuple[int, str]:
        r = await (self.get(path, body) if isinstance(body, str) else self.post(path, body))
        assert r.status_code == 200, r.text
        payload = r.json()
        return int(payload["retCode"]), str(payload["retMsg"])


def make_app(clock: ManualClock, env: str = "testnet", seed: int = 11, creds: dict[str, str] | None = None,
             **kw: Any) -> Any:  # fmt: skip
    """Return a simulator app on `clock`."""
    return build_app(SimulatorConfig("bybit", env, seed, creds or CREDS, clock), **kw)  # type: ignore[arg-type]


async def open_sim(app: Any, clock: ManualClock, creds: dict[str, str] | None = None) -> AsyncIterator[Sim]:
    """Yield a Sim over `app`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bybit.sim") as http:
        yield Sim(http, clock, app, creds or CREDS)
