"""The contract suite's fixtures: one served gateway per venue, against that venue's simulators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cerbero_mcp.exchanges import VENUES
from cerbero_mcp.simulators.engine.harness import SimStack
from support.contract_venues import CONTRACTS, VenueContract
from support.stack import Gateway, serve_gateway


@pytest.fixture(scope="module", params=sorted(venue for venue in CONTRACTS if venue in VENUES))
def contract(request: pytest.FixtureRequest) -> VenueContract:
    """Return the venue under contract (one run of the suite per venue)."""
    return CONTRACTS[request.param]


@pytest.fixture(scope="module")
def gateway(
    sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory, contract: VenueContract
) -> Iterator[Gateway]:
    """Serve the real app over loopback HTTP against the simulators."""
    # A venue's contract may name settings its gateway needs (Alpaca: a cap above its cash-like default of 1,
    # so the venue's own insufficient-funds refusal is reachable).
    settings = contract.extra.get("settings", {})
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp(f"contract-{contract.venue}")), **settings) as served:
        yield served
