"""Loopback fake of Deribit API v2 over HTTP, on the shared simulation engine (docs/simulation.md).

Wire protocol:

- `GET /api/v2/<scope>/<method>?k=v` and the JSON-RPC envelope POSTed to `/api/v2/` (or `/api/v2`,
  or `/api/v2/<scope>/<method>`). Answers echo `id` and carry `usIn`, `usOut`, `usDiff`, `testnet`.
  Errors are `{"error": {code, message, data: {reason, param}}}` with HTTP 400 (params, business),
  401 (13009 unauthorized, 13004 invalid_credentials), 429 (10028 too_many_requests); an unknown
  method is -32601 with 400.
- Auth: `public/auth` with `client_credentials`, `refresh_token` or `client_signature` issues an
  opaque access token (`expires_in` = TOKEN_TTL_S, unless `build_app(token_ttl_s=...)`) and a
  single-use refresh token; both expire on the instance's clock. `private/*` needs
  `Authorization: Bearer <token>` (also accepted: `deri-hmac-sha256 id=,ts=,sig=,nonce=` with the
  60 s window, and `Basic base64(id:secret)`); anything else is 13009 with HTTP 401.
- Tokens: without a `session:<name>` scope a token has Deribit's default `connection` scope and is
  valid only on the TCP connection that obtained it (13009 on any other, refresh included); with one
  it is valid on every connection.
- Rate limit: credit buckets per client (the client id for private calls, the caller's address for
  public ones): every non-matching-engine call costs 500 of a 50,000 pool refilled at 10,000 per
  second of the instance's clock, so a frozen ManualClock allows 100 such calls; matching-engine calls
  (buy, sell, edit, cancel*, close_position) have their own pool: 5 per second, bursts of 20. Out of
  credits: 10028 with HTTP 429. `build_app(rate_limit=False)` (or `app.state.venue.rate_limit =
  False`) turns both off.
- Connections: at most 32 simultaneous connections per IP (a connection is a client host:port, open
  until idle for uvicorn's 5 s keep-alive); a 33rd is refused with HTTP 429 (10028). Off with the
  rate limits.
- Settlement: matching-engine calls in the first SETTLEMENT_PAUSE_S seconds after 08:00 UTC are
  refused with 10041 `settlement_in_progress`, as Deribit pauses trading for the daily settlement.

Every request first brings the engine up to the clock, then runs at that one pinned instant. What
the venue serves (instruments, prices, the account, combos) is described in `market.py` and
`trading.py`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.simulators.deribit.account import AccountView
from cerbero_mcp.simulators.deribit.combos import ComboDesk
from cerbero_mcp.simulators.deribit.market import (
    ACCOUNT_CURRENCIES,
    BOOK_DEPTHS,
    CHART_RESOLUTIONS,
    CURRENCIES,
    DVOL_RESOLUTIONS,
    KINDS,
    DeribitMarket,
    check_currency,
    ms,
)
from cerbero_mcp.simulators.deribit.rpc import Params, RpcError, encode, invalid, num
from cerbero_mcp.simulators.deribit.trading import Trading
from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock

TOKEN_TTL_S = 900.0
REFRESH_TTL_S = 7 * 86_400.0
SIGNATURE_WINDOW_S = 60.0
CREDIT_POOL = 50_000.0
CREDIT_COST = 500.0
CREDIT_REFILL_PER_S = 10_000.0
# Matching-engine requests at the lowest volume tier: 5 per second sustained, bursts of 20 (the account
# summary's `limits.matching_engine`); counted in credits like the rest, on a separate pool.
ME_CREDIT_POOL = 200_000.0
ME_CREDIT_COST = 10_000.0
ME_CREDIT_REFILL_PER_S = 50_000.0
# "Deribit enforces a limit of 32 simultaneous connections per IP address ... a 33rd connection from
# the same IP will be rejected with an HTTP 429" (connection management article).
MAX_CONNECTIONS_PER_IP = 32
# ASGI never says when a TCP connection closes; uvicorn closes an idle keep-alive connection after 5 s
# (its `timeout_keep_alive` default), so a connection unseen for that long is counted as closed.
CONNECTION_IDLE_S = 5.0
# Deribit pauses trading "for several seconds" at the daily 08:00 UTC settlement (10041).
SETTLEMENT_S = 8 * 3600
SETTLEMENT_PAUSE_S = 5.0
API_VERSION = "1.2.26"
DEFAULT_SCOPE = "account:read_write block_trade:read_write connection mainaccount trade:read_write wallet:read_write"
MATCHING_ENGINE = frozenset(
    {
        "private/buy",
        "private/sell",
        "private/edit",
        "private/cancel",
        "private/cancel_all",
        "private/cancel_all_by_currency",
        "private/cancel_all_by_instrument",
        "private/cancel_by_label",
        "private/close_position",
    }
)

Handler = Callable[[Params, float], Any]


@dataclass
class Token:
    """An issued access or refresh token; `connection` binds a connection-scoped one to its connection."""

    client_id: str
    expires_at: float
    scope: str
    connection: str | None = None


def _session_name(scope: str) -> str | None:
    """Return the `session:<name>` of a requested scope, if any."""
    for part in scope.split():
        if part.startswith("session:") and len(part) > len("session:"):
            return part.removeprefix("session:")
    return None


class Auth:
    """Credentials of the instance, and the tokens it issued."""

    def __init__(self, credentials: dict[str, str], token_ttl_s: float, refresh_ttl_s: float) -> None:
        """Accept `credentials` (client_id, client_secret)."""
        self.client_id = credentials.get("client_id", "")
        self.secret = credentials.get("client_secret", "")
        self.token_ttl_s = token_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.access: dict[str, Token] = {}
        self.refresh: dict[str, Token] = {}

    def _credentials_ok(self, client_id: str, secret: str) -> bool:
        return bool(self.client_id) and (
            hmac.compare_digest(client_id.encode(), self.client_id.encode())
            and hmac.compare_digest(secret.encode(), self.secret.encode())
        )

    def _signature_ok(self, client_id: str, ts: str, nonce: str, payload: str, signature: str, now: float) -> bool:
        if not hmac.compare_digest(client_id.encode(), self.client_id.encode()) or not ts.isdigit():
            return False
        if abs(int(ts) / 1000.0 - now) > SIGNATURE_WINDOW_S:
            return False
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())

    def grant(self, p: Params, now: float, connection: str = "") -> dict[str, Any]:
        """public/auth: issue tokens for client credentials, a client signature or a refresh token.

        Without a `session:<name>` scope the tokens have Deribit's default `connection` scope: valid
        only on the connection that obtained them (13009 on any other); with one they are valid on
        every connection.
        """
        grant = p.text("grant_type", choices=("client_credentials", "client_signature", "refresh_token"))
        requested = p.text("scope", "")
        session = _session_name(requested)
        base = DEFAULT_SCOPE.replace("connection", f"session:{session}") if session else DEFAULT_SCOPE
        extra = " ".join(x for x in requested.split() if not x.startswith("session:") and x != "connection")
        scope = " ".join(x for x in (base, extra) if x)
        bound: str | None = None if session else connection
        if grant == "client_credentials":
            if not self._credentials_ok(p.text("client_id"), p.text("client_secret")):
                raise _invalid_credentials()
        elif grant == "client_signature":
            ts, nonce, data = str(p.integer("timestamp")), p.text("nonce", ""), p.text("data", "")
            if not self._signature_ok(
                p.text("client_id"), ts, nonce, f"{ts}\n{nonce}\n{data}", p.text("signature"), now
            ):
                raise _invalid_credentials()
        else:
            held = self.refresh.pop(p.text("refresh_token"), None)
            if held is None or held.expires_at <= now or held.connection not in (None, connection):
                raise _invalid_credentials("invalid or expired refresh_token")
            scope, bound = held.scope, held.connection
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._purge(now)
        self.access[access] = Token(self.client_id, now + self.token_ttl_s, scope, bound)
        self.refresh[refresh] = Token(self.client_id, now + self.refresh_ttl_s, scope, bound)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.token_ttl_s) if float(self.token_ttl_s).is_integer() else self.token_ttl_s,
            "token_type": "bearer",
            "scope": scope,
            "enabled_features": [],
        }

    def _purge(self, now: float) -> None:
        for store in (self.access, self.refresh):
            for key in [k for k, t in store.items() if t.expires_at <= now]:
                del store[key]

    def authenticate(self, header: str, now: float, method: str, uri: str, body: str, connection: str = "") -> str:
        """Return the client id an Authorization header proves, else raise 13009."""
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            token = self.access.get(value.strip())
            if token is not None and token.expires_at > now and token.connection not in (None, connection):
                raise RpcError(
                    13009, "unauthorized", {"reason": "connection-scoped token used on another connection"}, status=401
                )
            if token is not None and token.expires_at > now:
                return token.client_id
        elif scheme == "deri-hmac-sha256":
            fields = dict(part.strip().partition("=")[::2] for part in value.split(","))
            ts, nonce = fields.get("ts", ""), fields.get("nonce", "")
            payload = f"{ts}\n{nonce}\n{method}\n{uri}\n{body}\n"
            if self._signature_ok(fields.get("id", ""), ts, nonce, payload, fields.get("sig", ""), now):
                return self.client_id
        elif scheme == "basic":
            try:
                client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except ValueError:
                client_id = secret = ""
            if self._credentials_ok(client_id, secret):
                return self.client_id
        raise RpcError(13009, "unauthorized", {"reason": "invalid_token"}, status=401)


def _invalid_credentials(reason: str = "invalid client_id or client_secret") -> RpcError:
    return RpcError(13004, "invalid_credentials", {"reason": reason}, status=401)


class CreditBuckets:
    """One of Deribit's credit pools (non-matching or matching engine): a bucket per client, refilled on the clock."""

    def __init__(
        self, pool: float = CREDIT_POOL, cost: float = CREDIT_COST, refill_per_s: float = CREDIT_REFILL_PER_S
    ) -> None:
        """Start empty (a new client starts with a full pool)."""
        self.pool, self.cost, self.refill_per_s = pool, cost, refill_per_s
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> None:
        """Spend one call's credits or raise 10028."""
        credits, last = self.buckets.get(key, (self.pool, now))
        credits = min(self.pool, credits + round(max(now - last, 0.0) * self.refill_per_s, 3))  # epoch-float noise
        if credits < self.cost:
            self.buckets[key] = (credits, now)
            raise RpcError(10028, "too_many_requests", {"reason": "credits exhausted"}, status=429)
        self.buckets[key] = (credits - self.cost, now)


class ConnectionCount:
    """Open connections per IP (a connection = one client host:port, open until idle CONNECTION_IDLE_S).

    Connections live on the wall clock (sockets close in real time), not on the market's clock.
    """

    def __init__(self, limit: int = MAX_CONNECTIONS_PER_IP, idle_s: float = CONNECTION_IDLE_S) -> None:
        """Count at most `limit` connections per IP."""
        self.limit, self.idle_s = limit, idle_s
        self.seen: dict[str, dict[int, float]] = {}
        self.lock = threading.Lock()

    def admit(self, host: str, port: int) -> None:
        """Note a request on host:port; a new connection beyond the limit is refused with HTTP 429."""
        now = time.monotonic()
        with self.lock:
            ports = self.seen.setdefault(host, {})
            for stale in [p for p, last in ports.items() if now - last > self.idle_s]:
                del ports[stale]
            if port not in ports and len(ports) >= self.limit:
                raise RpcError(
                    10028,
                    "too_many_requests",
                    {"reason": f"more than {self.limit} simultaneous connections from this IP"},
                    status=429,
                )
            ports[port] = now


class DeribitVenue:
    """One simulator instance: market, account, auth, rate limits and the method table."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        token_ttl_s: float = TOKEN_TTL_S,
        refresh_ttl_s: float = REFRESH_TTL_S,
        rate_limit: bool = True,
    ) -> None:
        """Build the market and the funded account as of the config's clock."""
        self.config = config
        self.clock = PinnedClock(config.clock)
        self.testnet = config.env == "testnet"
        self.market = DeribitMarket(config.seed, config.clock.now())
        self.trading = Trading(self.market, self.clock)
        self.combos = ComboDesk(self.trading)
        self.accounts = AccountView(self.trading)
        self.auth = Auth(dict(config.credentials), token_ttl_s, refresh_ttl_s)
        self.credits = CreditBuckets()
        self.matching_credits = CreditBuckets(ME_CREDIT_POOL, ME_CREDIT_COST, ME_CREDIT_REFILL_PER_S)
        self.connections = ConnectionCount()
        self.rate_limit = rate_limit  # switches off the credits and the connection limit
        self.lock = threading.RLock()
        self.methods: dict[str, Handler] = self._methods()

    def call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        headers: dict[str, str],
        client: str,
        http: tuple[str, str, str],
        connection: str = "",
    ) -> Any:
        """Serve one call at the clock's current instant; raise RpcError for an error answer.

        `client` is the caller's address (public credits), `connection` its TCP connection (host:port),
        which connection-scoped tokens are bound to.
        """
        with self.lock:
            now = self.clock.pin()
            try:
                self.market.ensure_listed(now)
                self.trading.exchange.advance(now)
                handler = self.methods.get(method)
                key = f"ip:{client}"
                if method.startswith("private/"):
                    key = self.auth.authenticate(headers.get("authorization", ""), now, *http, connection)
                if self.rate_limit:
                    (self.matching_credits if method in MATCHING_ENGINE else self.credits).take(key, now)
                if handler is None:
                    raise RpcError(
                        -32601, "Method not found", {"reason": f"unknown method {method}", "param": "method"}
                    )
                if method in MATCHING_ENGINE and (now - SETTLEMENT_S) % 86_400 < SETTLEMENT_PAUSE_S:
                    raise RpcError(10041, "settlement_in_progress", {"reason": "daily settlement: trading is paused"})
                if method == "public/auth":
                    return self.auth.grant(Params(params), now, connection)
                return handler(Params(params), now)
            finally:
                self.clock.release()

    # --- the method table ---------------------------------------------------------------------

    def _methods(self) -> dict[str, Handler]:
        t, a, c = self.trading, self.accounts, self.combos
        return {
            "public/test": lambda p, now: {"version": API_VERSION},
            "public/get_time": lambda p, now: ms(now),
            "public/auth": self.auth.grant,
            "public/ticker": lambda p, now: self.market.ticker_json(p.text("instrument_name"), now),
            "public/get_order_book": self._order_book,
            "public/get_tradingview_chart_data": self._chart,
            "public/get_book_summary_by_currency": self._summaries,
            "public/get_book_summary_by_instrument": self._summary_of,
            "public/get_instruments": self._instruments,
            "public/get_instrument": self._instrument,
            "public/get_combo_details": lambda p, now: self._combo(p.text("combo_id")),
            "public/get_volatility_index_data": self._dvol,
            "public/get_index_price": self._index_price,
            "public/get_funding_rate_history": self._funding_history,
            "public/get_funding_rate_value": self._funding_value,
            "public/get_currencies": self._currencies,
            "private/get_account_summary": lambda p, now: a.summary(check_currency(p.text("currency")) or "", now),
            "private/get_account_summaries": lambda p, now: {
                "summaries": [a.summary(ccy, now) for ccy in ("BTC", "ETH", "USDC")]
            },
            "private/get_positions": a.positions,
            "private/get_position": a.position,
            "private/get_open_orders_by_currency": lambda p, now: t.open_orders(p, by_instrument=False),
            "private/get_open_orders_by_instrument": lambda p, now: t.open_orders(p, by_instrument=True),
            "private/get_order_state": lambda p, now: t.order_json(t.find_order(p.text("order_id"))),
            "private/get_order_state_by_label": lambda p, now: [t.order_json(o) for o in t.by_label(p)],
            "private/get_order_history_by_currency": lambda p, now: t.history(p),
            "private/get_user_trades_by_currency": lambda p, now: t.user_trades(p, by_instrument=False),
            "private/get_user_trades_by_instrument": lambda p, now: t.user_trades(p, by_instrument=True),
            "private/buy": lambda p, now: c.place(p, "buy", now),
            "private/sell": lambda p, now: c.place(p, "sell", now),
            "private/edit": t.edit,
            "private/cancel": lambda p, now: t.cancel(p),
            "private/cancel_all": lambda p, now: t.cancel_orders(t.exchange.open_orders("main")),
            "private/cancel_all_by_currency": self._cancel_by_currency,
            "private/cancel_all_by_instrument": self._cancel_by_instrument,
            "private/cancel_by_label": lambda p, now: t.cancel_orders([o for o in t.by_label(p) if o.is_open]),
            "private/close_position": t.close_position,
            "private/create_combo": c.create_combo,
        }

    def _order_book(self, p: Params, now: float) -> dict[str, Any]:
        depth = p.integer("depth", 20)
        if depth not in BOOK_DEPTHS:
            raise invalid(f"must be one of: {', '.join(map(str, BOOK_DEPTHS))}", "depth")
        return self.market.book_json(p.text("instrument_name"), depth, now)

    def _chart(self, p: Params, now: float) -> dict[str, Any]:
        name = p.text("instrument_name")
        resolution = p.text("resolution", choices=CHART_RESOLUTIONS)
        return self.market.chart(name, p.integer("start_timestamp"), p.integer("end_timestamp"), resolution, now)

    def _kind(self, p: Params) -> str | None:
        return p.opt_text("kind", choices=KINDS)

    def _summaries(self, p: Params, now: float) -> list[dict[str, Any]]:
        currency = check_currency(p.text("currency"), allow_any=True)
        kind = self._kind(p)
        if kind in ("spot", "future_combo", "option_combo"):
            return []
        currencies = [currency] if currency is not None else list(ACCOUNT_CURRENCIES)
        return [row for c in currencies for row in self.market.book_summaries(c, kind, now)]

    def _summary_of(self, p: Params, now: float) -> list[dict[str, Any]]:
        name = p.text("instrument_name")
        listing = self.market.listing(name)
        return [
            r for r in self.market.book_summaries(listing.currency, listing.kind, now) if r["instrument_name"] == name
        ]

    def _instruments(self, p: Params, now: float) -> list[dict[str, Any]]:
        currency = check_currency(p.text("currency"), allow_any=True)
        kind = self._kind(p)
        expired = p.boolean("expired")
        if kind in ("future_combo", "option_combo"):
            return [
                c.instrument_json()
                for c in self.trading.combos.values()
                if c.kind == kind and (currency is None or c.currency == currency) and not expired
            ]
        if kind == "spot":
            return []
        return [self.market.instrument_json(n, now) for n in self.market.names(currency, kind, now, expired=expired)]

    def _instrument(self, p: Params, now: float) -> dict[str, Any]:
        name = p.text("instrument_name")
        combo = self.combos.combo_instrument(name)
        return combo if combo is not None else self.market.instrument_json(name, now)

    def _combo(self, name: str) -> dict[str, Any]:
        combo = self.combos.combo_details(name)
        if combo is None:
            raise invalid("combo not found", "combo_id")
        return combo

    def _dvol(self, p: Params, now: float) -> dict[str, Any]:
        currency = p.text("currency", choices=CURRENCIES)
        resolution = p.text("resolution", choices=DVOL_RESOLUTIONS)
        return self.market.dvol(currency, p.integer("start_timestamp"), p.integer("end_timestamp"), resolution, now)

    def _index_price(self, p: Params, now: float) -> dict[str, Any]:
        names = {f"{c.lower()}_{quote}": c for c in CURRENCIES for quote in ("usd", "usdc")}
        underlying = names[p.text("index_name", choices=names)]
        price = num(self.market.model.index(underlying, now), 2)
        return {"index_price": price, "estimated_delivery_price": price}

    def _funding_history(self, p: Params, now: float) -> list[dict[str, Any]]:
        name = p.text("instrument_name")
        return self.market.funding_history(name, p.integer("start_timestamp"), p.integer("end_timestamp"), now)

    def _funding_value(self, p: Params, now: float) -> float | None:
        rows = self._funding_history(p, now)
        return num(sum(float(r["interest_1h"] or 0.0) for r in rows), 12)

    def _currencies(self, p: Params, now: float) -> list[dict[str, Any]]:
        return [
            {"currency": c, "currency_long": {"BTC": "Bitcoin", "ETH": "Ethereum", "USDC": "USD Coin"}[c],
             "coin_type": "BITCOIN" if c == "BTC" else ("ETHER" if c == "ETH" else "ERC20"),
             "min_withdrawal_fee": 0.0001, "withdrawal_fee": 0.0001, "fee_precision": 4}
            for c in ("BTC", "ETH", "USDC")
        ]  # fmt: skip

    def _cancel_by_currency(self, p: Params, now: float) -> int:
        t = self.trading
        currency = check_currency(p.text("currency"), allow_any=True)
        return t.cancel_orders(t.filtered(currency, self._kind(p), p.text("type", "all")))

    def _cancel_by_instrument(self, p: Params, now: float) -> int:
        t = self.trading
        name = p.text("instrument_name")
        self.market.instrument(name)
        return t.cancel_orders(t.filtered(None, None, p.text("type", "all"), name))


# --- HTTP ---------------------------------------------------------------------------------------


def _reply(
    venue: DeribitVenue, rpc_id: Any, result: Any, error: RpcError | None, started: float, us_in: int
) -> Response:
    body: dict[str, Any] = {"jsonrpc": "2.0"}
    if rpc_id is not None:
        body["id"] = rpc_id
    if error is not None:
        body["error"] = error.to_dict()
    else:
        body["result"] = result
    us_diff = max(int((time.perf_counter() - started) * 1e6), 1)
    body.update(usIn=us_in, usOut=us_in + us_diff, usDiff=us_diff, testnet=venue.testnet)
    status = 200 if error is None else error.status
    return Response(encode(body), status_code=status, media_type="application/json")


def build_app(
    config: SimulatorConfig,
    *,
    token_ttl_s: float = TOKEN_TTL_S,
    refresh_ttl_s: float = REFRESH_TTL_S,
    rate_limit: bool = True,
) -> Starlette:
    """Return the Deribit API v2 simulator for one instance (`app.state.venue` is its `DeribitVenue`)."""
    venue = DeribitVenue(config, token_ttl_s=token_ttl_s, refresh_ttl_s=refresh_ttl_s, rate_limit=rate_limit)

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        us_in = int(venue.config.clock.now() * 1e6)
        raw = await request.body()
        rpc_id: Any = None
        try:
            method, params, rpc_id = _parse(request, raw)
            uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            headers = {k.lower(): v for k, v in request.headers.items()}
            client = request.client.host if request.client is not None else "local"
            connection = f"{client}:{request.client.port}" if request.client is not None else "local"
            if venue.rate_limit and request.client is not None:
                venue.connections.admit(client, request.client.port)
            result = venue.call(
                method, params, headers=headers, client=client, connection=connection,
                http=(request.method, uri, raw.decode("utf-8", "replace")),
            )  # fmt: skip
        except RpcError as exc:
            return _reply(venue, rpc_id, None, exc, started, us_in)
        except Exception as exc:  # a simulator bug: say so in the venue's envelope
            error = RpcError(11094, "internal_server_error", {"reason": type(exc).__name__}, status=500)
            return _reply(venue, rpc_id, None, error, started, us_in)
        return _reply(venue, rpc_id, result, None, started, us_in)

    routes = [
        Route("/api/v2/", endpoint, methods=["POST", "GET"]),
        Route("/api/v2", endpoint, methods=["POST", "GET"]),
        Route("/api/v2/{scope}/{method}", endpoint, methods=["GET", "POST"]),
        Route("/api/v2/{other:path}", endpoint, methods=["GET", "POST"]),  # any other path: -32601, not 404
    ]
    app = Starlette(routes=routes)
    app.state.venue = venue
    return app


def _parse(request: Request, raw: bytes) -> tuple[str, dict[str, Any], Any]:
    """Return (method, params, id) from a GET query or a POSTed envelope."""
    path_method = None
    if "scope" in request.path_params:
        path_method = f"{request.path_params['scope']}/{request.path_params['method']}"
    elif "other" in request.path_params:
        path_method = str(request.path_params["other"])
    params: dict[str, Any] = dict(request.query_params)
    rpc_id: Any = None
    method = path_method
    if request.method == "POST" and raw.strip():
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise RpcError(-32700, "Parse error", {"reason": "body is not valid JSON"}) from None
        if not isinstance(body, dict):
            raise RpcError(-32600, "Invalid Request", {"reason": "batch requests are not supported"})
        if "jsonrpc" in body or "method" in body:
            rpc_id = body.get("id")
            method = body.get("method") or path_method
            inner = body.get("params") or {}
            if not isinstance(inner, dict):
                raise RpcError(-32602, "Invalid params", {"reason": "params must be an object", "param": "params"})
            params.update(inner)
        else:
            params.update(body)
    if not isinstance(method, str) or not method:
        raise RpcError(-32600, "Invalid Request", {"reason": "no method", "param": "method"})
    return method, params, rpc_id


# --- the harness's view -------------------------------------------------------------------------


def _credentials(env: str) -> dict[str, str]:
    return {"client_id": f"sim-{env}-{secrets.token_hex(4)}", "client_secret": secrets.token_urlsafe(24)}


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    suffix = "TESTNET" if env == "testnet" else "LIVE"
    return {
        f"DERIBIT_URL_{suffix}": f"{url}/api/v2",
        f"DERIBIT_CLIENT_ID_{suffix}": creds["client_id"],
        f"DERIBIT_CLIENT_SECRET_{suffix}": creds["client_secret"],
    }


SPEC = SimulatorSpec(venue="deribit", build_app=build_app, settings_overrides=_overrides, credentials=_credentials)
