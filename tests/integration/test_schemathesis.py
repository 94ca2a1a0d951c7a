"""Property-based fuzzing of every tool from /openapi.json (schemathesis): no input a client sends gets a 500.

Bounded and reproducible: a fixed seed (derandomized), EXAMPLES valid and EXAMPLES invalid inputs per
operation, against every installed venue served over loopback with the simulators. A 5xx is a failure
unless it is the venue's own answer in the error envelope (502/503/504 with an UPSTREAM_* code: e.g. no
market data for a conid the simulator does not list); a 500, or any 5xx without the envelope, always is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import auth

EXAMPLES = 8  # per operation and generation mode: 57 tools × 2 × 8 calls run in about a minute
VENUE_ANSWERS = {"UPSTREAM_ERROR", "UPSTREAM_TIMEOUT", "UPSTREAM_AUTH", "RATE_LIMIT", "NOT_CONFIGURED"}


@pytest.fixture(scope="module")
def fuzzed(sim_stack: SimStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the app against the simulators with a read timeout that a loaded CI machine meets."""
    with serve_gateway(sim_stack, Path(tmp_path_factory.mktemp("fuzz")), UPSTREAM_READ_TIMEOUT_S="10") as served:
        yield served


def server_fault(status: int, body: Any) -> bool:
    """Return whether an answer is the gateway's fault: a 500, or a 5xx that is not the venue's enveloped answer."""
    if status < 500:
        return False
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    return status == 500 or code not in VENUE_ANSWERS


def fuzz_operation(operation: Any, url: str, mode: GenerationMode, headers: dict[str, str]) -> list[str]:
    """Call one operation with EXAMPLES generated inputs; return the 5xx answers."""
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=30)
        if response.status_code >= 500 and server_fault(response.status_code, _json(response)):
            failures.append(f"{operation.label} {case.body!r:.300}: {response.status_code} {response.text[:300]}")

    run()
    return failures


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def test_no_generated_input_gets_a_500(fuzzed: Gateway) -> None:
    gateway = fuzzed
    schema = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
    headers = auth(bot="schemathesis")
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if "/tools/" in result.ok().path and result.ok().method.upper() == "POST"
    ]
    assert len(operations) >= 50
    started = time.monotonic()
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz_operation(operation, gateway.url, mode, headers)
    print(f"schemathesis: {len(operations)} operations, {time.monotonic() - started:.1f} s")
    assert not failures, "\n".join(failures)
