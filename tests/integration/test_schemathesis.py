"""Property-based fuzzing of every tool from /openapi.json (schemathesis): no input a client sends gets a 500.

Bounded and reproducible: a fixed seed (derandomized), EXAMPLES valid and EXAMPLES invalid inputs per
operation, against every installed venue served over loopback with the simulators. Any 5xx is a failure:
generated input must be refused with a 4xx before it can trouble the gateway or the venue.
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

from cerbero_mcp.simulators.engine.harness import installed_simulators, start_simulators
from support.stack import Gateway, serve_gateway
from support.tokens import auth

EXAMPLES = 8  # per operation and generation mode: 57 tools × 2 × 8 calls run in about a minute


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Serve the app against simulators of its own (the fuzzed orders stay out of other tests' accounts)."""
    with start_simulators(installed_simulators()) as stack:
        for instance in stack.instances:
            venue = getattr(getattr(instance.app, "state", None), "venue", None)
            if venue is not None and hasattr(venue, "rate_limit"):
                venue.rate_limit = False  # one address sends every call; pacing is tested elsewhere
        state = Path(tmp_path_factory.mktemp("fuzz"))
        with serve_gateway(stack, state, UPSTREAM_READ_TIMEOUT_S="10") as served:
            yield served


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
        if response.status_code >= 500:
            failures.append(f"{operation.label} {case.body!r:.300}: {response.status_code} {response.text[:300]}")

    run()
    return failures


def test_no_generated_input_gets_a_5xx(fuzzed: Gateway) -> None:
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
