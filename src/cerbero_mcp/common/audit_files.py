"""The audit log's files on disk: durable writes, reading lines forward and back, torn-tail recovery.

A torn last line (a crash mid-write: no final newline) is moved to `<name>.torn` (one JSON line per
recovery, the bytes in base64) and cut from the live file, so the chain continues from the last
whole record.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from io import BufferedRandom, BufferedReader
from pathlib import Path
from typing import Any, Final

from cerbero_mcp.common.audit_records import compute_hash, format_ts, parse_object, seq_of
from cerbero_mcp.common.private_files import open_private

TORN_FILE_SUFFIX: Final = ".torn"
_TAIL_CHUNK: Final = 64 * 1024


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, however many `write` calls it takes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(directory: Path) -> None:
    """Make a create or rename in `directory` durable."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def iter_lines(handle: BufferedReader, size: int) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, line with its newline if any) for the first `size` bytes."""
    consumed = lineno = 0
    while consumed < size:
        raw = handle.readline(size - consumed)
        if not raw:
            return
        consumed += len(raw)
        lineno += 1
        yield lineno, raw


def reverse_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the lines of `path` that parse as chained records, newest first, reading from the end."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        pos = handle.seek(0, os.SEEK_END)
        partial = b""
        while pos > 0:
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            handle.seek(pos)
            pieces = (handle.read(step) + partial).split(b"\n")
            partial = pieces.pop(0) if pos > 0 else b""  # may continue in the previous chunk
            for raw in reversed(pieces):
                record = parse_object(raw)
                if record is not None and isinstance(record.get("hash"), str):
                    yield record


def hash_at(paths: list[Path], seq: int) -> str | None:
    """Return the hash of the record numbered `seq`, searching `paths` (newest first) from the end."""
    for path in paths:
        for record in reverse_records(path):
            found = seq_of(record)
            if found is not None and found <= seq:
                return str(record["hash"]) if found == seq else None
    return None


def last_record(path: Path) -> dict[str, Any] | None:
    """Return the last line of `path` that parses as a chained record."""
    return next(reverse_records(path), None)


def mtime_date(path: Path) -> date:
    """Return the UTC date `path` was last modified."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def recover_torn_tail(path: Path, key: bytes, now: datetime, *, fsync: bool) -> dict[str, Any] | None:
    """Move an unterminated last line of the live file to the `.torn` side file and cut it off."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return None
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return None
        start = _line_start(handle, size)
        handle.seek(start)
        fragment = handle.read(size - start)
        record = parse_object(fragment)
        if record is not None and _is_whole(key, record):
            # Only the newline was lost: the record is whole and chained, so end its line.
            handle.seek(size)
            handle.write(b"\n")
            _flush(handle, fsync)
            return None
        side = path.with_name(path.name + TORN_FILE_SUFFIX)
        _preserve(path, side, fragment, start, now, fsync=fsync)
        handle.truncate(start)
        _flush(handle, fsync)
    return {"offset": start, "length": len(fragment), "side_file": side.name}


def _preserve(path: Path, side: Path, fragment: bytes, offset: int, now: datetime, *, fsync: bool) -> None:
    """Append the torn bytes, exactly, to the side file before they leave the live file."""
    entry = {
        "recovered_at": format_ts(now),
        "file": path.name,
        "offset": offset,
        "length": len(fragment),
        "base64": base64.b64encode(fragment).decode("ascii"),
    }
    fd, _ = open_private(side, os.O_WRONLY | os.O_APPEND)
    try:
        write_all(fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode("ascii"))
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _is_whole(key: bytes, record: Mapping[str, Any]) -> bool:
    stored = record.get("hash")
    if not isinstance(stored, str):
        return False
    return hmac.compare_digest(compute_hash(key, record).encode(), stored.encode("utf-8", "surrogatepass"))


def _flush(handle: BufferedRandom, fsync: bool) -> None:
    handle.flush()
    if fsync:
        os.fsync(handle.fileno())


def _line_start(handle: BufferedRandom, size: int) -> int:
    """Return the offset where the file's last line starts (just after the last newline)."""
    pos = size
    while pos > 0:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        handle.seek(pos)
        newline = handle.read(step).rfind(b"\n")
        if newline >= 0:
            return pos + newline + 1
    return 0
