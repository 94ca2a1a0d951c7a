"""Deribit API v2 on the shared transport; one method per upstream method.

Reads use the documented HTTP form `GET /api/v2/<scope>/<method>?params` (numbers as exact text).
Writes and methods with structured parameters use the JSON-RPC POST envelope, posted to
`/api/v2/<scope>/<method>` so every method keeps its own path — in logs, in proxies and in the
simulator's recorder.

Auth is `public/auth` with `client_credentials` and `scope=session:<SESSION_NAME>`: Deribit ties a token
of the default `connection` scope to the one connection that obtained it, so over a pool of HTTP
connections every other connection would be refused (13009) and re-authenticate; a session-scoped
token is valid on every connection of the pool. The token is refreshed before it expires and the call
is repeated once when Deribit answers 13009 (an expired or revoked token: nothing was done).

Connections: Deribit allows 32 simultaneous connections per IP (a 33rd is refused with HTTP 429), so
the pool is at most MAX_CONNECTIONS. Pacing: every call first takes a slot from `PACING`, Deribit's
credit limits (matching-engine methods apart from the rest), so the gateway waits briefly rather than
spend the credits and get 10028 `too_many_requests`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import CerberoError, UpstreamError
from cerbero_mcp.common.http import UpstreamHTTP, dumps_exact, mark_definite, raise_for_transport_status
from cerbero_mcp.common.pacing import Limit, Pacer
from cerbero_mcp.exchanges.base import VenueClient
from cerbero_mcp.exchanges.deribit.errors import AUTH_EXPIRED, to_error
from cerbero_mcp.settings import Environment, Settings

# Refresh this long before Deribit says the token expires, so a call never races the expiry.
REFRESH_MARGIN_S = 60.0
# Tick size, lot size and contract size are read before every order; they change rarely, so a
# short-lived cache saves a round trip per write without trading on stale rules for long.
INSTRUMENT_TTL_S = 300.0
# One stable session name: Deribit allows 16 sessions per API key, so a name per process or per
# restart would exhaust them; the token of this session is valid on every pooled connection.
SESSION_NAME = "cerbero-mcp"
# Deribit: "a limit of 32 simultaneous connections per IP address" (connection management article).
MAX_CONNECTIONS = 32
# Deribit's documented credit limits (support article "Rate Limits"): matching-engine requests at the
# lowest volume tier sustain 5 requests/s with bursts of 20; every other request costs 500 of 50,000
# credits refilled at 10,000/s, i.e. 20 requests/s with bursts of 100.
PACING: dict[str, Limit] = {
    "matching_engine": Limit(20, 4.0, "private/buy, sell, edit, cancel*, close_position: 5/s, burst 20"),
    "non_matching_engine": Limit(100, 5.0, "every other method: 20/s, burst 100"),
}
# The methods Deribit counts against the matching-engine limit ("Overview of Matching Engine requests").
MATCHING_ENGINE = frozenset(
    {
        "private/buy",
        "private/sell",
        "private/edit",
        "private/edit_by_label",
        "private/cancel",
        "private/cancel_all",
        "private/cancel_all_by_currency",
        "private/cancel_all_by_instrument",
        "private/cancel_by_label",
        "private/close_position",
        "private/verify_block_trade",
        "private/execute_block_trade",
    }
)


def pacing_key(method: str) -> str:
    """Return the pacing bucket of a Deribit method."""
    return "matching_engine" if method in MATCHING_ENGINE else "non_matching_engine"


class DeribitClient(VenueClient):
    """One Deribit environment: its transport, its credentials and its access token."""

    venue = "deribit"
    max_connections = MAX_CONNECTIONS

    def __init__(
        self,
        http: UpstreamHTTP,
        environment: Environment,
        client_id: str | None,
        client_secret: str | None,
        missing: list[str] | None = None,
        *,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(http, environment, missing=missing or ())
        self.pacer = pacer or Pacer("deribit", PACING)
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0
        self._auth_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._instruments: dict[str, tuple[float, dict[str, Any]]] = {}

    @classmethod
    async def from_settings(cls, http: UpstreamHTTP, settings: Settings, env: Environment) -> DeribitClient:
        """Make the client with `env`'s OAuth client credentials."""
        credentials = settings.venue_credentials("deribit", env)
        missing = settings.missing_credentials("deribit", env)
        return cls(http, env, credentials.get("client_id"), credentials.get("client_secret"), missing)

    async def probe(self) -> None:
        """Check the venue answers (`public/test`)."""
        await self.call("public/test", {})

    # --- transport --------------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any], *, write: bool = False) -> Any:
        """Call one JSON-RPC method and return its `result`; errors become common errors."""
        private = method.startswith("private/")
        for attempt in (1, 2):
            headers = {"Accept": "application/json"}
            if private:
                headers["Authorization"] = f"Bearer {await self._access_token()}"
            try:
                return await self._send(method, params, headers, write=write)
            except _TokenRejected:
                if attempt == 2:
                    raise to_error(AUTH_EXPIRED, "unauthorized", {"reason": "token refused twice"}) from None
                self._token = None  # re-authenticate once, then repeat the call
        raise AssertionError("unreachable")

    async def _send(self, method: str, params: dict[str, Any], headers: dict[str, str], *, write: bool) -> Any:
        await self.pacer.acquire(pacing_key(method))  # waits briefly, or 429 RATE_LIMIT with nothing sent
        clean = _clean(params)
        # Writes go as POST: aiohttp silently re-sends a GET once when a pooled connection turns
        # out to be dead, and an order must never be sent twice.
        if write or any(isinstance(value, list | dict) for value in clean.values()):
            envelope = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": clean}
            response = await self.http.request(
                "POST",
                f"/{method}",
                data=dumps_exact(envelope),
                headers={**headers, "Content-Type": "application/json"},
                idempotent=not write,
            )
        else:
            query = {key: _query_value(value) for key, value in clean.items()}
            response = await self.http.request("GET", f"/{method}", params=query, headers=headers, idempotent=not write)
        body = None
        try:
            body = response.json(exact=True)
        except UpstreamError:
            raise_for_transport_status(response, "deribit")
            raise
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = int(error.get("code", 0))
            if code == AUTH_EXPIRED and method.startswith("private/"):
                raise _TokenRejected
            if response.status == 429:
                try:
                    raise_for_transport_status(response, "deribit")  # keeps Retry-After
                except CerberoError as exc:
                    raise mark_definite(exc, write) from None
            message = str(error.get("message", "error"))
            raise to_error(code, message, error.get("data"), http_status=response.status, write=write)
        raise_for_transport_status(response, "deribit")
        if not isinstance(body, dict) or "result" not in body:
            raise UpstreamError(
                f"deribit answered HTTP {response.status} without a JSON-RPC result",
                details={"venue": "deribit", "status": response.status},
            )
        return body["result"]

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        async with self._auth_lock:
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            if not self._client_id or not self._client_secret:
                raise self.not_configured()
            result = None
            if self._refresh_token is not None:
                try:
                    result = await self.public_auth(grant_type="refresh_token", refresh_token=self._refresh_token)
                except CerberoError:
                    result = None  # an expired refresh token: fall back to the client credentials
            if result is None:
                result = await self.public_auth(
                    grant_type="client_credentials",
                    client_id=self._client_id,
                    client_secret=self._client_secret,
                    scope=f"session:{SESSION_NAME}",
                )
            self._token = str(result["access_token"])
            self._refresh_token = result.get("refresh_token")
            expires_in = float(result.get("expires_in", 900))
            self._expires_at = time.monotonic() + max(expires_in - REFRESH_MARGIN_S, expires_in / 2)
            return self._token

    # --- public -----------------------------------------------------------------------------

    async def public_auth(self, **params: Any) -> dict[str, Any]:
        """public/auth: exchange credentials (or a refresh token) for an access token."""
        result: dict[str, Any] = await self.call("public/auth", params)
        return result

    async def public_ticker(self, instrument_name: str) -> dict[str, Any]:
        """public/ticker."""
        result: dict[str, Any] = await self.call("public/ticker", {"instrument_name": instrument_name})
        return result

    async def public_get_order_book(self, instrument_name: str, depth: int) -> dict[str, Any]:
        """public/get_order_book."""
        result: dict[str, Any] = await self.call(
            "public/get_order_book", {"instrument_name": instrument_name, "depth": depth}
        )
        return result

    async def public_get_tradingview_chart_data(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int, resolution: str
    ) -> dict[str, Any]:
        """public/get_tradingview_chart_data (resolution in minutes, or "1D")."""
        result: dict[str, Any] = await self.call(
            "public/get_tradingview_chart_data",
            {
                "instrument_name": instrument_name,
                "start_timestamp": start_timestamp,
                "end_timestamp": end_timestamp,
                "resolution": resolution,
            },
        )
        return result

    async def public_get_book_summary_by_currency(self, currency: str, kind: str | None = None) -> list[dict[str, Any]]:
        """public/get_book_summary_by_currency."""
        result: list[dict[str, Any]] = await self.call(
            "public/get_book_summary_by_currency", {"currency": currency, "kind": kind}
        )
        return result

    async def public_get_instruments(
        self, currency: str, kind: str | None = None, expired: bool = False
    ) -> list[dict[str, Any]]:
        """public/get_instruments."""
        result: list[dict[str, Any]] = await self.call(
            "public/get_instruments", {"currency": currency, "kind": kind, "expired": expired}
        )
        return result

    async def public_get_instrument(self, instrument_name: str) -> dict[str, Any]:
        """public/get_instrument."""
        result: dict[str, Any] = await self.call("public/get_instrument", {"instrument_name": instrument_name})
        return result

    async def instrument(self, instrument_name: str) -> dict[str, Any]:
        """Return an instrument's description, cached for INSTRUMENT_TTL_S (unknown names are not cached)."""
        cached = self._instruments.get(instrument_name)
        if cached is not None and time.monotonic() - cached[0] < INSTRUMENT_TTL_S:
            return cached[1]
        meta = await self.public_get_instrument(instrument_name)
        self._instruments[instrument_name] = (time.monotonic(), meta)
        return meta

    async def public_get_funding_rate_history(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int
    ) -> list[dict[str, Any]]:
        """public/get_funding_rate_history: a perpetual's hourly points (interest_1h, interest_8h, index prices)."""
        result = await self.call(
            "public/get_funding_rate_history",
            {"instrument_name": instrument_name, "start_timestamp": start_timestamp, "end_timestamp": end_timestamp},
        )
        return [row for row in result if isinstance(row, dict)] if isinstance(result, list) else []

    async def public_get_volatility_index_data(
        self, currency: str, start_timestamp: int, end_timestamp: int, resolution: str
    ) -> dict[str, Any]:
        """public/get_volatility_index_data (resolution in seconds, or "1D")."""
        result: dict[str, Any] = await self.call(
            "public/get_volatility_index_data",
            {
                "currency": currency,
                "start_timestamp": start_timestamp,
                "end_timestamp": end_timestamp,
                "resolution": resolution,
            },
        )
        return result

    # --- private ----------------------------------------------------------------------------

    async def private_get_account_summary(self, currency: str) -> dict[str, Any]:
        """private/get_account_summary."""
        result: dict[str, Any] = await self.call("private/get_account_summary", {"currency": currency})
        return result

    async def private_get_positions(self, currency: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """private/get_positions."""
        result: list[dict[str, Any]] = await self.call("private/get_positions", {"currency": currency, "kind": kind})
        return result

    async def private_get_open_orders_by_currency(self, currency: str) -> list[dict[str, Any]]:
        """private/get_open_orders_by_currency."""
        result: list[dict[str, Any]] = await self.call("private/get_open_orders_by_currency", {"currency": currency})
        return result

    async def private_get_open_orders_by_instrument(self, instrument_name: str) -> list[dict[str, Any]]:
        """private/get_open_orders_by_instrument."""
        result: list[dict[str, Any]] = await self.call(
            "private/get_open_orders_by_instrument", {"instrument_name": instrument_name}
        )
        return result

    async def private_get_order_state(self, order_id: str) -> dict[str, Any]:
        """private/get_order_state."""
        result: dict[str, Any] = await self.call("private/get_order_state", {"order_id": order_id})
        return result

    async def private_get_order_state_by_label(self, currency: str, label: str) -> list[dict[str, Any]]:
        """private/get_order_state_by_label."""
        result: list[dict[str, Any]] = await self.call(
            "private/get_order_state_by_label", {"currency": currency, "label": label}
        )
        return result

    async def private_buy(self, params: dict[str, Any]) -> dict[str, Any]:
        """private/buy: place a buy order (never retried)."""
        result: dict[str, Any] = await self.call("private/buy", params, write=True)
        return result

    async def private_sell(self, params: dict[str, Any]) -> dict[str, Any]:
        """private/sell: place a sell order (never retried)."""
        result: dict[str, Any] = await self.call("private/sell", params, write=True)
        return result

    async def private_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        """private/edit: amend an open order."""
        result: dict[str, Any] = await self.call("private/edit", params, write=True)
        return result

    async def private_cancel(self, order_id: str) -> dict[str, Any]:
        """private/cancel."""
        result: dict[str, Any] = await self.call("private/cancel", {"order_id": order_id}, write=True)
        return result

    async def private_cancel_all(self) -> int:
        """private/cancel_all: the number of orders cancelled."""
        return int(await self.call("private/cancel_all", {}, write=True))

    async def private_cancel_all_by_currency(self, currency: str) -> int:
        """private/cancel_all_by_currency."""
        return int(await self.call("private/cancel_all_by_currency", {"currency": currency}, write=True))

    async def private_cancel_all_by_instrument(self, instrument_name: str) -> int:
        """private/cancel_all_by_instrument."""
        return int(
            await self.call("private/cancel_all_by_instrument", {"instrument_name": instrument_name}, write=True)
        )

    async def private_create_combo(self, trades: list[dict[str, Any]]) -> dict[str, Any]:
        """private/create_combo: the combo instrument for these legs (created or existing)."""
        result: dict[str, Any] = await self.call("private/create_combo", {"trades": trades}, write=True)
        return result


class _TokenRejected(Exception):
    """Deribit refused our access token (13009): authenticate again and repeat once."""


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    # None is never sent upstream.
    return {key: value for key, value in params.items() if value is not None}


def _query_value(value: Any) -> str:
    # Exact text for numbers (a Decimal never passes through float), lower-case booleans.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def to_decimal(value: Any) -> Decimal | None:
    """Return a Decimal for a Deribit number (already Decimal when parsed exactly), None for null."""
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))
