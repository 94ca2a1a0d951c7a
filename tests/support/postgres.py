"""A real PostgreSQL for the test session: Debian's binaries, initdb + pg_ctl in a temp dir, one database per test.

Fixtures (registered for the whole suite by `pytest_plugins` in tests/conftest.py):
- `postgres_server` (session): the running server, a `PostgresServer` (`.dsn(dbname)`, `.create_database()`).
- `postgres_dsn` (function): a fresh, empty database of its own for the test, as a `postgresql://` URL.

PostgreSQL refuses to run as root, so as root (here and in CI) initdb/pg_ctl run as the `postgres` user on a
temp dir chowned to it; as anyone else they run directly. Without binaries the fixtures skip, except in CI
(env CI set), where a missing PostgreSQL is a failure: the CI script installs it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

SUPERUSER = "postgres"
_database_numbers = itertools.count(1)


def find_bindir() -> Path | None:
    """Return the directory holding initdb/pg_ctl/postgres (pg_config, Debian's layout, PATH), or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
    # Debian ships the server under /usr/lib/postgresql/<major>/bin; newest first.
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p.parent.name), reverse=True)
    candidates.extend(debian)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _major(name: str) -> int:
    return int(name) if name.isdigit() else -1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL cluster on loopback, trust authentication, superuser `postgres`."""

    host: str
    port: int
    datadir: Path

    def dsn(self, dbname: str = "postgres") -> str:
        """Return the URL of one database of this server."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a fresh name unless given) and return its URL."""
        name = name or f"t{os.getpid()}_{next(_database_numbers)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing whatever connections a test left open on it."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
            )


class _Runner:
    """Runs the server's tools as the `postgres` user when we are root (PostgreSQL refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_postgres = os.geteuid() == 0

    def chown(self, path: Path) -> None:
        if self.as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            cwd="/",
            env=_server_env(),
            **kwargs,
        )


def _server_env() -> dict[str, str]:
    """Return the environment for the server's tools: ours, without libfaketime (CI reruns the suite under it).

    Every time the tests compare comes from the Python process's clock; the server keeps the machine's.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKETIME", "DONT_FAKE"))}
    preload = " ".join(lib for lib in env.get("LD_PRELOAD", "").split() if "faketime" not in lib)
    if preload:
        env["LD_PRELOAD"] = preload
    else:
        env.pop("LD_PRELOAD", None)
    return env


@contextlib.contextmanager
def running_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """Initialise and start a cluster in a temp dir on a free loopback port; stop and remove it afterwards."""
    runner = _Runner(bindir)
    if runner.as_postgres:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise RuntimeError("running as root but there is no `postgres` user to run PostgreSQL as") from None
    root = Path(tempfile.mkdtemp(prefix="cerbero-pg-"))
    runner.chown(root)
    datadir = root / "data"
    try:
        init = runner.run("initdb", "-D", str(datadir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stdout}\n{init.stderr}")
        server: PostgresServer | None = None
        errors: list[str] = []
        # The free port may be taken between probing and binding: retry on a new one.
        for _ in range(3):
            port = _free_port()
            options = (
                f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB"
            )
            start = runner.run(
                "pg_ctl", "-D", str(datadir), "-l", str(root / "server.log"), "-w", "-o", options, "start"
            )
            if start.returncode == 0:
                server = PostgresServer(host="127.0.0.1", port=port, datadir=datadir)
                break
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            errors.append(f"{start.stdout}\n{start.stderr}\n{log[-2000:]}")
        if server is None:
            raise RuntimeError("pg_ctl start failed:\n" + "\n".join(errors))
        try:
            yield server
        finally:
            runner.run("pg_ctl", "-D", str(datadir), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start one PostgreSQL for the whole session (skip without binaries, except in CI where that fails)."""
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must have them: .ci/run installs them)")
        pytest.skip(reason)
    with running_postgres(bindir) as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """Return the URL of a fresh database of the session's server, dropped after the test."""
    name = f"t{os.getpid()}_{next(_database_numbers)}"
    dsn = postgres_server.create_database(name)
    yield dsn
    postgres_server.drop_database(name)
