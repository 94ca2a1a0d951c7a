"""Helpers of the Alpaca simulator's tests: an instance on a ManualClock, driven over ASGI with the APCA headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from cerbero_mcp.simulators.alpaca.simulator import build_app
from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig

T0 = 1_772_465_400.0  # 2026-03-02T15:30:00Z = 10:30 New York, a Monday, the regular session open
CREDS = {"key_id": "PKTESTKEY0123456789A", "secret_key": "testsecret0123456789abcdefghijklmnopqrstu"}


class Sim:
    """One simulator app driven over ASGI with a client's APCA headers."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock, app: Any, creds: dict[str, str]) -> None:
        self.http = http
        self.clock = clock
        self.app = app
        self.creds = creds

    @property
    def venue(self) -> Any:
        return self.app.state.venue

    @property
    def headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self.creds["key_id"], "APCA-API-SECRET-KEY": self.creds["secret_key"]}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> httpx.Response:
        return await self.http.request(method, path, json=body, params=params or None, headers=self.headers)

    async def ok(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        r = await self.call(method, path, body, **params)
        assert r.status_code == 200, r.text
        return r.json()

    async def error(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> tuple[int, Any]:
        r = await self.call(method, path, body, **params)
        assert r.status_code >= 400, r.text
        return r.status_code, r.json()

    async def order(self, **fields: Any) -> dict[str, Any]:
        """Place an order and return it as GET /v2/orders/{id} shows it (the POST answer is only an ack)."""
        ack: dict[str, Any] = await self.ok("POST", "/v2/orders", fields)
        body: dict[str, Any] = await self.ok("GET", f"/v2/orders/{ack['id']}")
        return body

    async def replace(self, order_id: str, **fields: Any) -> dict[str, Any]:
        """Replace an order and return the new one as GET shows it."""
        ack: dict[str, Any] = await self.ok("PATCH", f"/v2/orders/{order_id}", fields)
        assert ack["replaces"] == order_id
        body: dict[str, Any] = await self.ok("GET", f"/v2/orders/{ack['id']}")
        return body


def make_app(clock: ManualClock, env: str = "testnet", seed: int = 7, creds: dict[str, str] | None = None,
             **kw: Any) -> Any:  # fmt: skip
    """Return a simulator app on `clock`."""
    return build_app(SimulatorConfig("alpaca", env, seed, creds or CREDS, clock), **kw)  # type: ignore[arg-type]


async def open_sim(app: Any, clock: ManualClock, creds: dict[str, str] | None = None) -> AsyncIterator[Sim]:
    """Yield a Sim over `app`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alpaca.sim") as http:
        yield Sim(http, clock, app, creds or CREDS)
