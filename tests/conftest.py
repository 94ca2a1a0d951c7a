"""Fixtures every test may use: settings with tokens, the app with the toy venue, an HTTP client.

The whole run is on one clock, whatever the machine's date: the process clock (every "now" of the
gateway and of the request examples) is a `SkippingClock` at TEST_START from configuration on (it
runs at wall-clock speed, and a venue's pacing wait moves it forward instead of sleeping), and the
session's simulators run on that same clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp.common.clock import Clock, SkippingClock, use_clock
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import SimStack, installed_simulators, start_simulators
from support import toy
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET

# A real PostgreSQL for the session (postgres_server) and a fresh database per test (postgres_dsn): issue 19.
pytest_plugins = ("support.postgres",)

# Wednesday 2026-03-04 15:00 UTC is 10:00 in New York (EST, DST starts on the 8th): the US regular
# session is open, so market orders fill and the IBKR clock reports an open market; Deribit lists
# its weeklies, monthlies and quarterlies; the venues' hourly open-interest changes are an hour away.
TEST_START = datetime(2026, 3, 4, 15, tzinfo=UTC).timestamp()
SESSION_CLOCK = pytest.StashKey[SkippingClock]()
PREVIOUS_CLOCK = pytest.StashKey[Clock]()


def pytest_configure(config: pytest.Config) -> None:
    """Pin the process clock before collection, so examples computed then are of the same instant."""
    clock = SkippingClock(TEST_START)
    config.stash[SESSION_CLOCK] = clock
    config.stash[PREVIOUS_CLOCK] = use_clock(clock)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give the process its previous clock back."""
    if PREVIOUS_CLOCK in config.stash:
        use_clock(config.stash[PREVIOUS_CLOCK])


@pytest.fixture(scope="session")
def session_clock(pytestconfig: pytest.Config) -> SkippingClock:
    """Return the run's clock: TEST_START at configuration, then on at wall-clock speed."""
    return pytestconfig.stash[SESSION_CLOCK]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Return settings with the three tokens and an audit file under tmp_path."""
    return Settings.from_mapping(
        {
            "TESTNET_TOKEN": TESTNET,
            "MAINNET_TOKEN": MAINNET,
            "ADMIN_TOKEN": ADMIN,
            "AUDIT_LOG_FILE": str(tmp_path / "audit" / "audit.jsonl"),
            "AUDIT_HMAC_KEY": "k" * 32,
            "AUDIT_FSYNC": "false",
            "STATE_DB": str(tmp_path / "state.db"),
        }
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """Return the app serving only the toy venue."""
    return build_app(settings, [toy.TOOLS])


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client bound to the app, with its lifespan running."""
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            yield http


@pytest.fixture(scope="session")
def sim_stack(session_clock: SkippingClock) -> Iterator[SimStack]:
    """Serve every installed venue simulator (testnet and mainnet) on loopback, once per run, on its clock."""
    with start_simulators(installed_simulators(), clock=session_clock) as stack:
        for instance in stack.instances:
            # Hundreds of calls from one address would drain a venue's credit bucket and make tests
            # flaky; rate limiting is tested on instances built for that purpose.
            venue = getattr(getattr(instance.app, "state", None), "venue", None)
            if venue is not None and hasattr(venue, "rate_limit"):
                venue.rate_limit = False
        yield stack
