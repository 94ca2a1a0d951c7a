"""Fixtures of the Alpaca simulator's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from alpaca_sim import T0, Sim, make_app, open_sim

from cerbero_mcp.simulators.alpaca.simulator import SPEC
from cerbero_mcp.simulators.engine import ManualClock, SimStack, start_simulators


@pytest.fixture
def clock() -> ManualClock:
    """Return a manual clock at T0 (Monday 10:30 New York)."""
    return ManualClock(T0)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Sim]:
    """Yield a testnet instance with rate limits on."""
    async for s in open_sim(make_app(clock), clock):
        yield s


@pytest.fixture
def stack() -> Iterator[SimStack]:
    """Serve a testnet (paper) and a mainnet (live) instance on loopback, on a clock frozen at T0."""
    with start_simulators([SPEC], clock=ManualClock(T0)) as s:
        yield s
