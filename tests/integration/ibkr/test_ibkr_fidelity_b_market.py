"""IBKR market data as IBKR documents it (issue 13 items 8, 9, 10, 12): sizes, contract choice, 12h bars, depth."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from cerbero_mcp.simulators.engine.harness import SimStack
from support.tokens import auth

AAPL_NASDAQ = 265598


async def ok(http: httpx.AsyncClient, name: str, body: dict[str, Any]) -> Any:
    """Call an IBKR tool with the testnet token and require 200."""
    response = await http.post(f"/mcp-ibkr/tools/{name}", json=body, headers=auth(bot="ibkr-fidelity-b"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_ticker_sizes_are_shares_not_ibkrs_lots_of_100(http: httpx.AsyncClient) -> None:
    ticker = await ok(http, "get_ticker", {"instrument": "SPY"})
    # IBKR's field 88/85 of a US stock counts lots of 100 shares; the ticker says shares.
    assert Decimal(ticker["bid_size"]) == Decimal(ticker["info"]["88"]) * 100
    assert Decimal(ticker["ask_size"]) == Decimal(ticker["info"]["85"]) * 100
    assert Decimal(ticker["info"]["size_lot"]) == 100


async def test_symbols_resolve_to_the_us_primary_listing_and_say_which(http: httpx.AsyncClient) -> None:
    ticker = await ok(http, "get_ticker", {"instrument": "AAPL"})
    assert ticker["info"]["conid"] == AAPL_NASDAQ
    found = await ok(http, "search_contracts", {"query": "AAPL"})
    assert [c["conid"] for c in found["contracts"]] == [38708077, AAPL_NASDAQ]  # every hit, the chosen one named
    assert [c["info"].get("exchange") for c in found["contracts"]] == ["MEXI", "NASDAQ"]


async def test_12h_bars_are_built_from_4h_bars(http: httpx.AsyncClient, sim_stack: SimStack) -> None:
    bars = (await ok(http, "get_bars", {"instrument": "AAPL", "resolution": "12h", "limit": 6}))["bars"]
    assert len(bars) >= 2
    starts = [datetime.fromisoformat(bar["ts"]).timestamp() for bar in bars]
    assert all(start % 43_200 == 0 for start in starts)
    asked = [r.query_params for r in sim_stack.control("ibkr", "testnet").recorded() if r.path.endswith("/history")]
    assert asked[-1]["bar"] == "4h"


async def test_depth_reads_the_documented_price_ladder(http: httpx.AsyncClient) -> None:
    depth = await ok(http, "get_depth", {"instrument": "MSFT"})
    bids = [Decimal(level["price"]) for level in depth["bids"]]
    asks = [Decimal(level["price"]) for level in depth["asks"]]
    assert len(bids) == len(asks) == 10
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert all(Decimal(level["size"]) > 0 for level in depth["bids"] + depth["asks"])
