"""Lazy, shared venue clients: one per (venue, environment), built once, closed at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

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


ClientFactory = Callable[[Settings, Environment], Awaitable[Any]]


class ClientRegistry:
    """Build a venue client on first use and reuse it; one lock per key so a key builds once."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._factories: dict[str, ClientFactory] = {}
        self._clients: dict[tuple[str, Environment], Any] = {}
        self._locks: dict[tuple[str, Environment], asyncio.Lock] = {}
        self._closed = False

    @property
    def settings(self) -> Settings:
        """Return the settings clients are built from."""
        return self._settings

    def register(self, venue: str, factory: ClientFactory) -> None:
        """Declare how to build the client of `venue`."""
        self._factories[venue] = factory

    def has_factory(self, venue: str) -> bool:
        """Return whether `venue` has a client factory."""
        return venue in self._factories

    async def get(self, venue: str, env: Environment) -> Any:
        """Return the client of (venue, env), building it on first use."""
        key = (venue, env)
        client = self._clients.get(key)
        if client is not None:
            return client
        if self._closed:
            raise RuntimeError("the client registry is closed")
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            client = self._clients.get(key)
            if client is None:
                factory = self._factories.get(venue)
                if factory is None:
                    raise KeyError(f"no client factory registered for venue {venue!r}")
                client = await factory(self._settings, env)
                self._clients[key] = client
        return client

    def cached(self) -> dict[tuple[str, Environment], Any]:
        """Return the clients built so far."""
        return dict(self._clients)

    async def aclose(self) -> None:
        """Close every client built so far; errors on one do not stop the others."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        results = await asyncio.gather(
            *(c.aclose() for c in clients if isinstance(c, VenueClient)), return_exceptions=True
        )
        del results  # a client failing to close at shutdown has nothing left to report to
