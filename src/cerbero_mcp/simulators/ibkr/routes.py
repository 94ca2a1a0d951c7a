"""The IBKR simulator's route table: every authenticated `/v1/api` endpoint and what it needs first.

`api(handler, bridge=, accounts=, portfolio=)` (from `simulator.build_app`) wraps a handler with the
OAuth check, the brokerage-session rule ("no bridge"), and the priming rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.routing import BaseRoute, Route

from cerbero_mcp.simulators.ibkr.desk import OrderDesk
from cerbero_mcp.simulators.ibkr.market import IbkrMarket
from cerbero_mcp.simulators.ibkr.oauth import LiveSession
from cerbero_mcp.simulators.ibkr.views import AccountViews

Api = Callable[..., Callable[..., Any]]


@dataclass
class Brokerage:
    """The brokerage (iserver) session: open or not, accounts primed, conids preflighted, orders list started."""

    authenticated: bool = False
    accounts_primed: bool = False
    preflighted: set[int] = field(default_factory=set)
    orders_started: bool = False  # the live-orders list answers empty until its first (pre-flight) request


class IbkrVenue(Protocol):
    """What the routes need of a simulator instance (simulator.IbkrVenue; a protocol to keep the modules acyclic)."""

    market: IbkrMarket
    desk: OrderDesk
    views: AccountViews
    brokerage: Brokerage

    def auth_status(self) -> dict[str, Any]:
        """Serve /iserver/auth/status."""
        ...

    def ssodh_init(self, call: Call) -> dict[str, Any]:
        """Open the brokerage session."""
        ...

    def tickle(self, call: Call) -> dict[str, Any]:
        """Keep the session alive."""
        ...

    def logout(self, call: Call) -> dict[str, Any]:
        """Close the brokerage session."""
        ...

    def account(self, call: Call) -> str:
        """Return the account id a call names."""
        ...


MAX_TRADE_DAYS = 7


class ApiError(Exception):
    """Any refusal: `{"error": message}` with HTTP `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        """Carry the message and status."""
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Call:
    """One authenticated API call."""

    now: float
    body: Any
    query: dict[str, str]
    path: dict[str, str]
    session: LiveSession


def api_routes(venue: IbkrVenue, api: Api) -> list[BaseRoute]:
    """Return the routes of `/v1/api` (the LST route and the WebSocket are added by the caller)."""
    m, d, v = venue.market, venue.desk, venue.views

    def accounts(call: Call) -> Any:
        venue.brokerage.accounts_primed = True
        return v.iserver_accounts(call.session.session_id)

    def portfolio_accounts(call: Call) -> Any:
        call.session.portfolio_primed = True
        return v.portfolio_accounts()

    def acct(call: Call) -> str:
        return venue.account(call)

    def integer(call: Call, name: str, default: int | None = None) -> int:
        raw = call.path.get(name, call.query.get(name))
        if raw is None or raw == "":
            if default is None:
                raise ApiError(f"{name} is required")
            return default
        if not str(raw).lstrip("-").isdigit():
            raise ApiError(f"{name} must be an integer")
        return int(raw)

    def search(call: Call) -> Any:
        src: dict[str, Any] = dict(call.query)
        if isinstance(call.body, dict):
            src.update(call.body)
        by_name = str(src.get("name", "false")).lower() == "true"
        sec_type = src.get("secType") or None
        return m.search(str(src.get("symbol", "")), by_name, sec_type, call.now)

    def snapshot(call: Call) -> Any:
        conids = [c for c in call.query.get("conids", "").split(",") if c.strip()]
        if not conids:
            raise ApiError("conids is required")
        fields = [f.strip() for f in call.query.get("fields", "").split(",") if f.strip()]
        contracts = [m.contract(c) for c in conids]
        out = []
        for c in contracts:
            row: dict[str, Any] = {"conid": c.conid, "conidEx": str(c.conid), "_updated": int(call.now * 1000),
                                   "server_id": "q0"}  # fmt: skip
            if c.conid in venue.brokerage.preflighted:
                q = m.quote(c, call.now)
                row.update({f: q[f] for f in fields if f in q})
                # IBKR adds its server id (6119) and the market data availability (6509: R real time,
                # p a snapshot, B a book) to every answered row, requested or not.
                row.update({"6119": row["server_id"], "6509": "RpB"})
            else:
                venue.brokerage.preflighted.add(c.conid)
            out.append(row)
        return out

    def unsubscribe_all(call: Call) -> Any:
        venue.brokerage.preflighted.clear()
        return {"unsubscribed": True}

    def history(call: Call) -> Any:
        c = m.contract(call.query.get("conid", ""))
        period, bar = call.query.get("period"), call.query.get("bar")
        if not period or not bar:
            raise ApiError("period and bar are required")
        end = call.now
        start_time = call.query.get("startTime")
        if start_time:
            try:
                end = min(datetime.strptime(start_time, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp(), end)
            except ValueError:
                raise ApiError("startTime must be YYYYMMDD-HH:MM:SS (UTC)") from None
        outside = call.query.get("outsideRth", "false").lower() == "true"
        return m.history(c, period, bar, outside, end)

    def schedule(call: Call) -> Any:
        symbol = call.query.get("symbol", "").upper()
        stock = m.stocks.get(symbol)
        if stock is None:
            raise ApiError(f"no schedule for symbol {symbol!r}")
        if call.query.get("assetClass", "STK").upper() not in ("STK", "OPT"):
            raise ApiError("assetClass must be STK or OPT")
        return m.schedule(stock, call.now)

    def trades(call: Call) -> Any:
        days = integer(call, "days", 1)
        if not 1 <= days <= MAX_TRADE_DAYS:
            raise ApiError(f"days must be between 1 and {MAX_TRADE_DAYS}")
        return v.trades(days, call.now)

    def live_orders(call: Call) -> Any:
        # IBKR: "this endpoint requires a pre-flight request"; the first request of a brokerage session
        # (and one with force=true, which clears what was gathered) starts gathering and answers empty.
        if not venue.brokerage.orders_started or call.query.get("force", "").lower() == "true":
            venue.brokerage.orders_started = True
            return {"orders": [], "snapshot": False}
        return v.orders(call.query.get("filters", ""), call.now)

    def invalidate_positions(call: Call) -> Any:
        acct(call)
        return v.invalidate_positions()

    def order_status(call: Call) -> Any:
        return v.order_status(d.find(call.path["order_id"]))

    def place(call: Call) -> Any:
        acct(call)
        return d.place(call.body, call.now)

    def modify(call: Call) -> Any:
        acct(call)
        return d.modify(call.path["order_id"], call.body, call.now)

    def cancel(call: Call) -> Any:
        acct(call)
        return d.cancel(call.path["order_id"], call.now)

    def positions(call: Call) -> Any:
        acct(call)
        page = integer(call, "page")
        if page < 0:
            raise ApiError("page must be 0 or more")
        return v.positions(page)

    def not_found(call: Call) -> Any:
        raise ApiError(f"no such endpoint: /v1/api/{call.path.get('rest', '')}", 404)

    def suppress_reset(call: Call) -> Any:
        d.suppressed.clear()
        return {"status": "submitted"}

    def reply(call: Call) -> Any:
        return d.reply(call.path["reply_id"], call.body, call.now)

    def reauthenticate(call: Call) -> Any:
        venue.ssodh_init(Call(call.now, {"publish": True, "compete": True}, {}, {}, call.session))
        return {"message": "triggered"}

    P = "/v1/api"
    get, post = ["GET"], ["POST"]
    table: list[tuple[str, list[str], Callable[[Call], Any], dict[str, bool]]] = [
        ("/tickle", post, venue.tickle, {}),
        ("/logout", post, venue.logout, {}),
        ("/iserver/auth/status", ["GET", "POST"], lambda c: venue.auth_status(), {}),
        ("/iserver/auth/ssodh/init", post, venue.ssodh_init, {}),
        ("/iserver/reauthenticate", post, reauthenticate, {}),
        ("/iserver/accounts", get, accounts, {"bridge": True}),
        ("/portfolio/accounts", get, portfolio_accounts, {}),
        ("/portfolio/subaccounts", get, portfolio_accounts, {}),
        ("/portfolio/{acct}/summary", get, lambda c: (acct(c), v.summary(c.now))[1], {"portfolio": True}),
        ("/portfolio/{acct}/ledger", get, lambda c: (acct(c), v.ledger(c.now))[1], {"portfolio": True}),
        ("/portfolio/{acct}/positions/invalidate", post, invalidate_positions, {"portfolio": True}),
        ("/portfolio/{acct}/positions/{page}", get, positions, {"portfolio": True}),
        ("/portfolio2/{acct}/positions", get, lambda c: (acct(c), v.positions_now())[1], {"portfolio": True}),
        ("/portfolio/{acct}/position/{conid}", get,
         lambda c: (acct(c), v.position(m.contract(c.path["conid"]).conid))[1], {"portfolio": True}),
        ("/iserver/account/orders", get, live_orders, {"bridge": True}),
        ("/iserver/account/trades", get, trades, {"bridge": True}),
        ("/iserver/account/order/status/{order_id}", get, order_status, {"bridge": True}),
        ("/iserver/account/{acct}/orders", post, place, {"bridge": True}),
        ("/iserver/account/{acct}/order/{order_id}", post, modify, {"bridge": True, "accounts": True}),
        ("/iserver/account/{acct}/order/{order_id}", ["DELETE"], cancel, {"bridge": True, "accounts": True}),
        ("/iserver/reply/{reply_id}", post, reply, {"bridge": True}),
        ("/iserver/questions/suppress", post, lambda c: d.suppress(c.body), {"bridge": True}),
        ("/iserver/questions/suppress/reset", post, suppress_reset, {"bridge": True}),
        ("/iserver/secdef/search", ["GET", "POST"], search, {"bridge": True}),
        ("/iserver/secdef/strikes", get, lambda c: m.strikes(c.query.get("conid", ""), c.query.get("sectype", ""),
                                                            c.query.get("month", ""), c.now), {"bridge": True}),
        ("/iserver/secdef/info", get, lambda c: m.info(c.query, c.now), {"bridge": True}),
        ("/iserver/contract/{conid}/info", get, lambda c: _info(venue, c, rules=False), {"bridge": True}),
        ("/iserver/contract/{conid}/info-and-rules", get, lambda c: _info(venue, c, rules=True), {"bridge": True}),
        ("/iserver/marketdata/snapshot", get, snapshot, {"bridge": True, "accounts": True}),
        ("/iserver/marketdata/history", get, history, {"bridge": True}),
        ("/iserver/marketdata/unsubscribeall", ["GET", "POST"], unsubscribe_all, {"bridge": True}),
        ("/trsrv/stocks", get, lambda c: m.stocks_json(c.query.get("symbols", "")), {}),
        ("/trsrv/secdef/schedule", get, schedule, {}),
        ("/contract/trading-schedule", get,
         lambda c: m.trading_schedule(m.contract(c.query.get("conid", "")), c.now), {}),
    ]  # fmt: skip
    routes: list[BaseRoute] = []
    for path, methods, handler, flags in table:
        rules = dict(flags)
        if path.startswith("/iserver/") and path not in ("/iserver/auth/status", "/iserver/auth/ssodh/init",
                                                          "/iserver/reauthenticate"):  # fmt: skip
            rules["bridge"] = True
        routes.append(Route(P + path, api(handler, template=path, **rules), methods=methods))
    routes.append(Route(P + "/{rest:path}", api(not_found), methods=["GET", "POST", "PUT", "DELETE"]))
    return routes


def _info(venue: IbkrVenue, call: Call, *, rules: bool) -> Any:
    info = venue.market.contract_info(venue.market.contract(call.path["conid"]))
    if not rules:
        info.pop("rules")
    return info
