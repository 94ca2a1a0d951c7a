"""The write-safety state on PostgreSQL, shared by several replicas (`STATE_DB=postgresql://…`, issue 19).

`PostgresStateStore` implements the same synchronous `StateStore` as `SqliteStateStore` (the gates call it
synchronously; on loopback a statement takes ~0.2 ms, as SQLite's does). Every gate is one atomic statement
or one transaction, so replicas sharing the database agree: a client_order_id is claimed by exactly one
INSERT … ON CONFLICT DO NOTHING, approvals are decided and spent by conditional UPDATEs, and the kill switch
is one row that every gate check reads (no cache: a switch engaged on any replica refuses the next opening
write on every replica, within the read's round trip).

What stays per replica: the idempotency keys a replica left pending (`pending()` returns only this replica's,
so a restarting replica never resolves another's in-flight write), and its audit chain (`audit_pg`).

The schema is versioned: `MIGRATIONS` is an ordered list applied at start inside one transaction under an
advisory lock, so replicas starting together never race, and a database already at the latest version is
left as it is. The DSN's password never reaches a log or an error: see `redact_dsn`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from cerbero_mcp.common.pacing import DUST_S, Limit
from cerbero_mcp.common.redaction import redact_url
from cerbero_mcp.settings import Settings
from cerbero_mcp.state_store import (
    APPROVAL_COLUMNS,
    Approval,
    ApprovalState,
    IdempotencyRecord,
    IdemState,
    KillSwitchState,
    StoreNotWritableError,
    _approval,
)

# pg_advisory_xact_lock key of the migration (any constant; "cerbero1" in ASCII).
MIGRATION_LOCK: Final = 0x63657262_65726F31
POOL_MAX: Final = 20
CONNECT_TIMEOUT_S: Final = 10.0
# The gates call the store synchronously on the event loop: with the database gone, a call fails after
# this long instead of freezing the replica for the pool's default 30 s.
POOL_TIMEOUT_S: Final = 5.0

# Each entry is applied once, in order, in one transaction with its schema_version row. Never edit an
# entry that has shipped: append a new one.
MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the write-safety state (the same tables as SQLite's, with the owner of each pending claim).
    """
    CREATE TABLE kill_switch (
        env TEXT PRIMARY KEY,
        engaged BOOLEAN NOT NULL,
        reason TEXT,
        actor TEXT,
        changed_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE idempotency (
        env TEXT NOT NULL,
        venue TEXT NOT NULL,
        tool TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        status INTEGER,
        response TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        owner TEXT NOT NULL,
        PRIMARY KEY (env, venue, tool, client_order_id)
    );
    CREATE INDEX idempotency_pending ON idempotency (owner) WHERE state = 'pending';
    CREATE TABLE order_events (
        env TEXT NOT NULL,
        venue TEXT NOT NULL,
        bot_tag TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX order_events_scope ON order_events (env, venue, bot_tag, at);
    CREATE INDEX order_events_at ON order_events (at);
    CREATE TABLE approvals (
        approval_id TEXT PRIMARY KEY,
        env TEXT NOT NULL,
        venue TEXT NOT NULL,
        tool TEXT NOT NULL,
        bot_tag TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        notional_usd TEXT NOT NULL,
        preview TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        decided_by TEXT,
        decided_at DOUBLE PRECISION,
        reason TEXT,
        used_at DOUBLE PRECISION
    );
    CREATE INDEX approvals_env_state ON approvals (env, state, created_at);
    CREATE TABLE audit_head (
        writer TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    # 2: the audit, one table for every replica, one HMAC chain per writer (audit_pg).
    """
    CREATE TABLE audit_records (
        id BIGSERIAL PRIMARY KEY,
        writer TEXT NOT NULL,
        seq BIGINT NOT NULL,
        ts TIMESTAMPTZ NOT NULL,
        actor TEXT,
        exchange TEXT,
        action TEXT,
        bot_tag TEXT,
        record TEXT NOT NULL
    );
    CREATE INDEX audit_records_chain ON audit_records (writer, seq);
    CREATE INDEX audit_records_ts ON audit_records (ts, id);
    CREATE TABLE audit_chains (
        writer TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    """,
    # 3: the venues' pacing windows shared by the fleet (common/pacing.PostgresPacingBackend).
    """
    CREATE TABLE pacing_slots (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX pacing_slots_key ON pacing_slots (scope, key, at);
    CREATE FUNCTION cerbero_pacing_reserve(
        p_scope TEXT, p_keys TEXT[], p_calls INTEGER[], p_per_s DOUBLE PRECISION[],
        p_floor DOUBLE PRECISION[], p_now DOUBLE PRECISION, p_max_wait DOUBLE PRECISION
    ) RETURNS TABLE (slot_at DOUBLE PRECISION, reserved BOOLEAN) LANGUAGE plpgsql AS $$
    DECLARE
        i INTEGER;
        v_at DOUBLE PRECISION := p_now;
        v_last DOUBLE PRECISION;
        v_nth DOUBLE PRECISION;
    BEGIN
        -- The caller sorts p_keys: every acquire takes the per-key locks in one order (no deadlock).
        FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
            PERFORM pg_advisory_xact_lock(hashtextextended(p_scope || chr(31) || p_keys[i], 0));
            DELETE FROM pacing_slots s
                WHERE s.scope = p_scope AND s.key = p_keys[i] AND s.at < p_now - p_per_s[i];
            v_at := greatest(v_at, p_floor[i]);
            SELECT max(s.at) INTO v_last FROM pacing_slots s WHERE s.scope = p_scope AND s.key = p_keys[i];
            IF v_last IS NOT NULL THEN
                v_at := greatest(v_at, v_last);  -- in order: never overtake a call reserved before
            END IF;
            SELECT s.at INTO v_nth FROM pacing_slots s WHERE s.scope = p_scope AND s.key = p_keys[i]
                ORDER BY s.at DESC OFFSET p_calls[i] - 1 LIMIT 1;
            IF FOUND THEN
                v_at := greatest(v_at, v_nth + p_per_s[i]);  -- the window is full until its oldest call ages out
            END IF;
        END LOOP;
        IF v_at - p_now > p_max_wait THEN
            RETURN QUERY SELECT v_at, FALSE;
            RETURN;
        END IF;
        FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
            INSERT INTO pacing_slots (scope, key, at) VALUES (p_scope, p_keys[i], v_at);
        END LOOP;
        RETURN QUERY SELECT v_at, TRUE;
    END
    $$;
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
COUNT_ORDERS: Final = "SELECT count(*) FROM order_events WHERE env = %s AND venue = %s AND bot_tag = %s AND at >= %s"
# Built once from the fixed column list (no caller input is ever formatted into SQL here).
SELECT_APPROVAL: Final = f"SELECT {APPROVAL_COLUMNS} FROM approvals"  # noqa: S608
INSERT_APPROVAL: Final = f"INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})"  # noqa: S608


def redact_dsn(dsn: str) -> str:
    """Return the DSN fit for a log line: user and password masked, sensitive query values masked."""
    return redact_url(dsn)


def default_replica_id() -> str:
    """Return this replica's default id: the host name (a container's, stable across its restarts)."""
    return socket.gethostname() or "replica"


def open_pool(dsn: str, *, max_size: int = POOL_MAX, name: str = "cerbero-state") -> ConnectionPool:
    """Open a connection pool on `dsn` (autocommit connections), raising StoreNotWritableError, DSN redacted."""
    try:
        # One direct connection first: a wrong host, database or password fails now with the server's
        # reason, instead of the pool retrying until its timeout.
        psycopg.connect(dsn, connect_timeout=int(CONNECT_TIMEOUT_S)).close()
    except psycopg.Error as exc:
        raise StoreNotWritableError(f"cannot connect to {redact_dsn(dsn)}: {_why(exc, dsn)}") from None
    pool: ConnectionPool = ConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT_S)},
        # A replica outlives database restarts: a connection is checked before it is handed out.
        check=ConnectionPool.check_connection,
        timeout=POOL_TIMEOUT_S,
        open=False,
        name=name,
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except (PoolTimeout, psycopg.Error) as exc:
        pool.close()
        raise StoreNotWritableError(f"cannot connect to {redact_dsn(dsn)}: {_why(exc, dsn)}") from None
    return pool


def migrate(pool: ConnectionPool) -> int:
    """Bring the schema to SCHEMA_VERSION (one transaction, under an advisory lock); return the version found."""
    with pool.connection() as conn, conn.transaction():
        # Two replicas starting together: the second waits here, then finds the work done.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise StoreNotWritableError(
                f"the database schema is at version {found}, newer than this server's {SCHEMA_VERSION}:"
                " upgrade this replica (every replica must run the same version or a newer one)"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    return found


class PostgresStateStore:
    """StateStore on a PostgreSQL database shared by every replica (a psycopg 3 connection pool)."""

    def __init__(self, dsn: str, *, replica_id: str | None = None, pool: ConnectionPool | None = None) -> None:
        self.dsn_shown = redact_dsn(dsn)
        self.replica_id = replica_id or default_replica_id()
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else open_pool(dsn)
        try:
            self.schema_found = migrate(self.pool)
        except psycopg.Error as exc:
            self.close()
            raise StoreNotWritableError(f"cannot migrate {self.dsn_shown}: {_why(exc, dsn)}") from None
        except BaseException:
            self.close()
            raise

    def _one(self, sql: str, params: Sequence[Any] = ()) -> TupleRow | None:
        with self.pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.pool.connection() as conn:
            return conn.execute(sql, params).rowcount

    # --- kill switch ---

    def kill_switch(self, env: str) -> KillSwitchState | None:
        """Return the kill-switch state of `env`, if ever set (read from the database at every call)."""
        row = self._one("SELECT env, engaged, reason, actor, changed_at FROM kill_switch WHERE env = %s", (env,))
        if row is None:
            return None
        return KillSwitchState(row[0], bool(row[1]), row[2], row[3], float(row[4]))

    def set_kill_switch(self, env: str, engaged: bool, reason: str | None, actor: str) -> KillSwitchState:
        """Engage or release the kill switch of `env` (seen by every replica's next gate check)."""
        now = time.time()
        self._run(
            "INSERT INTO kill_switch (env, engaged, reason, actor, changed_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (env) DO UPDATE SET engaged = excluded.engaged, reason = excluded.reason, "
            "actor = excluded.actor, changed_at = excluded.changed_at",
            (env, engaged, reason, actor, now),
        )
        return KillSwitchState(env, engaged, reason, actor, now)

    # --- idempotency ---

    def reserve(
        self, key: tuple[str, str, str, str], request_hash: str, ttl_s: float
    ) -> tuple[bool, IdempotencyRecord]:
        """Claim `key` for this request (True) or return the record that holds it (False)."""
        now = time.time()
        with self.pool.connection() as conn, conn.transaction():
            # An expired record frees its key; a concurrent INSERT of the same key waits for ours to commit
            # and then does nothing: exactly one claim wins, across every replica.
            conn.execute(
                "DELETE FROM idempotency WHERE env = %s AND venue = %s AND tool = %s AND client_order_id = %s "
                "AND expires_at < %s",
                (*key, now),
            )
            inserted = conn.execute(
                "INSERT INTO idempotency (env, venue, tool, client_order_id, request_hash, state, created_at, "
                "expires_at, owner) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s, %s) ON CONFLICT DO NOTHING",
                (*key, request_hash, now, now + ttl_s, self.replica_id),
            ).rowcount
            record = _record(_select_record(conn, key), now)  # alive at `now`: the DELETE above used it
        if record is None:  # pragma: no cover - the row was inserted or held by a committed claim
            raise RuntimeError("idempotency record vanished")
        return inserted == 1, record

    def complete(self, key: tuple[str, str, str, str], state: IdemState, status: int, response: dict[str, Any]) -> None:
        """Store the final answer of a claimed key."""
        self._run(
            "UPDATE idempotency SET state = %s, status = %s, response = %s "
            "WHERE env = %s AND venue = %s AND tool = %s AND client_order_id = %s",
            (state, status, json.dumps(response, separators=(",", ":")), *key),
        )

    def release(self, key: tuple[str, str, str, str]) -> None:
        """Forget a claim whose request never reached the venue."""
        self._run(
            "DELETE FROM idempotency WHERE env = %s AND venue = %s AND tool = %s AND client_order_id = %s "
            "AND state = 'pending'",
            key,
        )

    def pending(self) -> list[tuple[str, str, str, str]]:
        """Return the keys this replica left pending (another replica's are its own in-flight writes)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT env, venue, tool, client_order_id FROM idempotency WHERE state = 'pending' AND owner = %s",
                (self.replica_id,),
            ).fetchall()
        return [(str(env), str(venue), str(tool), str(coid)) for env, venue, tool, coid in rows]

    def get(self, key: tuple[str, str, str, str]) -> IdempotencyRecord | None:
        """Return the live record of `key`, if any."""
        with self.pool.connection() as conn:
            return _record(_select_record(conn, key), time.time())

    # --- order counts ---

    def reserve_orders(
        self, env: str, venue: str, bot_tag: str, count: int, limit: Decimal | None, window_s: float = 60.0
    ) -> int | None:
        """Count `count` orders of a bot unless that breaks `limit`, for the whole fleet (older than an hour pruned)."""
        # A transaction lock per (env, venue, bot) serialises the count and the insert across replicas: under READ
        # COMMITTED two replicas would otherwise both count the same rows and both pass.
        now = time.time()
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("\x1f".join(("orders", env, venue, bot_tag)),)
            )
            row = conn.execute(COUNT_ORDERS, (env, venue, bot_tag, now - window_s)).fetchone()
            sent = int(row[0]) if row else 0
            if limit is not None and sent + count > limit:
                return sent
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO order_events (env, venue, bot_tag, at) VALUES (%s, %s, %s, %s)",
                    [(env, venue, bot_tag, now)] * count,
                )
            conn.execute("DELETE FROM order_events WHERE at < %s", (now - 3600,))
        return None

    def orders_since(self, env: str, venue: str, bot_tag: str, since: float) -> int:
        """Return how many orders a bot sent since `since`, on every replica."""
        row = self._one(COUNT_ORDERS, (env, venue, bot_tag, since))
        return int(row[0]) if row else 0

    # --- the JSONL audit's head (used only when a file audit is chained to this store) ---

    def audit_head(self) -> tuple[int, str] | None:
        """Return (seq, hash) of this replica's audit file chain's last record, or None before the first."""
        row = self._one("SELECT seq, hash FROM audit_head WHERE writer = %s", (self.replica_id,))
        return None if row is None else (int(row[0]), str(row[1]))

    def set_audit_head(self, seq: int, last_hash: str) -> None:
        """Record (seq, hash) of the audit record just appended by this replica."""
        self._run(
            "INSERT INTO audit_head (writer, seq, hash, updated_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
            "updated_at = excluded.updated_at",
            (self.replica_id, seq, last_hash, time.time()),
        )

    # --- approvals (issue 20) ---

    def create_approval(self, approval: Approval) -> None:
        """Insert a new approval."""
        self._run(
            INSERT_APPROVAL,
            (
                approval.approval_id,
                approval.env,
                approval.venue,
                approval.tool,
                approval.bot_tag,
                approval.request_hash,
                approval.notional_usd,
                json.dumps(approval.preview, separators=(",", ":")),
                approval.state,
                approval.created_at,
                approval.expires_at,
                approval.decided_by,
                approval.decided_at,
                approval.reason,
                approval.used_at,
            ),
        )

    def get_approval(self, approval_id: str) -> Approval | None:
        """Return the approval with this id, or None."""
        row = self._one(SELECT_APPROVAL + " WHERE approval_id = %s", (approval_id,))
        return None if row is None else _approval(tuple(row))

    def list_approvals(self, env: str | None, state: ApprovalState | None, now: float, limit: int) -> list[Approval]:
        """Return up to `limit` approvals, newest first, filtered by env and state as of `now`."""
        where: list[str] = []
        params: list[Any] = []
        if env is not None:
            where.append("env = %s")
            params.append(env)
        if state == "expired":
            where.append("state IN ('pending', 'approved') AND expires_at <= %s")
            params.append(now)
        elif state in ("pending", "approved"):
            where.append("state = %s AND expires_at > %s")
            params.extend([state, now])
        elif state is not None:
            where.append("state = %s")
            params.append(state)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self.pool.connection() as conn:
            rows = conn.execute(
                SELECT_APPROVAL + clause + " ORDER BY created_at DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [_approval(tuple(row)) for row in rows]

    def decide_approval(
        self, approval_id: str, approve: bool, actor: str, reason: str | None, now: float
    ) -> tuple[bool, Approval | None]:
        """Move a pending, unexpired approval to approved or rejected; one decision wins (on any replica)."""
        with self.pool.connection() as conn:
            changed = conn.execute(
                "UPDATE approvals SET state = %s, decided_by = %s, decided_at = %s, reason = %s "
                "WHERE approval_id = %s AND state = 'pending' AND expires_at > %s",
                ("approved" if approve else "rejected", actor, now, reason, approval_id, now),
            ).rowcount
            row = conn.execute(SELECT_APPROVAL + " WHERE approval_id = %s", (approval_id,))
            found = row.fetchone()
        return changed == 1, None if found is None else _approval(tuple(found))

    def consume_approval(self, approval_id: str, request_hash: str, now: float) -> tuple[bool, Approval | None]:
        """Spend an approved, unexpired approval with this request hash, once (on any replica)."""
        with self.pool.connection() as conn:
            changed = conn.execute(
                "UPDATE approvals SET state = 'used', used_at = %s "
                "WHERE approval_id = %s AND state = 'approved' AND expires_at > %s AND request_hash = %s",
                (now, approval_id, now, request_hash),
            ).rowcount
            row = conn.execute(SELECT_APPROVAL + " WHERE approval_id = %s", (approval_id,))
            found = row.fetchone()
        return changed == 1, None if found is None else _approval(tuple(found))

    def close(self) -> None:
        """Close the pool (when this store opened it)."""
        if self._owns_pool:
            self.pool.close()


class PostgresPacingBackend:
    """The venues' pacing windows in PostgreSQL, one budget per (scope, key) for every replica.

    A reservation is one call of the `cerbero_pacing_reserve` function (migration 3): under a per-key
    advisory transaction lock it drops the key's slots older than the window, computes the earliest
    allowed time exactly as `LocalWindows` does, and records the slot unless the wait is too long.
    Times are the caller's process clock (every replica's clock is the host's: keep hosts on NTP).
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    async def reserve(
        self,
        scope: str,
        keys: Sequence[str],
        table: Mapping[str, Limit],
        now: float,
        floor: Mapping[str, float],
        max_wait_s: float,
    ) -> tuple[float, bool]:
        """Reserve a slot on every key in the shared windows (a database round trip, in a worker thread)."""
        return await asyncio.to_thread(self.reserve_now, scope, keys, table, now, floor, max_wait_s)

    def reserve_now(
        self,
        scope: str,
        keys: Sequence[str],
        table: Mapping[str, Limit],
        now: float,
        floor: Mapping[str, float],
        max_wait_s: float,
    ) -> tuple[float, bool]:
        """Reserve synchronously (see `reserve`)."""
        ordered = sorted(set(keys))  # one lock order for every caller: no deadlock between two acquires
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT slot_at, reserved FROM cerbero_pacing_reserve(%s, %s, %s, %s, %s, %s, %s)",
                (
                    scope,
                    ordered,
                    [table[key].calls for key in ordered],
                    [float(table[key].per_s) for key in ordered],
                    [float(floor.get(key, 0.0)) for key in ordered],
                    now,
                    max(max_wait_s, DUST_S),
                ),
            ).fetchone()
        if row is None:  # pragma: no cover - the function always returns one row
            raise RuntimeError("cerbero_pacing_reserve returned nothing")
        return float(row[0]), bool(row[1])


def _select_record(conn: psycopg.Connection[TupleRow], key: tuple[str, str, str, str]) -> TupleRow | None:
    return conn.execute(
        "SELECT request_hash, state, status, response, created_at, expires_at FROM idempotency "
        "WHERE env = %s AND venue = %s AND tool = %s AND client_order_id = %s",
        key,
    ).fetchone()


def _record(row: TupleRow | None, now: float) -> IdempotencyRecord | None:
    if row is None or float(row[5]) < now:
        return None
    return IdempotencyRecord(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, float(row[4]))


def _why(exc: BaseException, dsn: str) -> str:
    """Return the error's text without the DSN's password, should a driver ever quote it."""
    text = str(exc).strip() or type(exc).__name__
    password = _password_of(dsn)
    if password:
        text = text.replace(password, "***")
    return text.replace(dsn, redact_dsn(dsn))


def _password_of(dsn: str) -> str | None:
    try:
        return psycopg.conninfo.conninfo_to_dict(dsn).get("password")  # type: ignore[return-value]
    except psycopg.Error:
        return None


def settings_dsn(settings: Settings) -> str | None:
    """Return the PostgreSQL URL of the shared state (STATE_DB=postgresql://… or STATE_DB_URL), or None."""
    return settings.state_db_url.get_secret_value() if settings.state_db_url is not None else None


def settings_replica_id(settings: Settings) -> str:
    """Return this replica's id: REPLICA_ID, else the host name."""
    return settings.replica_id.strip() or default_replica_id()
