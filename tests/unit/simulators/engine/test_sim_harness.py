import socket
import sys
import types
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from test_sim_faults import ECHO, build_echo

from cerbero_mcp.simulators.engine import ManualClock, SimulatorSpec, installed_simulators, start_simulators
from cerbero_mcp.simulators.engine.harness import seed_for


def test_two_instances_per_venue_with_different_seeds_and_merged_overrides() -> None:
    clock = ManualClock(1_736_000_000)
    other = SimulatorSpec("other", build_echo, lambda env, url, creds: {f"OTHER_URL_{env.upper()}": url},
                          lambda env: {})  # fmt: skip
    with start_simulators([ECHO, other], clock=clock) as stack:
        assert stack.venues == ["echo", "other"]
        assert len(stack.instances) == 4
        urls = {stack.url(v, e) for v in ("echo", "other") for e in ("testnet", "mainnet")}
        assert len(urls) == 4
        assert all(urlsplit(u).hostname == "127.0.0.1" for u in urls)
        assert stack.overrides == {
            "ECHO_URL_TESTNET": stack.url("echo", "testnet"),
            "ECHO_URL_MAINNET": stack.url("echo", "mainnet"),
            "ECHO_API_KEY_TESTNET": "key-testnet",
            "ECHO_API_KEY_MAINNET": "key-mainnet",
            "OTHER_URL_TESTNET": stack.url("other", "testnet"),
            "OTHER_URL_MAINNET": stack.url("other", "mainnet"),
        }
        assert stack.credentials("echo", "mainnet") == {"api_key": "key-mainnet", "api_secret": "secret-mainnet"}
        testnet = httpx.get(stack.url("echo", "testnet") + "/who").json()
        mainnet = httpx.get(stack.url("echo", "mainnet") + "/who").json()
        assert (testnet["env"], mainnet["env"]) == ("testnet", "mainnet")
        assert testnet["seed"] == seed_for("echo", "testnet") != mainnet["seed"] == seed_for("echo", "mainnet")
        assert stack.instance("echo", "testnet").config.clock is clock
        assert len(stack.control("echo", "testnet").recorded()) == 1
        assert stack.control("echo", "mainnet").recorded()[0].time == clock.now()
        port = urlsplit(stack.url("echo", "testnet")).port
    assert port is not None
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_a_simulator_that_fails_to_build_stops_the_ones_already_started() -> None:
    def broken(_config: object) -> object:
        raise RuntimeError("boom")

    spec = SimulatorSpec("broken", broken, lambda env, url, creds: {}, lambda env: {})  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="boom"):
        start_simulators([ECHO, spec])


def test_installed_simulators_imports_the_spec_of_each_served_venue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for venue, body in (
        ("alpha", "from test_sim_faults import ECHO as SPEC\n"),
        ("beta", ""),  # a venue without a simulator yet
        ("gamma", "from test_sim_faults import ECHO as SPEC\n"),  # being built: not served
    ):
        (tmp_path / venue).mkdir()
        (tmp_path / venue / "__init__.py").write_text("")
        if body:
            (tmp_path / venue / "simulator.py").write_text(body)
    package = types.ModuleType("fake_simulators")
    package.__path__ = [str(tmp_path)]
    monkeypatch.setitem(sys.modules, "fake_simulators", package)
    try:
        assert installed_simulators(("alpha", "beta"), package="fake_simulators") == [ECHO]
    finally:
        for name in [n for n in sys.modules if n.startswith("fake_simulators.")]:
            del sys.modules[name]


def test_installed_simulators_is_empty_without_served_venues() -> None:
    assert installed_simulators(()) == []


def test_installed_simulators_of_this_checkout_are_specs() -> None:
    specs = installed_simulators()
    assert all(isinstance(s, SimulatorSpec) for s in specs)
    assert [s.venue for s in specs] == sorted(s.venue for s in specs)
