"""Lazy, shared upstream clients, built once and closed at shutdown.

A trading venue has one client per (venue, environment): the token picks testnet or mainnet. A
read-only data provider has one *shared* client for both tokens (there is no testnet of FRED): it is
registered with `shared=True`, its factory takes only the settings, and it is cached under the
scope `"shared"`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, runtime_checkable

from cerbero_mcp.common.errors import NotConfiguredError
from cerbero_mcp.common.pacing import Pacer
from cerbero_mcp.settings import Environment, Settings


@runtime_checkable
class VenueClient(Protocol):
    """What the registry needs of a client: a way to close it."""

    async def aclose(self) -> None:
        """Release connections and background tasks."""


@runtime_checkable
class ProbeableClient(Protocol):
    """A client that can tell readiness whether its venue answers."""

    async def probe(self) -> None:
        """Raise if the venue cannot be reached."""


VenueClientFactory = Callable[[Settings, Environment], Awaitable[Any]]
SharedClientFactory = Callable[[Settings], Awaitable[Any]]
# What a ToolSet holds: a venue's factory builds per environment, a provider's once for both.
ClientFactory = VenueClientFactory | SharedClientFactory
Scope = Environment | Literal["shared"]
SHARED: Literal["shared"] = "shared"


def check_factory(venue: str, factory: ClientFactory, *, shared: bool) -> None:
    """Raise TypeError unless `factory` takes (settings) when shared, (settings, env) otherwise."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: trust the declaration
        return
    try:
        signature.bind(*((None,) if shared else (None, None)))
    except TypeError:
        wanted = "(settings)" if shared else "(settings, env)"
        kind = "a shared (provider)" if shared else "a per-environment (venue)"
        raise TypeError(f"{venue}: {kind} client factory takes {wanted}, not {signature}") from None


@dataclass(frozen=True)
class _Factory:
    build: ClientFactory
    shared: bool


class ClientRegistry:
    """Build a client on first use and reuse it; one lock per key so a key builds once."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._factories: dict[str, _Factory] = {}
        self._clients: dict[tuple[str, Scope], Any] = {}
        self._locks: dict[tuple[str, Scope], asyncio.Lock] = {}
        self._closed = False

    @property
    def settings(self) -> Settings:
        """Return the settings clients are built from."""
        return self._settings

    def register(self, venue: str, factory: ClientFactory, *, shared: bool = False) -> None:
        """Declare how to build the client of `venue`: `factory(settings, env)`, or `factory(settings)` if shared."""
        check_factory(venue, factory, shared=shared)
        self._factories[venue] = _Factory(factory, shared)

    def has_factory(self, venue: str) -> bool:
        """Return whether `venue` has a client factory."""
        return venue in self._factories

    def is_shared(self, venue: str) -> bool:
        """Return whether `venue` has one client for both environments."""
        factory = self._factories.get(venue)
        return factory is not None and factory.shared

    async def get(self, venue: str, env: Environment) -> Any:
        """Return the client of (venue, env) — the shared one for a provider — building it on first use."""
        factory = self._factories.get(venue)
        if factory is None:
            raise NotConfiguredError(
                f"no client for {venue!r}: it is not installed in this gateway",
                details={"venue": venue, "installed": sorted(self._factories)},
                suggested_fix="install the venue (add it to VENUES) or call one of the installed venues",
            )
        key: tuple[str, Scope] = (venue, SHARED if factory.shared else env)
        client = self._clients.get(key)
        if client is not None:
            return client
        if self._closed:
            raise RuntimeError("the client registry is closed")
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            client = self._clients.get(key)
            if client is None:
                # register() checked the factory's arity against `shared`, so these casts hold.
                if factory.shared:
                    client = await cast(SharedClientFactory, factory.build)(self._settings)
                else:
                    client = await cast(VenueClientFactory, factory.build)(self._settings, env)
                    pacer = getattr(client, "pacer", None)
                    if isinstance(pacer, Pacer):
                        # A shared pacing budget (issue 19) is per venue and environment: separate hosts.
                        pacer.scope = f"{venue}/{env}"
                self._clients[key] = client
        return client

    def cached(self) -> dict[tuple[str, Scope], Any]:
        """Return the clients built so far, by (venue, environment or "shared")."""
        return dict(self._clients)

    async def aclose(self) -> None:
        """Close every client built so far; errors on one do not stop the others."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        results = await asyncio.gather(
            *(c.aclose() for c in clients if isinstance(c, VenueClient)), return_exceptions=True
        )
        del results  # a client failing to close at shutdown has nothing left to report to
