"""`cerbero-mcp --demo` as a user runs it: tokens printed, /health answers, every tool's example answers 2xx.

How fast it starts is measured by scripts/bench/platform_overhead.py, not asserted here (no timing assertions).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges import PROVIDERS, VENUES

# place_order first: the amend/cancel examples name the first order id the demo venue gives out
FIRST = ("place_order", "amend_order", "cancel_order")


@dataclass
class Demo:
    """A running demo process and what it printed."""

    url: str
    tokens: dict[str, str]
    printed: list[str]


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Start `cerbero-mcp --demo` in an empty directory with no tokens in the environment."""
    cwd = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
    env["PYTHONUNBUFFERED"] = "1"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "cerbero_mcp", "--demo", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        printed: list[str] = []
        assert process.stdout is not None
        while not any(line.endswith("/apidocs") for line in printed):
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"demo exited early: {printed}")
            printed.append(line.rstrip("\n"))
        url = f"http://127.0.0.1:{port}"
        healthy = False
        while time.monotonic() - started < 60:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    healthy = True
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        assert healthy, "the demo never answered /health"
        tokens = dict(line.split("=", 1) for line in printed if line.split("=", 1)[0].endswith("_TOKEN"))
        yield Demo(url, tokens, printed)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_demo_prints_tokens_banner_and_url_and_is_healthy(demo: Demo) -> None:
    names = [line.split("=", 1)[0] for line in demo.printed if "=" in line and line.split("=", 1)[0].endswith("_TOKEN")]
    assert names == ["TESTNET_TOKEN", "MAINNET_TOKEN", "ADMIN_TOKEN"]
    index = next(i for i, line in enumerate(demo.printed) if line.startswith("ADMIN_TOKEN="))
    assert demo.printed[index + 1] == f"{demo.url}/apidocs"
    assert any("SIMULATED MONEY" in line for line in demo.printed)
    assert all(len(token) >= 32 for token in demo.tokens.values())


@pytest.mark.parametrize("venue", [*VENUES, *PROVIDERS])
def test_every_tool_answers_2xx_with_its_documented_example(demo: Demo, venue: str) -> None:
    openapi = httpx.get(f"{demo.url}/openapi.json", timeout=10).json()
    operations: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in openapi["paths"].items():
        if not path.startswith(f"/mcp-{venue}/tools/"):
            continue
        name = path.rsplit("/", 1)[-1]
        examples = item["post"]["requestBody"]["content"]["application/json"]["examples"]
        operations.extend((name, path, example["value"]) for example in examples.values())
    operations.sort(key=lambda op: (op[0] not in FIRST, FIRST.index(op[0]) if op[0] in FIRST else 0, op[0]))
    headers = {"Authorization": f"Bearer {demo.tokens['TESTNET_TOKEN']}", "X-Bot-Tag": "demo-check"}
    failures = []
    with httpx.Client(base_url=demo.url, timeout=30) as http:
        for name, path, example in operations:
            response = http.post(path, json=example, headers=headers)
            if not 200 <= response.status_code < 300:
                failures.append(f"{name} {example}: {response.status_code} {response.text[:300]}")
    assert failures == []
    # A trading venue has the whole vocabulary; a read-only provider may have a handful of tools.
    assert len(operations) >= (20 if venue in VENUES else 4)
