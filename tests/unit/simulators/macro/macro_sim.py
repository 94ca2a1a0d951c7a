"""Helpers of the macro simulators' tests: an instance on a ManualClock, driven over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig
from cerbero_mcp.simulators.macro.simulator import build_app

# Wednesday 2026-03-04 15:00 UTC = 10:00 New York (EST): the NYSE session is open, Tuesday's curve is
# out at the Treasury but not yet on FRED, the February CPI is a week away.
T0 = datetime(2026, 3, 4, 15, tzinfo=UTC).timestamp()
# Thursday 2025-07-03 17:30 UTC = 13:30 New York (EDT), the day before Independence Day.
T1 = datetime(2025, 7, 3, 17, 30, tzinfo=UTC).timestamp()
SEED = 20_260_304
CREDS = {
    "fred_api_key": "abcdefghijklmnopqrstuvwxyz012345",
    "finnhub_api_key": "finnhubkey0123456789",
    "finnhub_free_key": "finnhubfree012345678",
}
TREASURY_XML = "/treasury/resource-center/data-chart-center/interest-rates/pages/xml"


def make_app(clock: ManualClock, *, seed: int = SEED, rate_limit: bool = True) -> Any:
    """Return a macro simulator app on `clock`."""
    config = SimulatorConfig("macro", "mainnet", seed, CREDS, clock)
    return build_app(config, rate_limit=rate_limit)


class Sim:
    """One macro simulator app driven over ASGI."""

    def __init__(self, http: httpx.AsyncClient, clock: ManualClock, app: Any) -> None:
        self.http = http
        self.clock = clock
        self.app = app

    @property
    def venue(self) -> Any:
        """Return the instance's `MacroVenue`."""
        return self.app.state.venue

    async def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        """GET a path of the app."""
        return await self.http.get(path, params=params, **kw)

    async def treasury(self, **params: str) -> httpx.Response:
        """GET the Treasury's XML feed for the yield curve."""
        return await self.get(TREASURY_XML, {"data": "daily_treasury_yield_curve", **params})

    async def fred(self, endpoint: str, *, key: str | None = CREDS["fred_api_key"], **params: Any) -> httpx.Response:
        """GET a FRED endpoint as JSON with the instance's key (key=None leaves it out)."""
        query = {"file_type": "json", **params}
        if key is not None:
            query["api_key"] = key
        return await self.get(f"/fred/fred/{endpoint}", query)

    async def observations(self, series_id: str, **params: Any) -> list[dict[str, str]]:
        """Return a FRED series' observations (asserting a 200)."""
        r = await self.fred("series/observations", series_id=series_id, **params)
        assert r.status_code == 200, r.text
        obs: list[dict[str, str]] = r.json()["observations"]
        return obs

    async def finnhub(
        self, endpoint: str, *, token: str | None = CREDS["finnhub_api_key"], **params: Any
    ) -> httpx.Response:
        """GET a Finnhub endpoint with the token parameter (token=None leaves it out)."""
        query = dict(params)
        if token is not None:
            query["token"] = token
        return await self.get(f"/finnhub/api/v1/{endpoint}", query)

    async def cot(self, dataset: str, **params: Any) -> httpx.Response:
        """GET a COT dataset with SoQL parameters."""
        return await self.get(f"/cftc/resource/{dataset}.json", params)


async def open_sim(app: Any, clock: ManualClock) -> AsyncIterator[Sim]:
    """Yield a `Sim` over an ASGI client bound to `app`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://macro.sim") as http:
        yield Sim(http, clock, app)
