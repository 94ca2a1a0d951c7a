"""Bybit v5 REST on the shared transport: one method per upstream endpoint, signed, paced.

Signing (docs/v5/guide.mdx): X-BAPI-SIGN = hex HMAC-SHA256(secret, timestamp + api_key + recv_window
+ payload), where the payload is the query string exactly as sent (GET) or the JSON body exactly as
sent (POST). The query is built like pybit builds it (keys sorted, `k=v` joined by `&`), then put in
the form the transport will put on the wire (yarl's normalisation), so the bytes signed are the bytes
sent; the body is pybit's `json.dumps` of the parameters with every number as a string. The HMAC is
pybit's own pure `generate_signature`.

Pacing (docs/v5/rate-limit/rate-limit.mdx): every call takes a slot of the per-IP budget (600 per
5 s) and private calls one of their endpoint's per-UID budget; `X-Bapi-Limit-Status` and
`X-Bapi-Limit-Reset-Timestamp` feed the pacer. HTTP 403 is Bybit's IP ban ("access too frequent",
lifted after 10 minutes) or a region block: the client stops calling for 10 minutes instead of
hammering. Business errors are HTTP 200 with `retCode != 0` (errors.py).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlsplit

from pybit._http_manager import generate_signature
from yarl import URL

from cerbero_mcp.common.clock import now
from cerbero_mcp.common.errors import (
    CerberoError,
    InvalidInputError,
    RateLimitError,
    UpstreamAuthError,
    UpstreamError,
)
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse, mark_definite, raise_for_transport_status
from cerbero_mcp.common.pacing import Limit, Pacer
from cerbero_mcp.exchanges.base import VenueClient
from cerbero_mcp.exchanges.bybit.errors import RATE_LIMITED, to_error
from cerbero_mcp.exchanges.bybit.symbols import AMBIGUOUS, Category, category_from_symbol
from cerbero_mcp.settings import Environment, Settings

SIGN_TYPE = "2"  # HMAC (pybit sends it too)
# Instrument rules (tick size, qty step, minimums) are read before every order; they change rarely.
INSTRUMENT_TTL_S = 300.0
# Bybit: "403, access too frequent ... wait for at least 10 minutes".
IP_BAN_S = 600.0
IP_KEY = "ip"
# Per-UID limits per second by (path, category); None: the same for every category.
ENDPOINT_LIMITS: dict[tuple[str, str | None], int] = {
    **{("/v5/order/create", c): n for c, n in (("linear", 10), ("inverse", 10), ("option", 10), ("spot", 20))},
    **{("/v5/order/amend", c): 10 for c in ("linear", "inverse", "option", "spot")},
    **{("/v5/order/cancel", c): n for c, n in (("linear", 10), ("inverse", 10), ("option", 10), ("spot", 20))},
    **{("/v5/order/cancel-all", c): n for c, n in (("linear", 10), ("inverse", 10), ("option", 1), ("spot", 20))},
    **{("/v5/order/create-batch", c): n for c, n in (("linear", 10), ("inverse", 10), ("option", 10), ("spot", 20))},
    ("/v5/order/realtime", None): 50,
    ("/v5/order/history", None): 50,
    ("/v5/execution/list", None): 50,
    ("/v5/position/list", None): 50,
    ("/v5/position/trading-stop", None): 10,
    ("/v5/account/wallet-balance", None): 50,
}
PACING: dict[str, Limit] = {
    IP_KEY: Limit(600, 5.0, "HTTP IP limit: 600 requests in 5 s per IP"),
    **{
        (path if category is None else f"{path}:{category}"): Limit(calls, 1.0, "per UID per endpoint")
        for (path, category), calls in ENDPOINT_LIMITS.items()
    },
}
# Endpoints Bybit's Demo Trading offers (docs/v5/demo.mdx); batch orders only for linear and option.
DEMO_BATCH_CATEGORIES = ("linear", "option")
# Order ids whose (category, symbol) we remember, so amend/cancel by id need not search.
ORDER_HOMES_MAX = 10_000


def pace_key(path: str, category: str | None) -> str | None:
    """Return the pacing key of a private endpoint call (None: only the IP budget applies)."""
    if category is not None and (path, category) in ENDPOINT_LIMITS:
        return f"{path}:{category}"
    if (path, None) in ENDPOINT_LIMITS:
        return path
    return None


def wire_text(value: Any) -> Any:
    """Return a parameter as Bybit wants it: numbers as exact strings, lists and objects converted inside."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite number {value}")
        return format(value, "f")
    if isinstance(value, dict):
        return {key: wire_text(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [wire_text(item) for item in value]
    return value


def query_string(params: dict[str, Any]) -> str:
    """Return the query as pybit builds it (sorted `k=v`, None dropped), in the form the transport sends."""
    pairs = []
    for key, value in sorted(params.items()):
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(wire_text(value))
        pairs.append(f"{key}={text}")
    raw = "&".join(pairs)
    # aiohttp sends yarl's normalisation of the URL (it decodes %3A, %2C, ...): sign exactly that.
    return URL(f"http://bybit.invalid/?{raw}").raw_query_string if raw else ""


def json_body(params: dict[str, Any]) -> str:
    """Return the JSON body as pybit writes it (json.dumps, default separators), None dropped."""
    return json.dumps(wire_text(params))


def sign(secret: str, timestamp_ms: int, api_key: str, recv_window_ms: int, payload: str) -> str:
    """Return X-BAPI-SIGN for one request (pybit's HMAC-SHA256 over timestamp+key+recv_window+payload)."""
    signature: str = generate_signature(False, secret, f"{timestamp_ms}{api_key}{recv_window_ms}{payload}")
    return signature


def to_decimal(value: Any) -> Decimal | None:
    """Return a Decimal for a Bybit number (a string, "" or None when absent)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


class BybitClient(VenueClient):
    """One Bybit environment: its transport, API key, pacer and instrument cache."""

    venue = "bybit"
    setup_hint = "set BYBIT_API_KEY / BYBIT_API_SECRET (per environment) and restart, or call the public tools"

    def __init__(
        self,
        http: UpstreamHTTP,
        environment: Environment,
        api_key: str | None,
        api_secret: str | None,
        missing: list[str] | None = None,
        *,
        recv_window_ms: int = 5000,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(http, environment, missing=missing or ())
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window_ms = recv_window_ms
        self.pacer = pacer or Pacer("bybit", PACING, max_wait_s=5.0)
        self.demo = (urlsplit(http.base_url).hostname or "").startswith("api-demo")
        self._instruments: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._order_homes: OrderedDict[str, tuple[str, str]] = OrderedDict()

    @classmethod
    async def from_settings(cls, http: UpstreamHTTP, settings: Settings, env: Environment) -> BybitClient:
        """Make the client with `env`'s API key and the configured receive window."""
        credentials = settings.venue_credentials("bybit", env)
        return cls(
            http,
            env,
            credentials.get("api_key"),
            credentials.get("api_secret"),
            settings.missing_credentials("bybit", env),
            recv_window_ms=int(settings.venue_option("bybit", "recv_window_ms")),
        )

    async def probe(self) -> None:
        """Check the venue answers (GET /v5/market/time)."""
        await self.market_time()

    # --- transport --------------------------------------------------------------------------

    def auth_headers(self, payload: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """Return the X-BAPI-* headers signing `payload` (the exact query string or body sent)."""
        if not self._api_key or not self._api_secret:
            raise self.not_configured()
        stamp = timestamp_ms if timestamp_ms is not None else int(now() * 1000)
        return {
            "X-BAPI-API-KEY": self._api_key,
            "X-BAPI-TIMESTAMP": str(stamp),
            "X-BAPI-RECV-WINDOW": str(self.recv_window_ms),
            "X-BAPI-SIGN": sign(self._api_secret, stamp, self._api_key, self.recv_window_ms, payload),
            "X-BAPI-SIGN-TYPE": SIGN_TYPE,
        }

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        *,
        signed: bool = False,
        write: bool = False,
        category: str | None = None,
    ) -> dict[str, Any]:
        """Send one request and return Bybit's whole envelope (`result`, `retExtInfo`, `time`)."""
        if signed and (not self._api_key or not self._api_secret):
            raise self.not_configured()
        key = pace_key(path, category) if signed else None
        await self.pacer.acquire(IP_KEY, *([key] if key else []))
        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if method == "GET":
            payload = query_string(params)
            target = f"{path}?{payload}" if payload else path
        else:
            payload = json_body(params)
            data = payload.encode()
            target = path
            headers["Content-Type"] = "application/json"
        if signed:
            headers.update(self.auth_headers(payload))
        # Writes are POSTs sent once: aiohttp re-sends an idempotent request on a dead pooled connection.
        response = await self.http.request(method, target, data=data, headers=headers, idempotent=not write)
        self._observe(response, key)
        return self._envelope(response, write)

    def _observe(self, response: UpstreamResponse, key: str | None) -> None:
        headers = {name.lower(): value for name, value in response.headers.items()}
        remaining, reset = headers.get("x-bapi-limit-status"), headers.get("x-bapi-limit-reset-timestamp")
        if key is None or remaining is None or reset is None:
            return
        try:
            self.pacer.observe(key, int(remaining), int(reset) / 1000)
        except ValueError:
            return  # a malformed header is Bybit's problem, not a reason to fail the call

    def _envelope(self, response: UpstreamResponse, write: bool) -> dict[str, Any]:
        status = response.status
        if status == 403:
            self.pacer.penalize(IP_BAN_S, "HTTP 403: IP rate limit exceeded (600 requests / 5 s) or region blocked")
            # Bybit's edge refused the request before any matching: nothing was placed.
            raise mark_definite(
                RateLimitError(
                    "bybit answered HTTP 403 (IP rate limit exceeded or access from this region blocked); "
                    f"no call is sent for {int(IP_BAN_S)} s",
                    details={"venue": "bybit", "status": 403, "retry_after_s": IP_BAN_S},
                    headers={"Retry-After": str(int(IP_BAN_S))},
                    suggested_fix="wait 10 minutes; if it persists, the server's IP region is blocked by Bybit",
                ),
                write,
            )
        if status == 401:
            raise mark_definite(
                UpstreamAuthError(
                    "bybit answered HTTP 401: missing or malformed authentication headers",
                    details={"venue": "bybit", "status": 401},
                ),
                write,
            )
        try:
            body = response.json(exact=True)
        except UpstreamError:
            raise_for_transport_status(response, "bybit")
            if status == 404:
                raise mark_definite(
                    InvalidInputError(
                        "bybit has no such endpoint here (HTTP 404)"
                        + (": Bybit Demo Trading offers a subset of the API" if self.demo else ""),
                        details={"venue": "bybit", "status": 404, "demo": self.demo},
                    ),
                    write,
                ) from None
            raise
        if not isinstance(body, dict) or "retCode" not in body:
            raise_for_transport_status(response, "bybit")
            raise UpstreamError(
                f"bybit answered HTTP {status} without a retCode envelope", details={"venue": "bybit", "status": status}
            )
        code = int(body["retCode"])
        if code != 0:
            error = to_error(code, str(body.get("retMsg", "")), write=write, http_status=status)
            if code == RATE_LIMITED:
                self._retry_after(error, response)
            raise error
        raise_for_transport_status(response, "bybit")
        return body

    def _retry_after(self, error: CerberoError, response: UpstreamResponse) -> None:
        headers = {name.lower(): value for name, value in response.headers.items()}
        try:
            wait = max(0.0, int(headers.get("x-bapi-limit-reset-timestamp", "0")) / 1000 - now())
        except ValueError:
            return
        error.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        error.details = {**(error.details or {}), "retry_after_s": round(wait, 3)}

    @staticmethod
    def result(envelope: dict[str, Any]) -> dict[str, Any]:
        """Return an envelope's `result` object."""
        result = envelope.get("result")
        return result if isinstance(result, dict) else {}

    # --- market (public) --------------------------------------------------------------------

    async def market_time(self) -> dict[str, Any]:
        """GET /v5/market/time."""
        return self.result(await self.call("GET", "/v5/market/time", {}))

    async def market_instruments_info(
        self,
        category: str,
        symbol: str | None = None,
        base_coin: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """GET /v5/market/instruments-info."""
        params = {"category": category, "symbol": symbol, "baseCoin": base_coin, "limit": limit, "cursor": cursor}
        return self.result(await self.call("GET", "/v5/market/instruments-info", params))

    async def market_tickers(
        self, category: str, symbol: str | None = None, base_coin: str | None = None
    ) -> dict[str, Any]:
        """GET /v5/market/tickers."""
        params = {"category": category, "symbol": symbol, "baseCoin": base_coin}
        return self.result(await self.call("GET", "/v5/market/tickers", params))

    async def market_orderbook(self, category: str, symbol: str, limit: int) -> dict[str, Any]:
        """GET /v5/market/orderbook."""
        params = {"category": category, "symbol": symbol, "limit": limit}
        return self.result(await self.call("GET", "/v5/market/orderbook", params))

    async def market_kline(
        self, category: str, symbol: str, interval: str, start: int | None, end: int | None, limit: int
    ) -> dict[str, Any]:
        """GET /v5/market/kline (newest candle first)."""
        params = {
            "category": category,
            "symbol": symbol,
            "interval": interval,
            "start": start,
            "end": end,
            "limit": limit,
        }
        return self.result(await self.call("GET", "/v5/market/kline", params))

    async def market_funding_history(
        self, category: str, symbol: str, start_time: int | None, end_time: int | None, limit: int
    ) -> dict[str, Any]:
        """GET /v5/market/funding/history (newest first)."""
        params = {
            "category": category,
            "symbol": symbol,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
        }
        return self.result(await self.call("GET", "/v5/market/funding/history", params))

    async def market_open_interest(
        self,
        category: str,
        symbol: str,
        interval_time: str,
        start_time: int | None,
        end_time: int | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        """GET /v5/market/open-interest (newest first, paged by cursor)."""
        params = {
            "category": category,
            "symbol": symbol,
            "intervalTime": interval_time,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
            "cursor": cursor,
        }
        return self.result(await self.call("GET", "/v5/market/open-interest", params))

    async def instrument(self, category: str, symbol: str) -> dict[str, Any]:
        """Return one instrument's rules, cached for INSTRUMENT_TTL_S; an unknown symbol is a 4xx 'not found'."""
        cached = self._instruments.get((category, symbol))
        if cached is not None and time.monotonic() - cached[0] < INSTRUMENT_TTL_S:
            return cached[1]
        found = await self._listed(category, symbol)
        if found is None:
            raise InvalidInputError(
                f"bybit: instrument {symbol} not found in category {category}",
                details={"venue": "bybit", "instrument": symbol, "category": category},
                suggested_fix="check the symbol and category with get_instruments",
            )
        return found

    async def _listed(self, category: str, symbol: str) -> dict[str, Any] | None:
        cached = self._instruments.get((category, symbol))
        if cached is not None and time.monotonic() - cached[0] < INSTRUMENT_TTL_S:
            return cached[1]
        try:
            rows = (await self.market_instruments_info(category, symbol=symbol)).get("list") or []
        except InvalidInputError:
            return None  # Bybit answers some unknown symbols with 10001 instead of an empty list
        meta = next((row for row in rows if isinstance(row, dict) and row.get("symbol") == symbol), None)
        if meta is not None:
            self._instruments[(category, symbol)] = (time.monotonic(), meta)
        return meta

    async def resolve_category(
        self, symbol: str, given: str | None = None, *, prefer: Category | None = None
    ) -> Category:
        """Return the category of `symbol`: the one given, the one its spelling names, or the only one listing it.

        A symbol listed in several categories needs `category`, unless the caller names a `prefer`red one
        (the standard market-data tools, whose requests have no category field, prefer linear).
        """
        spelled = category_from_symbol(symbol)
        if given is not None:
            if spelled is not None and spelled != given:
                raise InvalidInputError(
                    f"{symbol} is a {spelled} symbol, not {given}",
                    details={"instrument": symbol, "category": given, "expected": spelled},
                    suggested_fix=f"send category {spelled!r} or leave it out",
                )
            return cast(Category, given)
        if spelled is not None:
            return spelled
        listed = [category for category in AMBIGUOUS if await self._listed(category, symbol) is not None]
        if len(listed) == 1:
            return listed[0]
        if prefer is not None and prefer in listed:
            return prefer
        if not listed:
            raise InvalidInputError(
                f"bybit: instrument {symbol} not found in {' or '.join(AMBIGUOUS)}",
                details={"venue": "bybit", "instrument": symbol},
                suggested_fix="check the symbol with get_instruments (options and inverse have their own spelling)",
            )
        raise InvalidInputError(
            f"{symbol} is listed both as {' and '.join(listed)}: give category",
            details={"instrument": symbol, "categories": listed, "field": "category"},
            suggested_fix=f'add "category": one of {", ".join(repr(c) for c in listed)}',
        )

    # --- account, positions, orders (private reads) -----------------------------------------

    async def account_wallet_balance(self, coin: str | None = None) -> dict[str, Any]:
        """GET /v5/account/wallet-balance (accountType=UNIFIED)."""
        params = {"accountType": "UNIFIED", "coin": coin}
        return self.result(await self.call("GET", "/v5/account/wallet-balance", params, signed=True))

    async def position_list(
        self,
        category: str,
        symbol: str | None = None,
        settle_coin: str | None = None,
        base_coin: str | None = None,
        limit: int = 200,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """GET /v5/position/list."""
        params = {
            "category": category,
            "symbol": symbol,
            "settleCoin": settle_coin,
            "baseCoin": base_coin,
            "limit": limit,
            "cursor": cursor,
        }
        return self.result(await self.call("GET", "/v5/position/list", params, signed=True))

    async def order_realtime(
        self,
        category: str,
        symbol: str | None = None,
        settle_coin: str | None = None,
        base_coin: str | None = None,
        order_id: str | None = None,
        order_link_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """GET /v5/order/realtime (open orders; recent closed ones too when queried by id)."""
        params = {
            "category": category,
            "symbol": symbol,
            "settleCoin": settle_coin,
            "baseCoin": base_coin,
            "orderId": order_id,
            "orderLinkId": order_link_id,
            "limit": limit,
            "cursor": cursor,
        }
        return self.result(await self.call("GET", "/v5/order/realtime", params, signed=True))

    async def execution_list(
        self, category: str, symbol: str | None, order_id: str, limit: int = 100
    ) -> dict[str, Any]:
        """GET /v5/execution/list (the fills of one order)."""
        params = {"category": category, "symbol": symbol, "orderId": order_id, "limit": limit}
        return self.result(await self.call("GET", "/v5/execution/list", params, signed=True))

    # --- writes (never re-sent) -------------------------------------------------------------

    async def order_create(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v5/order/create: an acknowledgement `{orderId, orderLinkId}`, not a fill."""
        category = str(params["category"])
        envelope = await self.call("POST", "/v5/order/create", params, signed=True, write=True, category=category)
        result = self.result(envelope)
        self.remember(result, category, str(params["symbol"]))
        return result

    async def order_create_batch(self, category: str, orders: list[dict[str, Any]]) -> dict[str, Any]:
        """POST /v5/order/create-batch: the whole envelope (per-order acks in result.list, codes in retExtInfo.list)."""
        if self.demo and category not in DEMO_BATCH_CATEGORIES:
            raise InvalidInputError(
                f"Bybit Demo Trading offers batch orders for {' and '.join(DEMO_BATCH_CATEGORIES)} only, "
                f"not {category}",
                details={"venue": "bybit", "category": category, "demo": True},
                suggested_fix="place the orders one by one with place_order",
            )
        envelope = await self.call(
            "POST",
            "/v5/order/create-batch",
            {"category": category, "request": orders},
            signed=True,
            write=True,
            category=category,
        )
        for row in self.result(envelope).get("list") or []:
            if isinstance(row, dict) and row.get("symbol"):
                self.remember(row, category, str(row["symbol"]))
        return envelope

    async def order_amend(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v5/order/amend: an acknowledgement `{orderId, orderLinkId}`."""
        envelope = await self.call(
            "POST", "/v5/order/amend", params, signed=True, write=True, category=str(params["category"])
        )
        return self.result(envelope)

    async def order_cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v5/order/cancel: an acknowledgement `{orderId, orderLinkId}`."""
        envelope = await self.call(
            "POST", "/v5/order/cancel", params, signed=True, write=True, category=str(params["category"])
        )
        return self.result(envelope)

    async def order_cancel_all(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v5/order/cancel-all: `{list: [{orderId, orderLinkId}], success}`."""
        envelope = await self.call(
            "POST", "/v5/order/cancel-all", params, signed=True, write=True, category=str(params["category"])
        )
        return self.result(envelope)

    async def position_trading_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v5/position/trading-stop: set a position's take-profit / stop-loss (result `{}`)."""
        envelope = await self.call("POST", "/v5/position/trading-stop", params, signed=True, write=True)
        return self.result(envelope)

    # --- where an order lives ---------------------------------------------------------------

    def remember(self, ack: dict[str, Any], category: str, symbol: str) -> None:
        """Remember the (category, symbol) of an order id and its orderLinkId, for amend/cancel by id."""
        for key in (ack.get("orderId"), ack.get("orderLinkId")):
            if key:
                self._order_homes[str(key)] = (category, symbol)
                self._order_homes.move_to_end(str(key))
        while len(self._order_homes) > ORDER_HOMES_MAX:
            self._order_homes.popitem(last=False)

    def home_of(self, order_id: str) -> tuple[str, str] | None:
        """Return the remembered (category, symbol) of an order id, if this client placed or saw it."""
        return self._order_homes.get(order_id)
