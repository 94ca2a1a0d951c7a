"""The persisted state of the write-safety layer: kill switch, idempotency records, order events,
and the audit chain's head (kept apart from the audit log, so a cut or deleted log shows).

`StateStore` is the interface; `SqliteStateStore` the default (one file, `STATE_DB`). Every
operation that must be atomic across writers is one SQL statement (INSERT … ON CONFLICT DO
NOTHING, conditional UPDATE), so several processes sharing the file stay correct; several hosts
share a PostgreSQL database instead (`state_pg.PostgresStateStore`, STATE_DB=postgresql://…; issue 19),
and the same contract tests run on both (tests/unit/test_state_store.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from cerbero_mcp.common.private_files import create_private_file, make_private_dirs

IdemState = Literal["pending", "done", "unknown"]
# An approval (issue 20, REQUIRE_APPROVAL_ABOVE_USD): pending → approved | rejected; approved → used (once).
# "expired" is never stored: a pending or approved approval past `expires_at` reads as expired.
ApprovalState = Literal["pending", "approved", "rejected", "used", "expired"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS kill_switch (
    env TEXT PRIMARY KEY,
    engaged INTEGER NOT NULL,
    reason TEXT,
    actor TEXT,
    changed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    env TEXT NOT NULL,
    venue TEXT NOT NULL,
    tool TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    response TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (env, venue, tool, client_order_id)
);
CREATE TABLE IF NOT EXISTS order_events (
    env TEXT NOT NULL,
    venue TEXT NOT NULL,
    bot_tag TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS order_events_scope ON order_events (env, venue, bot_tag, at);
CREATE TABLE IF NOT EXISTS approvals (
    approval_id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    venue TEXT NOT NULL,
    tool TEXT NOT NULL,
    bot_tag TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    notional_usd TEXT NOT NULL,
    preview TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    reason TEXT,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS approvals_env_state ON approvals (env, state, created_at);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


class StoreNotWritableError(RuntimeError):
    """The store cannot be opened for writing; the message names the path and why."""


@dataclass(frozen=True)
class KillSwitchState:
    """Whether writes of one environment are blocked, by whom, since when and why."""

    env: str
    engaged: bool
    reason: str | None
    actor: str | None
    changed_at: float


@dataclass(frozen=True)
class IdempotencyRecord:
    """What is known about one client_order_id: its request hash, state and stored answer."""

    request_hash: str
    state: IdemState
    status: int | None
    response: dict[str, Any] | None
    created_at: float


@dataclass(frozen=True)
class Approval:
    """One held opening write waiting for (or given) an admin's decision (issue 20).

    `request_hash` is `write_pipeline.request_hash` of the request without its `approval_id`: the
    bot must re-send exactly that request. `preview` is what would be sent (JSON-native);
    `notional_usd` is the write's opening notional in USD as text (a Decimal). Times are epoch
    seconds of the process clock (`common/clock`), passed in by the caller so tests can pin them.
    """

    approval_id: str
    env: str
    venue: str
    tool: str
    bot_tag: str
    request_hash: str
    notional_usd: str
    preview: dict[str, Any]
    state: ApprovalState
    created_at: float
    expires_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str | None = None
    used_at: float | None = None

    def current_state(self, now: float) -> ApprovalState:
        """Return the state as of `now`: a pending or approved approval past its expiry is "expired"."""
        if self.state in ("pending", "approved") and now >= self.expires_at:
            return "expired"
        return self.state


class StateStore(Protocol):
    """What the write pipeline needs persisted."""

    def kill_switch(self, env: str) -> KillSwitchState | None:
        """Return the kill-switch state of `env`, if ever set."""

    def set_kill_switch(self, env: str, engaged: bool, reason: str | None, actor: str) -> KillSwitchState:
        """Engage or release the kill switch of `env`."""

    def reserve(
        self, key: tuple[str, str, str, str], request_hash: str, ttl_s: float
    ) -> tuple[bool, IdempotencyRecord]:
        """Claim `key` for this request (True) or return the record that holds it (False)."""

    def complete(self, key: tuple[str, str, str, str], state: IdemState, status: int, response: dict[str, Any]) -> None:
        """Store the final answer of a claimed key."""

    def release(self, key: tuple[str, str, str, str]) -> None:
        """Forget a claim whose request never reached the venue (so it may be sent again)."""

    def pending(self) -> list[tuple[str, str, str, str]]:
        """Return the idempotency keys still pending (left by a crash when read at start)."""

    def get(self, key: tuple[str, str, str, str]) -> IdempotencyRecord | None:
        """Return the live record of `key`, if any."""

    def reserve_orders(
        self, env: str, venue: str, bot_tag: str, count: int, limit: Decimal | None, window_s: float = 60.0
    ) -> int | None:
        """Count `count` orders of a bot unless that takes it above `limit` within `window_s`, atomically.

        Return None when counted, else how many it had sent in the window (and count nothing).
        """

    def orders_since(self, env: str, venue: str, bot_tag: str, since: float) -> int:
        """Return how many orders a bot sent since `since` (epoch seconds)."""

    def audit_head(self) -> tuple[int, str] | None:
        """Return (seq, hash) of the audit chain's last record, or None before the first."""

    def set_audit_head(self, seq: int, last_hash: str) -> None:
        """Record (seq, hash) of the audit record just appended."""

    # --- approvals (issue 20): every method is one atomic statement; `now` comes from the caller ---

    def create_approval(self, approval: Approval) -> None:
        """Insert a new approval (state "pending"); its `approval_id` is new (a random uuid4 hex)."""

    def get_approval(self, approval_id: str) -> Approval | None:
        """Return the approval with this id as stored (expiry is read with `Approval.current_state`), or None."""

    def list_approvals(self, env: str | None, state: ApprovalState | None, now: float, limit: int) -> list[Approval]:
        """Return up to `limit` approvals of `env` (None: both) in `state` at `now`, newest first (ties: by id).

        `state="expired"` selects pending/approved ones past `expires_at`; `state="pending"` or
        `"approved"` excludes them; None: every state.
        """

    def decide_approval(
        self, approval_id: str, approve: bool, actor: str, reason: str | None, now: float
    ) -> tuple[bool, Approval | None]:
        """Move a pending, unexpired approval to "approved" or "rejected" (atomically: one decision wins).

        Returns (True, the updated approval) when this call decided it; (False, the approval as it is)
        when it was not pending or had expired; (False, None) when the id is unknown.
        """

    def consume_approval(self, approval_id: str, request_hash: str, now: float) -> tuple[bool, Approval | None]:
        """Spend an approved, unexpired approval whose `request_hash` matches: "approved" → "used", once.

        Atomic (a conditional UPDATE): of two concurrent sends with the same id, one gets True.
        Returns (True, the used approval), or (False, the approval as it is, or None when unknown).
        """

    def close(self) -> None:
        """Release the store."""


class SqliteStateStore:
    """StateStore on one SQLite file (WAL mode; one connection guarded by a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        try:
            if str(path) != ":memory:":
                # Mode 700 / 600 whatever the umask; SQLite gives the -wal and -shm files the DB file's mode.
                make_private_dirs(Path(path).parent)
                create_private_file(Path(path))
            # check_same_thread=False: calls come from the event loop and from worker threads, serialised by _lock.
            self._db = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreNotWritableError(f"cannot open {path}: {_why(exc)}") from exc
        self._lock = threading.Lock()
        try:
            with self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(SCHEMA)
                # A read-only file opens and reads fine: write once (rolled back) to know now, not at the first order.
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(f"PRAGMA user_version = {version}")
                finally:
                    self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreNotWritableError(f"cannot write {path}: {_why(exc)}") from exc

    def kill_switch(self, env: str) -> KillSwitchState | None:
        """Return the kill-switch state of `env`, if ever set."""
        with self._lock:
            row = self._db.execute(
                "SELECT env, engaged, reason, actor, changed_at FROM kill_switch WHERE env = ?", (env,)
            ).fetchone()
        if row is None:
            return None
        return KillSwitchState(row[0], bool(row[1]), row[2], row[3], row[4])

    def set_kill_switch(self, env: str, engaged: bool, reason: str | None, actor: str) -> KillSwitchState:
        """Engage or release the kill switch of `env`."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO kill_switch (env, engaged, reason, actor, changed_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(env) DO UPDATE SET engaged=excluded.engaged, reason=excluded.reason, "
                "actor=excluded.actor, changed_at=excluded.changed_at",
                (env, int(engaged), reason, actor, now),
            )
        return KillSwitchState(env, engaged, reason, actor, now)

    def reserve(
        self, key: tuple[str, str, str, str], request_hash: str, ttl_s: float
    ) -> tuple[bool, IdempotencyRecord]:
        """Claim `key` for this request (True) or return the record that holds it (False)."""
        now = time.time()
        with self._write_transaction():
            self._db.execute(
                "DELETE FROM idempotency WHERE env=? AND venue=? AND tool=? AND client_order_id=? AND expires_at < ?",
                (*key, now),
            )
            inserted = self._db.execute(
                "INSERT INTO idempotency (env, venue, tool, client_order_id, request_hash, state, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
                (*key, request_hash, now, now + ttl_s),
            ).rowcount
            record = self._get_locked(key)
        if record is None:  # pragma: no cover - the row was just written under the same lock
            raise RuntimeError("idempotency record vanished")
        return inserted == 1, record

    def complete(self, key: tuple[str, str, str, str], state: IdemState, status: int, response: dict[str, Any]) -> None:
        """Store the final answer of a claimed key."""
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET state=?, status=?, response=? "
                "WHERE env=? AND venue=? AND tool=? AND client_order_id=?",
                (state, status, json.dumps(response, separators=(",", ":")), *key),
            )

    def release(self, key: tuple[str, str, str, str]) -> None:
        """Forget a claim whose request never reached the venue."""
        with self._lock:
            self._db.execute(
                "DELETE FROM idempotency WHERE env=? AND venue=? AND tool=? AND client_order_id=? AND state='pending'",
                key,
            )

    def pending(self) -> list[tuple[str, str, str, str]]:
        """Return the idempotency keys still pending (left by a crash when read at start)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT env, venue, tool, client_order_id FROM idempotency WHERE state='pending'"
            ).fetchall()
        return [(str(env), str(venue), str(tool), str(coid)) for env, venue, tool, coid in rows]

    def get(self, key: tuple[str, str, str, str]) -> IdempotencyRecord | None:
        """Return the live record of `key`, if any."""
        with self._lock:
            return self._get_locked(key)

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        # This process's threads wait on the lock; BEGIN IMMEDIATE takes SQLite's write lock, so another
        # connection to the file (another process) waits too. Committed on exit, rolled back on any error.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _get_locked(self, key: tuple[str, str, str, str]) -> IdempotencyRecord | None:
        row = self._db.execute(
            "SELECT request_hash, state, status, response, created_at, expires_at FROM idempotency "
            "WHERE env=? AND venue=? AND tool=? AND client_order_id=?",
            key,
        ).fetchone()
        if row is None or row[5] < time.time():
            return None
        return IdempotencyRecord(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, row[4])

    def reserve_orders(
        self, env: str, venue: str, bot_tag: str, count: int, limit: Decimal | None, window_s: float = 60.0
    ) -> int | None:
        """Count `count` orders of a bot unless that breaks `limit` (events older than an hour are pruned)."""
        # Count and insert in one write transaction: concurrent writes of a bot must not all pass a count taken
        # before any of them was recorded (the gates between the check and the send await the venue).
        now = time.time()
        with self._write_transaction():
            sent = self._orders_since(env, venue, bot_tag, now - window_s)
            if limit is not None and sent + count > limit:
                return sent
            self._db.executemany("INSERT INTO order_events VALUES (?, ?, ?, ?)", [(env, venue, bot_tag, now)] * count)
            self._db.execute("DELETE FROM order_events WHERE at < ?", (now - 3600,))
        return None

    def orders_since(self, env: str, venue: str, bot_tag: str, since: float) -> int:
        """Return how many orders a bot sent since `since`."""
        with self._lock:
            return self._orders_since(env, venue, bot_tag, since)

    def _orders_since(self, env: str, venue: str, bot_tag: str, since: float) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM order_events WHERE env=? AND venue=? AND bot_tag=? AND at >= ?",
            (env, venue, bot_tag, since),
        ).fetchone()
        return int(row[0])

    def audit_head(self) -> tuple[int, str] | None:
        """Return (seq, hash) of the audit chain's last record, or None before the first."""
        with self._lock:
            row = self._db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def set_audit_head(self, seq: int, last_hash: str) -> None:
        """Record (seq, hash) of the audit record just appended (it may go back: a cut log continues from its end)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO audit_head (id, seq, hash, updated_at) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash, updated_at=excluded.updated_at",
                (seq, last_hash, time.time()),
            )

    # --- approvals (issue 20) ---

    def create_approval(self, approval: Approval) -> None:
        """Insert a new approval."""
        with self._lock:
            self._db.execute(
                "INSERT INTO approvals (approval_id, env, venue, tool, bot_tag, request_hash, notional_usd, preview, "
                "state, created_at, expires_at, decided_by, decided_at, reason, used_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        with self._lock:
            return self._approval_locked(approval_id)

    def _approval_locked(self, approval_id: str) -> Approval | None:
        # The column list is a constant of this module; values are always bound parameters.
        query = f"SELECT {APPROVAL_COLUMNS} FROM approvals WHERE approval_id = ?"  # noqa: S608
        row = self._db.execute(query, (approval_id,))
        found = row.fetchone()
        return None if found is None else _approval(found)

    def list_approvals(self, env: str | None, state: ApprovalState | None, now: float, limit: int) -> list[Approval]:
        """Return up to `limit` approvals, newest first, filtered by env and state as of `now`."""
        where: list[str] = []
        params: list[Any] = []
        if env is not None:
            where.append("env = ?")
            params.append(env)
        if state == "expired":
            where.append("state IN ('pending', 'approved') AND expires_at <= ?")
            params.append(now)
        elif state in ("pending", "approved"):
            where.append("state = ? AND expires_at > ?")
            params.extend([state, now])
        elif state is not None:
            where.append("state = ?")
            params.append(state)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                # Constant columns and conditions built from fixed text above; every value is a bound parameter.
                f"SELECT {APPROVAL_COLUMNS} FROM approvals{clause} ORDER BY created_at DESC, approval_id LIMIT ?",  # noqa: S608
                (*params, limit),
            ).fetchall()
        return [_approval(row) for row in rows]

    def decide_approval(
        self, approval_id: str, approve: bool, actor: str, reason: str | None, now: float
    ) -> tuple[bool, Approval | None]:
        """Move a pending, unexpired approval to approved or rejected; one decision wins."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, reason = ? "
                "WHERE approval_id = ? AND state = 'pending' AND expires_at > ?",
                ("approved" if approve else "rejected", actor, now, reason, approval_id, now),
            ).rowcount
            return changed == 1, self._approval_locked(approval_id)

    def consume_approval(self, approval_id: str, request_hash: str, now: float) -> tuple[bool, Approval | None]:
        """Spend an approved, unexpired approval with this request hash, once."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE approvals SET state = 'used', used_at = ? "
                "WHERE approval_id = ? AND state = 'approved' AND expires_at > ? AND request_hash = ?",
                (now, approval_id, now, request_hash),
            ).rowcount
            return changed == 1, self._approval_locked(approval_id)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


APPROVAL_COLUMNS = (
    "approval_id, env, venue, tool, bot_tag, request_hash, notional_usd, preview, state, created_at, expires_at, "
    "decided_by, decided_at, reason, used_at"
)


def _approval(row: tuple[Any, ...]) -> Approval:
    """Return an Approval from a row of APPROVAL_COLUMNS."""
    return Approval(
        approval_id=str(row[0]),
        env=str(row[1]),
        venue=str(row[2]),
        tool=str(row[3]),
        bot_tag=str(row[4]),
        request_hash=str(row[5]),
        notional_usd=str(row[6]),
        preview=json.loads(row[7]),
        state=row[8],
        created_at=float(row[9]),
        expires_at=float(row[10]),
        decided_by=row[11],
        decided_at=row[12],
        reason=row[13],
        used_at=row[14],
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
