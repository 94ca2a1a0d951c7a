"""Alpaca's Trading API v2 and Market Data API on the shared transport: one method per endpoint, paced.

Auth is two headers on every request (`APCA-API-KEY-ID`, `APCA-API-SECRET-KEY`); there is no signing.
Trading calls go to the environment's host (paper or live, each with its own keys); market data goes
to one data host for both (`ALPACA_DATA_URL`), with the same keys. Request bodies carry prices and
quantities as strings from Decimal (Alpaca's documented `string <number>`); answers are read with
every fractional number as Decimal (the data API sends JSON numbers).

Pacing: Alpaca documents about 200 requests a minute per account on the trading API and 200 a
minute on the free market-data plan; both send `X-RateLimit-Limit/Remaining/Reset` (unix seconds),
which feed the pacer, and a 429 shuts calls out until the reset. An order POST/PATCH is sent once:
the transport never re-sends a non-idempotent request.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from cerbero_mcp.common.clock import now
from cerbero_mcp.common.errors import CerberoError, InvalidInputError, UpstreamError
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse
from cerbero_mcp.common.pacing import Limit, Pacer
from cerbero_mcp.exchanges.alpaca.errors import to_error
from cerbero_mcp.exchanges.base import VenueClient
from cerbero_mcp.settings import Environment, Settings

TRADING = "trading"
DATA = "data"
PACING: dict[str, Limit] = {
    TRADING: Limit(200, 60.0, "Trading API: 200 requests per minute per account"),
    DATA: Limit(200, 60.0, "Market Data API: 200 requests per minute (Basic plan)"),
}
# Without a usable X-RateLimit-Reset a 429 shuts calls out for one window.
DEFAULT_PENALTY_S = 60.0
# Asset rules (fractionable, increments, minimums) are read before every order; they change rarely.
ASSET_TTL_S = 300.0


def wire_text(value: Any) -> Any:
    """Return a value as Alpaca wants it on the wire: Decimals as exact strings, None dropped inside objects."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite number {value}")
        return format(value, "f")
    if isinstance(value, dict):
        return {key: wire_text(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [wire_text(item) for item in value]
    return value


def json_body(params: dict[str, Any]) -> str:
    """Return the JSON body of a write (numbers as strings, None dropped)."""
    return json.dumps(wire_text(params), separators=(",", ":"))


def to_decimal(value: Any) -> Decimal | None:
    """Return a Decimal for an Alpaca number (a string, a JSON number, "" or None when absent)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def segment(symbol: str) -> str:
    """Return a symbol or id as one path segment (`BTC/USD` → `BTC%2FUSD`)."""
    return quote(symbol, safe="")


class AlpacaClient(VenueClient):
    """One Alpaca environment: its trading transport, the data transport, API keys, pacer and asset cache."""

    venue = "alpaca"
    setup_hint = "set ALPACA_API_KEY_ID / ALPACA_SECRET_KEY (paper and live keys differ: _TESTNET / _LIVE) and restart"

    def __init__(
        self,
        http: UpstreamHTTP,
        environment: Environment,
        key_id: str | None,
        secret_key: str | None,
        missing: list[str] | None = None,
        *,
        data_http: UpstreamHTTP | None = None,
        feed: str = "iex",
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(http, environment, missing=missing or ())
        self._key_id = key_id
        self._secret_key = secret_key
        self.data_http = data_http or http
        self.feed = feed
        self.pacer = pacer or Pacer("alpaca", PACING, max_wait_s=5.0)
        self._assets: dict[str, tuple[float, dict[str, Any]]] = {}

    @classmethod
    async def from_settings(cls, http: UpstreamHTTP, settings: Settings, env: Environment) -> AlpacaClient:
        """Make the client with `env`'s keys, the shared data host and the configured feed."""
        credentials = settings.venue_credentials("alpaca", env)
        data_http = UpstreamHTTP(
            "alpaca",
            str(settings.venue_option("alpaca", "data_url")),
            connect_timeout_s=settings.upstream_connect_timeout_s,
            read_timeout_s=settings.upstream_read_timeout_s,
            pool_size=settings.upstream_pool_size,
        )
        return cls(
            http,
            env,
            credentials.get("api_key_id"),
            credentials.get("secret_key"),
            settings.missing_credentials("alpaca", env),
            data_http=data_http,
            feed=str(settings.venue_option("alpaca", "data_feed")),
        )

    async def aclose(self) -> None:
        """Close both connection pools."""
        if self.data_http is not self.http:
            await self.data_http.aclose()
        await super().aclose()

    async def probe(self) -> None:
        """Check the venue answers (GET /v2/clock; without keys, only that the host is up)."""
        if not self._key_id or not self._secret_key:
            await self.pacer.acquire(TRADING)
            await self.http.request("GET", "/v2/clock")
            return
        await self.clock()

    # --- transport --------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the two APCA headers (NOT_CONFIGURED when a key is missing)."""
        if not self._key_id or not self._secret_key:
            raise self.not_configured()
        return {"APCA-API-KEY-ID": self._key_id, "APCA-API-SECRET-KEY": self._secret_key}

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        *,
        data: bool = False,
        write: bool = False,
    ) -> Any:
        """Send one request and return its decoded answer (None for 204)."""
        headers = {"Accept": "application/json", **self.auth_headers()}
        key = DATA if data else TRADING
        await self.pacer.acquire(key)
        payload: bytes | None = None
        if body is not None:
            payload = json_body(body).encode()
            headers["Content-Type"] = "application/json"
        query = {k: wire_text(v) for k, v in (params or {}).items() if v is not None}
        transport = self.data_http if data else self.http
        # Writes are sent once: aiohttp re-sends an idempotent request on a dead pooled connection.
        response = await transport.request(
            method, path, params=query or None, data=payload, headers=headers, idempotent=not write
        )
        self._observe(response, key)
        return self._answer(response, key, write)

    def _observe(self, response: UpstreamResponse, key: str) -> None:
        headers = {name.lower(): value for name, value in response.headers.items()}
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            self.pacer.observe(key, int(remaining), float(reset))
        except ValueError:
            return  # a malformed header is Alpaca's problem, not a reason to fail the call

    def _answer(self, response: UpstreamResponse, key: str, write: bool) -> Any:
        status = response.status
        if status == 204 or (200 <= status < 300 and not response.body.strip()):
            return None
        try:
            body = response.json(exact=True)
        except UpstreamError:
            if 200 <= status < 300 or status >= 500:
                if status >= 500:
                    raise UpstreamError(
                        f"alpaca answered HTTP {status}", details={"venue": "alpaca", "status": status}
                    ) from None
                raise
            body = {"message": response.body[:200].decode("utf-8", "replace").strip()}
        if 200 <= status < 300:
            return body
        error = to_error(status, body, write=write)
        if status == 429:
            self._rate_limited(error, response, key)
        raise error

    def _rate_limited(self, error: CerberoError, response: UpstreamResponse, key: str) -> None:
        headers = {name.lower(): value for name, value in response.headers.items()}
        try:
            wait = max(1.0, float(headers.get("x-ratelimit-reset", "")) - now())
        except ValueError:
            wait = DEFAULT_PENALTY_S
        self.pacer.penalize(min(wait, DEFAULT_PENALTY_S), f"HTTP 429 on the {key} API")
        error.headers["Retry-After"] = str(int(wait + 0.999))
        error.details = {**(error.details or {}), "retry_after_s": round(wait, 3)}

    # --- account ----------------------------------------------------------------------------

    async def account(self) -> dict[str, Any]:
        """GET /v2/account."""
        return dict(await self.call("GET", "/v2/account") or {})

    async def clock(self) -> dict[str, Any]:
        """GET /v2/clock."""
        return dict(await self.call("GET", "/v2/clock") or {})

    async def calendar(self, start: str | None, end: str | None) -> list[dict[str, Any]]:
        """GET /v2/calendar (trading days with open and close times, New York time)."""
        return list(await self.call("GET", "/v2/calendar", {"start": start, "end": end}) or [])

    async def activities(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """GET /v2/account/activities (paged by page_token = the last activity's id)."""
        return list(await self.call("GET", "/v2/account/activities", params) or [])

    async def asset(self, symbol: str) -> dict[str, Any]:
        """GET /v2/assets/{symbol} (tradable, fractionable, increments and minimums), cached a few minutes."""
        cached = self._assets.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < ASSET_TTL_S:
            return cached[1]
        try:
            found = dict(await self.call("GET", f"/v2/assets/{segment(symbol)}") or {})
        except CerberoError as exc:
            if exc.status == 404:
                raise InvalidInputError(
                    f"alpaca: asset {symbol} not found",
                    details={"venue": "alpaca", "instrument": symbol},
                    suggested_fix="check the symbol: AAPL (stock), BTC/USD (crypto), AAPL270115C00200000 (option)",
                ) from None
            raise
        self._assets[symbol] = (time.monotonic(), found)
        return found

    async def option_contract(self, symbol: str) -> dict[str, Any]:
        """GET /v2/options/contracts/{symbol} (expiry, strike, size, status)."""
        try:
            return dict(await self.call("GET", f"/v2/options/contracts/{segment(symbol)}") or {})
        except CerberoError as exc:
            if exc.status == 404:
                raise InvalidInputError(
                    f"alpaca: option contract {symbol} not found", details={"venue": "alpaca", "instrument": symbol}
                ) from None
            raise

    # --- positions --------------------------------------------------------------------------

    async def positions(self) -> list[dict[str, Any]]:
        """GET /v2/positions."""
        return list(await self.call("GET", "/v2/positions") or [])

    async def position(self, symbol: str) -> dict[str, Any] | None:
        """GET /v2/positions/{symbol} (None when there is none)."""
        try:
            return dict(await self.call("GET", f"/v2/positions/{segment(symbol)}") or {})
        except CerberoError as exc:
            if exc.status == 404:
                return None
            raise

    async def close_position(self, symbol: str, qty: Decimal | None = None) -> dict[str, Any]:
        """DELETE /v2/positions/{symbol}?qty=: a market order closing it (returned)."""
        return dict(await self.call("DELETE", f"/v2/positions/{segment(symbol)}", {"qty": qty}, write=True) or {})

    async def close_all_positions(self, cancel_orders: bool) -> list[dict[str, Any]]:
        """DELETE /v2/positions?cancel_orders=: HTTP 207, `[{symbol, status, body}]` one per position."""
        return list(await self.call("DELETE", "/v2/positions", {"cancel_orders": cancel_orders}, write=True) or [])

    # --- orders -----------------------------------------------------------------------------

    async def orders(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """GET /v2/orders (status, limit <= 500, after, until, direction, nested, symbols)."""
        return list(await self.call("GET", "/v2/orders", params) or [])

    async def order(self, order_id: str) -> dict[str, Any]:
        """GET /v2/orders/{order_id} (nested: bracket legs included)."""
        return dict(await self.call("GET", f"/v2/orders/{segment(order_id)}", {"nested": True}) or {})

    async def order_by_client_id(self, client_order_id: str) -> dict[str, Any]:
        """GET /v2/orders:by_client_order_id?client_order_id=."""
        return dict(await self.call("GET", "/v2/orders:by_client_order_id", {"client_order_id": client_order_id}) or {})

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/orders: the order as accepted (never re-sent)."""
        return dict(await self.call("POST", "/v2/orders", body=body, write=True) or {})

    async def replace_order(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH /v2/orders/{order_id}: a NEW order (new id, `replaces` = the old one)."""
        return dict(await self.call("PATCH", f"/v2/orders/{segment(order_id)}", body=body, write=True) or {})

    async def cancel_order(self, order_id: str) -> None:
        """DELETE /v2/orders/{order_id}: 204, no body."""
        await self.call("DELETE", f"/v2/orders/{segment(order_id)}", write=True)

    async def cancel_orders(self) -> list[dict[str, Any]]:
        """DELETE /v2/orders: HTTP 207, `[{id, status, body}]` one per open order."""
        return list(await self.call("DELETE", "/v2/orders", write=True) or [])

    # --- market data --------------------------------------------------------------------------

    async def stock_bars(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v2/stocks/bars (`{bars: {SYM: [...]}, next_page_token}`)."""
        return dict(await self.call("GET", "/v2/stocks/bars", {"feed": self.feed, **params}, data=True) or {})

    async def crypto_bars(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1beta3/crypto/us/bars."""
        return dict(await self.call("GET", "/v1beta3/crypto/us/bars", params, data=True) or {})

    async def option_bars(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1beta1/options/bars."""
        return dict(await self.call("GET", "/v1beta1/options/bars", params, data=True) or {})

    async def stock_snapshots(self, symbols: list[str]) -> dict[str, Any]:
        """GET /v2/stocks/snapshots (keyed by symbol at the top level)."""
        params = {"symbols": ",".join(symbols), "feed": self.feed}
        return dict(await self.call("GET", "/v2/stocks/snapshots", params, data=True) or {})

    async def crypto_snapshots(self, symbols: list[str]) -> dict[str, Any]:
        """GET /v1beta3/crypto/us/snapshots (`{snapshots: {SYM: ...}}`)."""
        answer = await self.call("GET", "/v1beta3/crypto/us/snapshots", {"symbols": ",".join(symbols)}, data=True)
        return dict((answer or {}).get("snapshots") or {})

    async def option_snapshots(self, symbols: list[str]) -> dict[str, Any]:
        """GET /v1beta1/options/snapshots (`{snapshots: {SYM: ...}, next_page_token}`)."""
        answer = await self.call("GET", "/v1beta1/options/snapshots", {"symbols": ",".join(symbols)}, data=True)
        return dict((answer or {}).get("snapshots") or {})

    async def option_chain(self, underlying: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1beta1/options/snapshots/{underlying} (`{snapshots, next_page_token}`)."""
        return dict(
            await self.call("GET", f"/v1beta1/options/snapshots/{segment(underlying)}", params, data=True) or {}
        )

    async def crypto_orderbooks(self, symbols: list[str]) -> dict[str, Any]:
        """GET /v1beta3/crypto/us/latest/orderbooks (`{orderbooks: {SYM: {a, b, t}}}`)."""
        params = {"symbols": ",".join(symbols)}
        answer = await self.call("GET", "/v1beta3/crypto/us/latest/orderbooks", params, data=True)
        return dict((answer or {}).get("orderbooks") or {})
