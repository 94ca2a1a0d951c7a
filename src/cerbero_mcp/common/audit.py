"""Tamper-evident audit log: one HMAC-chained JSON line per write-tool call and admin action.

The record format and its hash are in `audit_records`, the files on disk in `audit_files`, the
HMAC key file in `audit_keys`, and what `verify` checks and reports in `audit_verify`.

- `ts` and `seq` are stamped here under the writer lock, so file order is append order.
- The line is written with one `write` on an `O_APPEND` descriptor (then `fsync` unless disabled)
  under a `threading.Lock`, before `append` returns. One process writes a given file.
- The chain's head (seq and hash of the last record) is also kept apart from the log, in the
  injected `AuditHeadStore` (the state DB), written after each record is on disk.

Rotation: the live file is `path`; when a record's UTC date is later than the date of the live
file's records, the live file is renamed to `<name>.<YYYY-MM-DD>` (that date) and a new one is
started. The chain runs on across files. Backups dated before `today - backup_days` are deleted
at start-up and at each rotation.

Opening the log (at start, and whenever the live file was closed, moved or deleted) reconciles it:
- a torn last line (a crash mid-write: no final newline) is moved to `<name>.torn` (one JSON line
  per recovery, the bytes in base64) and cut from the live file; the chain continues from the last
  whole record, and an `audit.torn_write_recovered` record (actor `system`) says where it was;
- the chain on disk is compared with the head (the store's at start, this process's later): a log
  that ends before the head, a missing live file, or a chain that is not the head's is written into
  the chain as an `audit.gap` record (actor `system`), so the evidence outlives the next append.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BufferedReader
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from cerbero_mcp.common.audit_files import (
    fsync_dir,
    hash_at,
    iter_lines,
    last_record,
    mtime_date,
    recover_torn_tail,
    reverse_records,
    write_all,
)
from cerbero_mcp.common.audit_records import (
    GAP_ACTION,
    GENESIS_HASH,
    TORN_ACTION,
    as_utc,
    compute_hash,
    format_ts,
    normalize,
    parse_object,
    parse_ts,
    record_date,
    seq_of,
    system_record,
    utcnow,
)
from cerbero_mcp.common.audit_verify import Finding, VerifyResult, compare_with_head, torn_finding, verify_chain
from cerbero_mcp.common.private_files import make_private_dirs, open_private

logger = logging.getLogger("mcp.audit")


class AuditHeadStore(Protocol):
    """Where the chain's head (last seq and hash) is kept apart from the log."""

    def audit_head(self) -> tuple[int, str] | None:
        """Return (seq, hash) of the last record appended, or None before the first."""

    def set_audit_head(self, seq: int, last_hash: str) -> None:
        """Record (seq, hash) of the record just appended."""


@dataclass(frozen=True)
class AuditQuery:
    """Filters for `AuditLog.query`: `from_ts`/`to_ts` inclusive, the rest exact matches."""

    from_ts: datetime | None = None
    to_ts: datetime | None = None
    actor: str | None = None
    exchange: str | None = None
    action: str | None = None
    bot_tag: str | None = None
    limit: int = 1000

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError("limit must be >= 0")

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Return whether a stored record passes every filter."""
        for name in ("actor", "exchange", "action", "bot_tag"):
            wanted = getattr(self, name)
            if wanted is not None and record.get(name) != wanted:
                return False
        if self.from_ts is None and self.to_ts is None:
            return True
        ts = parse_ts(record.get("ts"))
        if ts is None:
            return False
        if self.from_ts is not None and ts < as_utc(self.from_ts):
            return False
        return self.to_ts is None or ts <= as_utc(self.to_ts)


class AuditLog:
    """Append-only, HMAC-chained, daily-rotated JSONL audit log; a no-op when `path` is None."""

    def __init__(
        self,
        path: Path | None,
        hmac_key: bytes | None,
        backup_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
        *,
        fsync: bool = True,
        head_store: AuditHeadStore | None = None,
    ) -> None:
        if path is not None and not hmac_key:
            raise ValueError("AUDIT_HMAC_KEY must be set when AUDIT_LOG_FILE is set")
        if backup_days < 0:
            raise ValueError("AUDIT_LOG_BACKUP_DAYS must be >= 0")
        self._path = Path(path) if path is not None else None
        self._key = hmac_key or b""
        self._backup_days = backup_days
        self._clock = clock
        self._fsync = fsync
        self._head_store = head_store
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._fd_id: tuple[int, int] | None = None
        self._end = 0  # the live file's size after our last write: anything else was done behind our back
        self._seq = 0
        self._last_hash = GENESIS_HASH
        self._live_date: date | None = None
        self._opened = False
        self.opening_findings: list[Finding] = []
        if self._path is None:
            return
        name = re.escape(self._path.name)
        self._backup_re = re.compile(rf"^{name}\.(\d{{4}}-\d{{2}}-\d{{2}})(?:\.(\d+))?$")
        make_private_dirs(self._path.parent)
        self._prune(as_utc(clock()).date())
        with self._lock:
            self.opening_findings = self._reopen()

    @property
    def enabled(self) -> bool:
        """Return whether a log file is configured."""
        return self._path is not None

    @property
    def path(self) -> Path | None:
        """Return the live file's path, if any."""
        return self._path

    @property
    def head(self) -> tuple[int, str]:
        """Return (seq, hash) of the last record in the chain ((0, genesis) before the first)."""
        with self._lock:
            return self._seq, self._last_hash

    # -- writing ---------------------------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Redact, stamp, chain and durably append one record; return it as stored."""
        stored = normalize(record)
        with self._lock:
            now = as_utc(self._clock())
            stored["ts"] = format_ts(now)
            if self._path is None:
                del stored["seq"]
                return stored
            self._writable_fd(now.date())
            return self._write(stored)

    async def aappend(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append from async code; the record is on disk when this returns."""
        # Measured on ext4/virtio: ~40 µs per append without fsync, ~0.3 ms with it (slower disks:
        # several ms). A thread hop costs ~0.1 ms, so the no-fsync append runs inline, while the
        # fsync one goes to a thread: the event loop must not sit waiting for the disk.
        if self._fsync and self.enabled:
            return await asyncio.to_thread(self.append, record)
        return self.append(record)

    def close(self) -> None:
        """Close the live file; a later `append` reopens it."""
        with self._lock:
            self._close_fd()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, stored: dict[str, Any]) -> dict[str, Any]:
        """Chain `stored` (ts already set) and write it to the open live file; the lock is held."""
        assert self._fd is not None
        stored["seq"] = self._seq + 1
        stored["prev_hash"] = self._last_hash
        stored["hash"] = compute_hash(self._key, stored)
        line = json.dumps(stored, separators=(",", ":")) + "\n"  # ASCII: immune to encodings
        data = line.encode("ascii")
        try:
            write_all(self._fd, data)
        except OSError:
            # The line may be half-written: the reopen next time moves the fragment aside.
            self._close_fd()
            raise
        self._end += len(data)
        self._seq, self._last_hash = stored["seq"], stored["hash"]
        if self._live_date is None:
            self._live_date = record_date(stored)
        if self._fsync:
            os.fsync(self._fd)
        if self._head_store is not None:
            self._head_store.set_audit_head(self._seq, self._last_hash)
        return stored

    # -- reading ---------------------------------------------------------------------------------

    def query(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Return the most recent `q.limit` matching records, oldest first (append order).

        Unparseable lines are skipped here; `verify` reports them.
        """
        if self._path is None or q.limit == 0:
            return []
        found: deque[dict[str, Any]] = deque(maxlen=q.limit)
        snapshot = self._snapshot()
        with contextlib.ExitStack() as stack:
            for _, handle, _ in snapshot.files:
                stack.enter_context(handle)
            for _name, handle, size in snapshot.files:
                for _lineno, raw in iter_lines(handle, size):
                    record = parse_object(raw)
                    if record is not None and q.matches(record):
                        found.append(record)
        return list(found)

    def verify(self) -> VerifyResult:
        """Walk every retained file oldest to newest, compare the end with the chain head, report findings."""
        if self._path is None:
            off = Finding("audit_disabled", "error", "audit is off (AUDIT_LOG_FILE=off): nothing is being audited")
            return VerifyResult(ok=False, records_checked=0, enabled=False, findings=[off])
        snapshot = self._snapshot()
        with contextlib.ExitStack() as stack:
            for _, handle, _ in snapshot.files:
                stack.enter_context(handle)
            return verify_chain(
                self._key,
                snapshot.files,
                snapshot.head,
                live_name=self._path.name,
                live_exists=snapshot.live_exists,
            )

    async def aquery(self, q: AuditQuery) -> list[dict[str, Any]]:
        """Run `query` in a worker thread (it reads every retained file)."""
        return await asyncio.to_thread(self.query, q)

    async def averify(self) -> VerifyResult:
        """Run `verify` in a worker thread (it reads and hashes every retained record)."""
        return await asyncio.to_thread(self.verify)

    def _snapshot(self) -> _Snapshot:
        """Open every retained file and note its size and the chain head, under the writer lock.

        Readers then work without the lock: sizes end on a line boundary (writes happen under
        the lock), and open handles survive a concurrent rotation or pruning.
        """
        assert self._path is not None
        files: list[tuple[str, BufferedReader, int]] = []
        live_exists = False
        with self._lock:
            try:
                for candidate in [*(p for p, _ in self._backups()), self._path]:
                    try:
                        handle = candidate.open("rb")
                    except FileNotFoundError:
                        continue
                    live_exists = live_exists or candidate == self._path
                    files.append((candidate.name, handle, os.fstat(handle.fileno()).st_size))
            except BaseException:
                for _, opened, _ in files:
                    opened.close()
                raise
            head = None if (self._seq, self._last_hash) == (0, GENESIS_HASH) else (self._seq, self._last_hash)
            return _Snapshot(files, head, live_exists)

    # -- opening and reconciling -----------------------------------------------------------------

    def _reopen(self) -> list[Finding]:
        """Recover a torn tail, find where the chain on disk ends, check it against the head, open.

        The lock is held. What was found is written into the chain (see the module docstring) and
        returned.
        """
        assert self._path is not None
        now = as_utc(self._clock())
        expected = self._expected_head()
        torn = recover_torn_tail(self._path, self._key, now, fsync=self._fsync)
        live_exists = self._path.exists()
        candidates = ([self._path] if live_exists else []) + [p for p, _ in reversed(self._backups())]
        last = next((r for c in candidates for r in reverse_records(c)), None)
        last_seq = seq_of(last) if last is not None else None
        at_head = None
        if expected is not None and last_seq is not None and last_seq > expected[0]:
            at_head = hash_at(candidates, expected[0])
        head_finding = compare_with_head(
            expected,
            None if last is None else (last_seq, last["hash"]),
            at_head,
            live_exists=live_exists,
            live_name=self._path.name,
        )
        if last is not None:
            self._seq, self._last_hash = last_seq or 0, last["hash"]
        elif expected is not None:  # nothing left on disk: continue from the head, so the new file links to it
            self._seq, self._last_hash = expected
        live_last = last_record(self._path) if live_exists else None
        if live_last is not None:
            self._live_date = record_date(live_last) or mtime_date(self._path)
        elif live_exists and self._path.stat().st_size > 0:
            self._live_date = mtime_date(self._path)  # only unparseable lines: date it by mtime
        else:
            self._live_date = None
        self._open()
        self._opened = True
        findings: list[Finding] = []
        wrote = False
        if torn is not None:
            logger.warning("audit log %s: torn last line recovered: %s", self._path, torn)
            self._write(system_record(now, TORN_ACTION, self._path.name, torn, "ok", None))
            findings.append(torn_finding(torn, self._path.name, None))
            wrote = True
        if head_finding is not None:
            findings.append(head_finding)
            if head_finding.severity == "error":
                logger.error("audit log %s: %s", self._path, head_finding.message)
                params = {"code": head_finding.code, "message": head_finding.message, **head_finding.details}
                error_code = f"AUDIT_{head_finding.code.upper()}"
                self._write(system_record(now, GAP_ACTION, self._path.name, params, "error", error_code))
                wrote = True
            else:
                logger.warning("audit log %s: %s", self._path, head_finding.message)
        if not wrote and self._head_store is not None and last is not None and expected != (self._seq, self._last_hash):
            self._head_store.set_audit_head(self._seq, self._last_hash)
        return findings

    def _expected_head(self) -> tuple[int, str] | None:
        """Return the head the disk must reach: this process's once open, else the store's."""
        if self._opened:
            return None if (self._seq, self._last_hash) == (0, GENESIS_HASH) else (self._seq, self._last_hash)
        return self._head_store.audit_head() if self._head_store is not None else None

    # -- files -----------------------------------------------------------------------------------

    def _backups(self) -> list[tuple[Path, date]]:
        """Return the rotated files next to the live one, oldest first."""
        assert self._path is not None
        found: list[tuple[date, int, Path]] = []
        for entry in self._path.parent.iterdir():
            match = self._backup_re.match(entry.name)
            if match is None:
                continue
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                continue
            found.append((day, int(match.group(2) or 0), entry))
        found.sort()
        return [(p, day) for day, _, p in found]

    def _open(self) -> int:
        """Open (or create) the live file for appending."""
        assert self._path is not None
        fd, created = open_private(self._path, os.O_WRONLY | os.O_APPEND)
        info = os.fstat(fd)
        if created and self._fsync:
            fsync_dir(self._path.parent)
        self._fd, self._fd_id, self._end = fd, (info.st_dev, info.st_ino), info.st_size
        return fd

    def _writable_fd(self, today: date) -> int:
        """Return the live file's descriptor, rotating or reopening (and reconciling) it first when needed."""
        assert self._path is not None
        if self._fd is None or self._changed():
            # Closed, or moved, deleted, cut or written to behind our back: reconcile the disk with our head.
            self._close_fd()
            self._reopen()
        if self._live_date is not None and today > self._live_date:
            self._rotate(self._live_date)
            self._prune(today)
        if self._fd is None:
            self._open()
        assert self._fd is not None
        return self._fd

    def _changed(self) -> bool:
        """Return whether `path` no longer names the file we write to, or its size is not what we wrote."""
        assert self._path is not None
        try:
            info = os.stat(self._path)
        except FileNotFoundError:
            return True
        return (info.st_dev, info.st_ino) != self._fd_id or info.st_size != self._end

    def _rotate(self, live_date: date) -> None:
        """Rename the live file to its dated backup name."""
        assert self._path is not None
        self._close_fd()
        self._live_date = None
        target = self._path.with_name(f"{self._path.name}.{live_date.isoformat()}")
        suffix = 0
        while target.exists():  # only after clock trouble or manual edits
            suffix += 1
            target = self._path.with_name(f"{self._path.name}.{live_date.isoformat()}.{suffix}")
        try:
            self._path.rename(target)
        except OSError as exc:
            logger.warning("audit rotation failed, appending to %s: %s", self._path, exc)
            return
        if self._fsync:
            fsync_dir(self._path.parent)

    def _prune(self, today: date) -> None:
        """Delete backups dated before `today - backup_days`."""
        cutoff = today - timedelta(days=self._backup_days)
        for backup, day in self._backups():
            if day < cutoff:
                try:
                    backup.unlink()
                except OSError as exc:
                    logger.warning("cannot delete old audit backup %s: %s", backup, exc)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._fd_id = None, None


@dataclass
class _Snapshot:
    files: list[tuple[str, BufferedReader, int]]
    head: tuple[int, str] | None
    live_exists: bool
