"""DeribitClient against dedicated simulator instances with Deribit's limits on (issue 13, items 17-19).

Each test starts its own instances on a ManualClock (the session's simulators run with rate limits
off); the client's pacer runs on that same clock and "sleeps" by moving it, so nothing depends on
wall-clock speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.common.http import UpstreamHTTP, tracking_sends
from cerbero_mcp.common.pacing import Pacer
from cerbero_mcp.contracts import Leg
from cerbero_mcp.exchanges.deribit import exposure
from cerbero_mcp.exchanges.deribit.client import MAX_CONNECTIONS, PACING, DeribitClient
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.deribit.simulator import SPEC
from cerbero_mcp.simulators.engine import ManualClock, SimStack, start_simulators

T0 = 1_772_452_800.0  # 2026-03-02T12:00:00Z
BUY = {"instrument_name": "BTC-PERPETUAL", "amount": Decimal(10), "type": "market"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def stack(clock: ManualClock) -> Iterator[SimStack]:
    with start_simulators([SPEC], clock=clock, envs=("testnet",)) as started:
        yield started


def make_client(stack: SimStack, clock: ManualClock) -> DeribitClient:
    """Return a client of the testnet instance whose pacer waits on the manual clock."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    creds = stack.credentials("deribit", "testnet")
    return DeribitClient(
        UpstreamHTTP("deribit", f"{stack.url('deribit', 'testnet')}/api/v2"),
        "testnet",
        creds["client_id"],
        creds["client_secret"],
        pacer=Pacer("deribit", PACING, clock=clock, sleep=sleep),
    )


# --- item 17: pool within Deribit's connection limit, a token valid on every pooled connection ------


def test_deribit_pool_stays_within_32_connections(settings: Settings) -> None:
    assert settings.upstream_pool_size > MAX_CONNECTIONS == 32
    http = DeribitClient.transport(settings, "testnet")
    assert http._pool_size == 32


async def test_pooled_connections_share_one_session_token(stack: SimStack, clock: ManualClock) -> None:
    client = make_client(stack, clock)
    try:
        await client.private_get_positions("BTC")  # authenticates on one connection
        results = await asyncio.gather(*(client.private_get_account_summary("BTC") for _ in range(12)))
        assert all(r["currency"] == "BTC" for r in results)
        auths = stack.control("deribit", "testnet").recorded("/api/v2/public/auth")
        assert len(auths) == 1  # no re-authentication churn across the pool
    finally:
        await client.aclose()


async def test_simulator_refuses_a_33rd_connection_and_the_client_pool_never_opens_one(
    stack: SimStack, clock: ManualClock, settings: Settings
) -> None:
    url = f"{stack.url('deribit', 'testnet')}/api/v2"
    creds = stack.credentials("deribit", "testnet")
    wide = DeribitClient(UpstreamHTTP("deribit", url, pool_size=100), "testnet", None, None)
    try:
        outcomes = await asyncio.gather(
            *(wide.public_ticker("BTC-PERPETUAL") for _ in range(40)), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, errors.RateLimitError)]
        assert refused  # 40 simultaneous connections: Deribit answers the ones past 32 with HTTP 429
    finally:
        await wide.aclose()
    clock.advance(60)  # credits back; the wide client's connections are closed now
    # The gateway's Deribit pool, as the ClientRegistry builds it from settings (upstream_pool_size 100).
    pool = DeribitClient.transport(settings, "testnet")._pool_size
    client = DeribitClient(
        UpstreamHTTP("deribit", url, pool_size=pool), "testnet", creds["client_id"], creds["client_secret"]
    )
    try:
        # The wide client's sockets are closed; ASGI never tells, so forget them as uvicorn's idle timeout would.
        stack.instance("deribit", "testnet").app.state.venue.connections.seen.clear()
        outcomes = await asyncio.gather(
            *(client.public_ticker("BTC-PERPETUAL") for _ in range(40)), return_exceptions=True
        )
        assert not [o for o in outcomes if isinstance(o, BaseException)]
    finally:
        await client.aclose()


# --- item 18: a transient refusal of an order POST is retryable, "may have been placed", not re-sent --


async def test_settlement_pause_is_retryable_and_the_order_is_not_resent(stack: SimStack, clock: ManualClock) -> None:
    client = make_client(stack, clock)
    try:
        clock.set(datetime(2026, 3, 3, 8, 0, 2, tzinfo=UTC).timestamp())  # inside the daily settlement pause
        await client.private_get_positions("BTC")  # authenticated: the buy below is sent exactly once
        control = stack.control("deribit", "testnet")
        control.clear_recorded()
        with tracking_sends() as sends, pytest.raises(errors.CerberoError) as caught:
            await client.private_buy(dict(BUY))
        assert not isinstance(caught.value, errors.InvalidOrderError)
        assert caught.value.retryable
        assert caught.value.definite is False  # may have been placed: look it up, never re-send
        assert sends.writes == 1
        assert len(control.recorded("/api/v2/private/buy")) == 1
    finally:
        await client.aclose()


# --- item 19: matching-engine credits are paced, 10028 is RATE_LIMIT --------------------------------


async def test_simulator_answers_10028_when_matching_engine_credits_run_out(
    stack: SimStack, clock: ManualClock
) -> None:
    # An unpaced client (a pacer that never waits) spends Deribit's burst of 20 and meets 10028.
    creds = stack.credentials("deribit", "testnet")
    unpaced = DeribitClient(
        UpstreamHTTP("deribit", f"{stack.url('deribit', 'testnet')}/api/v2"),
        "testnet",
        creds["client_id"],
        creds["client_secret"],
        pacer=Pacer("deribit", {k: type(v)(10_000, 1.0) for k, v in PACING.items()}, clock=clock),
    )
    try:
        for _ in range(20):
            await unpaced.private_buy(dict(BUY))
        with pytest.raises(errors.RateLimitError) as caught:
            await unpaced.private_buy(dict(BUY))
        assert caught.value.details["venue"] == "deribit"
        clock.advance(0.2)  # one request's worth of credits at 5 per second
        await unpaced.private_buy(dict(BUY))
    finally:
        await unpaced.aclose()


async def test_client_paces_matching_engine_calls_instead_of_meeting_10028(stack: SimStack, clock: ManualClock) -> None:
    client = make_client(stack, clock)
    try:
        for _ in range(30):
            result = await client.private_buy(dict(BUY))
            assert result["order"]["order_state"] == "filled"
        assert len(stack.control("deribit", "testnet").recorded("/api/v2/private/buy")) == 30
        assert client.pacer.waited_s > 0  # it waited for credits rather than spend what Deribit had not refilled
    finally:
        await client.aclose()


# --- item 16: USDC-settled positions are each valued at their own index -------------------------------


class Ctx:
    """The part of a ToolContext the exposure hook uses."""

    def __init__(self, client: DeribitClient) -> None:
        self._client = client

    async def client(self) -> DeribitClient:
        return self._client


async def test_usdc_positions_are_valued_at_their_own_index(stack: SimStack, clock: ManualClock) -> None:
    client = make_client(stack, clock)
    try:
        await client.private_buy({"instrument_name": "ETH_USDC-PERPETUAL", "amount": Decimal(10), "type": "market"})
        eth_index = Decimal(str((await client.public_ticker("ETH_USDC-PERPETUAL"))["index_price"]))
        btc_index = Decimal(str((await client.public_ticker("BTC_USDC-PERPETUAL"))["index_price"]))
        legs = [Leg(instrument="BTC_USDC-PERPETUAL", side="buy", quantity=Decimal("0.01"))]
        book = await exposure.book(Ctx(client), legs)  # type: ignore[arg-type]
        assert book.positions == {"ETH_USDC-PERPETUAL": Decimal(10)}
        assert book.value("ETH_USDC-PERPETUAL", Decimal(10), None) == 10 * eth_index
        assert book.value("BTC_USDC-PERPETUAL", Decimal("0.01"), None) == Decimal("0.01") * btc_index
        summary = await client.private_get_account_summary("USDC")
        assert book.equity == summary["equity"]  # a stable-coin account is already in USD
    finally:
        await client.aclose()
