"""IBKR Client Portal market-data WebSocket: one authenticated socket, merged tick and depth snapshots.

The socket is `<ws base>/ws?oauth_token=<access token>` with `Cookie: api=<session from /tickle>`.
Nothing is subscribed before the venue's `sts` message says authenticated (the session is sent when
the venue asks for it). `smd` pushes carry only the fields that changed, so every push is merged into
the cached snapshot. A background task owns the socket: it sends `tic` keep-alives, reconnects with
exponential backoff when the socket drops and resubscribes everything still active; a second task
unsubscribes what nobody has read for `idle_timeout_s`.

Secrets (the access token, the session) never reach a log line or an exception: failures are logged
by type and close code only, and the `websockets` wire log is never allowed to run at DEBUG (it
would print the request path and the cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from cerbero_mcp.common.errors import InvalidInputError, UpstreamError, UpstreamTimeoutError

log = logging.getLogger("mcp.ibkr.ws")

TICK_FIELDS: Final = ("31", "84", "86", "88", "85")
"""Field ids asked for on every `smd`: last, bid, ask, bid size, ask size."""

_FIELD_LAST, _FIELD_BID, _FIELD_ASK, _FIELD_BID_SIZE, _FIELD_ASK_SIZE = TICK_FIELDS
_SMD_ARGS: Final = json.dumps({"fields": list(TICK_FIELDS)}, separators=(",", ":"))
_LEADING_LETTERS: Final = re.compile(r"^[A-Za-z]+")
_MULTIPLIERS: Final = {"K": Decimal(1_000), "M": Decimal(1_000_000), "B": Decimal(1_000_000_000)}
_EXCHANGE_RE: Final = re.compile(r"^[A-Za-z0-9_.]+$")


class _QuietWireLog(logging.LoggerAdapter[logging.Logger]):
    """The `websockets` logger with DEBUG switched off: its debug lines carry the URL and the cookie."""

    def isEnabledFor(self, level: int) -> bool:
        """Return False for DEBUG whatever the configuration, else defer to the logger."""
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WIRE_LOG: Final = _QuietWireLog(logging.getLogger("websockets.client"), {})


class _SessionLostError(Exception):
    """The venue said the socket is no longer authenticated; reconnect with a fresh session."""


@dataclass
class Tick:
    """The merged market-data snapshot of one conid."""

    conid: int
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    updated_ms: int | None = None
    raw: dict[str, str] = field(default_factory=dict)


@dataclass
class _TickSub:
    """One active `smd` subscription: the cached snapshot and who waits for its first push."""

    tick: Tick
    last_used: float
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    removed: bool = False


@dataclass
class _DepthSub:
    """One active `sbd` subscription: the latest full book and who waits for its first push."""

    account_id: str
    conid: int
    exchange: str | None
    last_used: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    removed: bool = False

    @property
    def topic(self) -> str:
        """Return the `sbd` subscribe message (no exchange: IBKR assumes all available deep exchanges)."""
        return f"sbd+{self.account_id}+{self.conid}" + (f"+{self.exchange}" if self.exchange else "")


def stream_url(base_url: str) -> str:
    """Return the `/ws` URL (without the token) from a REST or WebSocket base URL."""
    url = base_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url.removeprefix("https://")
    elif url.startswith("http://"):
        url = "ws://" + url.removeprefix("http://")
    return url if url.endswith("/ws") else url + "/ws"


def parse_field_value(value: object) -> Decimal | None:
    """Return a field value as a Decimal (dropping prefixes like "C" or "H"), or None if unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
    else:
        return None
    text = _LEADING_LETTERS.sub("", text)
    multiplier = Decimal(1)
    if text[-1:].upper() in _MULTIPLIERS:
        multiplier = _MULTIPLIERS[text[-1].upper()]
        text = text[:-1]
    try:
        number = Decimal(text) * multiplier
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _merge_tick(tick: Tick, message: dict[str, Any]) -> None:
    """Merge one `smd` push into the snapshot: fields absent or unparseable keep their value."""
    for key, value in message.items():
        if key == "topic" or not isinstance(value, str | int | float | bool):
            continue
        tick.raw[key] = str(value)
    for field_id, attr in (
        (_FIELD_LAST, "last"),
        (_FIELD_BID, "bid"),
        (_FIELD_ASK, "ask"),
        (_FIELD_BID_SIZE, "bid_size"),
        (_FIELD_ASK_SIZE, "ask_size"),
    ):
        if field_id in message:
            parsed = parse_field_value(message[field_id])
            if parsed is not None:
                setattr(tick, attr, parsed)
    updated = message.get("_updated")
    if isinstance(updated, int) and not isinstance(updated, bool):
        tick.updated_ms = updated


def _ladder_price(value: object) -> Decimal | None:
    """Return a ladder row's price; the focus row may print it as `<size>@<price>`."""
    if isinstance(value, str) and "@" in value:
        value = value.rsplit("@", 1)[1]
    return parse_field_value(value)


def _depth_rows(data: object) -> list[dict[str, Any]] | None:
    """Return an `sbd` price ladder as levels `{"side", "price", "size"}` (Decimals), or None if malformed.

    IBKR pushes the BookTrader ladder: one row a price, `{"row", "focus", "price", "ask"|"bid"}`, the
    size under the side's key (ibind passes the rows through; independent clients read them so).
    A row without a size on either side (a bare focus row at the last price) is no level.
    """
    if not isinstance(data, list):
        return None
    rows: list[dict[str, Any]] = []
    for item in data:
        if not isinstance(item, dict):
            continue
        price = _ladder_price(item.get("price"))
        if price is None:
            continue
        for side in ("bid", "ask"):
            size = parse_field_value(item.get(side))
            if size is not None and size > 0:
                rows.append({"side": side, "price": price, "size": size})
    return rows


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    """Return a pushed message as a dict, or None for anything that is not a JSON object."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


def _asks_for_session(message: dict[str, Any]) -> bool:
    """Return whether the venue says it waits for the session (an unauthenticated `sts` or a prompt)."""
    args = message.get("args")
    if message.get("topic") == "sts" and isinstance(args, dict) and args.get("authenticated") is False:
        return True
    texts = [message.get("message"), args.get("message") if isinstance(args, dict) else None]
    return any(isinstance(text, str) and "session" in text.lower() for text in texts)


def _is_authenticated(message: dict[str, Any]) -> bool:
    """Return whether this is the `sts` message saying the socket is authenticated."""
    args = message.get("args")
    return message.get("topic") == "sts" and isinstance(args, dict) and args.get("authenticated") is True


def _describe(exc: BaseException) -> str:
    """Describe a connection failure without its text (which may carry the URL or a header)."""
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else None
        return f"{type(exc).__name__} (close code {code})"
    if isinstance(exc, InvalidStatus):
        return f"handshake refused with HTTP {exc.response.status_code}"
    return type(exc).__name__


class IbkrStream:
    """One IBKR market-data WebSocket (one per environment), shared by every tick and depth reader."""

    def __init__(
        self,
        ws_url: str,
        *,
        access_token: str | Callable[[], str],
        session_provider: Callable[[], Awaitable[str]],
        user_agent: str = "cerbero-mcp",
        max_subscriptions: int = 80,
        idle_timeout_s: float = 300.0,
        heartbeat_s: float = 50.0,
        connect_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = stream_url(ws_url)
        self._access_token = access_token
        self._session_provider = session_provider
        self._user_agent = user_agent
        self._max_subscriptions = max_subscriptions
        self._idle_timeout_s = idle_timeout_s
        self._heartbeat_s = heartbeat_s
        self._connect_timeout_s = connect_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = max(backoff_max_s, backoff_initial_s)
        self._clock = clock
        self._sweep_every_s = max(0.05, min(idle_timeout_s / 4, 30.0))
        self._ticks: dict[int, _TickSub] = {}
        self._depths: dict[tuple[str, int], _DepthSub] = {}
        self._ws: ClientConnection | None = None
        self._authed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        self._authed_this_attempt = False

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the socket and the idle sweep in the background (idempotent)."""
        if self._closed:
            raise UpstreamError("The IBKR market-data stream is closed.")
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="ibkr-ws-runner")
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="ibkr-ws-sweeper")

    async def aclose(self) -> None:
        """Stop the background tasks, close the socket cleanly and release every waiter."""
        self._closed = True
        tasks = [task for task in (self._runner, self._sweeper) if task is not None]
        self._runner = self._sweeper = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for tick_sub in self._ticks.values():
            tick_sub.removed = True
            tick_sub.ready.set()
        for depth_sub in self._depths.values():
            depth_sub.removed = True
            depth_sub.ready.set()
        self._ticks.clear()
        self._depths.clear()

    @property
    def connected(self) -> bool:
        """Return whether the socket is up and authenticated."""
        return self._authed.is_set()

    def subscriptions(self) -> list[int]:
        """Return the conids with an active tick subscription."""
        return sorted(self._ticks)

    def depth_subscriptions(self) -> list[tuple[str, int]]:
        """Return the (account id, conid) pairs with an active depth subscription."""
        return sorted(self._depths)

    # --- ticks ------------------------------------------------------------------------------

    async def subscribe_tick(self, conid: int) -> None:
        """Subscribe to `smd` for a conid; refuse past `IBKR_WS_MAX_SUBSCRIPTIONS` active conids."""
        _check_conid(conid)
        await self.start()
        now = self._clock()
        existing = self._ticks.get(conid)
        if existing is not None:
            existing.last_used = now
            return
        if len(self._ticks) >= self._max_subscriptions:
            await self._send_all(self._expire_idle())
        if len(self._ticks) >= self._max_subscriptions:
            raise InvalidInputError(
                f"Too many IBKR streaming subscriptions: {len(self._ticks)} conids are active and "
                f"IBKR_WS_MAX_SUBSCRIPTIONS is {self._max_subscriptions}.",
                suggested_fix="Unsubscribe a conid first, or raise IBKR_WS_MAX_SUBSCRIPTIONS.",
                details={"active": len(self._ticks), "max_subscriptions": self._max_subscriptions},
            )
        self._ticks[conid] = _TickSub(Tick(conid=conid), last_used=now)
        # No await between registering and the live check: either the runner's resubscription
        # sees this conid or this call sends it, never both and never neither.
        await self._send_if_live(f"smd+{conid}+{_SMD_ARGS}")

    async def unsubscribe(self, conid: int) -> None:
        """Stop streaming a conid (`umd`, and its depth if any) and drop it from the cache."""
        messages: list[str] = []
        tick_sub = self._ticks.pop(conid, None)
        if tick_sub is not None:
            tick_sub.removed = True
            tick_sub.ready.set()
            messages.append(f"umd+{conid}+{{}}")
        for key in [key for key in self._depths if key[1] == conid]:
            messages.extend(self._drop_depth(key))
        await self._send_all(messages)

    async def tick(self, conid: int, *, wait_s: float = 5.0) -> Tick:
        """Return the merged snapshot of a conid, subscribing and waiting for the first push if needed."""
        await self.subscribe_tick(conid)
        sub = self._ticks.get(conid)
        if sub is None:
            raise UpstreamError(f"The IBKR stream of conid {conid} was unsubscribed while waiting.")
        sub.last_used = self._clock()
        await self._wait_ready(sub.ready, wait_s, f"conid {conid}")
        if sub.removed:
            raise UpstreamError(f"The IBKR stream of conid {conid} was unsubscribed while waiting.")
        sub.last_used = self._clock()
        tick = sub.tick
        return Tick(
            conid=tick.conid,
            last=tick.last,
            bid=tick.bid,
            ask=tick.ask,
            bid_size=tick.bid_size,
            ask_size=tick.ask_size,
            updated_ms=tick.updated_ms,
            raw=dict(tick.raw),
        )

    # --- depth ------------------------------------------------------------------------------

    async def subscribe_depth(self, account_id: str, conid: int, exchange: str | None = None) -> None:
        """Subscribe to the book of a conid (`sbd+<account>+<conid>[+<exchange>]`)."""
        _check_conid(conid)
        if not account_id or "+" in account_id:
            raise InvalidInputError("An IBKR account id is required for depth and may not contain '+'.")
        if exchange is not None and not _EXCHANGE_RE.match(exchange):
            raise InvalidInputError(f"Invalid exchange for IBKR depth: {exchange!r}.")
        await self.start()
        now = self._clock()
        key = (account_id, conid)
        existing = self._depths.get(key)
        if existing is not None and existing.exchange == exchange:
            existing.last_used = now
            return
        messages = self._drop_depth(key) if existing is not None else []
        sub = _DepthSub(account_id, conid, exchange, last_used=now)
        self._depths[key] = sub
        if self._authed.is_set():
            messages.append(sub.topic)
        await self._send_all(messages)

    async def depth(
        self, account_id: str, conid: int, *, wait_s: float = 5.0, exchange: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the latest book of a conid (rows of price, size, side), subscribing if needed."""
        await self.subscribe_depth(account_id, conid, exchange)
        sub = self._depths.get((account_id, conid))
        if sub is None:
            raise UpstreamError(f"The IBKR depth stream of conid {conid} was unsubscribed while waiting.")
        sub.last_used = self._clock()
        await self._wait_ready(sub.ready, wait_s, f"the depth of conid {conid}")
        if sub.removed:
            raise UpstreamError(f"The IBKR depth stream of conid {conid} was unsubscribed while waiting.")
        sub.last_used = self._clock()
        return [dict(row) for row in sub.rows]

    async def unsubscribe_depth(self, account_id: str, conid: int) -> None:
        """Stop the book of a conid (`ubd`, then re-`sbd` the account's other books)."""
        await self._send_all(self._drop_depth((account_id, conid)))

    def _drop_depth(self, key: tuple[str, int]) -> list[str]:
        """Forget one book; return the messages that stop it (`ubd` stops the whole account)."""
        sub = self._depths.pop(key, None)
        if sub is None:
            return []
        sub.removed = True
        sub.ready.set()
        if not self._authed.is_set():
            return []
        others = [other.topic for other in self._depths.values() if other.account_id == sub.account_id]
        return [f"ubd+{sub.account_id}", *others]

    # --- idle sweep -------------------------------------------------------------------------

    async def sweep_idle(self) -> list[int]:
        """Unsubscribe every conid (tick or depth) unread for `idle_timeout_s`; return the tick conids."""
        before = set(self._ticks)
        await self._send_all(self._expire_idle())
        return sorted(before - set(self._ticks))

    def _expire_idle(self) -> list[str]:
        """Drop idle subscriptions from the cache now; return the messages that stop them."""
        deadline = self._clock() - self._idle_timeout_s
        messages: list[str] = []
        for conid in [conid for conid, sub in self._ticks.items() if sub.last_used <= deadline]:
            sub = self._ticks.pop(conid)
            sub.removed = True
            sub.ready.set()
            log.info("IBKR stream: conid %s idle for %.0fs, unsubscribed", conid, self._idle_timeout_s)
            if self._authed.is_set():
                messages.append(f"umd+{conid}+{{}}")
        for key in [key for key, sub in self._depths.items() if sub.last_used <= deadline]:
            messages.extend(self._drop_depth(key))
        return messages

    async def _sweep_forever(self) -> None:
        """Run the idle sweep every few seconds until cancelled."""
        while True:
            await asyncio.sleep(self._sweep_every_s)
            try:
                await self.sweep_idle()
            except Exception as exc:
                log.warning("IBKR stream: idle sweep failed: %s", _describe(exc))

    # --- the socket -------------------------------------------------------------------------

    async def _run(self) -> None:
        """Keep one authenticated socket up: connect, serve, and on any failure back off and retry."""
        delay = self._backoff_initial_s
        while True:
            self._authed_this_attempt = False
            try:
                await self._serve_one_connection()
                reason = "closed by the venue"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = _describe(exc)
            if self._authed_this_attempt:
                delay = self._backoff_initial_s
            log.warning("IBKR stream: socket down (%s); reconnecting in %.2fs", reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max_s)

    async def _serve_one_connection(self) -> None:
        """Open, authenticate, resubscribe and read one socket until it ends."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races completion,
        # which would leave aclose() waiting on a runner that never stops.
        async with asyncio.timeout(self._connect_timeout_s):
            session = await self._session_provider()
        token = self._access_token() if callable(self._access_token) else self._access_token
        ws = await connect(
            f"{self._url}?oauth_token={quote(token, safe='')}",
            additional_headers={"Cookie": f"api={session}"},
            user_agent_header=self._user_agent,
            open_timeout=self._connect_timeout_s,
            close_timeout=self._connect_timeout_s,
            logger=_WIRE_LOG,
        )
        self._ws = ws
        heartbeat: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self._authenticate(ws, session)
            self._authed_this_attempt = True
            heartbeat = asyncio.create_task(self._heartbeat(ws), name="ibkr-ws-heartbeat")
            # Set and snapshot with no await between, so a concurrent subscribe is sent exactly once.
            self._authed.set()
            ticks, depths = list(self._ticks), list(self._depths)
            log.info("IBKR stream: authenticated; resubscribing %d ticks and %d books", len(ticks), len(depths))
            await self._resubscribe(ws, ticks, depths)
            async for raw in ws:
                self._dispatch(raw)
        finally:
            self._authed.clear()
            self._ws = None
            if heartbeat is not None:
                heartbeat.cancel()
                await asyncio.wait([heartbeat])
            await ws.close()

    async def _authenticate(self, ws: ClientConnection, session: str) -> None:
        """Wait for `sts` authenticated, sending the session whenever the venue asks for it."""
        while True:
            message = _decode(await ws.recv())
            if message is None:
                continue
            if _is_authenticated(message):
                return
            if _asks_for_session(message):
                await ws.send(json.dumps({"session": session}))

    async def _resubscribe(self, ws: ClientConnection, ticks: list[int], depths: list[tuple[str, int]]) -> None:
        """Send `smd`/`sbd` for every subscription still active (the snapshots stay cached)."""
        for conid in ticks:
            if conid in self._ticks:
                await ws.send(f"smd+{conid}+{_SMD_ARGS}")
        for key in depths:
            sub = self._depths.get(key)
            if sub is not None:
                await ws.send(sub.topic)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        """Send `tic` every `heartbeat_s` until the socket ends."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await ws.send("tic")
            except ConnectionClosed:
                return

    def _dispatch(self, raw: str | bytes) -> None:
        """Apply one pushed message to the cache."""
        message = _decode(raw)
        if message is None:
            return
        topic = message.get("topic")
        if not isinstance(topic, str):
            if "error" in message:
                log.warning("IBKR stream: the venue reported an error")
            return
        if topic.startswith("smd+"):
            self._on_tick(topic, message)
        elif topic.startswith("sbd+"):
            self._on_depth(topic, message)
        elif topic == "sts" and isinstance(message.get("args"), dict) and message["args"].get("authenticated") is False:
            raise _SessionLostError

    def _on_tick(self, topic: str, message: dict[str, Any]) -> None:
        """Merge an `smd` push into its conid's snapshot."""
        conid = _int_or_none(message.get("conid"))
        if conid is None:
            conid = _int_or_none(topic.split("+")[1])
        sub = self._ticks.get(conid) if conid is not None else None
        if sub is None:
            return
        _merge_tick(sub.tick, message)
        sub.ready.set()

    def _on_depth(self, topic: str, message: dict[str, Any]) -> None:
        """Replace a book with an `sbd` push (each push is a full snapshot)."""
        parts = topic.split("+")
        conid = _int_or_none(parts[2]) if len(parts) > 2 else _int_or_none(message.get("conid"))
        sub = self._depths.get((parts[1], conid)) if conid is not None else None
        rows = _depth_rows(message.get("data"))
        if sub is None or rows is None:
            return
        sub.rows = rows
        sub.ready.set()

    # --- helpers ----------------------------------------------------------------------------

    async def _send_if_live(self, text: str) -> None:
        """Send a message if the socket is authenticated; otherwise the next resubscription will."""
        ws = self._ws
        if ws is None or not self._authed.is_set():
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(text)

    async def _send_all(self, messages: list[str]) -> None:
        """Send messages in order on the live socket (a dropped socket loses nothing that matters)."""
        for text in messages:
            await self._send_if_live(text)

    async def _wait_ready(self, ready: asyncio.Event, wait_s: float, what: str) -> None:
        """Wait for a first push, through reconnects, or raise UpstreamTimeoutError after `wait_s`."""
        try:
            async with asyncio.timeout(wait_s):
                await ready.wait()
        except TimeoutError:
            state = "connected" if self.connected else "not connected"
            raise UpstreamTimeoutError(
                f"No IBKR market data for {what} within {wait_s:g}s (the stream is {state}).",
                suggested_fix="Check the conid and market-data permissions, then try again.",
            ) from None


def _check_conid(conid: int) -> None:
    """Refuse a conid that is not a positive integer."""
    if isinstance(conid, bool) or not isinstance(conid, int) or conid <= 0:
        raise InvalidInputError(f"An IBKR conid is a positive integer, not {conid!r}.")


def _int_or_none(value: object) -> int | None:
    """Return an int from an int or a digit string, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
