"""Serve venue simulators on loopback: two instances per venue, and the settings that point at them.

A venue's `simulators/<venue>/simulator.py` exposes `SPEC = SimulatorSpec(...)`. `start_simulators`
builds a testnet and a mainnet instance of each (different seeds, different generated
credentials), wraps each app in a `SimControl` (faults and recorder), serves each with uvicorn on
an ephemeral 127.0.0.1 port in its own background thread, waits until all accept connections,
and returns a `SimStack` with the merged settings overrides. The instances run on the process
clock (`cerbero_mcp.common.clock.current()`) unless given another, so the gateway in the same
process and the venues agree on the time (tests pin it; the demo runs on the wall clock).

Why threads in this process rather than one process per simulator: start-up stays in the tens of
milliseconds (no interpreter per venue), tests read the in-process recorder and account state
and drive a shared clock directly, and nothing needs cleaning up if a test run dies. Each
server thread runs its own event loop, so the app under test (on pytest's or uvicorn's loop)
never shares a loop with a venue: a slow or faulted venue cannot stall the gateway's loop, and
the traffic goes through real sockets exactly as it would to a remote venue.

The servers are quiet: uvicorn's logging is left unconfigured (no global dictConfig, no level
changes that would touch the gateway's own uvicorn loggers in the same process) and a filter drops
records below WARNING from simulator threads, plus the deliberate aborts of `drop` faults.
"""

from __future__ import annotations

import importlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

from cerbero_mcp.common.clock import current
from cerbero_mcp.simulators.engine.clock import Clock
from cerbero_mcp.simulators.engine.faults import SimControl, SimulatedDrop
from cerbero_mcp.simulators.engine.paths import seed_int

Env = Literal["testnet", "mainnet"]
ENVS: tuple[Env, Env] = ("testnet", "mainnet")
THREAD_PREFIX = "cerbero-sim"
SIMULATORS_PACKAGE = "cerbero_mcp.simulators"


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """What a simulator instance is built from."""

    venue: str
    env: Env
    seed: int
    credentials: Mapping[str, str]
    clock: Clock


@dataclass(frozen=True, slots=True)
class SimulatorSpec:
    """How to build, configure and point the gateway at one venue's simulator.

    `build_app(config)` returns the ASGI app; `credentials(env)` generates the credentials an
    instance accepts; `settings_overrides(env, base_url, credentials)` returns the environment-
    variable style settings (URL and credentials) that point the gateway's `env` at that instance.
    `envs` are the instances to start: a data provider (one client for both tokens, settings with no
    environment) runs a single instance, which `SimStack.instance` returns for either environment.
    """

    venue: str
    build_app: Callable[[SimulatorConfig], ASGIApp]
    settings_overrides: Callable[[str, str, dict[str, str]], dict[str, str]]
    credentials: Callable[[str], dict[str, str]]
    envs: tuple[Env, ...] = ENVS


@dataclass(slots=True)
class SimInstance:
    """One running simulator."""

    spec: SimulatorSpec
    config: SimulatorConfig
    control: SimControl
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> ASGIApp:
        """Return the simulator app inside the control wrapper (to reach its engine in tests)."""
        return self.control.app


class SimStack:
    """Running simulators, the settings overrides that point at them, and how to stop them."""

    def __init__(self, instances: list[SimInstance], clock: Clock) -> None:
        """Wrap already started instances."""
        self.clock = clock
        self._instances: dict[tuple[str, str], SimInstance] = {(i.config.venue, i.config.env): i for i in instances}
        self.overrides: dict[str, str] = {}
        for inst in instances:
            for key, value in inst.overrides.items():
                if self.overrides.get(key, value) != value:
                    raise ValueError(f"simulators disagree on setting {key}")
                self.overrides[key] = value

    @property
    def venues(self) -> list[str]:
        """Return the venues served, sorted."""
        return sorted({venue for venue, _ in self._instances})

    @property
    def instances(self) -> list[SimInstance]:
        """Return every running instance."""
        return list(self._instances.values())

    def instance(self, venue: str, env: str) -> SimInstance:
        """Return the instance of `venue` for `env` (a one-instance provider's for either; KeyError if not served)."""
        found = self._instances.get((venue, env))
        if found is None:
            shared = [i for (v, _), i in self._instances.items() if v == venue and len(i.spec.envs) == 1]
            if len(shared) != 1:
                raise KeyError((venue, env))
            found = shared[0]
        return found

    def url(self, venue: str, env: str) -> str:
        """Return the base URL of an instance, e.g. http://127.0.0.1:54321."""
        return self.instance(venue, env).url

    def control(self, venue: str, env: str) -> SimControl:
        """Return the fault/recorder control of an instance."""
        return self.instance(venue, env).control

    def credentials(self, venue: str, env: str) -> Mapping[str, str]:
        """Return the credentials an instance accepts."""
        return self.instance(venue, env).config.credentials

    def stop(self) -> None:
        """Stop every server and wait for its thread (idempotent)."""
        _stop(list(self._instances.values()))

    def __enter__(self) -> SimStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def seed_for(venue: str, env: str, base_seed: int = 0) -> int:
    """Return the market seed of an instance: stable, and different for testnet and mainnet."""
    return seed_int(base_seed, venue, env) & (2**63 - 1)


class _QuietSimServers(logging.Filter):
    """Drop uvicorn's chatter from simulator threads, and the tracebacks of deliberate drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(THREAD_PREFIX):
            return True
        if record.exc_info and isinstance(record.exc_info[1], SimulatedDrop):
            return False
        return record.levelno >= logging.WARNING


_FILTER = _QuietSimServers()


def _install_log_filter() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class _QuietConfig(uvicorn.Config):
    """A uvicorn config that leaves the process's logging configuration alone."""

    def configure_logging(self) -> None:
        """Do nothing: the gateway in the same process owns logging."""


def serve_in_thread(
    app: ASGIApp, *, name: str, host: str = "127.0.0.1"
) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Start `app` on an ephemeral port in a daemon thread named `name`; return (server, thread, base URL).

    The server is not yet known to accept connections; see `wait_started`.
    """
    _install_log_filter()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = _QuietConfig(app, access_log=False, lifespan="auto", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    return server, thread, f"http://{host}:{port}"


def wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    """Block until `server` accepts connections; RuntimeError if it died or timed out."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"{thread.name} failed to start")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{thread.name} did not start within {timeout} s")
        time.sleep(0.005)


def start_simulators(
    specs: Iterable[SimulatorSpec],
    *,
    clock: Clock | None = None,
    base_seed: int = 0,
    envs: Iterable[Env] = ENVS,
    host: str = "127.0.0.1",
    startup_timeout: float = 10.0,
) -> SimStack:
    """Start a testnet and a mainnet instance of every spec on loopback, on `clock` (default: the process clock)."""
    clock = current() if clock is None else clock
    started: list[SimInstance] = []
    try:
        wanted = tuple(envs)
        for spec in specs:
            chosen = [e for e in wanted if e in spec.envs]
            if not chosen and wanted and len(spec.envs) == 1:
                chosen = list(spec.envs)  # a provider's one instance serves whichever environment is asked for
            for env in chosen:
                creds = dict(spec.credentials(env))
                config = SimulatorConfig(spec.venue, env, seed_for(spec.venue, env, base_seed), creds, clock)
                control = SimControl(spec.build_app(config), seed=config.seed, clock=clock)
                server, thread, url = serve_in_thread(control, name=f"{THREAD_PREFIX}-{spec.venue}-{env}", host=host)
                started.append(SimInstance(spec, config, control, url, server, thread))
        for inst in started:
            wait_started(inst.server, inst.thread, startup_timeout)
            inst.overrides = dict(
                inst.spec.settings_overrides(inst.config.env, inst.url, dict(inst.config.credentials))
            )
        return SimStack(started, clock)
    except BaseException:
        _stop(started)
        raise


def _stop(instances: list[SimInstance]) -> None:
    for inst in instances:
        inst.server.should_exit = True
    for inst in instances:
        inst.thread.join(timeout=5)
        if inst.thread.is_alive():
            inst.server.force_exit = True
            inst.thread.join(timeout=5)


def installed_simulators(venues: Iterable[str] | None = None, package: str = SIMULATORS_PACKAGE) -> list[SimulatorSpec]:
    """Return the `SPEC` of `<package>.<venue>.simulator` for every served venue, by venue name.

    Served venues are `cerbero_mcp.exchanges.VENUES` and `PROVIDERS` unless given (a venue folder still being built is
    not served, so it is not simulated either). Venues without a simulator are skipped; a simulator
    that fails to import raises.
    """
    if venues is None:
        from cerbero_mcp.exchanges import PROVIDERS, VENUES

        venues = (*VENUES, *PROVIDERS)
    specs: list[SimulatorSpec] = []
    for venue in sorted(venues):
        name = f"{package}.{venue}.simulator"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, SimulatorSpec):
            raise TypeError(f"{name}.SPEC must be a SimulatorSpec, got {type(spec).__name__}")
        specs.append(spec)
    return specs
