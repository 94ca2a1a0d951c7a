"""Loopback fake of Alpaca's Trading API v2 and Market Data API, on the shared simulation engine.

Written from Alpaca's documentation (docs.alpaca.markets: orders, positions, account, activities,
clock, calendar, assets, market data v2/v1beta1/v1beta3) and alpaca-py's request shapes, never
from our client.

- One instance is one environment's trading host (paper-api or api) with its own keys; it also
  serves the market-data paths, which accept the keys of both environments (`auth.py`). The
  settings point `ALPACA_DATA_URL` (one URL for both environments) at the testnet instance.
- Auth: `APCA-API-KEY-ID` + `APCA-API-SECRET-KEY`; trading 401 `{"code":40110000,...}`, data 401
  `{"message":"unauthorized"}`.
- Errors `{"code": <8 digits>, "message"}` (`wire.py`); 404 on an unknown path is `{"message":"Not Found"}`.
- 200 requests a minute per key with the X-RateLimit-* headers (429 over), obeying
  `app.state.venue.rate_limit` (the test stack's "rate limits disabled" switch).
- GET /v2/options/contracts/{symbol_or_id} answers one contract (OCC symbol or contract id), 404 when unknown.
- Positions take a crypto pair as `BTC%2FUSD` or in the legacy form `BTCUSD` (Alpaca keeps the legacy
  symbology working for orders and positions).
- DELETE /v2/orders/{id} is 204 with no body; DELETE /v2/orders and DELETE /v2/positions are 207
  with one `{id|symbol, status, body}` per order or position.

Every request first brings the engine up to the clock, then runs at that one pinned instant.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cerbero_mcp.simulators.alpaca import data_api, hours
from cerbero_mcp.simulators.alpaca.auth import RateLimit, register_data_key, verify_data, verify_trading
from cerbero_mcp.simulators.alpaca.market import AlpacaMarket, Asset
from cerbero_mcp.simulators.alpaca.trading import Trading
from cerbero_mcp.simulators.alpaca.wire import (
    NO_CODE,
    AlpacaError,
    Params,
    encode,
    invalid,
    make_token,
    not_found,
    parse_body,
    parse_query,
    parse_time,
    read_token,
    text,
)
from cerbero_mcp.simulators.engine import SimulatorConfig, SimulatorSpec
from cerbero_mcp.simulators.engine.clock import PinnedClock

CENT = Decimal("0.01")


class Answer:
    """A trading handler's result with a status other than 200 (204, 207)."""

    def __init__(self, status: int, body: Any) -> None:
        """Carry the status and the body (None: no body)."""
        self.status = status
        self.body = body


TradingHandler = Callable[["AlpacaVenue", Params, float, dict[str, str]], Any]


def _account(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.account(now)


def _clock(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return hours.clock(now)


def _calendar(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    today = hours.ny_date(now)
    start_s, end_s = p.opt("start"), p.opt("end")
    start = hours.utc_date(parse_time(start_s, "start")) if start_s else today - timedelta(days=30)
    end = hours.utc_date(parse_time(end_s, "end")) if end_s else today + timedelta(days=30)
    return hours.calendar(start, end)


def _asset_view(v: AlpacaVenue, a: Asset, now: float) -> dict[str, Any]:
    price = v.market.model.instrument(a.symbol).round_price(v.market.model.mid(a.symbol, now))
    prev = v.trading.prev_close(a, now)
    out: dict[str, Any] = {
        "id": a.id, "class": a.asset_class, "exchange": a.exchange, "symbol": a.symbol, "name": a.name,
        "status": "active", "tradable": True, "marginable": a.asset_class == "us_equity",
        "maintenance_margin_requirement": 100, "margin_requirement_long": "100", "margin_requirement_short": "100",
        "shortable": False, "easy_to_borrow": a.asset_class == "us_equity",
        "fractionable": a.asset_class != "us_option", "attributes": ["fractional_eh_enabled", "has_options"]
        if a.symbol in ("AAPL", "SPY") else [],
        # the documented asset also carries its last price and its change from the previous close (in %)
        "last_price": text(price), "last_close_pct_change": text(((price - prev) / prev * 100).quantize(CENT)),
    }  # fmt: skip
    if a.asset_class == "crypto":
        out.update({"min_order_size": text(a.min_order_size), "min_trade_increment": text(a.min_trade_increment),
                    "price_increment": text(a.price_increment)})  # fmt: skip
    return out


def _assets(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    cls = p.choice("asset_class", ("us_equity", "crypto", "us_option"), "us_equity")
    status = p.choice("status", ("active", "inactive"))
    if status == "inactive":
        return []
    return [_asset_view(v, a, now) for a in v.market.assets.values() if a.asset_class == cls and cls != "us_option"]


def _asset(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    a = v.market.asset(path["symbol"])
    if a is None or a.asset_class == "us_option":
        raise not_found("asset not found")
    return _asset_view(v, a, now)


def _contract_view(v: AlpacaVenue, a: Asset, now: float) -> dict[str, Any]:
    assert a.expiry is not None
    assert a.strike is not None
    oi = v.market.model.open_interest(a.symbol, now)
    return {
        "id": a.id, "symbol": a.symbol, "name": a.name, "status": "active", "tradable": True,
        "expiration_date": a.expiry.isoformat(), "root_symbol": a.root, "underlying_symbol": a.root,
        "underlying_asset_id": v.market.assets[a.root].id, "type": a.option_type, "style": "american",
        "strike_price": text(a.strike), "multiplier": "100", "size": "100", "open_interest": str(int(oi)),
        "open_interest_date": hours.previous_trading_day(hours.ny_date(now)).isoformat(),
        "close_price": None, "close_price_date": None, "ppind": True,
    }  # fmt: skip


def _contract(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v2/options/contracts/{symbol_or_id}: one contract, listed or expired, by OCC symbol or id."""
    key = path["symbol_or_id"]
    a = v.market.assets.get(key)
    if a is None:
        a = next((x for x in v.market.assets.values() if x.id == key), None)
    if a is None or a.asset_class != "us_option":
        raise not_found("option contract not found")
    return _contract_view(v, a, now)


def _contracts(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    """GET /v2/options/contracts: filtered, `limit` default 100 (max 10000), paged by `page_token`."""
    roots = p.symbols("underlying_symbols") or list(v.market.stock_defs)
    kind = p.choice("type", ("call", "put"))
    gte, lte = p.decimal("strike_price_gte"), p.decimal("strike_price_lte")
    today = hours.ny_date(now).isoformat()
    exp, exp_gte, exp_lte = (
        p.opt("expiration_date"),
        p.opt("expiration_date_gte") or today,
        p.opt("expiration_date_lte"),
    )
    limit = p.integer("limit", 100, 1, 10_000)
    token = p.opt("page_token")
    after = read_token(token) if token else ""
    rows = []
    for root in sorted(roots):
        for a in v.market.options(root):
            day = a.expiry.isoformat() if a.expiry else ""
            if (kind and a.option_type != kind) or (gte is not None and (a.strike or 0) < gte):
                continue
            if (lte is not None and (a.strike or 0) > lte) or (exp and day != exp[:10]) or day < exp_gte[:10]:
                continue
            if exp_lte and day > exp_lte[:10]:
                continue
            if a.expiry is not None and hours.session(a.expiry)[1] <= now:
                continue
            rows.append(a)
    rows.sort(key=lambda a: a.symbol)
    rows = [a for a in rows if a.symbol > after]
    page = rows[:limit]
    return {"option_contracts": [_contract_view(v, a, now) for a in page],
            "next_page_token": make_token(page[-1].symbol) if len(rows) > limit else None}  # fmt: skip


def _post_order(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.ack_view(v.trading.place(p, now))


def _list_orders(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.list_orders(p, now)


def _get_order(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.view(v.trading.find(path["id"]), p.boolean("nested", True))


def _by_client_id(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    cid = p.opt("client_order_id")
    if cid is None:
        raise invalid("client_order_id is required")
    return v.trading.view(v.trading.by_client_id(cid))


def _patch_order(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.ack_view(v.trading.replace(path["id"], p, now))


def _delete_order(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    v.trading.cancel(path["id"], now)
    return Answer(204, None)


def _delete_orders(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    canceled = v.trading.cancel_all(now)
    return Answer(207, [{"id": o.id, "status": 200, "body": v.trading.view(o)} for o in canceled])


def _positions(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.positions(now)


def _position(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.position_view(path["symbol"], now)


def _close_position(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    return v.trading.ack_view(v.trading.close(path["symbol"], p, now))


def _close_all(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    if p.boolean("cancel_orders"):
        v.trading.cancel_all(now)
    out = []
    for pos in v.trading.engine.positions("alpaca"):
        symbol = pos.instrument.replace("/", "")
        try:
            order = v.trading.close(pos.instrument, Params({}), now)
            out.append({"symbol": symbol, "status": 200, "body": v.trading.ack_view(order)})
        except AlpacaError as exc:
            out.append({"symbol": symbol, "status": exc.status, "body": exc.body()})
    return Answer(207, out)


def _activities(v: AlpacaVenue, p: Params, now: float, path: dict[str, str]) -> Any:
    kind = path.get("type")
    if kind is not None and kind not in ("FILL", "CSD", "DIV", "FEE", "TRANS", "JNLC", "INT"):
        raise invalid(f"invalid activity type: {kind}")
    # no next_page_token here: Alpaca pages activities by passing the last id seen as `page_token`
    return v.trading.activities(p, kind, now)


TRADING_ROUTES: list[tuple[str, re.Pattern[str], TradingHandler]] = [
    ("GET", re.compile(r"^/v2/account$"), _account),
    ("GET", re.compile(r"^/v2/clock$"), _clock),
    ("GET", re.compile(r"^/v2/calendar$"), _calendar),
    ("GET", re.compile(r"^/v2/assets$"), _assets),
    ("GET", re.compile(r"^/v2/assets/(?P<symbol>.+)$"), _asset),
    ("GET", re.compile(r"^/v2/options/contracts$"), _contracts),
    ("GET", re.compile(r"^/v2/options/contracts/(?P<symbol_or_id>[^/]+)$"), _contract),
    ("POST", re.compile(r"^/v2/orders$"), _post_order),
    ("GET", re.compile(r"^/v2/orders$"), _list_orders),
    ("DELETE", re.compile(r"^/v2/orders$"), _delete_orders),
    ("GET", re.compile(r"^/v2/orders:by_client_order_id$"), _by_client_id),
    ("GET", re.compile(r"^/v2/orders/(?P<id>[^/]+)$"), _get_order),
    ("PATCH", re.compile(r"^/v2/orders/(?P<id>[^/]+)$"), _patch_order),
    ("DELETE", re.compile(r"^/v2/orders/(?P<id>[^/]+)$"), _delete_order),
    ("GET", re.compile(r"^/v2/positions$"), _positions),
    ("DELETE", re.compile(r"^/v2/positions$"), _close_all),
    ("GET", re.compile(r"^/v2/positions/(?P<symbol>.+)$"), _position),
    ("DELETE", re.compile(r"^/v2/positions/(?P<symbol>.+)$"), _close_position),
    ("GET", re.compile(r"^/v2/account/activities$"), _activities),
    ("GET", re.compile(r"^/v2/account/activities/(?P<type>[A-Z]+)$"), _activities),
]


class AlpacaVenue:
    """One simulator instance: market, account, keys, rate limits and the path tables."""

    def __init__(self, config: SimulatorConfig, *, rate_limit: bool = True) -> None:
        """Build the market and the funded account as of the config's clock."""
        self.config = config
        self.rate_limit = rate_limit
        self.clock = PinnedClock(config.clock)
        self.market = AlpacaMarket(config.seed, config.clock.now())
        self.trading = Trading(self.market, self.clock, config.seed)
        creds = dict(config.credentials)
        self.key_id, self.secret = creds.get("key_id", ""), creds.get("secret_key", "")
        register_data_key(self.key_id, self.secret)
        self.limits = RateLimit()
        self.lock = threading.RLock()

    def serve(self, method: str, path: str, query: bytes, body: bytes,
              headers: dict[str, str]) -> tuple[int, bytes | None, dict[str, str]]:  # fmt: skip
        """Answer one request: (HTTP status, body or None, extra headers)."""
        with self.lock:
            now = self.clock.pin()
            extra: dict[str, str] = {}
            try:
                found_data = data_api.route(path) if method == "GET" else None
                if found_data is not None:
                    key = verify_data(headers)
                    extra = self.limits.take("data", key, now, enforce=self.rate_limit)
                    handler, args = found_data
                    self.market.ensure_listed(now)
                    try:
                        return 200, encode(handler(self.market, parse_query(query), now, args)), extra
                    except AlpacaError as exc:
                        exc.code = NO_CODE  # market-data errors carry only a message
                        raise
                route = self._route(method, path)
                key = verify_trading(headers, self.key_id, self.secret)
                extra = self.limits.take("trading", key, now, enforce=self.rate_limit)
                self.trading.advance(now)
                params = parse_query(query) if method in ("GET", "DELETE") else parse_body(body)
                fn, args = route
                result = fn(self, params, now, args)
                if isinstance(result, Answer):
                    return result.status, None if result.body is None else encode(result.body), extra
                return 200, encode(result), extra
            except AlpacaError as exc:
                extra.update(exc.headers)
                return exc.status, encode(exc.body()), extra
            except Exception as exc:  # a simulator bug: answer as Alpaca's 500 does, never a bare traceback
                return 500, encode({"code": 50010000, "message": f"internal server error: {type(exc).__name__}"}), extra
            finally:
                self.clock.release()

    def _route(self, method: str, path: str) -> tuple[TradingHandler, dict[str, str]]:
        allowed = False
        for m, pattern, handler in TRADING_ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if m == method:
                return handler, match.groupdict()
            allowed = True
        if allowed:
            raise AlpacaError(405, "Method Not Allowed", 40500000)
        raise AlpacaError(404, "Not Found", NO_CODE)


def build_app(config: SimulatorConfig, *, rate_limit: bool = True) -> Starlette:
    """Return the Alpaca simulator for one instance (`app.state.venue` is its `AlpacaVenue`)."""
    venue = AlpacaVenue(config, rate_limit=rate_limit)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, payload, extra = venue.serve(
            request.method, request.url.path, request.scope.get("query_string", b""), body, headers
        )
        if payload is None:
            return Response(status_code=status, headers=extra)
        return Response(payload, status_code=status, media_type="application/json; charset=UTF-8", headers=extra)

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]
    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
    app.state.venue = venue
    return app


# --- the harness's view -------------------------------------------------------------------------

_KEY_CHARS = string.ascii_uppercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits


def _credentials(env: str) -> dict[str, str]:
    # Paper key ids start with PK and live ones with AK (20 characters); secrets are 40 characters.
    prefix = "PK" if env == "testnet" else "AK"
    return {"key_id": prefix + "".join(secrets.choice(_KEY_CHARS) for _ in range(18)),
            "secret_key": "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))}  # fmt: skip


def _overrides(env: str, url: str, creds: dict[str, str]) -> dict[str, str]:
    suffix = "TESTNET" if env == "testnet" else "LIVE"
    out = {
        f"ALPACA_URL_{suffix}": url,
        f"ALPACA_API_KEY_ID_{suffix}": creds["key_id"],
        f"ALPACA_SECRET_KEY_{suffix}": creds["secret_key"],
    }
    if env == "testnet":
        # one market-data host for both environments (it accepts both environments' keys); the
        # simulated data plan is Basic, where IEX is the real-time feed and SIP is 15 minutes late
        out["ALPACA_DATA_URL"] = url
        out["ALPACA_DATA_FEED"] = "iex"
    return out


SPEC = SimulatorSpec(venue="alpaca", build_app=build_app, settings_overrides=_overrides, credentials=_credentials)
