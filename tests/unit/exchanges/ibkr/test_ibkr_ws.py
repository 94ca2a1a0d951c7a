"""IbkrStream against a small fake of the IBKR market-data WebSocket on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from cerbero_mcp.common.errors import InvalidInputError, UpstreamTimeoutError
from cerbero_mcp.exchanges.ibkr.ws import IbkrStream, parse_field_value, stream_url

ACCESS_TOKEN = "acc-TOKEN-s3cr3t"
SESSION = "sess-0123456789abcdef"
AAPL, MSFT, SPY = 265598, 272093, 756733


@dataclass
class Received:
    """One message the fake got: which connection, the text, and whether `sts` had been sent."""

    conn: int
    text: str
    after_sts: bool


@dataclass
class FakeIbkrWs:
    """A fake IBKR `/v1/api/ws`: `sts` auth (optionally asking for the session), `smd` deltas, `sbd`."""

    require_session: bool = False
    sts_delay_s: float = 0.0
    hb_every_s: float = 0.05
    accepting: bool = True
    quotes: dict[int, dict[str, str]] = field(default_factory=dict)
    books: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    requests: list[Headers] = field(default_factory=list)
    live: dict[int, ServerConnection] = field(default_factory=dict)
    subs: dict[int, set[int]] = field(default_factory=dict)
    close_codes: list[int | None] = field(default_factory=list)
    server: Server | None = None
    _count: int = 0

    @property
    def base_url(self) -> str:
        """Return the REST-style base URL of the fake (http, as the settings hold it)."""
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/api"

    def texts(self, prefix: str = "", conn: int | None = None) -> list[str]:
        """Return the received texts starting with `prefix`, optionally on one connection."""
        return [r.text for r in self.received if r.text.startswith(prefix) and (conn is None or r.conn == conn)]

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake while not accepting or when the token or the cookie is wrong."""
        self.requests.append(request.headers)
        query = parse_qs(urlsplit(request.path).query)
        if not self.accepting:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "down\n")
        if urlsplit(request.path).path != "/v1/api/ws" or query.get("oauth_token") != [ACCESS_TOKEN]:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad token\n")
        if request.headers.get("Cookie") != f"api={SESSION}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad cookie\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        """Speak the IBKR protocol on one connection."""
        self._count += 1
        conn = self._count
        self.live[conn] = ws
        self.subs[conn] = set()
        state = {"sts": False}
        authed = asyncio.Event()

        async def heartbeats() -> None:
            while True:
                await asyncio.sleep(self.hb_every_s)
                await ws.send(json.dumps({"topic": "system", "hb": 1_700_000_000_000}))

        hb = asyncio.create_task(heartbeats())
        reader = asyncio.create_task(self._read(ws, conn, state, authed))
        session_sent = asyncio.create_task(authed.wait())
        try:
            await asyncio.sleep(self.sts_delay_s)
            if self.require_session:
                await ws.send(json.dumps({"topic": "sts", "args": {"authenticated": False, "competing": False}}))
                await ws.send(json.dumps({"message": "waiting for session"}))
                await asyncio.wait([session_sent, reader], return_when=asyncio.FIRST_COMPLETED)
                if not authed.is_set():
                    return
            state["sts"] = True
            await ws.send(json.dumps({"topic": "sts", "args": {"authenticated": True, "competing": False}}))
            await reader
        except Exception:  # noqa: S110 - a dropped connection simply ends the handler
            pass
        finally:
            for task in (hb, reader, session_sent):
                task.cancel()
            await asyncio.wait([hb, reader, session_sent])
            self.live.pop(conn, None)
            self.close_codes.append(ws.close_code)

    async def _read(self, ws: ServerConnection, conn: int, state: dict[str, bool], authed: asyncio.Event) -> None:
        async for raw in ws:
            text = raw if isinstance(raw, str) else raw.decode()
            self.received.append(Received(conn, text, state["sts"]))
            if text.startswith("{") and json.loads(text).get("session") == SESSION:
                authed.set()
            if not state["sts"]:
                continue  # IBKR ignores everything before the socket is authenticated
            parts = text.split("+")
            if parts[0] == "smd":
                conid = int(parts[1])
                assert json.loads(parts[2]) == {"fields": ["31", "84", "86", "88", "85"]}
                self.subs[conn].add(conid)
                if conid in self.quotes:
                    await ws.send(self._smd(conid, self.quotes[conid]))
            elif parts[0] == "umd":
                self.subs[conn].discard(int(parts[1]))
            elif parts[0] == "sbd":
                conid = int(parts[2])
                if conid in self.books:
                    await ws.send(
                        json.dumps({"topic": f"sbd+{parts[1]}+{conid}", "data": self.books[conid]}),
                    )

    @staticmethod
    def _smd(conid: int, fields: dict[str, str]) -> str:
        return json.dumps({"topic": f"smd+{conid}", "conid": conid, **fields, "_updated": 1_700_000_000_123})

    async def push(self, conid: int, fields: dict[str, str]) -> None:
        """Send a delta (only `fields`) to every connection subscribed to `conid`."""
        self.quotes.setdefault(conid, {}).update(fields)
        for conn, ws in list(self.live.items()):
            if conid in self.subs.get(conn, set()):
                await ws.send(self._smd(conid, fields))

    def drop(self) -> None:
        """Abort every live connection, as a network failure would."""
        for ws in list(self.live.values()):
            ws.transport.abort()


async def eventually(condition: Callable[[], bool], within_s: float = 3.0) -> None:
    """Wait until `condition()` holds, failing the test after `within_s` seconds."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling state the stream owns, which has no event to await
            await asyncio.sleep(0.01)


def full_quote(last: str = "190.10", bid: str = "190.05", ask: str = "190.15") -> dict[str, str]:
    """Return a full smd snapshot body."""
    return {"31": last, "84": bid, "86": ask, "88": "300", "85": "1,200"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeIbkrWs]:
    """Run the fake venue on 127.0.0.1 with an ephemeral port."""
    venue = FakeIbkrWs()
    venue.quotes[AAPL] = full_quote()
    venue.quotes[MSFT] = full_quote("410.5", "410.4", "410.6")
    venue.quotes[SPY] = full_quote("500", "499.99", "500.01")
    async with serve(venue.handler, "127.0.0.1", 0, process_request=venue.process_request) as server:
        venue.server = server
        yield venue


@pytest.fixture
async def make_stream(fake: FakeIbkrWs) -> AsyncIterator[Callable[..., IbkrStream]]:
    """Build streams on the fake (closed at teardown); keyword arguments override the defaults."""
    streams: list[IbkrStream] = []
    sessions: list[str] = []

    async def session_provider() -> str:
        sessions.append(SESSION)
        return SESSION

    def build(**kwargs: Any) -> IbkrStream:
        options: dict[str, Any] = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "connect_timeout_s": 2.0}
        options.update(kwargs)
        stream = IbkrStream(fake.base_url, access_token=ACCESS_TOKEN, session_provider=session_provider, **options)
        streams.append(stream)
        return stream

    yield build
    for stream in streams:
        await stream.aclose()


async def test_stream_url_turns_the_rest_base_into_the_ws_endpoint() -> None:
    assert stream_url("https://api.ibkr.com/v1/api") == "wss://api.ibkr.com/v1/api/ws"
    assert stream_url("http://127.0.0.1:5000/v1/api/") == "ws://127.0.0.1:5000/v1/api/ws"
    assert stream_url("wss://api.ibkr.com/v1/api/ws") == "wss://api.ibkr.com/v1/api/ws"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("190.15", Decimal("190.15")),
        ("C190.15", Decimal("190.15")),
        ("H12", Decimal("12")),
        ("1,200", Decimal("1200")),
        ("1.5K", Decimal("1500")),
        (42, Decimal("42")),
        ("n/a", None),
        ("", None),
        ("Infinity", None),
        (None, None),
    ],
)
def test_parse_field_value_strips_prefixes_and_refuses_garbage(value: object, expected: Decimal | None) -> None:
    assert parse_field_value(value) == expected


async def test_subscriptions_wait_for_sts_authenticated(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    fake.sts_delay_s = 0.3
    stream = make_stream()
    await stream.start()
    await eventually(lambda: bool(fake.live))  # the socket is open, `sts` not sent yet

    tick = await stream.tick(AAPL)

    smd = [r for r in fake.received if r.text.startswith("smd+")]
    assert [r.text.split("+")[1] for r in smd] == [str(AAPL)]
    assert all(r.after_sts for r in smd), "smd sent before the sts authenticated message"
    assert tick.last == Decimal("190.10")
    headers = fake.requests[0]
    assert headers["Cookie"] == f"api={SESSION}"
    assert headers["User-Agent"] == "cerbero-mcp"


async def test_tick_returns_bid_ask_last_and_sizes_from_the_first_snapshot(
    make_stream: Callable[..., IbkrStream],
) -> None:
    stream = make_stream()

    tick = await stream.tick(AAPL)

    assert (tick.conid, tick.last, tick.bid, tick.ask) == (
        AAPL,
        Decimal("190.10"),
        Decimal("190.05"),
        Decimal("190.15"),
    )
    assert (tick.bid_size, tick.ask_size) == (Decimal("300"), Decimal("1200"))
    assert tick.updated_ms == 1_700_000_000_123
    assert tick.raw["84"] == "190.05"
    assert stream.connected
    assert stream.subscriptions() == [AAPL]


async def test_a_delta_merges_into_the_snapshot_instead_of_replacing_it(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    stream = make_stream()
    await stream.tick(AAPL)

    await fake.push(AAPL, {"84": "190.07"})
    await eventually(lambda: stream._ticks[AAPL].tick.bid == Decimal("190.07"))
    await fake.push(AAPL, {"31": "C190.20", "86": "n/a"})
    await eventually(lambda: stream._ticks[AAPL].tick.last == Decimal("190.20"))

    tick = await stream.tick(AAPL)
    assert tick.bid == Decimal("190.07")
    assert tick.ask == Decimal("190.15"), "an unparseable ask must leave the previous ask"
    assert (tick.bid_size, tick.ask_size) == (Decimal("300"), Decimal("1200"))
    assert tick.raw["86"] == "n/a"


async def test_unsubscribe_sends_umd_and_forgets_the_conid(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    stream = make_stream()
    await stream.tick(AAPL)

    await stream.unsubscribe(AAPL)

    await eventually(lambda: fake.texts("umd+") == [f"umd+{AAPL}+{{}}"])
    assert stream.subscriptions() == []


async def test_subscription_cap_refuses_one_past_the_limit(make_stream: Callable[..., IbkrStream]) -> None:
    stream = make_stream(max_subscriptions=2)
    await stream.subscribe_tick(AAPL)
    await stream.subscribe_tick(MSFT)
    await stream.subscribe_tick(AAPL)  # already active: not a new subscription

    with pytest.raises(InvalidInputError, match="IBKR_WS_MAX_SUBSCRIPTIONS"):
        await stream.subscribe_tick(SPY)
    assert stream.subscriptions() == [AAPL, MSFT]


async def test_idle_sweep_unsubscribes_a_conid_nobody_reads(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    now = [1000.0]
    stream = make_stream(idle_timeout_s=10.0, clock=lambda: now[0])
    await stream.tick(AAPL)
    await stream.tick(MSFT)

    now[0] += 6
    await stream.tick(AAPL)
    now[0] += 6

    assert await stream.sweep_idle() == [MSFT]
    assert stream.subscriptions() == [AAPL]
    await eventually(lambda: fake.texts("umd+") == [f"umd+{MSFT}+{{}}"])


async def test_background_sweep_runs_on_its_own(fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]) -> None:
    stream = make_stream(idle_timeout_s=0.2)
    await stream.subscribe_tick(AAPL)

    await eventually(lambda: fake.texts("umd+") == [f"umd+{AAPL}+{{}}"])
    assert stream.subscriptions() == []


async def test_cap_makes_room_by_expiring_idle_conids_first(make_stream: Callable[..., IbkrStream]) -> None:
    now = [0.0]
    stream = make_stream(max_subscriptions=1, idle_timeout_s=10.0, clock=lambda: now[0])
    await stream.subscribe_tick(AAPL)
    now[0] += 11

    await stream.subscribe_tick(MSFT)

    assert stream.subscriptions() == [MSFT]


async def test_tic_heartbeats_are_sent_on_the_interval(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    stream = make_stream(heartbeat_s=0.05)
    await stream.start()

    await eventually(lambda: len(fake.texts("tic")) >= 3)
    assert all(r.after_sts for r in fake.received if r.text == "tic")


async def test_no_heartbeat_before_the_interval(fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]) -> None:
    stream = make_stream(heartbeat_s=30.0)
    await stream.tick(AAPL)
    await asyncio.sleep(0.2)

    assert fake.texts("tic") == []


async def test_dropped_socket_reconnects_resubscribes_and_serves_a_tick_asked_during_the_outage(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    fake.books[AAPL] = [{"row": 0, "focus": 0, "price": "190.05", "bid": "300"}]
    stream = make_stream()
    await stream.tick(AAPL)
    await stream.tick(MSFT)
    await stream.depth("U123", AAPL)

    fake.accepting = False
    fake.drop()
    await eventually(lambda: not stream.connected)
    outage_tick = asyncio.create_task(stream.tick(SPY, wait_s=5.0))
    cached = await stream.tick(AAPL, wait_s=0.1)
    await asyncio.sleep(0.3)  # several refused reconnect attempts
    assert not outage_tick.done()
    fake.accepting = True

    spy = await outage_tick
    assert spy.last == Decimal("500")
    assert cached.bid == Decimal("190.05"), "the cached snapshot survives the outage"
    second = max(fake.live)
    await eventually(lambda: {t.split("+")[1] for t in fake.texts("smd+", second)} == {str(AAPL), str(MSFT), str(SPY)})
    assert fake.texts("sbd+", second) == [f"sbd+U123+{AAPL}"]  # no exchange: all deep exchanges
    await fake.push(AAPL, {"86": "190.30"})
    await eventually(lambda: stream._ticks[AAPL].tick.ask == Decimal("190.30"))
    assert (await stream.tick(AAPL)).bid == Decimal("190.05")


async def test_backoff_grows_while_refused_and_resets_after_a_successful_auth(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    stream = make_stream(backoff_initial_s=0.05, backoff_max_s=0.8)
    fake.accepting = False
    await stream.start()
    await asyncio.sleep(1.0)
    refused = len(fake.requests)
    assert 3 <= refused <= 6, f"{refused} attempts in 1s: the delay must double (0.05, 0.1, 0.2, 0.4, 0.8)"

    fake.accepting = True
    await eventually(lambda: stream.connected, within_s=2.0)
    fake.drop()
    await eventually(lambda: not stream.connected)
    started = asyncio.get_running_loop().time()
    await eventually(lambda: stream.connected)

    assert asyncio.get_running_loop().time() - started < 0.4, "a successful auth must reset the backoff"


async def test_sts_unauthenticated_mid_stream_reconnects_and_resubscribes(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    stream = make_stream()
    await stream.tick(AAPL)

    await fake.live[1].send(json.dumps({"topic": "sts", "args": {"authenticated": False}}))

    await eventually(lambda: fake.texts("smd+", conn=2) != [])
    assert fake.texts("smd+", conn=2)[0].startswith(f"smd+{AAPL}+")
    await eventually(lambda: stream.connected)


async def test_session_is_sent_when_the_venue_asks_for_it(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    fake.require_session = True
    stream = make_stream()

    tick = await stream.tick(AAPL)

    assert tick.ask == Decimal("190.15")
    sessions = [r for r in fake.received if r.text.startswith("{")]
    assert json.loads(sessions[0].text) == {"session": SESSION}
    assert not sessions[0].after_sts
    assert all(r.after_sts for r in fake.received if r.text.startswith("smd+"))


async def test_depth_returns_the_latest_full_book(fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]) -> None:
    fake.books[AAPL] = [  # a BookTrader ladder: one row a price, highest first
        {"row": 0, "focus": 0, "price": "190.15", "ask": "1,200"},
        {"row": 1, "focus": 1, "price": "190.10"},
        {"row": 2, "focus": 0, "price": "190.05", "bid": "300"},
    ]
    stream = make_stream()

    rows = await stream.depth("U123", AAPL)

    assert fake.texts("sbd+") == [f"sbd+U123+{AAPL}"]  # no exchange unless asked
    assert rows == [
        {"price": Decimal("190.15"), "size": Decimal("1200"), "side": "ask"},
        {"price": Decimal("190.05"), "size": Decimal("300"), "side": "bid"},
    ]
    await stream.unsubscribe_depth("U123", AAPL)
    await eventually(lambda: fake.texts("ubd+") == ["ubd+U123"])


async def test_tick_without_data_times_out_as_upstream_timeout(make_stream: Callable[..., IbkrStream]) -> None:
    stream = make_stream()

    with pytest.raises(UpstreamTimeoutError, match="4242"):
        await stream.tick(4242, wait_s=0.2)


async def test_invalid_conid_is_refused(make_stream: Callable[..., IbkrStream]) -> None:
    stream = make_stream()

    with pytest.raises(InvalidInputError):
        await stream.subscribe_tick(0)


async def test_secrets_never_reach_the_logs(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.require_session = True
    stream = make_stream()
    await stream.tick(AAPL)
    fake.accepting = False
    fake.drop()
    await asyncio.sleep(0.2)
    fake.accepting = True
    await eventually(lambda: stream.connected)

    client_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("websockets.server"))
    assert "reconnecting" in client_side
    assert ACCESS_TOKEN not in client_side
    assert SESSION not in client_side


async def test_aclose_closes_the_socket_cleanly_and_leaves_no_task(
    fake: FakeIbkrWs, make_stream: Callable[..., IbkrStream]
) -> None:
    stream = make_stream(heartbeat_s=0.05)
    await stream.tick(AAPL)
    pending = asyncio.create_task(stream.tick(4242, wait_s=5.0))
    await asyncio.sleep(0.05)

    await stream.aclose()

    await eventually(lambda: fake.close_codes == [1000])
    assert not stream.connected
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("ibkr-ws")] == []
    with pytest.raises(Exception, match="unsubscribed"):
        await pending
    await stream.aclose()  # idempotent
