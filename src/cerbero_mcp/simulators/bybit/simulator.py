"""Loopback fake of Bybit API v5 (unified account) over HTTP, on the shared simulation engine.

Written from bybit-exchange/docs (docs/v5/guide.mdx, error.mdx, rate-limit/rate-limit.mdx,
demo.mdx, market/*.mdx, order/*.mdx, position/*.mdx, account/*.mdx), never from our client.

- Envelope `{retCode, retMsg, result, retExtInfo, time}`; business errors are HTTP 200 with
  `retCode != 0`; every number is a string; cursors are opaque (`nextPageCursor`, `""` at the end).
- Market endpoints are unsigned GETs; private ones are verified from the raw bytes received
  (`auth.py`): 401 without the X-BAPI headers, 10003 for a key this environment did not issue,
  10002 outside the recv window, 10004 for a bad signature.
- Per-UID per-endpoint limits with the X-Bapi-Limit* headers on every private answer (10006 over
  them) and the 600 requests / 5 s IP limit (HTTP 403, then a ten-minute ban); both obey
  `app.state.venue.rate_limit` (the test stack's "rate limits disabled" switch).
- An unknown path is HTTP 404 (retCode 10017 "Route not found."); a category outside
  linear/inverse/spot/option, or one the endpoint does not serve, is 10001 "Illegal category".
- `demo=True` runs the instance as Bybit's Demo Trading (api-demo.bybit.com): market data and the
  private endpoints demo.mdx lists work; any other private endpoint (here /v5/account/fee-rate, and
  create-batch outside linear/option) answers 10001 "Demo trading are not supported.".

Every request first brings the engine up to the clock, then runs at that one pinned instant.
"""

from __future__ import annotations

import secrets
import string
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.simulators.bybit import account_api, market_api
from cerbero_mcp.simulators.bybit.auth import Authenticator, EndpointLimits, IpLimit, Key
from cerbero_mcp.simulators.bybit.market import BybitMarket
from cerbero_mcp.simulators.bybit.routing import Call, Endpoint, WithExt
from cerbero_mcp.simulators.bybit.trading import Trading
from cerbero_mcp.simulators.bybit.wire import BybitError, Params, encode, envelope, ms, parse_body, parse_query
from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock

DEMO_UNSUPPORTED = "Demo trading are not supported."
DEMO_BATCH_CATEGORIES = ("linear", "option")


def table() -> dict[str, Endpoint]:
    """Return every served path with its method, signing, handler and demo support."""
    public = {
        "/v5/market/time": market_api.server_time,
        "/v5/market/instruments-info": market_api.instruments_info,
        "/v5/market/tickers": market_api.tickers,
        "/v5/market/orderbook": market_api.orderbook,
        "/v5/market/kline": market_api.kline,
        "/v5/market/mark-price-kline": market_api.mark_kline,
        "/v5/market/index-price-kline": market_api.index_kline,
        "/v5/market/funding/history": market_api.funding_history,
        "/v5/market/open-interest": market_api.open_interest,
    }
    out = {path: Endpoint("GET", False, fn) for path, fn in public.items()}
    out.update({
        "/v5/account/wallet-balance": Endpoint("GET", True, account_api.wallet_balance),
        "/v5/account/info": Endpoint("GET", True, account_api.account_info),
        "/v5/account/fee-rate": Endpoint("GET", True, account_api.fee_rate, demo=False),
        "/v5/position/list": Endpoint("GET", True, account_api.position_list),
        "/v5/position/set-leverage": Endpoint("POST", True, account_api.set_leverage),
        "/v5/position/trading-stop": Endpoint("POST", True, account_api.trading_stop),
        "/v5/order/create": Endpoint("POST", True, account_api.create_order),
        "/v5/order/create-batch": Endpoint("POST", True, account_api.create_batch),
        "/v5/order/amend": Endpoint("POST", True, account_api.amend_order),
        "/v5/order/cancel": Endpoint("POST", True, account_api.cancel_order),
        "/v5/order/cancel-all": Endpoint("POST", True, account_api.cancel_all),
        "/v5/order/realtime": Endpoint("GET", True, account_api.realtime),
        "/v5/order/history": Endpoint("GET", True, account_api.order_history),
        "/v5/execution/list": Endpoint("GET", True, account_api.executions),
    })  # fmt: skip
    return out


class BybitVenue:
    """One simulator instance: market, account, keys, limits and the path table."""

    def __init__(self, config: SimulatorConfig, *, demo: bool = False, rate_limit: bool = True) -> None:
        """Build the market and the funded account as of the config's clock."""
        self.config = config
        self.demo = demo
        self.rate_limit = rate_limit
        self.clock = PinnedClock(config.clock)
        self.market = BybitMarket(config.seed, config.clock.now())
        self.trading = Trading(self.market, self.clock, config.seed)
        self.uid = str(100_000_000 + config.seed % 900_000_000)
        creds = dict(config.credentials)
        self.auth = Authenticator([Key(creds.get("api_key", ""), creds.get("api_secret", ""), self.uid)])
        self.limits = EndpointLimits()
        self.ip = IpLimit()
        self.created_ms = ms(config.clock.now())
        self.lock = threading.RLock()
        self.paths: dict[str, Endpoint] = table()

    def serve(
        self, method: str, path: str, query: bytes, body: bytes, headers: dict[str, str], client: str
    ) -> tuple[int, bytes, dict[str, str], str]:
        """Answer one request: (HTTP status, body, extra headers, media type)."""
        with self.lock:
            now = self.clock.pin()
            extra: dict[str, str] = {}
            try:
                if self.rate_limit:
                    self.ip.take(client, now)
                if method == "GET" and body.strip() == b"{}":
                    raise BybitError(403, "Forbidden: a GET request with a JSON body", status=403)
                endpoint = self.paths.get(path)
                if endpoint is None or endpoint.method != method:
                    raise BybitError(10017, "Route not found.", status=404)
                self.market.ensure_listed(now)
                self.trading.advance(now)
                key = self.auth.verify(headers, query if method == "GET" else body, now) if endpoint.private else None
                params = parse_query(query) if method == "GET" else parse_body(body)
                if key is not None:
                    category = params.raw.get("category", "")
                    extra = self.limits.take(key.uid, path, str(category), now, enforce=self.rate_limit)
                    if self.demo and not self._demo_serves(endpoint, path, params):
                        raise BybitError(10001, DEMO_UNSUPPORTED)
                result = endpoint.handler(Call(params, now, self))
                ext: Any = {}
                if isinstance(result, WithExt):
                    result, ext = result.result, result.ext
                return 200, encode(envelope(result, ms(now), ext=ext)), extra, "application/json"
            except BybitError as exc:
                if "headers" in exc.ext:
                    extra = exc.ext.pop("headers")
                if exc.status == 403:
                    return 403, exc.message.encode(), extra, "text/plain"
                payload = envelope(exc.result, ms(now), code=exc.code, message=exc.message, ext=exc.ext)
                return exc.status, encode(payload), extra, "application/json"
            except Exception as exc:  # a simulator bug: say so in the venue's envelope, never a bare 500
                payload = envelope({}, ms(now), code=10016, message=f"Server error: {type(exc).__name__}")
                return 200, encode(payload), extra, "application/json"
            finally:
                self.clock.release()

    def _demo_serves(self, endpoint: Endpoint, path: str, params: Params) -> bool:
        if not endpoint.demo:
            return False
        if path == "/v5/order/create-batch":
            return params.raw.get("category") in DEMO_BATCH_CATEGORIES
        return True


def build_app(config: SimulatorConfig, *, demo: bool | None = None, rate_limit: bool = True) -> Starlette:
    """Return the Bybit v5 simulator for one instance (`app.state.venue` is its `BybitVenue`).

    `demo` runs it as Demo Trading; by default an instance is demo when its credentials say
    `demo: "true"` (what `DEMO_SPEC` gives its testnet instance).
    """
    is_demo = config.credentials.get("demo") == "true" if demo is None else demo
    venue = BybitVenue(config, demo=is_demo, rate_limit=rate_limit)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        client = request.client.host if request.client is not None else "local"
        status, payload, extra, media = venue.serve(
            request.method, request.url.path, request.scope.get("query_string", b""), body, headers, client
        )
        media_type = "application/json; charset=utf-8" if media == "application/json" else media
        return Response(payload, status_code=status, media_type=media_type, headers=extra)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT", "DELETE"])])
    app.state.venue = venue
    return app


# --- the harness's view -------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _credentials(env: str) -> dict[str, str]:
    # Bybit keys are 18 characters and secrets 36; the prefix keeps the two environments apart at a glance.
    return {"api_key": ("T" if env == "testnet" else "M") + _random(17), "api_secret": _random(36)}


def _demo_credentials(env: str) -> dict[str, str]:
    creds = _credentials(env)
    if env == "testnet":
        creds["demo"] = "true"
    return creds


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    suffix = "TESTNET" if env == "testnet" else "LIVE"
    return {
        f"BYBIT_URL_{suffix}": url,
        f"BYBIT_API_KEY_{suffix}": creds["api_key"],
        f"BYBIT_API_SECRET_{suffix}": creds["api_secret"],
    }


SPEC = SimulatorSpec(venue="bybit", build_app=build_app, settings_overrides=_overrides, credentials=_credentials)
# The same venue with its testnet instance run as Demo Trading (the issue: demo must work as the testnet URL).
DEMO_SPEC = SimulatorSpec(
    venue="bybit", build_app=build_app, settings_overrides=_overrides, credentials=_demo_credentials
)
