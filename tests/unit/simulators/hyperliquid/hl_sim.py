"""Helpers of the Hyperliquid simulator's tests: an instance on a ManualClock, driven over ASGI.

Actions are signed with the venue SDK's own `sign_l1_action` (the SDK as the client oracle), never
with the simulator's verification code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import eth_account
import httpx
from hyperliquid.utils.signing import sign_l1_action

from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig
from cerbero_mcp.simulators.hyperliquid.simulator import build_app

T0 = 1_772_452_800.0  # 2026-03-02T12:00:00Z
T0_MS = int(T0 * 1000)
OWNER_KEY = "0x" + "11" * 32
AGENT_KEY = "0x" + "22" * 32
OWNER = eth_account.Account.from_key(OWNER_KEY).address
AGENT = eth_account.Account.from_key(AGENT_KEY).address
CREDS = {"wallet_address": OWNER, "api_wallet_address": AGENT, "private_key": AGENT_KEY}
CLOID = "0x" + "ab" * 16


def make_app(clock: ManualClock, env: str = "testnet", seed: int = 7, **kw: Any) -> Any:
    """Return a simulator app on `clock`."""
    return build_app(SimulatorConfig("hyperliquid", env, seed, CREDS, clock), **kw)  # type: ignore[arg-type]


def order_wire(asset: int, is_buy: bool, px: str, sz: str, *, tif: str = "Gtc", reduce_only: bool = False,
               cloid: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Return a limit order wire in the key order the SDK uses."""
    wire: dict[str, Any] = {"a": asset, "b": is_buy, "p": px, "s": sz, "r": reduce_only, "t": {"limit": {"tif": tif}}}
    if cloid is not None:
        wire["c"] = cloid
    return wire


def trigger_wire(asset: int, is_buy: bool, px: str, sz: str, trigger_px: str, tpsl: str, *,
                 is_market: bool = True, reduce_only: bool = True) -> dict[str, Any]:  # fmt: skip
    """Return a trigger order wire."""
    t = {"trigger": {"isMarket": is_market, "triggerPx": trigger_px, "tpsl": tpsl}}
    return {"a": asset, "b": is_buy, "p": px, "s": sz, "r": reduce_only, "t": t}


class Sim:
    """One simulator app driven over ASGI."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock, app: Any, *, mainnet: bool = False) -> None:
        self.http = http
        self.clock = clock
        self.app = app
        self.mainnet = mainnet
        self._nonce = 0

    @property
    def venue(self) -> Any:
        return self.app.state.venue

    def nonce(self) -> int:
        """Return a fresh millisecond nonce at the clock (unique even within one millisecond)."""
        self._nonce = max(self._nonce + 1, int(self.clock.now() * 1000))
        return self._nonce

    async def info(self, body: dict[str, Any]) -> Any:
        r = await self.http.post("/info", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def signed(
        self,
        action: dict[str, Any],
        *,
        key: str = AGENT_KEY,
        nonce: int | None = None,
        mainnet: bool | None = None,
        vault: str | None = None,
        expires: int | None = None,
    ) -> dict[str, Any]:
        n = self.nonce() if nonce is None else nonce
        wallet = eth_account.Account.from_key(key)
        sig = sign_l1_action(wallet, action, vault, n, expires, self.mainnet if mainnet is None else mainnet)
        return {"action": action, "nonce": n, "signature": sig, "vaultAddress": vault, "expiresAfter": expires}

    async def send(self, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/exchange", json=body)

    async def act(self, action: dict[str, Any], **kw: Any) -> Any:
        r = await self.send(self.signed(action, **kw))
        assert r.status_code == 200, r.text
        return r.json()

    async def statuses(self, action: dict[str, Any], **kw: Any) -> list[Any]:
        body = await self.act(action, **kw)
        assert body["status"] == "ok", body
        out: list[Any] = body["response"]["data"]["statuses"]
        return out

    async def place(self, *wires: dict[str, Any], grouping: str = "na") -> list[Any]:
        return await self.statuses({"type": "order", "orders": list(wires), "grouping": grouping})

    async def mid(self, coin: str) -> float:
        mids = await self.info({"type": "allMids"})
        return float(mids[coin])


async def open_sim(app: Any, clock: ManualClock, *, mainnet: bool = False) -> AsyncIterator[Sim]:
    """Yield a Sim over `app`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hyperliquid.sim") as http:
        yield Sim(http, clock, app, mainnet=mainnet)
