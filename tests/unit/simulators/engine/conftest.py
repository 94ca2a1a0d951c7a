"""Fixtures of the engine's unit tests: the test market, a ManualClock, a funded exchange."""

from __future__ import annotations

import pytest
from sim_world import T0, build_market

from cerbero_mcp.simulators.engine import Exchange, ManualClock, MarketModel


@pytest.fixture
def clock() -> ManualClock:
    """Return a manual clock at T0."""
    return ManualClock(T0)


@pytest.fixture
def market() -> MarketModel:
    """Return the test market."""
    return build_market()


@pytest.fixture
def exchange(market: MarketModel, clock: ManualClock) -> Exchange:
    """Return an exchange with account "alice" holding 1,000,000 USDT, 10 BTC and 100,000 USD."""
    ex = Exchange(market, clock)
    ex.open_account("alice", {"USDT": "1000000", "BTC": "10", "USD": "100000"})
    return ex
