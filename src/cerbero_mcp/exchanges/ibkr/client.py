"""IBKR Client Portal Web API with first-party OAuth 1.0a, on the shared transport.

Every call is signed with the live session token (`oauth.OAuthSigner`); a 401 re-mints the
token once and repeats the call (a 401 means nothing was done). The brokerage session is opened
with `ssodh/init` before the first `/iserver/*` call, accounts are primed before snapshots,
cancels and modifies, and a background task tickles every ~60 s and acts on the answer. Every
request is paced by IBKR's documented limits (`pacing.py`): a short wait is waited, a long one is
refused before sending, and IBKR's 429 puts this client in its own penalty box for IBKR's ten
minutes (nothing is sent until it ends). The two lists IBKR allows once per 5 s (orders, trades)
are always read fresh, waiting for their window: an order list seconds old may show an order that
has since filled, and a bot acting on it could trade twice; one order is read with its status. Orders go
through the reply chain: formal questions are confirmed (up to a bound), questions that signal
margin, suitability or credit problems are refused and reported, and `{"error"}` at HTTP 200 is a
rejection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from cerbero_mcp.common import clock
from cerbero_mcp.common.errors import CerberoError, InvalidInputError, UpstreamAuthError, UpstreamError
from cerbero_mcp.common.http import UpstreamHTTP, mark_definite, raise_for_transport_status
from cerbero_mcp.exchanges.base import VenueClient
from cerbero_mcp.exchanges.ibkr.errors import refused_question, to_error
from cerbero_mcp.exchanges.ibkr.key_rotation import rotated_values
from cerbero_mcp.exchanges.ibkr.oauth import OAuthCredentials, OAuthSigner
from cerbero_mcp.exchanges.ibkr.pacing import PENALTY_S, keys_for, make_pacer
from cerbero_mcp.exchanges.ibkr.ws import IbkrStream
from cerbero_mcp.settings import Environment, Settings

log = logging.getLogger("cerbero.ibkr")
TICKLE_INTERVAL_S = 60.0
MAX_REPLY_ROUNDS = 20
SNAPSHOT_TRIES = 4
# The first snapshot of a conid is a pre-flight that starts IBKR's stream; give it time to fill.
SNAPSHOT_RETRY_S = (0.5, 1.0, 2.0)
MAX_POSITION_PAGES = 100
CONID_CACHE_SIZE = 1024
# Where a US stock has its primary listing (search's `description` of a stock hit).
US_EXCHANGES = frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "NYSENAT"})
SNAPSHOT_FIELDS = ("31", "84", "86", "88", "85", "7295", "7296", "55")


class IbkrClient(VenueClient):
    """One IBKR environment: its signer, brokerage session, account, conid cache and stream."""

    venue = "ibkr"
    default_headers: ClassVar[Mapping[str, str]] = {"User-Agent": "cerbero-mcp"}
    setup_hint = "run scripts/ibkr_oauth_setup.py and fill the printed .env lines"

    def __init__(
        self,
        http: UpstreamHTTP,
        environment: Environment,
        signer: OAuthSigner | None,
        *,
        account_id: str | None = None,
        missing: list[str] | None = None,
        access_token: str | None = None,
        ws_max_subscriptions: int = 80,
        ws_idle_timeout_s: float = 300.0,
        tickle_interval_s: float = TICKLE_INTERVAL_S,
    ) -> None:
        super().__init__(http, environment, missing=missing or ())
        self.signer = signer
        self._configured_account = account_id
        self._access_token = access_token
        self._ws_max = ws_max_subscriptions
        self._ws_idle = ws_idle_timeout_s
        self._tickle_interval = tickle_interval_s
        self._brokerage_ready = False
        self._accounts: list[str] | None = None
        self._portfolio_primed = False
        self._session: str | None = None
        self._session_lock = asyncio.Lock()
        self._order_lock = asyncio.Lock()  # one order's questions are answered before the next is sent
        self._conids: OrderedDict[str, int] = OrderedDict()
        self._contract_rules: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._tickle_task: asyncio.Task[None] | None = None
        self._stream: IbkrStream | None = None
        self.pacer = make_pacer()
        self._prime_lock = asyncio.Lock()
        self.snapshot_retry_s: tuple[float, ...] = SNAPSHOT_RETRY_S
        self._orders_started = False  # the live-orders list of this brokerage session had its pre-flight

    @classmethod
    async def from_settings(cls, http: UpstreamHTTP, settings: Settings, env: Environment) -> IbkrClient:
        """Make the client with `env`'s OAuth signer (keys as last rotated), account and socket limits."""
        missing = settings.missing_credentials("ibkr", env)
        values = rotated_values(settings, env)
        signer = None
        if not missing:
            signer = OAuthSigner(OAuthCredentials.from_settings_values(values), http)
        return cls(
            http,
            env,
            signer,
            account_id=values.get("account_id"),
            missing=missing,
            access_token=values.get("access_token"),
            ws_max_subscriptions=int(settings.venue_option("ibkr", "ws_max_subscriptions")),
            ws_idle_timeout_s=float(settings.venue_option("ibkr", "ws_idle_timeout_s")),
        )

    # --- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the tickle task and the stream, close the pool."""
        if self._tickle_task is not None:
            self._tickle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._tickle_task
        if self._stream is not None:
            await self._stream.aclose()
        await super().aclose()

    async def probe(self) -> None:
        """Readiness: the signed `/tickle` answers."""
        await self.tickle()

    def require_signer(self) -> OAuthSigner:
        """Return the signer, or raise NOT_CONFIGURED naming the missing settings."""
        if self.signer is None:
            raise self.not_configured()
        return self.signer

    def replace_credentials(self, credentials: OAuthCredentials) -> None:
        """Use new keys from now on (key rotation): the session is re-opened on the next call."""
        self.require_signer().replace_credentials(credentials)
        self._access_token = credentials.access_token
        self._reset_session()

    def _reset_session(self) -> None:
        # A new live session token is a new session: brokerage and priming start over.
        self._brokerage_ready = False
        self._accounts = None
        self._portfolio_primed = False
        self._session = None
        self._orders_started = False

    # --- transport --------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        write: bool = False,
        brokerage: bool | None = None,
    ) -> Any:
        """Send one signed call; 401 re-mints the LST once; `{"error"}` answers become common errors."""
        signer = self.require_signer()
        needs_brokerage = path.startswith("/iserver") if brokerage is None else brokerage
        if needs_brokerage:
            await self._ensure_brokerage()
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        for attempt in (1, 2):
            header = await signer.authorization_header(method, self.http.url(path), query)
            await self.pacer.acquire(*keys_for(method, path))
            response = await self.http.request(
                method,
                path,
                params=query or None,
                json_body=json_body,
                headers={"Authorization": header},
                idempotent=not write,
            )
            if response.status == 401 and attempt == 1:
                signer.invalidate()
                self._reset_session()
                if needs_brokerage:
                    await self._ensure_brokerage()
                continue
            if response.status == 401:
                raise UpstreamAuthError("ibkr refused the signed request twice (401)", details={"venue": "ibkr"})
            if response.status == 429:
                self.pacer.penalize(PENALTY_S, "IBKR answered 429 Too Many Requests")
            try:
                raise_for_transport_status(response, "ibkr")
            except CerberoError as exc:
                # IBKR's 429 is no proof that an order POST was refused: it stays "may have been placed".
                raise mark_definite(exc, write and response.status != 429) from None
            body = response.json(exact=True) if response.body.strip() else None
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                text = body["error"].lower()
                if attempt == 1 and await self._recover(text, path):
                    continue
                raise mark_definite(to_error(body["error"], status=response.status), write)
            if response.status >= 400:
                raise mark_definite(to_error(f"HTTP {response.status}", status=response.status), write)
            return body
        raise AssertionError("unreachable")

    async def _recover(self, error_text: str, path: str) -> bool:
        """Re-open what the venue says is missing (bridge, priming) and say whether to repeat the call."""
        if "no bridge" in error_text:
            self._brokerage_ready = False
            await self._ensure_brokerage()
            return True
        if "not primed" in error_text and "portfolio" in error_text and path != "/portfolio/accounts":
            self._portfolio_primed = False
            await self._prime_portfolio()
            return True
        if "not primed" in error_text and path != "/iserver/accounts":
            self._accounts = None
            await self.accounts()
            return True
        return False

    async def _ensure_brokerage(self) -> None:
        if self._brokerage_ready:
            return
        async with self._session_lock:
            if not self._brokerage_ready:  # another task may have opened it while this one waited
                await self.call(
                    "POST", "/iserver/auth/ssodh/init", json_body={"publish": True, "compete": True}, brokerage=False
                )
                self._brokerage_ready = True
                self._accounts = None
                self._orders_started = False  # a new brokerage session: the orders list needs its pre-flight
        self._start_tickle()

    def _start_tickle(self) -> None:
        if self._tickle_task is None or self._tickle_task.done():
            self._tickle_task = asyncio.create_task(self._tickle_loop(), name=f"ibkr-tickle-{self.environment}")

    async def _tickle_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tickle_interval)
            try:
                await self.tickle()
            except CerberoError as exc:
                log.warning("ibkr %s tickle failed: %s", self.environment, exc.code)

    async def tickle(self) -> dict[str, Any]:
        """POST /tickle: keep the session, learn its id, re-open the brokerage session when it dropped."""
        answer = await self.call("POST", "/tickle", brokerage=False)
        if not isinstance(answer, dict):
            raise UpstreamError("ibkr /tickle answered without a JSON object", details={"venue": "ibkr"})
        self._session = str(answer.get("session") or "") or self._session
        status = ((answer.get("iserver") or {}).get("authStatus")) or {}
        if self._brokerage_ready and not status.get("authenticated", False):
            self._brokerage_ready = False
            await self._ensure_brokerage()
        return answer

    async def session_id(self) -> str:
        """Return the session id the WebSocket's cookie needs (tickling when unknown)."""
        if not self._session:
            await self.tickle()
        if not self._session:
            raise UpstreamError("ibkr /tickle gave no session id", details={"venue": "ibkr"})
        return self._session

    # --- accounts and portfolio -------------------------------------------------------------

    async def accounts(self) -> list[str]:
        """GET /iserver/accounts (primes the account for snapshots, cancels and modifies)."""
        if self._accounts is None:
            answer = await self.call("GET", "/iserver/accounts")
            self._accounts = [str(a) for a in (answer or {}).get("accounts", [])]
        return self._accounts

    async def account_id(self) -> str:
        """Return the configured account, else the first one IBKR lists."""
        listed = await self.accounts()
        if self._configured_account:
            if self._configured_account not in listed:
                raise InvalidInputError(
                    f"IBKR_ACCOUNT_ID is not one of this login's accounts ({len(listed)} listed)",
                    details={"accounts": listed},
                )
            return self._configured_account
        if not listed:
            raise UpstreamError("ibkr lists no account for this login", details={"venue": "ibkr"})
        return listed[0]

    async def _prime_portfolio(self) -> None:
        if self._portfolio_primed:
            return
        async with self._prime_lock:  # concurrent first calls prime once: the endpoint allows 1 per 5 s
            if not self._portfolio_primed:
                await self.call("GET", "/portfolio/accounts")
                self._portfolio_primed = True

    async def portfolio_accounts(self) -> list[dict[str, Any]]:
        """GET /portfolio/accounts."""
        answer: list[dict[str, Any]] = await self.call("GET", "/portfolio/accounts")
        self._portfolio_primed = True
        return answer

    async def portfolio_summary(self) -> dict[str, Any]:
        """GET /portfolio/{acct}/summary."""
        await self._prime_portfolio()
        result: dict[str, Any] = await self.call("GET", f"/portfolio/{await self.account_id()}/summary")
        return result

    async def invalidate_positions(self) -> None:
        """POST /portfolio/{acct}/positions/invalidate (IBKR serves cached positions until told)."""
        await self._prime_portfolio()
        await self.call("POST", f"/portfolio/{await self.account_id()}/positions/invalidate")

    async def positions(self) -> list[dict[str, Any]]:
        """Invalidate IBKR's cache, then GET /portfolio/{acct}/positions/{page} until an empty page."""
        # IBKR caches this list: after a fill it still shows the old size, and a close sized from it
        # could flip the position. The page size is documented as 30 and as "up to 100": read pages
        # until one comes back empty rather than trust either.
        await self.invalidate_positions()
        account = await self.account_id()
        rows: list[dict[str, Any]] = []
        for page in range(MAX_POSITION_PAGES):
            batch = await self.call("GET", f"/portfolio/{account}/positions/{page}")
            if not batch:
                return rows
            rows.extend(batch)
        raise UpstreamError(
            f"ibkr kept returning positions after {MAX_POSITION_PAGES} pages", details={"venue": "ibkr"}
        )

    async def position_size(self, conid: int) -> Decimal:
        """Return the signed position in one conid (0 when flat)."""
        rows = await self.positions()
        return next((Decimal(str(r.get("position", 0))) for r in rows if int(r.get("conid", 0)) == conid), Decimal(0))

    async def trades(self, days: int) -> list[dict[str, Any]]:
        """GET /iserver/account/trades?days=N (1 request per 5 s: the pacer waits for it)."""
        return list(await self.call("GET", "/iserver/account/trades", params={"days": days}) or [])

    # --- contracts and market data ----------------------------------------------------------

    async def search(self, symbol: str) -> list[dict[str, Any]]:
        """GET /iserver/secdef/search?symbol=."""
        result = await self.call("GET", "/iserver/secdef/search", params={"symbol": symbol})
        return list(result or [])

    async def conid(self, instrument: str) -> int:
        """Resolve a symbol (or `conid:<n>`, checked once to exist) to its conid, with an LRU cache."""
        key = instrument.upper()
        if key in self._conids:
            self._conids.move_to_end(key)
            return self._conids[key]
        if instrument.startswith("conid:") or instrument.isdigit():
            number = instrument.removeprefix("conid:")
            if not number.isdigit():
                raise InvalidInputError(f"ibkr: {instrument!r} is not conid:<number>")
            # An unknown conid would otherwise surface much later (a market-data socket that never
            # answers); IBKR says "Invalid contract id" here, a clear 4xx.
            await self.call("GET", f"/iserver/contract/{int(number)}/info")
            return self._remember(key, int(number))
        if key in self._conids:
            self._conids.move_to_end(key)
            return self._conids[key]
        return self._remember(key, await self._us_stock_conid(key))

    async def _us_stock_conid(self, symbol: str) -> int:
        """Return the conid of a symbol's US listing: `/trsrv/stocks` says `isUS`, else the search's US STK hit."""
        # Search answers every listing (foreign ones may come first); taking the first hit could
        # trade the wrong exchange in the wrong currency.
        for entry in (await self.stocks(symbol)).get(symbol) or []:
            if str(entry.get("assetClass", "STK")).upper() != "STK":
                continue
            us = [c for c in entry.get("contracts") or [] if c.get("isUS") is True and c.get("conid") is not None]
            if us:
                return int(us[0]["conid"])
        hits = [r for r in await self.search(symbol) if str(r.get("symbol", "")).upper() == symbol]
        for hit in hits:
            stock = any(str(sec.get("secType", "")).upper() == "STK" for sec in hit.get("sections") or [])
            if stock and str(hit.get("description", "")).upper() in US_EXCHANGES and hit.get("conid") is not None:
                return int(hit["conid"])
        raise InvalidInputError(
            f"ibkr: contract not found for {symbol!r} (no US stock listing)",
            suggested_fix="call search_contracts, and pass the listing you want as conid:<number>",
            details={"listings": [f"{h.get('conid')} {h.get('description', '')}".strip() for h in hits]},
        )

    def _remember(self, key: str, conid: int) -> int:
        self._conids[key] = conid
        if len(self._conids) > CONID_CACHE_SIZE:
            self._conids.popitem(last=False)
        return conid

    async def snapshot(self, conids: list[int], fields: tuple[str, ...] = SNAPSHOT_FIELDS) -> list[dict[str, Any]]:
        """GET /iserver/marketdata/snapshot, repeating the preflight call until the fields arrive."""
        await self.accounts()
        params = {"conids": ",".join(str(c) for c in conids), "fields": ",".join(fields)}
        rows: list[dict[str, Any]] = []
        for attempt in range(SNAPSHOT_TRIES):
            rows = list(await self.call("GET", "/iserver/marketdata/snapshot", params=params) or [])
            if rows and all(any(f in row for f in fields[:3]) for row in rows):
                return rows
            if attempt < SNAPSHOT_TRIES - 1:
                await clock.sleep(self.snapshot_retry_s[min(attempt, len(self.snapshot_retry_s) - 1)])
        return rows

    async def history(self, conid: int, period: str, bar: str) -> dict[str, Any]:
        """GET /iserver/marketdata/history."""
        result: dict[str, Any] = await self.call(
            "GET", "/iserver/marketdata/history", params={"conid": conid, "period": period, "bar": bar}
        )
        return result

    async def secdef_strikes(self, conid: int, month: str) -> dict[str, Any]:
        """GET /iserver/secdef/strikes."""
        result: dict[str, Any] = await self.call(
            "GET", "/iserver/secdef/strikes", params={"conid": conid, "sectype": "OPT", "month": month}
        )
        return result

    async def secdef_info(self, conid: int, month: str, strike: str, right: str) -> list[dict[str, Any]]:
        """GET /iserver/secdef/info."""
        result = await self.call(
            "GET",
            "/iserver/secdef/info",
            params={"conid": conid, "sectype": "OPT", "month": month, "strike": strike, "right": right},
        )
        return list(result or [])

    async def schedule(self, symbol: str) -> Any:
        """GET /trsrv/secdef/schedule (exchange hours)."""
        return await self.call("GET", "/trsrv/secdef/schedule", params={"assetClass": "STK", "symbol": symbol})

    # --- orders -----------------------------------------------------------------------------

    async def live_orders(self) -> list[dict[str, Any]]:
        """GET /iserver/account/orders (1 request per 5 s), after the pre-flight IBKR needs each brokerage session."""
        # The first request of a session starts IBKR gathering the orders and often answers nothing;
        # trusting it would report "no orders" while orders work. A first answer that lists orders is
        # the list; an empty one (or one that says it is no snapshot) is read again, once the pacer
        # allows (1 request per 5 s). Later answers in the session are the list, empty or not.
        path = "/iserver/account/orders"
        await self.accounts()
        answer = await self.call("GET", path) or {}
        if not self._orders_started:
            self._orders_started = True
            if not answer.get("orders") or answer.get("snapshot") is False:
                answer = await self.call("GET", path) or {}
        return list(answer.get("orders", []))

    async def order_status(self, order_id: str) -> dict[str, Any]:
        """GET /iserver/account/order/status/{orderId}: one order, without listing them all."""
        await self.accounts()
        answer = await self.call("GET", f"/iserver/account/order/status/{order_id}")
        if not isinstance(answer, dict) or answer.get("order_id") is None:
            raise UpstreamError(f"ibkr answered the status of order {order_id} without it", details={"venue": "ibkr"})
        return answer

    async def place_orders(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /iserver/account/{acct}/orders and walk the reply chain (never retried)."""
        account = await self.account_id()
        async with self._order_lock:
            answer = await self.call(
                "POST", f"/iserver/account/{account}/orders", json_body={"orders": orders}, write=True
            )
            return await self._reply_chain(answer)

    async def modify_order(self, order_id: str, order: dict[str, Any]) -> list[dict[str, Any]]:
        """POST /iserver/account/{acct}/order/{orderId} with the whole order."""
        account = await self.account_id()
        async with self._order_lock:
            answer = await self.call(
                "POST", f"/iserver/account/{account}/order/{order_id}", json_body=order, write=True
            )
            return await self._reply_chain(answer)

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        """DELETE /iserver/account/{acct}/order/{orderId}."""
        account = await self.account_id()
        result: dict[str, Any] = await self.call("DELETE", f"/iserver/account/{account}/order/{order_id}", write=True)
        return result

    async def _reply_chain(self, answer: Any) -> list[dict[str, Any]]:
        for _ in range(MAX_REPLY_ROUNDS):
            if isinstance(answer, dict):
                answer = [answer]
            if not isinstance(answer, list) or not answer:
                raise UpstreamError("ibkr answered an order without a result", details={"venue": "ibkr"})
            first = answer[0]
            if isinstance(first.get("error"), str):
                raise mark_definite(to_error(first["error"]), write=True)  # IBKR's answer to the order itself
            if "id" in first and "message" in first and "order_id" not in first:
                messages = [str(m) for m in first.get("message") or []]
                refused = refused_question(messages, [str(m) for m in first.get("messageIds") or []])
                if refused is not None:
                    refused.definite = True  # not confirmed: IBKR places nothing until it is
                    raise refused
                answer = await self.call(
                    "POST", f"/iserver/reply/{first['id']}", json_body={"confirmed": True}, write=True
                )
                continue
            return [dict(item) for item in answer]
        raise UpstreamError(
            f"ibkr kept asking questions after {MAX_REPLY_ROUNDS} confirmations; the order was not confirmed",
            details={"venue": "ibkr"},
        )

    # --- streaming --------------------------------------------------------------------------

    async def stream(self) -> IbkrStream:
        """Return the environment's market-data WebSocket (started on first use)."""
        if self._stream is None:
            signer = self.require_signer()
            await signer.live_session_token()
            await self._ensure_brokerage()
            ws_url = self.http.base_url.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
            self._stream = IbkrStream(
                ws_url,
                access_token=lambda: self._access_token or "",  # a key rotation applies at the next reconnect
                session_provider=self.session_id,
                max_subscriptions=self._ws_max,
                idle_timeout_s=self._ws_idle,
            )
            await self._stream.start()
        return self._stream

    # --- contracts: listings and rules (issue 13 items 9, 10) ---------------------------------

    async def stocks(self, symbols: str) -> dict[str, Any]:
        """GET /trsrv/stocks?symbols= (each symbol's listings; `isUS` marks the US ones)."""
        answer = await self.call("GET", "/trsrv/stocks", params={"symbols": symbols})
        return dict(answer) if isinstance(answer, dict) else {}

    async def contract_rules(self, conid: int) -> dict[str, Any]:
        """GET /iserver/contract/{conid}/info-and-rules, cached per conid (increments, multiplier, type)."""
        cached = self._contract_rules.get(conid)
        if cached is None:
            answer = await self.call("GET", f"/iserver/contract/{conid}/info-and-rules")
            cached = dict(answer) if isinstance(answer, dict) else {}
            self._contract_rules[conid] = cached
            if len(self._contract_rules) > CONID_CACHE_SIZE:
                self._contract_rules.popitem(last=False)
        else:
            self._contract_rules.move_to_end(conid)
        return cached
