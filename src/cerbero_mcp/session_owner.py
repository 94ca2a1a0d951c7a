"""One owner of a single-session upstream (IBKR) among replicas: a PostgreSQL advisory lock on its own connection.

IBKR allows one brokerage session per user: two replicas each opening their own would knock each other's
session off. With `STATE_DB=postgresql://…` every replica runs a `SessionOwner`: a dedicated autocommit
connection that tries `pg_try_advisory_lock` every `IBKR_OWNER_POLL_S` seconds. The replica holding the lock
is the only one that talks to IBKR; it writes its internal URL (`REPLICA_URL`) into `cerbero_session_owner`,
and the others forward their IBKR calls there (`exchanges/ibkr/relay.py`). The lock is a session-level lock:
PostgreSQL releases it the moment the owner's connection ends (process killed, host gone), so another
replica takes it at its next attempt, within about one poll interval after PostgreSQL notices the dead
connection (at once for a killed process; by TCP keepalives, ~11 s, for a host that vanished). The owner
checks its connection every poll interval and gives the session up when it is gone.

Without PostgreSQL there is no election: `current()` is None and IBKR is called directly, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg

from cerbero_mcp.settings import Settings
from cerbero_mcp.state_pg import settings_dsn, settings_replica_id

log = logging.getLogger("cerbero.session_owner")
RESOURCE = "ibkr"
# One 64-bit advisory-lock key per resource, derived from its name so no other user of the database collides by chance.
LOCK_KEYS = {
    RESOURCE: int.from_bytes(hashlib.sha256(b"cerbero-mcp:ibkr-session-owner").digest()[:8], "big", signed=True)
}
CONNECT_TIMEOUT_S = 5
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 5, 2, 3
TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS cerbero_session_owner ("
    " resource text PRIMARY KEY, replica_id text NOT NULL, url text NOT NULL, since timestamptz NOT NULL)"
)
CLAIM_SQL = (
    "INSERT INTO cerbero_session_owner (resource, replica_id, url, since) VALUES (%s, %s, %s, now())"
    " ON CONFLICT (resource) DO UPDATE SET replica_id = EXCLUDED.replica_id, url = EXCLUDED.url, since = now()"
)
OwnerListener = Callable[[bool], None]

_current: SessionOwner | None = None


def replica_url(settings: Settings) -> str:
    """Return the URL the other replicas reach this one at (REPLICA_URL, else http://<hostname>:<PORT>)."""
    return (settings.replica_url or f"http://{socket.gethostname()}:{settings.port}").rstrip("/")


def current() -> SessionOwner | None:
    """Return this process's running election, or None in single-process mode."""
    return _current


class SessionOwner:
    """This replica's side of the election for one resource: owner or not, and who the owner is."""

    def __init__(
        self,
        dsn: str,
        *,
        replica_id: str,
        url: str,
        poll_s: float,
        secret: str | None = None,
        resource: str = RESOURCE,
    ) -> None:
        self.dsn = dsn
        self.secret = secret  # REPLICA_SECRET: what forwarded calls to the owner carry
        self.replica_id = replica_id
        self.url = url
        self.poll_s = poll_s
        self.resource = resource
        self.lock_key = LOCK_KEYS[resource]
        self._owner = False
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[OwnerListener] = []
        self._owner_url: tuple[str | None, float] = (None, 0.0)
        self._first_attempt = asyncio.Event()
        self.became_owner_at: float | None = None  # time.monotonic() of the last take-over (for the logs and tests)

    @property
    def is_owner(self) -> bool:
        """Return whether this replica holds the lock (and so owns the upstream session)."""
        return self._owner

    def on_change(self, listener: OwnerListener) -> None:
        """Call `listener(is_owner)` whenever this replica gains or loses ownership."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start the election loop and wait for its first attempt (so a lone replica owns at once)."""
        self._task = asyncio.create_task(self._run(), name=f"session-owner-{self.resource}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), CONNECT_TIMEOUT_S + 1)

    async def aclose(self) -> None:
        """Stop the loop and close the connection (which releases the lock)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop("shutting down")

    async def owner_url(self) -> str | None:
        """Return the owner's internal URL as the table says (cached for one poll interval), or None."""
        url, fetched = self._owner_url
        if url is not None and time.monotonic() - fetched < self.poll_s:
            return url
        conn = self._conn
        if conn is None:
            return None
        try:
            cur = await conn.execute("SELECT url FROM cerbero_session_owner WHERE resource = %s", (self.resource,))
            row = await cur.fetchone()
        except psycopg.Error:
            return None  # no table yet (no owner ever) or the connection is down: the caller waits and asks again
        url = str(row[0]) if row else None
        self._owner_url = (url, time.monotonic())
        return url

    def forget_owner_url(self) -> None:
        """Drop the cached owner URL (it did not answer as the owner)."""
        self._owner_url = (None, 0.0)

    async def _run(self) -> None:
        while True:
            try:
                await self._attempt()
            except (psycopg.Error, OSError) as exc:
                await self._drop(f"{type(exc).__name__}")
            finally:
                self._first_attempt.set()
            await asyncio.sleep(self.poll_s)  # liveness on the wall clock, not the business clock

    async def _attempt(self) -> None:
        if self._conn is None or self._conn.closed:
            # Keepalives on both ends: a killed process closes its socket at once, but a host that vanishes
            # (power, partition) would hold the lock for the kernel's default 2 h without them; with them the
            # server drops the lock, and this side notices it lost it, within about 11 s.
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="cerbero-session-owner",
                keepalives=1,
                keepalives_idle=KEEPALIVE_IDLE_S,
                keepalives_interval=KEEPALIVE_INTERVAL_S,
                keepalives_count=KEEPALIVE_COUNT,
            )
            await self._conn.execute(
                "SELECT set_config('tcp_keepalives_idle', %s, false), set_config('tcp_keepalives_interval', %s, false),"
                " set_config('tcp_keepalives_count', %s, false)",
                (str(KEEPALIVE_IDLE_S), str(KEEPALIVE_INTERVAL_S), str(KEEPALIVE_COUNT)),
            )
        if self._owner:
            await self._conn.execute("SELECT 1")  # the lock lives exactly as long as this connection
            return
        cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,))
        row = await cur.fetchone()
        if not (row and row[0]):
            return
        # Created under the lock: one replica at a time, so concurrent starts never race on the DDL.
        await self._conn.execute(TABLE_DDL)
        await self._conn.execute(CLAIM_SQL, (self.resource, self.replica_id, self.url))
        self._owner_url = (self.url, time.monotonic())
        self.became_owner_at = time.monotonic()
        log.warning("this replica (%s) now owns the %s session", self.replica_id, self.resource)
        self._set_owner(True)

    async def _drop(self, reason: str) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
        if self._owner:
            log.warning("this replica (%s) lost the %s session: %s", self.replica_id, self.resource, reason)
            self._set_owner(False)

    def _set_owner(self, owner: bool) -> None:
        self._owner = owner
        for listener in list(self._listeners):
            try:
                listener(owner)
            except Exception:  # one listener's bug must not stop the election
                log.exception("session-owner listener failed")


@contextlib.asynccontextmanager
async def session_owner_running(settings: Settings) -> AsyncIterator[SessionOwner | None]:
    """Run the election for the app's lifetime when the state is PostgreSQL; yield None otherwise."""
    global _current
    dsn = settings_dsn(settings)
    if dsn is None:
        yield None
        return
    replica_id = settings_replica_id(settings)  # one name per replica: the audit chain's writer too
    secret = settings.replica_secret.get_secret_value() if settings.replica_secret is not None else None
    owner = SessionOwner(
        dsn, replica_id=replica_id, url=replica_url(settings), poll_s=settings.ibkr_owner_poll_s, secret=secret
    )
    await owner.start()
    _current = owner
    try:
        yield owner
    finally:
        _current = None
        await owner.aclose()
