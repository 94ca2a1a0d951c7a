"""ClientRegistry: one build per key under concurrency, reuse, close everything."""

from __future__ import annotations

import asyncio

import pytest

from cerbero_mcp.client_registry import ClientRegistry
from cerbero_mcp.settings import Environment, Settings


class Built:
    """A client that records being closed."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.closed = False

    async def aclose(self) -> None:
        """Close."""
        self.closed = True


async def test_ten_concurrent_first_gets_build_once() -> None:
    builds: list[Environment] = []

    async def factory(settings: Settings, env: Environment) -> Built:
        builds.append(env)
        await asyncio.sleep(0.02)
        return Built(env)

    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("v", factory)
    clients = await asyncio.gather(*(registry.get("v", "testnet") for _ in range(10)))
    assert builds == ["testnet"]
    assert all(client is clients[0] for client in clients)
    other = await registry.get("v", "mainnet")
    assert builds == ["testnet", "mainnet"]
    assert other is not clients[0]


async def test_aclose_closes_every_client_even_if_one_fails() -> None:
    class Broken(Built):
        async def aclose(self) -> None:
            raise RuntimeError("boom")

    async def factory(settings: Settings, env: Environment) -> Built:
        return Broken(env) if env == "testnet" else Built(env)

    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("v", factory)
    await registry.get("v", "testnet")
    mainnet = await registry.get("v", "mainnet")
    await registry.aclose()
    assert mainnet.closed is True
    assert registry.cached() == {}
    with pytest.raises(RuntimeError, match="closed"):
        await registry.get("v", "mainnet")


async def test_a_failed_build_is_retried_on_the_next_get() -> None:
    attempts = 0

    async def factory(settings: Settings, env: Environment) -> Built:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("first build fails")
        return Built(env)

    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("v", factory)
    with pytest.raises(ConnectionError):
        await registry.get("v", "testnet")
    assert (await registry.get("v", "testnet")).env == "testnet"


async def test_unknown_venue_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no client factory"):
        await ClientRegistry(Settings.from_mapping({})).get("nope", "testnet")
