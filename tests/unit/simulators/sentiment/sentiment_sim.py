"""Helpers of the sentiment simulators' tests: an instance on a ManualClock, driven over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig
from cerbero_mcp.simulators.sentiment.simulator import build_app

# Wednesday 2026-03-04 15:00 UTC, and a second pinned date a year and a half earlier.
T0 = datetime(2026, 3, 4, 15, tzinfo=UTC).timestamp()
T1 = datetime(2024, 9, 14, 7, 45, 30, tzinfo=UTC).timestamp()
SEED = 18_042_026
CREDS = {
    "cryptopanic_key": "0123456789abcdef0123456789abcdef01234567",
    "cryptopanic_developer_key": "fedcba9876543210fedcba9876543210fedcba98",
    "coindesk_api_key": "a" * 32 + "0123456789abcdef0123456789abcdef",
    "lunarcrush_key": "lunarcrushkey0123456789abcdefghijklmnopq",
}
CP_V2 = "/cryptopanic/api/developer/v2/posts/"
CP_V1 = "/cryptopanic/api/v1/posts/"
CD_LIST = "/coindesk/news/v1/article/list"
LC = "/lunarcrush/api4/public"
BASE = "http://sentiment.sim"


def make_app(clock: ManualClock, *, seed: int = SEED, rate_limit: bool = True) -> Any:
    """Return a sentiment simulator app on `clock`."""
    return build_app(SimulatorConfig("sentiment", "mainnet", seed, CREDS, clock), rate_limit=rate_limit)


class Sim:
    """One sentiment simulator app driven over ASGI."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock, app: Any) -> None:
        self.http = http
        self.clock = clock
        self.app = app

    async def cryptopanic(
        self, *, token: str | None = CREDS["cryptopanic_key"], path: str = CP_V2, **params: str
    ) -> httpx.Response:
        """GET CryptoPanic posts with a token (token=None leaves it out)."""
        query = {"public": "true", **params}
        if token is not None:
            query["auth_token"] = token
        return await self.http.get(path, params=query)

    async def follow(self, url: str) -> httpx.Response:
        """GET an absolute URL the simulator handed out (a CryptoPanic `next`)."""
        assert url.startswith(BASE + "/"), url
        return await self.http.get(url)

    async def coindesk(
        self, *, key: str | None = CREDS["coindesk_api_key"], header: bool = True, **params: str
    ) -> httpx.Response:
        """GET CoinDesk's article list with the key in the header (or as api_key), None for no key."""
        headers = {}
        query = dict(params)
        if key is not None and header:
            headers["authorization"] = f"Apikey {key}"
        elif key is not None:
            query["api_key"] = key
        return await self.http.get(CD_LIST, params=query, headers=headers)

    async def lunarcrush(
        self, endpoint: str, *, key: str | None = CREDS["lunarcrush_key"], **params: str
    ) -> httpx.Response:
        """GET a LunarCrush endpoint under /api4/public with a Bearer key (None for no key)."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return await self.http.get(f"{LC}/{endpoint}", params=params, headers=headers)


async def open_sim(app: Any, clock: ManualClock) -> AsyncIterator[Sim]:
    """Yield a `Sim` over an ASGI client bound to `app`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Sim(http, clock, app)
