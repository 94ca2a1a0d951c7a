"""Fixtures of the Hyperliquid unit tests: a client answering with Hyperliquid's documented bodies, and a context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient
from unit.exchanges.hyperliquid.hl_documented import Ctx, FakeTransport, documented_client


@pytest.fixture
async def documented() -> AsyncIterator[tuple[HyperliquidClient, FakeTransport]]:
    client, transport = documented_client()
    yield client, transport
    await client.aclose()


@pytest.fixture
def ctx(documented: tuple[HyperliquidClient, FakeTransport]) -> Any:
    return Ctx(documented[0])
