"""hyperliquid-python-sdk as the client of the simulator over loopback: what it sends is accepted, tampering is not.

The SDK is synchronous `requests` code, so the simulator serves on its own thread (the harness's
`serve_in_thread`) and the test drives the SDK directly. The SDK signs for testnet (source "b")
whenever its base URL is not the real mainnet URL, so it talks to the testnet instance here. Its
nonce is the wall clock; it is pinned to the simulator's clock so nothing depends on today's date.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import eth_account
import pytest
from hl_sim import AGENT_KEY, OWNER, T0, make_app
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.types import Cloid

from cerbero_mcp.simulators.engine import ManualClock, SimControl
from cerbero_mcp.simulators.engine.harness import serve_in_thread, wait_started


class Served:
    """A simulator instance on loopback."""

    def __init__(self, url: str, control: SimControl, clock: ManualClock, app: Any) -> None:
        self.url = url
        self.control = control
        self.clock = clock
        self.app = app


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """Serve a testnet instance (rate limits on) on 127.0.0.1 and pin the SDK's nonce clock to it."""
    clock = ManualClock(T0)
    ticks = iter(range(10**9))
    # one millisecond per signed action, from the simulator's clock: unique and inside the nonce window
    monkeypatch.setattr("hyperliquid.exchange.get_timestamp_ms", lambda: int(clock.now() * 1000) + next(ticks))
    app = make_app(clock)
    control = SimControl(app, clock=clock)
    server, thread, url = serve_in_thread(control, name="cerbero-sim-hyperliquid-sdk-test")
    wait_started(server, thread)
    try:
        yield Served(url, control, clock, app)
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def sdk(served: Served) -> tuple[Info, Exchange]:
    info = Info(served.url, skip_ws=True)
    exchange = Exchange(eth_account.Account.from_key(AGENT_KEY), served.url, account_address=OWNER)
    return info, exchange


def test_sdk_builds_its_clients_from_meta_and_spot_meta(served: Served) -> None:
    info, _ = sdk(served)
    assert info.name_to_asset("BTC") == 0
    assert info.name_to_asset("PURR/USDC") == 10_000
    assert info.name_to_asset("HYPE/USDC") == 10_107
    assert info.asset_to_sz_decimals[0] == 5
    # Info and Exchange's own Info each read spotMeta then meta on construction
    assert [r.body["type"] for r in served.control.recorded()] == ["spotMeta", "meta", "spotMeta", "meta"]


def test_sdk_orders_are_accepted(served: Served) -> None:
    info, exchange = sdk(served)
    cloid = Cloid.from_int(7)
    placed = exchange.order("BTC", True, 0.001, 90000.0, {"limit": {"tif": "Gtc"}}, cloid=cloid)
    assert placed["status"] == "ok"
    oid = placed["response"]["data"]["statuses"][0]["resting"]["oid"]
    assert info.query_order_by_cloid(OWNER, cloid)["order"]["order"]["oid"] == oid
    (row,) = info.open_orders(OWNER)
    assert row["oid"] == oid
    assert exchange.cancel("BTC", oid)["response"]["data"]["statuses"] == ["success"]


def test_sdk_market_open_fills_at_a_valid_slippage_price(served: Served) -> None:
    info, exchange = sdk(served)
    result = exchange.market_open("ETH", True, 0.01)
    assert "filled" in result["response"]["data"]["statuses"][0], result
    state = info.user_state(OWNER)
    assert state["assetPositions"][0]["position"]["szi"] == "0.01"
    closed = exchange.market_close("ETH")
    assert "filled" in closed["response"]["data"]["statuses"][0], closed


def test_sdk_leverage_modify_and_schedule_cancel_are_accepted(served: Served) -> None:
    _, exchange = sdk(served)
    assert exchange.update_leverage(5, "BTC", is_cross=False)["status"] == "ok"
    placed = exchange.order("BTC", True, 0.001, 90000.0, {"limit": {"tif": "Gtc"}})
    oid = placed["response"]["data"]["statuses"][0]["resting"]["oid"]
    modified = exchange.modify_order(oid, "BTC", True, 0.002, 90100.0, {"limit": {"tif": "Gtc"}})
    assert "resting" in modified["response"]["data"]["statuses"][0]
    assert exchange.schedule_cancel(int(served.clock.now() * 1000) + 60_000)["status"] == "ok"


def test_sdk_tampered_payload_is_refused(served: Served) -> None:
    info, exchange = sdk(served)
    send = exchange.post

    def tamper(path: str, payload: Any = None) -> Any:
        payload["action"]["orders"][0]["s"] = "0.002"  # more size than was signed
        return send(path, payload)

    exchange.post = tamper
    result = exchange.order("BTC", True, 0.001, 90000.0, {"limit": {"tif": "Gtc"}})
    assert result["status"] == "err"
    assert result["response"].startswith("User or API Wallet 0x")
    assert info.open_orders(OWNER) == []


def test_sdk_signature_for_mainnet_is_refused_by_the_testnet_instance(served: Served) -> None:
    _, exchange = sdk(served)
    exchange.base_url = "https://api.hyperliquid.xyz"  # the SDK now signs source "a"…
    exchange.session.mount("https://", _Redirect(served.url))  # …but still reaches the testnet instance
    result = exchange.order("BTC", True, 0.001, 90000.0, {"limit": {"tif": "Gtc"}})
    assert result["status"] == "err"
    assert "does not exist" in result["response"]


def test_sdk_sees_429_when_the_ip_weight_is_spent(served: Served) -> None:
    info = Info(served.url, skip_ws=True)  # spotMeta + meta: 2 × 20 of the 1200 weight per minute
    for _ in range(58):
        info.meta()
    with pytest.raises(ClientError) as caught:
        info.meta()
    assert caught.value.status_code == 429


class _Redirect:
    """A requests adapter that sends https://api.hyperliquid.xyz traffic to the loopback simulator."""

    def __init__(self, url: str) -> None:
        from requests.adapters import HTTPAdapter

        self.url = url
        self.inner = HTTPAdapter()

    def send(self, request: Any, **kw: Any) -> Any:
        request.url = request.url.replace("https://api.hyperliquid.xyz", self.url)
        return self.inner.send(request, **kw)

    def close(self) -> None:
        self.inner.close()
