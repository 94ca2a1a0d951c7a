"""The audit in PostgreSQL (issue 19): one table for every replica, one HMAC chain per writer.

Each replica appends to its own chain (its REPLICA_ID is the `writer`, also a field of every record, so
the hash covers it): the record is built, stamped and hashed exactly as the JSONL log does it
(`audit_records`), and stored as its JSON line with a few columns to filter on. An append is one
transaction that locks the writer's head row (`audit_chains`, SELECT … FOR UPDATE), inserts the record and
moves the head: two processes that share a REPLICA_ID still build one unbroken chain.

`query` reads every replica's records, ordered by time; `verify` walks each writer's chain in insertion
order with the JSONL verifier (`audit_verify.verify_chain`, fed the stored lines) and compares its end with
the writer's head row, so an edited row is a `hash_mismatch`, a deleted one a `chain_break` (or `truncated`
at the end). The result has the JSONL shape, summed, plus `chains`: the result per writer.

Every replica must use the same AUDIT_HMAC_KEY: verify checks every chain with it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from io import BufferedReader
from typing import Any, Final, cast

from psycopg import sql
from psycopg_pool import ConnectionPool

from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.common.audit_records import (
    GAP_ACTION,
    GENESIS_HASH,
    as_utc,
    compute_hash,
    format_ts,
    normalize,
    parse_object,
    system_record,
    utcnow,
)
from cerbero_mcp.common.audit_verify import MAX_FINDINGS, Finding, VerifyResult, compare_with_head, verify_chain

logger = logging.getLogger("mcp.audit")
WRITER_FIELD: Final = "writer"
# Rows fetched per round trip while a chain is verified.
VERIFY_BATCH: Final = 5000


@dataclass(frozen=True)
class FleetVerifyResult(VerifyResult):
    """`VerifyResult` over every writer's chain, with each chain's own result in `chains`."""

    chains: dict[str, VerifyResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-ready data."""
        return asdict(self)


class PgAuditLog:
    """The audit of a fleet of replicas in PostgreSQL; this instance appends to the chain of `writer`."""

    def __init__(
        self,
        pool: ConnectionPool,
        hmac_key: bytes,
        writer: str,
        *,
        backup_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not hmac_key:
            raise ValueError("AUDIT_HMAC_KEY must be set for the PostgreSQL audit")
        self._pool = pool
        self._key = hmac_key
        self.writer = writer
        self._backup_days = backup_days
        self._clock = clock
        self._pruned_on = date.min
        self.opening_findings: list[Finding] = self._open()

    @property
    def enabled(self) -> bool:
        """Return True: records are kept."""
        return True

    @property
    def head(self) -> tuple[int, str]:
        """Return (seq, hash) of this writer's last record ((0, genesis) before the first)."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT seq, hash FROM audit_chains WHERE writer = %s", (self.writer,)).fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    # -- writing ---------------------------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Redact, stamp, chain and store one record in this writer's chain; return it as stored."""
        return self._append(normalize({**record, WRITER_FIELD: self.writer}))

    async def aappend(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append from async code (in a worker thread: a database round trip); stored when this returns."""
        return await asyncio.to_thread(self.append, record)

    def _prune(self, today: date) -> None:
        """Delete this writer's records dated before `today - backup_days` (as the JSONL log deletes backups).

        Only this writer's own and never its last record: what is left still verifies (the first
        prev_hash is the anchor) and still reaches the head.
        """
        cutoff = datetime.combine(today - timedelta(days=self._backup_days), datetime.min.time(), UTC)
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM audit_records WHERE writer = %s AND ts < %s "
                "AND seq < (SELECT coalesce(max(seq), 0) FROM audit_records WHERE writer = %s)",
                (self.writer, cutoff, self.writer),
            )
        self._pruned_on = today

    def _append(self, stored: dict[str, Any]) -> dict[str, Any]:
        today = as_utc(self._clock()).date()
        if today > self._pruned_on:  # a new UTC day: retention moves on, as the JSONL log's rotation does
            self._prune(today)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO audit_chains (writer, seq, hash, updated_at) VALUES (%s, 0, %s, now()) "
                "ON CONFLICT (writer) DO NOTHING",
                (self.writer, GENESIS_HASH),
            )
            # The head row's lock orders this writer's appends, whichever process makes them.
            row = conn.execute(
                "SELECT seq, hash FROM audit_chains WHERE writer = %s FOR UPDATE", (self.writer,)
            ).fetchone()
            assert row is not None  # inserted above or already there
            now = as_utc(self._clock())
            stored["ts"] = format_ts(now)
            stored["seq"] = int(row[0]) + 1
            stored["prev_hash"] = str(row[1])
            stored["hash"] = compute_hash(self._key, stored)
            conn.execute(
                "INSERT INTO audit_records (writer, seq, ts, actor, exchange, action, bot_tag, record) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    self.writer,
                    stored["seq"],
                    now.replace(microsecond=now.microsecond // 1000 * 1000),  # the ts as written (milliseconds)
                    _text(stored.get("actor")),
                    _text(stored.get("exchange")),
                    _text(stored.get("action")),
                    _text(stored.get("bot_tag")),
                    json.dumps(stored, separators=(",", ":")),
                ),
            )
            conn.execute(
                "UPDATE audit_chains SET seq = %s, hash = %s, updated_at = now() WHERE writer = %s",
                (stored["seq"], stored["hash"], self.writer),
            )
        return stored

    def close(self) -> None:
        """Nothing to close: the pool belongs to the state store."""

    # -- reading ---------------------------------------------------------------------------------

    def query(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Return the most recent `q.limit` matching records of every replica, oldest first (by time)."""
        if q.limit == 0:
            return []
        where: list[sql.Composable] = []
        params: list[Any] = []
        for name in ("actor", "exchange", "action", "bot_tag"):
            wanted = getattr(q, name)
            if wanted is not None:
                where.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
                params.append(wanted)
        if q.from_ts is not None:
            where.append(sql.SQL("ts >= %s"))
            params.append(as_utc(q.from_ts))
        if q.to_ts is not None:
            where.append(sql.SQL("ts <= %s"))
            params.append(as_utc(q.to_ts))
        clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
        statement = sql.SQL("SELECT record FROM audit_records{} ORDER BY ts DESC, id DESC LIMIT %s").format(clause)
        with self._pool.connection() as conn:
            rows = conn.execute(statement, (*params, q.limit)).fetchall()
        found = [parse_object(str(row[0]).encode()) for row in reversed(rows)]
        return [record for record in found if record is not None]  # unparseable rows: verify reports them

    async def aquery(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Run `query` in a worker thread."""
        return await asyncio.to_thread(self.query, q)

    def verify(self) -> FleetVerifyResult:
        """Walk every writer's chain, compare each end with its head, report per writer and in total."""
        with self._pool.connection() as conn:
            heads = {
                str(writer): (int(seq), str(last))
                for writer, seq, last in conn.execute("SELECT writer, seq, hash FROM audit_chains")
            }
            writers = sorted(
                {*heads, *(str(row[0]) for row in conn.execute("SELECT DISTINCT writer FROM audit_records"))}
            )
        chains = {writer: self._verify_chain(writer, heads.get(writer)) for writer in writers}
        findings = [finding for result in chains.values() for finding in result.findings]
        omitted = sum(result.findings_omitted for result in chains.values())
        broken = next((r.first_broken for r in chains.values() if r.first_broken is not None), None)
        own = heads.get(self.writer)
        return FleetVerifyResult(
            ok=all(result.ok for result in chains.values()),
            records_checked=sum(result.records_checked for result in chains.values()),
            files_checked=[name for result in chains.values() for name in result.files_checked],
            first_broken=broken,
            findings=findings[:MAX_FINDINGS],
            findings_omitted=omitted + max(0, len(findings) - MAX_FINDINGS),
            head=None if own is None or own[0] == 0 else {"seq": own[0], "hash": own[1], "writer": self.writer},
            chains=chains,
        )

    async def averify(self) -> FleetVerifyResult:
        """Run `verify` in a worker thread (it reads and hashes every record)."""
        return await asyncio.to_thread(self.verify)

    def _verify_chain(self, writer: str, head: tuple[int, str] | None) -> VerifyResult:
        """Verify one writer's chain with the JSONL verifier, fed its stored lines in insertion order."""
        buffer = io.BytesIO()
        with (
            self._pool.connection() as conn,
            conn.transaction(),  # a server-side cursor lives in a transaction
            conn.cursor(name="audit_verify") as cursor,
        ):
            cursor.itersize = VERIFY_BATCH
            cursor.execute("SELECT record FROM audit_records WHERE writer = %s ORDER BY id", (writer,))
            for (line,) in cursor:
                buffer.write(str(line).encode("utf-8", "surrogatepass") + b"\n")
        size = buffer.tell()
        buffer.seek(0)
        name = chain_name(writer)
        with buffer:
            handle = cast(BufferedReader, buffer)  # verify_chain reads lines only: a BytesIO does
            # A head at seq 0 is a chain created and never written to: nothing to compare.
            return verify_chain(
                self._key,
                [(name, handle, size)],
                None if head is None or head[0] == 0 else head,
                live_name=name,
                live_exists=True,
            )

    # -- opening ---------------------------------------------------------------------------------

    def _open(self) -> list[Finding]:
        """Prune this writer's records past retention; check its chain's end against its head."""
        self._prune(as_utc(self._clock()).date())
        with self._pool.connection() as conn:
            head = conn.execute("SELECT seq, hash FROM audit_chains WHERE writer = %s", (self.writer,)).fetchone()
            last = conn.execute(
                "SELECT record FROM audit_records WHERE writer = %s ORDER BY id DESC LIMIT 1", (self.writer,)
            ).fetchone()
        if head is None or int(head[0]) == 0:
            return []
        record = parse_object(str(last[0]).encode()) if last is not None else None
        found = compare_with_head(
            (int(head[0]), str(head[1])),
            None
            if record is None
            else (record.get("seq") if isinstance(record.get("seq"), int) else None, str(record.get("hash"))),
            None,
            live_exists=True,
            live_name=chain_name(self.writer),
        )
        if found is None or found.severity != "error":
            return [] if found is None else [found]
        logger.error("audit chain %s: %s", self.writer, found.message)
        params = {"code": found.code, "message": found.message, **found.details}
        gap = system_record(
            as_utc(self._clock()), GAP_ACTION, chain_name(self.writer), params, "error", f"AUDIT_{found.code.upper()}"
        )
        # The evidence goes into the chain itself, as the JSONL log does: it outlives the next append.
        self._append({**gap, WRITER_FIELD: self.writer})
        return [found]


def chain_name(writer: str) -> str:
    """Return how findings name a writer's chain (where a JSONL finding names its file)."""
    return f"audit_records[writer={writer}]"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
