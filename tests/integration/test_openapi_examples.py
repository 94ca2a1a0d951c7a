"""Every venue's examples in /openapi.json answer 2xx against fresh simulators, under both tokens, in demo order.

The demo smoke test runs them once through `cerbero-mcp --demo` with the testnet token; this runs each venue
alone on fresh simulators with both tokens, so a mainnet-only mistake (a URL, a key, an instrument) shows too.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges import VENUES
from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from support.stack import Gateway, serve_gateway
from support.tokens import MAINNET, TESTNET, auth

# As the demo runs them: place_order first (the amend/cancel examples name the first order it places), then by name.
FIRST = ("place_order", "amend_order", "cancel_order")


@pytest.fixture(scope="module", params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    """Return one installed venue (a module per venue: its simulators start fresh)."""
    return str(request.param)


@pytest.fixture(scope="module")
def fresh_stack(venue: str) -> Iterator[SimStack]:
    """Start the venue's simulators afresh, as `cerbero-mcp --demo` does (no order ids used yet)."""
    spec = importlib.import_module(f"cerbero_mcp.simulators.{venue}.simulator").SPEC
    stack = start_simulators([spec])
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def fresh_gateway(venue: str, fresh_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with serve_gateway(fresh_stack, Path(tmp_path_factory.mktemp(f"{venue}-examples"))) as served:
        yield served


@pytest.fixture
async def http(fresh_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fresh_gateway.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("token", [TESTNET, MAINNET], ids=["testnet", "mainnet"])
async def test_every_example_answers_2xx(venue: str, http: httpx.AsyncClient, token: str) -> None:
    openapi = (await http.get("/openapi.json")).json()
    operations: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in openapi["paths"].items():
        if path.startswith(f"/mcp-{venue}/tools/"):
            examples = item["post"]["requestBody"]["content"]["application/json"]["examples"]
            operations.extend((path.rsplit("/", 1)[-1], path, e["value"]) for e in examples.values())
    operations.sort(key=lambda op: (op[0] not in FIRST, FIRST.index(op[0]) if op[0] in FIRST else 0, op[0]))
    failures = []
    for name, path, example in operations:
        response = await http.post(path, json=example, headers=auth(token, f"{venue}-examples"))
        if not 200 <= response.status_code < 300:
            failures.append(f"{name} {example}: {response.status_code} {response.text[:300]}")
    assert failures == [], "\n".join(failures)
    declared = {spec.name for toolset in installed_toolsets() if toolset.venue == venue for spec in toolset.specs}
    assert {name for name, _, _ in operations} == declared  # every tool has an example, and it ran
