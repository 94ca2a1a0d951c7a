"""The server's own files are private: data files it creates are mode 600, directories it creates 700.

Modes are set explicitly (`os.open(..., 0o600)` then `fchmod`, `mkdir` then `chmod`), so they do not
depend on the process umask. What already exists is left as the operator made it: a directory keeps
its mode, and a file that others may read is reported at start (see `loose_mode`), not changed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

PRIVATE_FILE_MODE: Final = 0o600
PRIVATE_DIR_MODE: Final = 0o700


def make_private_dirs(directory: Path) -> list[Path]:
    """Create `directory` and its missing parents with mode 700; return those created here."""
    missing: list[Path] = []
    current = Path(directory)
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        os.chmod(path, PRIVATE_DIR_MODE)
        created.append(path)
    return created


def open_private(path: Path, flags: int) -> tuple[int, bool]:
    """Open `path` with `flags`, creating it with mode 600 if absent; return (fd, whether it was created)."""
    while True:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        except FileExistsError:
            try:
                return os.open(path, flags | os.O_CLOEXEC), False
            except FileNotFoundError:
                continue  # deleted between the two calls: create it after all
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
        return fd, True


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 600 unless it exists; return whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False  # not even opened: an existing file's mode and access are the operator's
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def loose_mode(path: Path) -> int | None:
    """Return the permission bits of the file `path` when its group or others have any access, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None
