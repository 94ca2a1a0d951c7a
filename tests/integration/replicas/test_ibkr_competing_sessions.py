"""Why replicas need one IBKR session owner: at the simulator, a second session knocks the first off (as at IBKR)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from cerbero_mcp.simulators.ibkr.simulator import SPEC
from support.stack import sim_settings

pytestmark = pytest.mark.replicas


@pytest.fixture
def ibkr_stack() -> Iterator[SimStack]:
    with start_simulators([SPEC], envs=("testnet",)) as stack:
        yield stack


async def test_a_second_gateway_session_knocks_the_first_off(ibkr_stack: SimStack, tmp_path: Path) -> None:
    venue = ibkr_stack.instance("ibkr", "testnet").app.state.venue
    venue.rate_limit = False  # two clients on one address: IBKR's per-address pacing is not the subject
    settings = sim_settings(ibkr_stack, tmp_path)
    first = await IbkrClient.build(settings, "testnet")
    second = await IbkrClient.build(settings, "testnet")
    try:
        await first.tickle()
        assert (venue.oauth.minted, venue.oauth.displaced) == (1, 0)
        await second.tickle()  # its own live session token: the first one's stops working
        assert (venue.oauth.minted, venue.oauth.displaced) == (2, 1)
        await first.tickle()  # 401, re-mint, and now the second one is knocked off in turn
        assert (venue.oauth.minted, venue.oauth.displaced) == (3, 2)
    finally:
        await first.aclose()
        await second.aclose()
