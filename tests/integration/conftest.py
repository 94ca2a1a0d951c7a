"""Integration fixtures: the real app served over loopback against the session's simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway


@pytest.fixture(scope="module")
def gateway(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the app against the simulators, with its own audit and state files per module."""
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("gateway"))) as served:
        yield served


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the served gateway."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield client
