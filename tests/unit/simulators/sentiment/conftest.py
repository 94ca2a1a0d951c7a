"""Fixtures of the sentiment simulators' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sentiment_sim import T0, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """Return a manual clock at T0."""
    return ManualClock(T0)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Sim]:
    """Yield an instance with rate limits off (pacing has its own tests)."""
    async for s in open_sim(make_app(clock, rate_limit=False), clock):
        yield s


@pytest.fixture
async def limited(clock: ManualClock) -> AsyncIterator[Sim]:
    """Yield an instance with the sources' rate limits on."""
    async for s in open_sim(make_app(clock), clock):
        yield s
