"""Fixtures every test may use: settings with tokens, the app with the toy venue, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import SimStack, installed_simulators, start_simulators
from support import toy
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET


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
def sim_stack() -> Iterator[SimStack]:
    """Serve every installed venue simulator (testnet and mainnet) on loopback, once per test run."""
    with start_simulators(installed_simulators()) as stack:
        for instance in stack.instances:
            # Hundreds of calls from one address would drain a venue's credit bucket and make tests
            # flaky; rate limiting is tested on instances built for that purpose.
            venue = getattr(getattr(instance.app, "state", None), "venue", None)
            if venue is not None and hasattr(venue, "rate_limit"):
                venue.rate_limit = False
        yield stack
