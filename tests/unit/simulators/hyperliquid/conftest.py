"""Fixtures of the Hyperliquid simulator's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hl_sim import T0, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """Return a manual clock at T0."""
    return ManualClock(T0)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Sim]:
    """Yield a testnet instance with rate limits on."""
    async for s in open_sim(make_app(clock), clock):
        yield s
