"""Loopback fakes of the sentiment data sources, one app with each source under its own prefix.

- `/cryptopanic` + `/api/developer/v2/posts/` (and the legacy `/api/v1/posts/`) (cryptopanic.py):
  `SENTIMENT_CRYPTOPANIC_URL` = `<url>/cryptopanic`;
- `/coindesk` + `/news/v1/article/list` (coindesk.py): `SENTIMENT_COINDESK_URL` = `<url>/coindesk`;
- `/lunarcrush` + `/api4/public/coins/...` (lunarcrush.py): `SENTIMENT_LUNARCRUSH_URL` =
  `<url>/lunarcrush`.

Written from each source's documentation, never from our client. Each source checks its key
(`CRYPTOPANIC_KEY`, `COINDESK_API_KEY`, `LUNARCRUSH_KEY`; the credentials also hold a CryptoPanic
Developer-plan token, whose posts carry fewer fields) and enforces its per-key limits unless
`app.state.venue.rate_limit` is False (the test stack's "rate limits disabled" switch). The news of
CryptoPanic and CoinDesk comes from one catalogue (news.py), so the same stories appear in both. A
provider has no testnet, so the harness runs one instance (`SPEC.envs`). Every request runs at one
pinned instant of the instance's clock; everything served is a pure function of the seed and that
instant. Faults and the request recorder come from the harness's `SimControl` wrapper.
"""

from __future__ import annotations

import json
import math
import secrets
import string
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock
from cerbero_mcp.simulators.sentiment import coindesk, cryptopanic, lunarcrush
from cerbero_mcp.simulators.sentiment.limits import FixedWindow, SlidingWindow, admit

T = TypeVar("T")
JSON = "application/json"
Answer = tuple[int, Any, dict[str, str]]


class SentimentVenue:
    """One simulator instance: the news catalogue's seed, the LunarCrush model, the keys and the limits."""

    def __init__(self, config: SimulatorConfig, *, rate_limit: bool = True) -> None:
        """Build the sources of `config`'s seed."""
        self.config = config
        self.seed = config.seed
        self.rate_limit = rate_limit
        self.clock = PinnedClock(config.clock)
        self.lunarcrush = lunarcrush.LunarCrushModel(config.seed)
        creds = dict(config.credentials)
        self.cryptopanic_key = creds.get("cryptopanic_key", "")
        self.cryptopanic_developer_key = creds.get("cryptopanic_developer_key", "")
        self.coindesk_key = creds.get("coindesk_api_key", "")
        self.lunarcrush_key = creds.get("lunarcrush_key", "")
        self._cp_window = SlidingWindow(cryptopanic.RATE_LIMIT_PER_S, 1.0)
        self._cd_windows = [FixedWindow(n, s) for s, n in coindesk.RATE_LIMITS]
        self._cd_anonymous = [FixedWindow(n, s) for s, n in coindesk.ANONYMOUS_LIMITS]
        self._lc_minute = FixedWindow(lunarcrush.RATE_LIMIT_PER_MIN, 60.0)
        self._lc_day = FixedWindow(lunarcrush.RATE_LIMIT_PER_DAY, 86_400.0)
        self.lock = threading.RLock()

    # --- CryptoPanic -------------------------------------------------------------------------------

    def cryptopanic(self, version: int, params: Mapping[str, str], url: str) -> Answer:
        """Answer a CryptoPanic posts request: (status, JSON payload, extra headers)."""
        token = params.get("auth_token", "")
        if not token or token not in (self.cryptopanic_key, self.cryptopanic_developer_key):
            return 401, cryptopanic.TOKEN_NOT_FOUND, {}
        now = self.clock.now()
        if self.rate_limit:
            state = self._cp_window.peek(token, now)
            if not state.allowed:
                return 429, cryptopanic.RATE_LIMITED, {"Retry-After": str(max(1, math.ceil(state.reset_at - now)))}
            self._cp_window.take(token, now)
        developer = token == self.cryptopanic_developer_key
        try:
            body = cryptopanic.posts(self.seed, params, now, url=url, version=version, developer=developer)
        except cryptopanic.CryptoPanicError as exc:
            return exc.status, exc.body, {}
        return 200, body, {}

    # --- CoinDesk ----------------------------------------------------------------------------------

    def coindesk(self, params: Mapping[str, str], headers: Mapping[str, str], client: str) -> Answer:
        """Answer a CoinDesk Data API request: (status, JSON payload, extra headers)."""
        key = params.get("api_key", "")
        auth = headers.get("authorization", "")
        if auth:
            scheme, _, value = auth.partition(" ")
            key = value.strip() if scheme.lower() == "apikey" else "\x00invalid"
        if key and key != self.coindesk_key:
            err = coindesk.CoinDeskError(401, coindesk.ERR_UNAUTHORIZED, coindesk.UNAUTHORIZED_MESSAGE)
            return 401, err.body, {}
        now = self.clock.now()
        if self.rate_limit:
            windows = self._cd_windows if key else self._cd_anonymous
            who = key or f"ip:{client}"
            refused = admit(windows, who, now)
            if refused is not None:
                err = coindesk.CoinDeskError(429, coindesk.ERR_RATE_LIMIT, coindesk.RATE_LIMIT_MESSAGE)
                return 429, err.body, {"Retry-After": str(max(1, math.ceil(refused.reset_at - now)))}
        try:
            return 200, coindesk.article_list(self.seed, params, now), {}
        except coindesk.CoinDeskError as exc:
            return exc.status, exc.body, {}

    # --- LunarCrush --------------------------------------------------------------------------------

    def _lunarcrush_headers(self, key: str, now: float) -> dict[str, str]:
        minute = self._lc_minute.peek(key, now)
        day = self._lc_day.peek(key, now)
        return {
            "x-rate-limit-minute": str(minute.limit),
            "x-rate-limit-minute-remaining": str(minute.remaining),
            "x-rate-limit-minute-reset": str(int(minute.reset_at)),
            "x-rate-limit-day": str(day.limit),
            "x-rate-limit-day-remaining": str(day.remaining),
            "x-rate-limit-day-reset": str(int(day.reset_at)),
        }

    def lunarcrush_call(self, endpoint: str, params: Mapping[str, str], headers: Mapping[str, str]) -> Answer:
        """Answer a LunarCrush request under /api4/public/: (status, JSON payload, extra headers)."""
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else params.get("key", "")
        if not key or key != self.lunarcrush_key:
            return 401, lunarcrush.UNAUTHORIZED, {}
        now = self.clock.now()
        if self.rate_limit:
            refused = admit([self._lc_minute, self._lc_day], key, now)
            if refused is not None:
                extra = self._lunarcrush_headers(key, now)
                extra["Retry-After"] = str(max(1, math.ceil(refused.reset_at - now)))
                return 429, lunarcrush.RATE_LIMITED, extra
        extra = self._lunarcrush_headers(key, now) if self.rate_limit else {}
        parts = endpoint.strip("/").split("/")
        model = self.lunarcrush
        try:
            if parts == ["coins", "list", "v1"]:
                return 200, model.coins_list(params, now), extra
            if len(parts) in (3, 4) and parts[0] == "coins":
                coin = lunarcrush.find_coin(parts[1])
                if coin is None:
                    return 404, {"error": f"Coin not found: {parts[1]}"}, extra
                if parts[2:] == ["v1"]:
                    return 200, model.coin(coin, now), extra
                if parts[2:] == ["time-series", "v2"]:
                    return 200, model.series(coin, params, now), extra
        except lunarcrush.LunarCrushError as exc:
            return exc.status, exc.body, extra
        return 404, {"error": "Not found"}, extra


def _params(request: Request) -> dict[str, str]:
    # the last value wins for a repeated parameter, as the sources' web frameworks do
    return dict(request.query_params.items())


def build_app(config: SimulatorConfig, *, rate_limit: bool = True) -> Starlette:
    """Return the sentiment sources' simulator for one instance (`app.state.venue` is its `SentimentVenue`)."""
    venue = SentimentVenue(config, rate_limit=rate_limit)

    def pinned(fn: Callable[[], T]) -> T:
        with venue.lock:
            venue.clock.pin()
            try:
                return fn()
            finally:
                venue.clock.release()

    def respond(answer: Answer) -> Response:
        status, payload, extra = answer
        body = json.dumps(payload, ensure_ascii=False).encode()
        return Response(body, status_code=status, media_type=JSON, headers=extra)

    async def cryptopanic_v2(request: Request) -> Response:
        url = str(request.url.replace(query=""))
        return respond(pinned(lambda: venue.cryptopanic(2, _params(request), url)))

    async def cryptopanic_v1(request: Request) -> Response:
        url = str(request.url.replace(query=""))
        return respond(pinned(lambda: venue.cryptopanic(1, _params(request), url)))

    async def coindesk_list(request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        client = request.client.host if request.client else "unknown"
        return respond(pinned(lambda: venue.coindesk(_params(request), headers, client)))

    async def lunarcrush_endpoint(request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        endpoint: str = request.path_params["endpoint"]
        return respond(pinned(lambda: venue.lunarcrush_call(endpoint, _params(request), headers)))

    routes = [
        Route(f"/cryptopanic{cryptopanic.PATH_V2}", cryptopanic_v2, methods=["GET"]),
        Route(f"/cryptopanic{cryptopanic.PATH_V1}", cryptopanic_v1, methods=["GET"]),
        Route(f"/coindesk{coindesk.PATH}", coindesk_list, methods=["GET"]),
        Route("/lunarcrush/api4/public/{endpoint:path}", lunarcrush_endpoint, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.venue = venue
    return app


# --- the harness's view -------------------------------------------------------------------------

ALNUM = string.ascii_lowercase + string.digits


def _key(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _credentials(env: str) -> dict[str, str]:
    return {
        "cryptopanic_key": _key(40, string.hexdigits.lower()[:16]),
        "cryptopanic_developer_key": _key(40, string.hexdigits.lower()[:16]),
        "coindesk_api_key": _key(64, string.hexdigits.lower()[:16]),
        "lunarcrush_key": _key(40),
    }


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    return {
        "SENTIMENT_CRYPTOPANIC_URL": f"{url}/cryptopanic",
        "SENTIMENT_COINDESK_URL": f"{url}/coindesk",
        "SENTIMENT_LUNARCRUSH_URL": f"{url}/lunarcrush",
        "CRYPTOPANIC_KEY": creds["cryptopanic_key"],
        "COINDESK_API_KEY": creds["coindesk_api_key"],
        "LUNARCRUSH_KEY": creds["lunarcrush_key"],
    }


SPEC = SimulatorSpec(
    venue="sentiment", build_app=build_app, settings_overrides=_overrides, credentials=_credentials, envs=("mainnet",)
)
