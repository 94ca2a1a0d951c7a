"""The cross-venue fan-out: each venue within its budget, partial answers, every venue's reason when all fail."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any, cast

import pytest

from cerbero_mcp.common.errors import InvalidInputError, UpstreamError
from cerbero_mcp.contracts import Services, ToolContext
from cerbero_mcp.exchanges.sentiment import crossvenue_schemas as s
from cerbero_mcp.exchanges.sentiment.crossvenue_tools import fan_out, instrument_of

CROSS_VENUE_TOOLS = (
    "get_funding_multi_exchange",
    "get_oi_history",
    "get_funding_arb_spread",
    "get_liquidation_heatmap",
    "get_cointegration_pairs",
)


def context() -> ToolContext:
    """Return a sentiment call's context (the fan-out only re-aims it; the fakes below read no client)."""
    return ToolContext(
        venue="sentiment",
        tool="get_funding_multi_exchange",
        environment="testnet",
        request_id="r1",
        bot_tag="t",
        state=cast(Services, None),
    )


def test_each_venue_names_its_own_perpetual() -> None:
    assert [instrument_of(v, "BTC") for v in s.VENUES] == ["BTC-PERPETUAL", "BTCUSDT", "BTC"]
    assert instrument_of("deribit", "SOL") == "SOL_USDC-PERPETUAL"


async def test_a_failing_a_malformed_and_a_slow_venue_leave_the_others_answering() -> None:
    never = asyncio.Event()
    seen: list[str] = []

    async def fetch(ctx: ToolContext, venue: s.VenueName) -> str:
        seen.append(ctx.venue)
        if venue == "deribit":
            raise InvalidInputError("deribit: instrument not found")
        if venue == "hyperliquid":
            await never.wait()  # slower than any budget
        return f"{venue} ok"

    answers, statuses = await fan_out(context(), ["deribit", "bybit", "hyperliquid"], "BTC", 0.05, fetch)
    assert answers == {"bybit": "bybit ok"}
    assert sorted(seen) == ["bybit", "deribit", "hyperliquid"]  # each fetch saw its venue's context
    assert statuses["deribit"].status == "error"
    assert statuses["deribit"].error_code == "INVALID_INPUT"
    assert statuses["deribit"].instrument == "BTC-PERPETUAL"
    assert statuses["hyperliquid"].status == "timed_out"
    assert statuses["hyperliquid"].error_code == "UPSTREAM_TIMEOUT"
    assert statuses["bybit"].status == "ok"

    async def malformed(ctx: ToolContext, venue: s.VenueName) -> Any:
        if venue == "bybit":
            return {}["fundingRate"]
        return venue

    answers, statuses = await fan_out(context(), ["bybit", "hyperliquid"], "BTC", 1.0, malformed)
    assert answers == {"hyperliquid": "hyperliquid"}
    assert statuses["bybit"].error_code == "UPSTREAM_ERROR"
    assert "malformed" in (statuses["bybit"].message or "")


async def test_when_no_venue_answers_the_call_fails_with_each_reason() -> None:
    async def fetch(ctx: ToolContext, venue: s.VenueName) -> str:
        raise UpstreamError(f"{venue} is down")

    with pytest.raises(UpstreamError) as caught:
        await fan_out(context(), ["bybit", "bybit", "hyperliquid"], "ETH", 1.0, fetch)
    venues = caught.value.details["venues"] if caught.value.details else []
    assert [v["venue"] for v in venues] == ["bybit", "hyperliquid"]  # asked once each
    assert "bybit is down" in caught.value.message


async def test_when_every_venue_refuses_the_request_the_call_is_invalid_input_not_a_5xx() -> None:
    async def fetch(ctx: ToolContext, venue: s.VenueName) -> str:
        raise InvalidInputError(f"{venue}: instrument not found")

    with pytest.raises(InvalidInputError) as caught:
        await fan_out(context(), ["deribit", "hyperliquid"], "ZZ", 1.0, fetch)
    assert "every venue refused" in caught.value.message
    assert caught.value.details is not None
    assert [v["instrument"] for v in caught.value.details["venues"]] == ["ZZ_USDC-PERPETUAL", "ZZ"]

    async def mixed(ctx: ToolContext, venue: s.VenueName) -> str:
        if venue == "deribit":
            raise InvalidInputError("deribit: instrument not found")
        raise UpstreamError("hyperliquid is down")

    with pytest.raises(UpstreamError):  # one venue was down: the request itself may be fine
        await fan_out(context(), ["deribit", "hyperliquid"], "ZZ", 1.0, mixed)


def test_the_installed_sentiment_toolset_serves_the_cross_venue_tools() -> None:
    # In a fresh interpreter: importing this test module already declared the tools in this one.
    code = (
        "from cerbero_mcp.exchanges.registry import installed_toolsets\n"
        "print(' '.join(sorted(s.name for t in installed_toolsets() if t.venue == 'sentiment' for s in t.specs)))"
    )
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert set(CROSS_VENUE_TOOLS) <= set(listed.stdout.split())
