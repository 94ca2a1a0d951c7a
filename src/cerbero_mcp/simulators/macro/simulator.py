"""Loopback fakes of the macro data sources, one app with each source under its own prefix.

- `/treasury` + the Treasury's real path (treasury.py): `MACRO_TREASURY_URL` = `<url>/treasury`;
- `/fred` + `/fred/series/observations`, `/fred/series` (fred.py): `MACRO_FRED_URL` = `<url>/fred`;
- `/finnhub/api/v1` + `/quote`, `/calendar/economic` (finnhub.py): `MACRO_FINNHUB_URL` =
  `<url>/finnhub/api/v1`;
- `/cftc` + `/resource/<dataset>.json` (cftc.py, soql.py): `MACRO_CFTC_URL` = `<url>/cftc`.

Written from each source's documentation, never from our client. FRED and Finnhub check their
keys (`FRED_API_KEY`, `FINNHUB_API_KEY`; the credentials also hold a free-plan Finnhub key, which
the premium economic calendar refuses) and enforce their per-key limits unless
`app.state.venue.rate_limit` is False (the test stack's "rate limits disabled" switch). A provider
has no testnet, so the harness runs one instance (`SPEC.envs`). Every request runs at one pinned
instant of the instance's clock; everything served is a pure function of the seed and that instant.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from collections import deque
from datetime import date, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock
from cerbero_mcp.simulators.macro import cftc, finnhub, fred, treasury
from cerbero_mcp.simulators.macro.calendar import NEW_YORK, local_date
from cerbero_mcp.simulators.macro.model import MacroModel
from cerbero_mcp.simulators.macro.soql import SoqlError

FRED_WINDOW_S = 60.0
FINNHUB_WINDOW_S = 60


class MacroVenue:
    """One simulator instance: the model, the COT datasets, the keys and the per-key limits."""

    def __init__(self, config: SimulatorConfig, *, rate_limit: bool = True) -> None:
        """Build the sources of `config`'s seed."""
        self.config = config
        self.rate_limit = rate_limit
        self.clock = PinnedClock(config.clock)
        self.model = MacroModel(config.seed)
        self.cot = cftc.datasets(config.seed)
        creds = dict(config.credentials)
        self.fred_key = creds.get("fred_api_key", "")
        self.finnhub_key = creds.get("finnhub_api_key", "")
        self.finnhub_free_key = creds.get("finnhub_free_key", "")
        self._fred_calls: dict[str, deque[float]] = {}
        self._finnhub_minute: dict[str, tuple[int, int]] = {}
        self._finnhub_second: dict[str, deque[float]] = {}
        self.lock = threading.RLock()

    # --- FRED ------------------------------------------------------------------------------------

    def fred(self, endpoint: str, params: dict[str, str]) -> tuple[int, bytes, str]:
        """Answer a FRED request: (status, body, media type)."""
        as_json = params.get("file_type") == "json"
        try:
            key = fred.check_key(params, self.fred_key)
            now = self.clock.now()
            if self.rate_limit:
                calls = self._fred_calls.setdefault(key, deque())
                while calls and calls[0] <= now - FRED_WINDOW_S:
                    calls.popleft()
                if len(calls) >= fred.RATE_LIMIT_PER_MIN:
                    raise fred.FredError(429, "Too Many Requests.  Exceeded Rate Limit")
                calls.append(now)
            if endpoint == "series/observations":
                payload = fred.observations(self.model, params, now)
                if not as_json:
                    return 200, fred.observations_xml(payload), "text/xml; charset=UTF-8"
            elif endpoint == "series":
                payload = fred.series_info(self.model, params, now)
                if not as_json:
                    return 200, fred.series_xml(payload), "text/xml; charset=UTF-8"
            else:
                raise fred.FredError(404, "Not Found.")
            return 200, json.dumps(payload).encode(), "application/json; charset=UTF-8"
        except fred.FredError as exc:
            body, media = fred.error_body(exc, as_json)
            return exc.status, body, media

    # --- Finnhub ---------------------------------------------------------------------------------

    def _finnhub_take(self, key: str, now: float) -> dict[str, str]:
        """Count a call against the key's minute and second windows; raise 429 when over either."""
        window = int(now // FINNHUB_WINDOW_S) * FINNHUB_WINDOW_S
        start, used = self._finnhub_minute.get(key, (window, 0))
        if start != window:
            start, used = window, 0
        second = self._finnhub_second.setdefault(key, deque())
        while second and second[0] <= now - 1.0:
            second.popleft()
        over = used >= finnhub.RATE_LIMIT_PER_MIN or len(second) >= finnhub.RATE_LIMIT_PER_S
        if not over:
            used += 1
            second.append(now)
        self._finnhub_minute[key] = (start, used)
        headers = {
            "X-Ratelimit-Limit": str(finnhub.RATE_LIMIT_PER_MIN),
            "X-Ratelimit-Remaining": str(max(finnhub.RATE_LIMIT_PER_MIN - used, 0)),
            "X-Ratelimit-Reset": str(start + FINNHUB_WINDOW_S),
        }
        if over:
            raise _FinnhubLimited(headers)
        return headers

    def finnhub(
        self, endpoint: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer a Finnhub request: (status, JSON payload, extra headers)."""
        key = params.get("token") or headers.get("x-finnhub-token", "")
        if not key:
            return 401, {"error": finnhub.NO_KEY}, {}
        if key not in (self.finnhub_key, self.finnhub_free_key):
            return 401, {"error": finnhub.BAD_KEY}, {}
        now = self.clock.now()
        extra: dict[str, str] = {}
        if self.rate_limit:
            try:
                extra = self._finnhub_take(key, now)
            except _FinnhubLimited as exc:
                return 429, {"error": finnhub.LIMIT_REACHED}, exc.headers
        if endpoint == "quote":
            symbol = params.get("symbol", "")
            if not symbol:
                return 422, {"error": "Symbol is required."}, extra
            return 200, finnhub.quote(self.model, symbol, now), extra
        if endpoint == "calendar/economic":
            if key == self.finnhub_free_key:
                return 403, {"error": finnhub.NO_ACCESS}, extra
            today = local_date(now, NEW_YORK)
            try:
                start = date.fromisoformat(params["from"]) if params.get("from") else today
                end = date.fromisoformat(params["to"]) if params.get("to") else today + timedelta(days=7)
            except ValueError:
                return 422, {"error": "Wrong date format. Please use YYYY-MM-DD."}, extra
            if end < start:
                return 200, {"economicCalendar": []}, extra
            return 200, finnhub.economic_calendar(self.model, start, end, now), extra
        return 404, {"error": "Not found."}, extra

    # --- CFTC ------------------------------------------------------------------------------------

    def cftc(self, dataset: str, params: dict[str, str]) -> tuple[int, Any]:
        """Answer a Socrata request on a COT dataset: (status, JSON payload)."""
        found = self.cot.get(dataset)
        if found is None:
            return 404, cftc.missing(dataset)
        try:
            return 200, found.query(params, self.clock.now())
        except SoqlError as exc:
            return exc.status, exc.body


class _FinnhubLimited(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("rate limited")
        self.headers = headers


def _params(request: Request) -> dict[str, str]:
    # the last value wins for a repeated parameter, as the sources' web frameworks do
    return dict(request.query_params.items())


def build_app(config: SimulatorConfig, *, rate_limit: bool = True) -> Starlette:
    """Return the macro sources' simulator for one instance (`app.state.venue` is its `MacroVenue`)."""
    venue = MacroVenue(config, rate_limit=rate_limit)

    def pinned(fn: Any, *args: Any) -> Any:
        with venue.lock:
            venue.clock.pin()
            try:
                return fn(*args)
            finally:
                venue.clock.release()

    async def treasury_feed(request: Request) -> Response:
        params = _params(request)
        body: str = pinned(lambda: treasury.feed(venue.model, params, venue.clock.now()))
        return Response(body.encode(), media_type=treasury.CONTENT_TYPE)

    async def fred_endpoint(request: Request) -> Response:
        status, body, media = pinned(venue.fred, request.path_params["endpoint"], _params(request))
        return Response(body, status_code=status, media_type=media)

    async def finnhub_endpoint(request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, payload, extra = pinned(venue.finnhub, request.path_params["endpoint"], _params(request), headers)
        return Response(json.dumps(payload).encode(), status_code=status, media_type="application/json", headers=extra)

    async def cftc_endpoint(request: Request) -> Response:
        name: str = request.path_params["resource"]
        dataset = name.removesuffix(".json")
        status, payload = pinned(venue.cftc, dataset, _params(request))
        return Response(json.dumps(payload).encode(), status_code=status, media_type="application/json;charset=utf-8")

    routes = [
        Route(f"/treasury{treasury.PATH}", treasury_feed, methods=["GET"]),
        Route("/fred/fred/{endpoint:path}", fred_endpoint, methods=["GET"]),
        Route("/finnhub/api/v1/{endpoint:path}", finnhub_endpoint, methods=["GET"]),
        Route("/cftc/resource/{resource}", cftc_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.venue = venue
    return app


# --- the harness's view -------------------------------------------------------------------------

ALNUM = string.ascii_lowercase + string.digits


def _key(length: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(length))


def _credentials(env: str) -> dict[str, str]:
    return {"fred_api_key": _key(32), "finnhub_api_key": _key(20), "finnhub_free_key": _key(20)}


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    return {
        "MACRO_TREASURY_URL": f"{url}/treasury",
        "MACRO_FRED_URL": f"{url}/fred",
        "MACRO_FINNHUB_URL": f"{url}/finnhub/api/v1",
        "MACRO_CFTC_URL": f"{url}/cftc",
        "FRED_API_KEY": creds["fred_api_key"],
        "FINNHUB_API_KEY": creds["finnhub_api_key"],
    }


SPEC = SimulatorSpec(
    venue="macro", build_app=build_app, settings_overrides=_overrides, credentials=_credentials, envs=("mainnet",)
)
