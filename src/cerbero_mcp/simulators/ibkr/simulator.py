"""Loopback fake of the IBKR Client Portal Web API with first-party OAuth 1.0a, on the shared engine.

Everything IBKR serves lives under `/v1/api` (the gateway's IBKR_URL_* point there):

- `POST /oauth/live_session_token` — RSA-SHA256 signed with the prepend, answers the DH exchange
  (`oauth.py`). Every other call needs the HMAC-SHA256 OAuth header keyed by the live session
  token (LST): anything else is 401 `{"error": "..."}`. The WebSocket (`/ws`) is in `ws.py`.
- Brokerage session: `POST /iserver/auth/ssodh/init` `{"publish": true, "compete": true}` opens it;
  until then (and after `drop-brokerage-session`) every `/iserver/*` call but `auth/status` and
  `reauthenticate` is HTTP 400 `{"error": "no bridge"}`. `/tickle` reports the session id (the WebSocket
  cookie) and `iserver.authStatus`. A new LST keeps the brokerage session unless
  LST_RESETS_BROKERAGE is set. One live session per user, as IBKR allows one session per username: a
  new LST knocks a still-live one off (its LST answers 401 from then on; `oauth.displaced` counts these).
  `GET /iserver/accounts` must come before snapshots, cancels and modifies of the brokerage session
  ("accounts not primed", 400); `GET /portfolio/accounts` before the other `/portfolio/*` of the live
  session ("portfolio accounts not primed", 400).
- Market data, contracts and schedules: `market.py`; orders: `orders.py`; the account's
  views: `views.py`. A snapshot's first call for a conid in a brokerage session answers only
  `conid`, `conidEx`, `_updated` and `server_id` (preflight); later calls carry the fields as strings.
  The live-orders list (`GET /iserver/account/orders`) also needs a pre-flight: its first request of a
  brokerage session, and any with `force=true`, answers `{"orders": [], "snapshot": false}`.
  Positions are cached until invalidated (`views.py`); `/portfolio2/{acct}/positions` is not.
- Pacing (`pacing.py`): IBKR's documented global and per-endpoint limits; a request over one is
  answered 429 and its address is shut out (429 to everything) for 10 minutes. `build_app(rate_limit=
  False)` (or `app.state.venue.rate_limit = False`) turns it off.
- Cancelling a bracket's parent cancels its waiting children with it (`desk.py`); cancelling an order that
  is no longer working is refused.

Control routes, outside `/v1/api`, unauthenticated, served under `/__ibkr__/` (what works through the
harness: its `SimControl` wrapper answers every other `/__sim__/*` path itself, with a 404) and under
`/__sim__/ibkr/` (for the bare app): `POST expire-lst`, `POST drop-brokerage-session`,
`POST drop-websockets`, `POST register` `{"public_signature_key": PEM, "public_encryption_key": PEM,
"dh_prime": hex?}` → `{"consumer_key", "access_token", "access_token_secret"}` (the portal's key
rotation: the old consumer key and token stop working). The same controls are methods of
`app.state.venue` (`expire_lst`, `drop_brokerage_session`, `drop_websockets`, `oauth.register`).

Every request first brings the engine up to the clock (`config.clock`), then runs at that instant.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock
from cerbero_mcp.simulators.ibkr.desk import OrderDesk
from cerbero_mcp.simulators.ibkr.hours import MarketError, session_close_after
from cerbero_mcp.simulators.ibkr.market import STOCKS, IbkrMarket
from cerbero_mcp.simulators.ibkr.matching import IbkrEngine
from cerbero_mcp.simulators.ibkr.oauth import ACCOUNT_IDS, OAuthError, OAuthServer, generate_credentials
from cerbero_mcp.simulators.ibkr.orders import Rejection
from cerbero_mcp.simulators.ibkr.pacing import Enforcer
from cerbero_mcp.simulators.ibkr.routes import ApiError, Brokerage, Call, api_routes
from cerbero_mcp.simulators.ibkr.views import AccountViews, ms
from cerbero_mcp.simulators.ibkr.ws import HEARTBEAT_S, SMD_INTERVAL_S, SocketHub

INITIAL_CASH = Decimal(1_000_000)
STOCK_LEVERAGE = 2
LST_RESETS_BROKERAGE = False
SERVER_INFO = {"serverName": "CerberoSim", "serverVersion": "Build 10.x sim"}
CREDENTIAL_SETTINGS = ("consumer_key", "access_token", "access_token_secret", "signature_key_path",
                       "encryption_key_path", "dh_prime", "account_id")  # fmt: skip


class IbkrVenue:
    """One simulator instance: OAuth, brokerage session, market, account, orders and sockets."""

    def __init__(
        self, config: SimulatorConfig, *, heartbeat_s: float, smd_interval_s: float, rate_limit: bool = True
    ) -> None:
        """Build from the generated credentials, as of the config's clock."""
        self.config = config
        self.rate_limit = rate_limit  # IBKR's pacing and penalty box (pacing.py); tests of other things turn it off
        self.pacing = Enforcer()
        self.clock = PinnedClock(config.clock)
        self.testnet = config.env == "testnet"
        self.account_id = config.credentials.get("account_id") or ACCOUNT_IDS[config.env]
        self.oauth = OAuthServer.from_credentials(config.credentials)
        self.market = IbkrMarket(config.seed, config.clock.now())
        self.engine = IbkrEngine(self.market.model, self.clock, id_factory=lambda kind, n: f"{kind[0]}{n}",
                                 day_end=session_close_after, settle_funding=False)  # fmt: skip
        self.market.book_of = lambda symbol, depth: self.engine.book(symbol, depth)
        self.engine.open_account(self.account_id, {"USD": INITIAL_CASH}, allow_short=True)
        for s in STOCKS:
            self.engine.set_leverage(self.account_id, s.symbol, STOCK_LEVERAGE)
        self.desk = OrderDesk(self.market, self.engine, self.account_id)
        self.views = AccountViews(self.market, self.desk, self.account_id, self.testnet)
        self.brokerage = Brokerage()
        self.sockets = SocketHub(self, heartbeat_s=heartbeat_s, smd_interval_s=smd_interval_s)
        self.lock = threading.RLock()

    @contextmanager
    def at(self) -> Iterator[float]:
        """Hold the venue at the clock's current instant, with the engine and linked orders brought up to it."""
        with self.lock:
            now = self.clock.pin()
            try:
                self.market.ensure_listed(now)
                self.engine.advance(now)
                self.desk.settle_all(now)
                self.desk.ratchet(now)
                yield now
            finally:
                self.clock.release()

    # --- controls ---------------------------------------------------------------------------------

    def expire_lst(self) -> bool:
        """Expire the live session token (the next signed call gets 401)."""
        with self.lock:
            return self.oauth.expire()

    def drop_brokerage_session(self) -> None:
        """End the brokerage session: /iserver/* answers "no bridge" until the next ssodh/init."""
        with self.lock:
            self.brokerage = Brokerage()

    def drop_websockets(self) -> int:
        """Close every open WebSocket; return how many."""
        return self.sockets.drop_all()

    # --- the WebSocket's backend ------------------------------------------------------------------

    def ws_token_ok(self, token: str) -> bool:
        """Return whether `token` is the access token and its LST is live."""
        with self.lock:
            return (
                bool(token)
                and token == self.oauth.access_token
                and self.oauth.live(self.config.clock.now()) is not None
            )

    def session_ok(self, session: str) -> bool:
        """Return whether `session` is the live session's id."""
        with self.lock:
            live = self.oauth.live(self.config.clock.now())
            return live is not None and session == live.session_id

    def ws_status(self) -> tuple[bool, str, int]:
        """Return (brokerage authenticated, session id, clock ms)."""
        with self.lock:
            now = self.config.clock.now()
            live = self.oauth.live(now)
            return self.brokerage.authenticated, live.session_id if live else "", ms(now)

    def known_conid(self, conid: str) -> int | None:
        """Return `conid` as an int if it is listed."""
        try:
            return self.market.contract(conid).conid
        except MarketError:
            return None

    def market_state(
        self, quotes: list[int], depths: list[int]
    ) -> tuple[int, dict[int, dict[str, str]], dict[int, list[dict[str, Any]]]]:
        """Return (ms, fields per conid, depth rows per conid) now."""
        with self.at() as now:
            q = {c: self.market.quote(self.market.contracts[c], now) for c in quotes}
            d = {c: self.market.depth(self.market.contracts[c], now) for c in depths}
            return ms(now), q, d

    # --- session endpoints ------------------------------------------------------------------------

    def auth_status(self) -> dict[str, Any]:
        """Return iserver's authStatus."""
        return {"authenticated": self.brokerage.authenticated, "competing": False, "connected": True,
                "message": "", "MAC": "00:00:5E:00:53:01", "serverInfo": SERVER_INFO, "fail": ""}  # fmt: skip

    def ssodh_init(self, call: Call) -> dict[str, Any]:
        """Open the brokerage session (a fresh one unless it is already open)."""
        body = call.body
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("publish"), bool)
            or not isinstance(body.get("compete"), bool)
        ):
            raise ApiError('the body must be {"publish": true, "compete": true}')
        if not self.brokerage.authenticated:
            self.brokerage = Brokerage(authenticated=True)
        return {**self.auth_status(), "hardware_info": "sim|sim"}

    def tickle(self, call: Call) -> dict[str, Any]:
        """Serve POST /tickle."""
        s = call.session
        return {
            "session": s.session_id, "ssoExpires": max(int((s.expires_at - call.now) * 1000), 0),
            "collission": False, "userId": 1, "hmds": {} if self.brokerage.authenticated else {"error": "no bridge"},
            "iserver": {"authStatus": self.auth_status()},
        }  # fmt: skip

    def logout(self, call: Call) -> dict[str, Any]:
        """End the live session and the brokerage session."""
        self.oauth.expire()
        self.brokerage = Brokerage()
        return {"status": True}

    # --- routing helpers --------------------------------------------------------------------------

    def account(self, call: Call) -> str:
        """Return the path's account id, if it is this instance's."""
        acct = call.path["acct"]
        if acct != self.account_id:
            raise ApiError(f"Account {acct} does not exist or is not accessible in this session")
        return acct


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=_default), status_code=status, media_type="application/json")


def _default(x: Any) -> Any:
    if isinstance(x, Decimal):
        return float(x)
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def _signed_url(request: Request) -> str:
    """Return the URL the client signed: scheme, host and port the request came in on, path, no query."""
    return f"{request.url.scheme}://{request.url.netloc}{request.url.path}"


def build_app(
    config: SimulatorConfig,
    *,
    heartbeat_s: float = HEARTBEAT_S,
    smd_interval_s: float = SMD_INTERVAL_S,
    rate_limit: bool = True,
) -> Starlette:
    """Return the IBKR Client Portal simulator for one instance (`app.state.venue` is its `IbkrVenue`)."""
    venue = IbkrVenue(config, heartbeat_s=heartbeat_s, smd_interval_s=smd_interval_s, rate_limit=rate_limit)

    def api(
        handler: Callable[[Call], Any],
        *,
        template: str = "",
        bridge: bool = False,
        accounts: bool = False,
        portfolio: bool = False,
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            body: Any = None
            if raw.strip():
                try:
                    body = json.loads(raw, parse_float=Decimal)
                except ValueError:
                    return _json({"error": "the body is not valid JSON"}, 400)
            with venue.at() as now:
                if venue.rate_limit:
                    client = request.client.host if request.client is not None else "unknown"
                    refused = venue.pacing.admit(client, request.method, template, now)
                    if refused is not None:
                        return _json({"error": refused}, 429)
                try:
                    session = venue.oauth.verify(request.method, _signed_url(request), dict(request.query_params),
                                                 request.headers.get("authorization", ""), now)  # fmt: skip
                    if bridge and not venue.brokerage.authenticated:
                        raise ApiError("no bridge")
                    if accounts and not venue.brokerage.accounts_primed:
                        raise ApiError("accounts not primed: call /iserver/accounts first")
                    if portfolio and not session.portfolio_primed:
                        raise ApiError("portfolio accounts not primed: call /portfolio/accounts first")
                    call = Call(now, body, dict(request.query_params), dict(request.path_params), session)
                    return _json(handler(call))
                except (ApiError, OAuthError, Rejection, MarketError) as exc:
                    return _json({"error": exc.message}, exc.status)
                except Exception as exc:  # a simulator bug: say so in IBKR's error shape, never a bare 500 page
                    return _json({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)

        return endpoint

    async def mint(request: Request) -> Response:
        with venue.at() as now:
            try:
                answer = venue.oauth.mint(_signed_url(request), request.headers.get("authorization", ""), now)
            except OAuthError as exc:
                return _json({"error": exc.message}, exc.status)
            if LST_RESETS_BROKERAGE:
                venue.brokerage = Brokerage()
            return _json(answer)

    async def control(request: Request) -> Response:
        action = request.path_params["action"]
        if action == "expire-lst":
            return _json({"expired": venue.expire_lst()})
        if action == "drop-brokerage-session":
            venue.drop_brokerage_session()
            return _json({"dropped": True})
        if action == "drop-websockets":
            return _json({"closed": venue.drop_websockets()})
        if action == "register":
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                body = None
            keys = ("public_signature_key", "public_encryption_key")
            if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in keys):
                return _json({"error": f"the body must carry {' and '.join(keys)} as PEM text"}, 400)
            prime = body.get("dh_prime")
            with venue.lock:
                try:
                    issued = venue.oauth.register(
                        body[keys[0]], body[keys[1]], prime if isinstance(prime, str) else None
                    )
                except OAuthError as exc:
                    return _json({"error": exc.message}, exc.status)
            return _json(issued)
        return _json({"error": f"no control route {action}"}, 404)

    async def ws(websocket: WebSocket) -> None:
        await venue.sockets.serve(websocket)

    routes: list[BaseRoute] = [
        Route("/v1/api/oauth/live_session_token", mint, methods=["POST"]),
        WebSocketRoute("/v1/api/ws", ws),
        *api_routes(venue, api),
        Route("/__ibkr__/{action}", control, methods=["POST"]),
        Route("/__sim__/ibkr/{action}", control, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.venue = venue
    return app


# --- the harness's view -------------------------------------------------------------------------


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    suffix = "TESTNET" if env == "testnet" else "LIVE"
    out = {f"IBKR_URL_{suffix}": f"{url}/v1/api"}
    for name in CREDENTIAL_SETTINGS:
        out[f"IBKR_{name.upper()}_{suffix}"] = creds[name]
    return out


SPEC = SimulatorSpec(venue="ibkr", build_app=build_app, settings_overrides=_overrides, credentials=generate_credentials)
