"""Every Hyperliquid example in /openapi.json answers 2xx against fresh simulators, under both tokens, in demo order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from cerbero_mcp.simulators.hyperliquid.simulator import SPEC
from support.stack import Gateway, serve_gateway
from support.tokens import MAINNET, TESTNET, auth

# As the demo runs them: place_order first (the amend/cancel examples name its orderLinkId), then by name.
FIRST = ("place_order", "amend_order", "cancel_order")


@pytest.fixture(scope="module")
def fresh_stack() -> Iterator[SimStack]:
    """Start Hyperliquid's simulators afresh, as `cerbero-mcp --demo` does (no order ids used yet)."""
    stack = start_simulators([SPEC])
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def fresh_gateway(fresh_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with serve_gateway(fresh_stack, Path(tmp_path_factory.mktemp("hyperliquid-examples"))) as served:
        yield served


@pytest.fixture
async def http(fresh_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fresh_gateway.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("token", [TESTNET, MAINNET], ids=["testnet", "mainnet"])
async def test_every_hyperliquid_example_answers_2xx(http: httpx.AsyncClient, token: str) -> None:
    openapi = (await http.get("/openapi.json")).json()
    operations: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in openapi["paths"].items():
        if path.startswith("/mcp-hyperliquid/tools/"):
            examples = item["post"]["requestBody"]["content"]["application/json"]["examples"]
            operations.extend((path.rsplit("/", 1)[-1], path, e["value"]) for e in examples.values())
    operations.sort(key=lambda op: (op[0] not in FIRST, FIRST.index(op[0]) if op[0] in FIRST else 0, op[0]))
    failures = []
    for name, path, example in operations:
        response = await http.post(path, json=example, headers=auth(token, "hyperliquid-examples"))
        if not 200 <= response.status_code < 300:
            failures.append(f"{name} {example}: {response.status_code} {response.text[:300]}")
    assert failures == [], "\n".join(failures)
    assert len({name for name, _, _ in operations}) == 20
