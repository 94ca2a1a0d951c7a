"""A test venue served by the harness, called through the real app: faults become the right envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from support import probe_venue
from support.lifespan import running
from support.tokens import MAINNET, TESTNET, auth


@pytest.fixture(scope="module")
def probe_stack() -> Iterator[SimStack]:
    """Serve the probe venue's testnet and mainnet simulators on loopback."""
    with start_simulators([probe_venue.SPEC]) as stack:
        yield stack


@pytest.fixture
async def probe_client(probe_stack: SimStack, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client of the app serving the probe venue against its simulators."""
    urls = {env: probe_stack.url("probe", env) for env in ("testnet", "mainnet")}
    tools = probe_venue.probe_toolset(urls, lambda env: probe_stack.credentials("probe", env)["api_key"])
    app = build_app(settings, [tools])
    for env in ("testnet", "mainnet"):
        probe_stack.control("probe", env).clear_faults()
        probe_stack.control("probe", env).clear_recorded()
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


def test_two_instances_per_venue_with_different_seeds_and_overrides(probe_stack: SimStack) -> None:
    testnet, mainnet = probe_stack.instance("probe", "testnet"), probe_stack.instance("probe", "mainnet")
    assert testnet.config.seed != mainnet.config.seed
    assert testnet.url != mainnet.url
    assert probe_stack.overrides == {"PROBE_URL_TESTNET": testnet.url, "PROBE_URL_MAINNET": mainnet.url}


@pytest.mark.parametrize(("token", "env"), [(TESTNET, "testnet"), (MAINNET, "mainnet")])
async def test_each_token_reaches_only_its_instance(
    probe_client: httpx.AsyncClient, probe_stack: SimStack, token: str, env: str
) -> None:
    response = await probe_client.post("/mcp-probe/tools/get_price", json={"symbol": "X"}, headers=auth(token))
    assert response.status_code == 200
    assert response.json()["env"] == env
    other = "mainnet" if env == "testnet" else "testnet"
    assert [r.path for r in probe_stack.control("probe", env).recorded()] == ["/ticker"]
    assert probe_stack.control("probe", other).recorded() == []


async def test_recorder_keeps_no_secret(probe_client: httpx.AsyncClient, probe_stack: SimStack) -> None:
    response = await probe_client.post("/mcp-probe/tools/place", json={"symbol": "Y"}, headers=auth())
    assert response.status_code == 200
    (recorded,) = probe_stack.control("probe", "testnet").recorded()
    assert recorded.method == "POST"
    assert recorded.body == {"symbol": "Y"}
    assert "x-api-key" not in {k.lower() for k in recorded.headers}
    assert "probe-key" not in str(recorded.to_dict())


@pytest.mark.parametrize(
    ("fault", "status", "code", "retryable"),
    [
        ({"kind": "rate_limit", "retry_after": 3}, 429, "RATE_LIMIT", True),
        ({"kind": "http_5xx", "status": 503}, 502, "UPSTREAM_ERROR", True),
        ({"kind": "http_5xx", "status": 500}, 502, "UPSTREAM_ERROR", True),
        ({"kind": "malformed"}, 502, "UPSTREAM_ERROR", True),
        ({"kind": "drop"}, 502, "UPSTREAM_ERROR", True),
        ({"kind": "latency", "latency_ms": 1500}, 504, "UPSTREAM_TIMEOUT", True),
    ],
)
async def test_injected_fault_becomes_its_envelope_never_a_500(
    probe_client: httpx.AsyncClient,
    probe_stack: SimStack,
    fault: dict[str, object],
    status: int,
    code: str,
    retryable: bool,
) -> None:
    probe_stack.control("probe", "testnet").inject(count=1, **fault)  # type: ignore[arg-type]
    response = await probe_client.post("/mcp-probe/tools/get_price", json={"symbol": "X"}, headers=auth())
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["retryable"] is retryable
    if code == "RATE_LIMIT":
        assert response.headers["retry-after"] == "3"
    # the fault was used up: the next call succeeds
    again = await probe_client.post("/mcp-probe/tools/get_price", json={"symbol": "X"}, headers=auth())
    assert again.status_code == 200


async def test_write_that_times_out_says_it_may_have_been_placed_and_is_sent_once(
    probe_client: httpx.AsyncClient, probe_stack: SimStack
) -> None:
    control = probe_stack.control("probe", "testnet")
    control.inject("latency", latency_ms=1500, count=1)
    response = await probe_client.post("/mcp-probe/tools/place", json={"symbol": "Z"}, headers=auth())
    assert response.status_code == 504
    error = response.json()["error"]
    assert "may have been placed" in error["message"]
    assert error["details"]["may_have_been_placed"] is True
    assert len([r for r in control.recorded() if r.path == "/order"]) == 1


async def test_fault_control_route_over_http(probe_stack: SimStack) -> None:
    base = probe_stack.url("probe", "mainnet")
    async with httpx.AsyncClient(base_url=base) as http:
        created = await http.post("/__sim__/faults", json={"kind": "http_5xx", "count": 2, "status": 502})
        assert created.status_code == 201
        listed = (await http.get("/__sim__/faults")).json()["faults"]
        assert [f["kind"] for f in listed] == ["http_5xx"]
        assert (await http.get("/ticker")).status_code == 502
        assert (await http.get("/ticker")).status_code == 502
        assert (await http.get("/ticker")).status_code == 200
        recorded = (await http.get("/__sim__/requests")).json()["requests"]
        assert [r["path"] for r in recorded][-3:] == ["/ticker", "/ticker", "/ticker"]
        assert (await http.delete("/__sim__/requests")).json()["cleared"] >= 3
