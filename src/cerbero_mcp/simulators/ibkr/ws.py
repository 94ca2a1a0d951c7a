"""The IBKR simulator's WebSocket: `/v1/api/ws?oauth_token=<access token>` with `Cookie: api=<session>`.

- Handshake: refused (close 1008 before accept, HTTP 403) unless `oauth_token` is the consumer's
  access token and its live session token is current.
- On connect: `{"topic": "system", "success": …}`; then, if the cookie carries the session that
  `/tickle` reports, `{"topic": "sts", "args": {"authenticated": <brokerage session>, …}}` and
  `{"topic": "act", …}`; otherwise `{"message": "waiting for session"}` until the client sends
  `{"session": "<session>"}` (a wrong one gets `sts` with authenticated false).
- `smd+<conid>+{"fields": [...]}` subscribes to market data: the first push is the full set of
  fields, later pushes every SMD_INTERVAL_S carry only the fields that changed (nothing is sent when
  nothing changed): `{"topic": "smd+<conid>", "conid", "conidEx", "server_id", "_updated", "<field>":
  "<string>", …}`. `umd+<conid>+{}` unsubscribes. At most MAX_SMD lines per socket.
- `sbd+<acct>+<conid>[+<exchange>]` subscribes to the BookTrader price ladder (without an exchange,
  all deep exchanges): `{"topic": "sbd+<acct>+<conid>[+<exchange>]", "data": [{"row": 0, "focus":
  0, "price": "<string>", "ask": "<size>"}, …, {"row": n, "focus": 0, "price": "…", "bid": "<size>"}]}`
  — one row a price, highest first (asks above bids), `focus` 1 on the row at the last price, as
  ibind's PriceLadder and two independent clients read it (rows keyed by `price` with an `ask` or
  a `bid` size). Ten levels a side, the whole ladder again whenever it changed. `ubd+<acct>`
  unsubscribes.
- `tic` → `{"topic": "tic", "alive": true, "id": <session>, "lastAccessed": ms}`; `ech+hb` →
  `{"topic": "ech+hb", "alive": true}`. The server sends `{"topic": "system", "hb": ms}` every
  HEARTBEAT_S. Subscriptions before `sts` authenticated are answered with an `error` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketState

HEARTBEAT_S = 10.0
SMD_INTERVAL_S = 0.25
MAX_SMD = 100
DEFAULT_FIELDS = ("31", "84", "86", "88", "85")


class Backend(Protocol):
    """What the socket needs from the venue."""

    account_id: str
    testnet: bool

    def ws_token_ok(self, token: str) -> bool:
        """Return whether `token` is the access token of a live session."""
        ...

    def session_ok(self, session: str) -> bool:
        """Return whether `session` is the session `/tickle` reports."""
        ...

    def ws_status(self) -> tuple[bool, str, int]:
        """Return (brokerage session authenticated, session id, clock ms)."""
        ...

    def known_conid(self, conid: str) -> int | None:
        """Return the conid as an int when it is listed."""
        ...

    def market_state(
        self, quotes: list[int], depths: list[int]
    ) -> tuple[int, dict[int, dict[str, str]], dict[int, list[dict[str, Any]]]]:
        """Return (clock ms, snapshot fields per conid, depth rows per conid) at the venue's current instant."""
        ...


@dataclass(eq=False)
class Conn:
    """One open socket and its subscriptions."""

    ws: WebSocket
    loop: asyncio.AbstractEventLoop
    drop: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    authenticated: bool = False
    smd: dict[int, tuple[list[str], dict[str, str] | None]] = field(default_factory=dict)
    sbd: dict[int, tuple[str, list[dict[str, Any]] | None]] = field(default_factory=dict)


class SocketHub:
    """Serves the WebSocket endpoint and keeps the open sockets (to drop them on request)."""

    def __init__(self, backend: Backend, *, heartbeat_s: float = HEARTBEAT_S, smd_interval_s: float = SMD_INTERVAL_S):
        """Serve `backend`'s data."""
        self.backend = backend
        self.heartbeat_s = heartbeat_s
        self.smd_interval_s = smd_interval_s
        self.conns: set[Conn] = set()

    def drop_all(self) -> int:
        """Close every open socket (safe from any thread); return how many."""
        conns = list(self.conns)
        for c in conns:
            c.loop.call_soon_threadsafe(c.drop.set)
        return len(conns)

    async def serve(self, ws: WebSocket) -> None:
        """Serve one connection until the client leaves or the socket is dropped."""
        if not self.backend.ws_token_ok(ws.query_params.get("oauth_token", "")):
            await ws.close(code=1008)
            return
        await ws.accept()
        conn = Conn(ws, asyncio.get_running_loop())
        self.conns.add(conn)
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._send(
                conn, {"topic": "system", "success": "sim", "isFT": False, "isPaper": self.backend.testnet}
            )
            session = ws.cookies.get("api", "")
            if session and self.backend.session_ok(session):
                await self._authenticate(conn)
            else:
                await self._send(conn, {"message": "waiting for session"})
            tasks = [asyncio.create_task(coro) for coro in
                     (self._read(conn), self._push(conn), self._heartbeat(conn), self._wait_drop(conn))]  # fmt: skip
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            self.conns.discard(conn)
            if ws.application_state is WebSocketState.CONNECTED and ws.client_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close(code=1001)

    async def _send(self, conn: Conn, message: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_text(json.dumps(message))

    async def _authenticate(self, conn: Conn) -> None:
        authenticated, _, _ = self.backend.ws_status()
        conn.authenticated = authenticated
        acct = self.backend.account_id
        await self._send(conn, {"topic": "sts", "args": {
            "authenticated": authenticated, "competing": False, "message": "", "fail": "",
            "serverName": "CerberoSim", "serverVersion": "sim", "username": "sim"}})  # fmt: skip
        if authenticated:
            await self._send(conn, {"topic": "act", "args": {
                "accounts": [acct], "acctProps": {acct: {"hasChildAccounts": False}}, "aliases": {acct: acct},
                "allowFeatures": {}, "selectedAccount": acct, "isPaper": self.backend.testnet}})  # fmt: skip

    async def _wait_drop(self, conn: Conn) -> None:
        await conn.drop.wait()

    async def _heartbeat(self, conn: Conn) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            _, _, now_ms = self.backend.ws_status()
            await self._send(conn, {"topic": "system", "hb": now_ms})

    async def _read(self, conn: Conn) -> None:
        while True:
            msg = await conn.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("text")
            text = data if isinstance(data, str) else (msg.get("bytes") or b"").decode("utf-8", "replace")
            await self._handle(conn, text.strip())

    async def _handle(self, conn: Conn, text: str) -> None:
        b = self.backend
        if text == "tic":
            _, session, now_ms = b.ws_status()
            await self._send(conn, {"topic": "tic", "alive": True, "id": session, "lastAccessed": now_ms})
            return
        if text == "ech+hb":
            await self._send(conn, {"topic": "ech+hb", "alive": True})
            return
        if text.startswith("{"):
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            offered = body.get("session") if isinstance(body, dict) else None
            if isinstance(offered, str) and b.session_ok(offered):
                await self._authenticate(conn)
            else:
                await self._send(conn, {"topic": "sts", "args": {"authenticated": False, "message": "invalid session"}})
            return
        topic, _, rest = text.partition("+")
        if topic not in ("smd", "umd", "sbd", "ubd"):
            return
        if not conn.authenticated:
            await self._send(conn, {"topic": text.split("+{", 1)[0], "error": "not authenticated: wait for sts"})
            return
        if topic in ("smd", "umd"):
            conid_text, _, args = rest.partition("+")
            conid = b.known_conid(conid_text)
            if conid is None:
                await self._send(conn, {"topic": f"{topic}+{conid_text}", "error": f"Invalid conid: {conid_text}"})
            elif topic == "umd":
                conn.smd.pop(conid, None)
            elif conid not in conn.smd and len(conn.smd) >= MAX_SMD:
                await self._send(conn, {"topic": f"smd+{conid}", "error": f"at most {MAX_SMD} market data lines"})
            else:
                conn.smd[conid] = (_fields(args), None)
            return
        acct, _, rest = rest.partition("+")
        if acct != b.account_id:
            await self._send(conn, {"topic": f"{topic}+{acct}", "error": f"Invalid account: {acct}"})
        elif topic == "ubd":
            conn.sbd.clear()
        else:
            conid = b.known_conid(rest.split("+", 1)[0])
            if conid is None:
                await self._send(conn, {"topic": f"sbd+{acct}+{rest}", "error": "Invalid conid"})
            else:
                conn.sbd[conid] = (text, None)

    async def _push(self, conn: Conn) -> None:
        while True:
            await asyncio.sleep(self.smd_interval_s)
            if not conn.authenticated or not (conn.smd or conn.sbd):
                continue
            now_ms, quotes, depths = self.backend.market_state(list(conn.smd), list(conn.sbd))
            for conid, (fields, last) in list(conn.smd.items()):
                q = quotes.get(conid)
                if q is None or conid not in conn.smd:
                    continue
                current = {f: q[f] for f in fields if f in q}
                changed = current if last is None else {k: v for k, v in current.items() if last.get(k) != v}
                conn.smd[conid] = (fields, {**(last or {}), **current})
                if changed:
                    await self._send(conn, {"topic": f"smd+{conid}", "conid": conid, "conidEx": str(conid),
                                            "server_id": "q0", "_updated": now_ms, **changed})  # fmt: skip
            for conid, (topic, last_rows) in list(conn.sbd.items()):
                rows = depths.get(conid)
                if rows is None or rows == last_rows or conid not in conn.sbd:
                    continue
                conn.sbd[conid] = (topic, rows)
                # The topic echoes the subscription (with its exchange when one was named).
                await self._send(conn, {"topic": topic, "data": rows})


def _fields(args: str) -> list[str]:
    try:
        body = json.loads(args) if args.strip() else {}
    except ValueError:
        body = {}
    fields = body.get("fields") if isinstance(body, dict) else None
    if isinstance(fields, list) and fields:
        return [str(f) for f in fields]
    return list(DEFAULT_FIELDS)
