"""Verifying the audit log: the chain walk, what it finds, and the head comparison.

What `verify` reports, one finding per problem, each with a `code`:
- `hash_mismatch` (record edited, or another key), `chain_break` (a record deleted, inserted or
  moved), `chain_restarted` (a new chain started after earlier records, or the log is not the
  chain the head names), `seq_mismatch`, `malformed_line` (a non-JSON or unterminated line);
- against the head: `truncated` (the log ends before it), `live_file_missing` (no live file but a
  head), `chain_restarted`; and every `audit.gap` record found, with its code;
- warnings, which leave `ok` true: `torn_write_recovered` (with its byte offset) and `head_behind`
  (the log goes past the head: its last update was lost).
- The oldest retained file's first `prev_hash` names a record in a file retention has deleted,
  so it is accepted as the anchor unchecked: removing whole oldest backups, or the first lines of
  the oldest file, looks exactly like retention. Every later link must match.
- Changing `AUDIT_HMAC_KEY` makes every older record fail verification.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from io import BufferedReader
from typing import Any, Final, Literal

from cerbero_mcp.common.audit_files import iter_lines
from cerbero_mcp.common.audit_records import (
    GAP_ACTION,
    GENESIS_HASH,
    SYSTEM_ACTOR,
    TORN_ACTION,
    compute_hash,
    parse_object,
    seq_of,
)

MAX_FINDINGS: Final = 100

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class BrokenLink:
    """Where the chain first fails: file name, 1-based line number and why."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class Finding:
    """One problem `verify` found: a stable `code`, its severity, where, and the details."""

    code: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    offset: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `AuditLog.verify`: `ok` unless a finding is an error."""

    ok: bool
    records_checked: int
    files_checked: list[str] = field(default_factory=list)
    first_broken: BrokenLink | None = None
    enabled: bool = True
    findings: list[Finding] = field(default_factory=list)
    findings_omitted: int = 0
    head: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-ready data."""
        return asdict(self)


def verify_chain(
    key: bytes,
    files: list[tuple[str, BufferedReader, int]],
    head: tuple[int, str] | None,
    *,
    live_name: str,
    live_exists: bool,
) -> VerifyResult:
    """Walk `files` (name, open handle, size; oldest first), compare the end with `head`, report findings."""
    walk = _ChainWalk(key, head)
    for name, handle, size in files:
        walk.start_file(name)
        for lineno, raw in iter_lines(handle, size):
            walk.line(lineno, raw, torn=name == live_name and not raw.endswith(b"\n"))
    walk.finish(live_name, live_exists)
    errors = [f for f in walk.findings if f.severity == "error"]
    return VerifyResult(
        ok=not errors,
        records_checked=walk.checked,
        files_checked=[name for name, _, _ in files],
        first_broken=walk.first_broken(),
        findings=walk.findings[:MAX_FINDINGS],
        findings_omitted=max(0, len(walk.findings) - MAX_FINDINGS),
        head=None if head is None else {"seq": head[0], "hash": head[1]},
    )


class _ChainWalk:
    """Checks records in chain order and collects findings (see `verify_chain`)."""

    def __init__(self, key: bytes, head: tuple[int, str] | None) -> None:
        self.key = key
        self.head = head
        self.findings: list[Finding] = []
        self.checked = 0
        self.expected: str | None = None  # None until the anchor (see the module docstring) is read
        self.prev_seq: int | None = None
        self.last: tuple[int | None, str] | None = None
        self.at_head: str | None = None
        self.file = ""
        self.last_file = ""
        self.last_line = 0

    def start_file(self, name: str) -> None:
        """Begin the lines of file `name`."""
        self.file = self.last_file = name
        self.last_line = 0

    def line(self, lineno: int, raw: bytes, *, torn: bool) -> None:
        """Check one line (without its newline); `torn` when it is the unterminated end of the live file."""
        self.checked += 1
        self.last_line = lineno
        raw = raw.rstrip(b"\n")
        record = parse_object(raw)
        if record is None:
            if not raw.strip():
                reason = "empty line"
            elif torn:
                reason = "not a JSON object (torn write: recovered at the next append or start)"
            else:
                reason = "not a JSON object (torn write or edited line)"
            self._add("malformed_line", reason, lineno)
            return
        stored_hash, prev_hash = record.get("hash"), record.get("prev_hash")
        if not isinstance(stored_hash, str) or not isinstance(prev_hash, str):
            self._add("malformed_line", "missing hash or prev_hash", lineno)
            return
        seq = seq_of(record)
        computed = compute_hash(self.key, record).encode()
        if not hmac.compare_digest(computed, stored_hash.encode("utf-8", "surrogatepass")):
            self._add("hash_mismatch", "hash mismatch: record edited (or written with another key)", lineno)
        if self.expected is not None:
            if prev_hash == self.expected:
                if seq is not None and self.prev_seq is not None and seq != self.prev_seq + 1:
                    self._add("seq_mismatch", f"seq {seq} does not follow seq {self.prev_seq}", lineno)
            elif prev_hash == GENESIS_HASH:
                self._add(
                    "chain_restarted",
                    "prev_hash mismatch: a new chain starts here although records precede it (restarted log)",
                    lineno,
                )
            else:
                self._add(
                    "chain_break",
                    "prev_hash mismatch: a record before this one was deleted, inserted or moved",
                    lineno,
                )
        if record.get("actor") == SYSTEM_ACTOR:
            self._system(record, lineno)
        self.expected, self.prev_seq = stored_hash, seq
        self.last = (seq, stored_hash)
        if self.head is not None and seq is not None and seq == self.head[0]:
            self.at_head = stored_hash

    def finish(self, live_name: str, live_exists: bool) -> None:
        """Compare where the chain ends with the head."""
        found = compare_with_head(self.head, self.last, self.at_head, live_exists=live_exists, live_name=live_name)
        if found is not None:
            self.findings.append(
                Finding(
                    found.code,
                    found.severity,
                    found.message,
                    self.last_file or live_name,
                    self.last_line + 1,
                    details=found.details,
                )
            )

    def first_broken(self) -> BrokenLink | None:
        """Return the first line with an error, all of its reasons joined."""
        errors = [f for f in self.findings if f.severity == "error" and f.file is not None and f.line is not None]
        if not errors:
            return None
        first = errors[0]
        same = [f.message for f in errors if (f.file, f.line) == (first.file, first.line)]
        assert first.file is not None
        assert first.line is not None
        return BrokenLink(first.file, first.line, "; ".join(same))

    def _system(self, record: Mapping[str, Any], lineno: int) -> None:
        params = record.get("params") if isinstance(record.get("params"), dict) else {}
        assert isinstance(params, dict)
        if record.get("action") == TORN_ACTION:
            self.findings.append(torn_finding(params, self.file, lineno, recorded_at=record.get("ts")))
        elif record.get("action") == GAP_ACTION:
            code = str(params.get("code") or "gap")
            details = {k: v for k, v in params.items() if k not in ("code", "message")}
            details["recorded_at"] = record.get("ts")
            message = f"recorded at {record.get('ts')}: {params.get('message') or code}"
            self.findings.append(Finding(code, "error", message, self.file, lineno, details=details))

    def _add(self, code: str, message: str, lineno: int) -> None:
        self.findings.append(Finding(code, "error", message, self.file, lineno))


def compare_with_head(
    head: tuple[int, str] | None,
    last: tuple[int | None, str] | None,
    at_head: str | None,
    *,
    live_exists: bool,
    live_name: str,
) -> Finding | None:
    """Return what the end of the chain on disk (`last`) says against the head, if anything."""
    if head is None:
        return None
    head_seq, head_hash = head
    expected = {"expected_seq": head_seq, "expected_hash": head_hash}
    if last is None:
        if not live_exists:
            return Finding(
                "live_file_missing",
                "error",
                f"the live file {live_name} is missing but the chain head says seq {head_seq} was written:"
                " the file was deleted (or AUDIT_LOG_FILE moved)",
                details={**expected, "found_seq": None},
            )
        return Finding(
            "truncated",
            "error",
            f"the log is empty but the chain head says seq {head_seq} was written: records deleted from the end",
            details={**expected, "found_seq": None},
        )
    last_seq, last_hash = last
    found = {**expected, "found_seq": last_seq, "found_hash": last_hash}
    if last_hash == head_hash:
        return None
    if last_seq is None or head_seq == 0:  # records written before seq existed: only hashes to compare
        return Finding(
            "truncated",
            "error",
            "the log ends before the last record this process wrote: records deleted from the end",
            details=found,
        )
    if last_seq < head_seq:
        if not live_exists:
            return Finding(
                "live_file_missing",
                "error",
                f"the live file {live_name} is missing: the log ends at seq {last_seq} but the chain head says"
                f" seq {head_seq} was written (the file was deleted)",
                details=found,
            )
        return Finding(
            "truncated",
            "error",
            f"the log ends at seq {last_seq}, before the chain head (seq {head_seq}): records deleted from the end",
            details=found,
        )
    if last_seq > head_seq and at_head == head_hash:
        return Finding(
            "head_behind",
            "warning",
            f"the log goes on past the chain head kept in the state store (seq {head_seq}): its last update was lost",
            details=found,
        )
    return Finding(
        "chain_restarted",
        "error",
        f"the record at the chain head's seq {head_seq} is not the one the head names:"
        " the log on disk is another chain (restarted or replaced)",
        details=found,
    )


def torn_finding(params: Mapping[str, Any], file: str, line: int | None, *, recorded_at: object = None) -> Finding:
    """Return the warning for a torn write recovered as `params` (offset, length, side_file) say."""
    offset = params.get("offset")
    details = {"length": params.get("length"), "side_file": params.get("side_file")}
    if recorded_at is not None:
        details["recorded_at"] = recorded_at
    return Finding(
        "torn_write_recovered",
        "warning",
        f"a torn last line (a crash mid-write) at byte {offset} was moved to {params.get('side_file')};"
        " the chain continued from the last whole record",
        file,
        line,
        offset if isinstance(offset, int) else None,
        details,
    )
