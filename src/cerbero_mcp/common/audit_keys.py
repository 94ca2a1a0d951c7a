"""The audit log's generated HMAC key: kept beside the log, created once, never replaced."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Final

from cerbero_mcp.common.audit_files import fsync_dir, write_all
from cerbero_mcp.common.private_files import PRIVATE_FILE_MODE, make_private_dirs

KEY_FILE_SUFFIX: Final = ".key"
_MIN_KEY_LENGTH: Final = 32


def key_file_for(log_path: Path) -> Path:
    """Return where the generated HMAC key of the log at `log_path` is kept: beside it."""
    return log_path.with_name(log_path.name + KEY_FILE_SUFFIX)


def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """Return the HMAC key kept in `path` and whether it was just generated (mode 600, atomically)."""
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path), False
    make_private_dirs(path.parent)
    key = secrets.token_hex(32)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # whatever the umask
        write_all(fd, f"{key}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # A hard link publishes the whole file at once and, unlike rename, never replaces a key that
        # another process created meanwhile: that key may already sign records.
        os.link(staging, path)
    except FileExistsError:
        return _read_key(path), False
    finally:
        staging.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return key.encode("ascii"), True


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if len(text) < _MIN_KEY_LENGTH:
        raise ValueError(
            f"audit key file {path} is empty or shorter than {_MIN_KEY_LENGTH} characters; restore it from a backup"
            " (it is never replaced automatically: the log was signed with it)"
        )
    return text.encode("ascii", errors="replace")
