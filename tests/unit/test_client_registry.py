"""ClientRegistry: one build per key under concurrency, reuse, shared provider clients, close everything."""

from __future__ import annotations

import asyncio

import pytest

from cerbero_mcp.client_registry import ClientRegistry
from cerbero_mcp.common.errors import NotConfiguredError
from cerbero_mcp.settings import Environment, Settings


class Built:
    """A client that records being closed."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.closed = False

    @classmethod
    async def build(cls, settings: Settings, env: Environment) -> Built:
        """Build one for `env`."""
        return cls(env)

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


async def test_unknown_venue_is_not_configured_naming_the_installed_ones() -> None:
    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("v", Built.build)
    with pytest.raises(NotConfiguredError, match="'nope'") as raised:
        await registry.get("nope", "testnet")
    assert raised.value.details == {"venue": "nope", "installed": ["v"]}
    assert raised.value.status == 503


# --- shared clients (data providers: one client for both tokens) -----------------------------------


class SharedBuilt:
    """A provider's client: built from the settings alone."""

    builds = 0

    def __init__(self) -> None:
        self.closed = False

    @classmethod
    async def build(cls, settings: Settings) -> SharedBuilt:
        """Build one (slowly, so concurrent first calls overlap)."""
        cls.builds += 1
        await asyncio.sleep(0.01)
        return cls()

    async def aclose(self) -> None:
        """Close."""
        self.closed = True


async def test_a_shared_client_is_built_once_for_both_environments() -> None:
    before = SharedBuilt.builds
    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("p", SharedBuilt.build, shared=True)
    envs: list[Environment] = ["testnet", "mainnet"] * 5
    clients = await asyncio.gather(*(registry.get("p", env) for env in envs))
    assert SharedBuilt.builds == before + 1
    assert all(client is clients[0] for client in clients)
    assert registry.is_shared("p") is True
    assert list(registry.cached()) == [("p", "shared")]
    await registry.aclose()
    assert clients[0].closed is True


async def test_shared_and_per_environment_clients_live_side_by_side() -> None:
    registry = ClientRegistry(Settings.from_mapping({}))
    registry.register("v", Built.build)
    registry.register("p", SharedBuilt.build, shared=True)
    await registry.get("p", "testnet")
    await registry.get("v", "testnet")
    await registry.get("v", "mainnet")
    assert sorted(registry.cached()) == [("p", "shared"), ("v", "mainnet"), ("v", "testnet")]
    assert registry.is_shared("v") is False
    assert registry.is_shared("unknown") is False


def test_a_factory_must_match_how_it_is_registered() -> None:
    registry = ClientRegistry(Settings.from_mapping({}))
    with pytest.raises(TypeError, match=r"shared \(provider\) client factory takes \(settings\)"):
        registry.register("p", Built.build, shared=True)
    with pytest.raises(TypeError, match=r"per-environment \(venue\) client factory takes \(settings, env\)"):
        registry.register("v", SharedBuilt.build)
    assert not registry.has_factory("p")
    assert not registry.has_factory("v")
