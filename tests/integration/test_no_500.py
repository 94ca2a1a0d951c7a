"""Nothing a client sends produces a 500: junk bodies on every tool of every venue get a 4xx envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges.registry import installed_toolsets
from support.tokens import auth

JUNK: list[Any] = [
    None,
    [],
    "text",
    12,
    {"instrument": ""},
    {"instrument": "X" * 500},
    {"instrument": 5, "quantity": "abc"},
    {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "limit", "quantity": "1e400", "price": "-1"},
    {"instrument": "AAPL", "side": "hold", "type": "teleport", "quantity": "NaN"},
    {"order_id": {"nested": ["deep"]}},
    {"currency": "DOGE", "expiry": "31FOO99", "target_delta": 7},
    {"legs": [{"instrument": "BTC-PERPETUAL", "side": "buy", "quantity": "Infinity"}] * 9},
    {"indicators": [{"name": "no_such_indicator", "params": {"period": -3}}], "instrument": "AAPL"},
    {"unknown_field": True},
    # Well-formed orders but for one hostile number, so nothing else refuses them first.
    {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "market", "quantity": "9" * 5000},
    {"instrument": "BTC-PERPETUAL", "side": "buy", "type": "limit", "quantity": "10", "price": "1e400"},
    {"instrument": "AAPL", "side": "buy", "type": "limit", "quantity": "1_000", "price": "1", "client_order_id": "j-1"},
    {"instrument": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "price": "١٠٠"},
    {"instrument": "AAPL", "side": "buy", "type": "stop_market", "quantity": 1e308, "stop_price": "-Infinity"},
    {"instrument": "AAPL", "side": "sell", "type": "trailing_stop", "quantity": "1", "trailing_amount": "1e400"},
    {"order_id": "1", "quantity": "1e-400", "price": " 1"},
    {"instrument": "BTC-PERPETUAL", "type": "limit", "price": "1" * 31},
    {
        "legs": [
            {"instrument": "BTC-PERPETUAL", "side": "buy", "quantity": "1e400"},
            {"instrument": "ETH-PERPETUAL", "side": "sell", "quantity": "1", "price": "NaN"},
        ],
        "side": "buy",
        "quantity": "9" * 5000,
        "type": "limit",
        "price": "1e400",
    },
    {
        "instrument": "AAPL",
        "side": "buy",
        "quantity": "1",
        "entry_price": "1e400",
        "take_profit_price": "Infinity",
        "stop_loss_price": True,
        "client_order_id": "j-2",
    },
    {
        "trigger": {"instrument": "AAPL", "side": "buy", "type": "limit", "quantity": "1e400", "price": "100"},
        "child": {"instrument": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "price": "9" * 5000},
        "client_order_id": "j-3",
    },
]


@pytest.mark.parametrize("toolset", installed_toolsets(), ids=lambda t: t.venue)
async def test_junk_bodies_get_4xx_envelopes(http: httpx.AsyncClient, toolset: Any) -> None:
    failures = []
    for spec in toolset.specs:
        for body in JUNK:
            response = await http.post(spec.path, json=body, headers=auth(bot="fuzz"))
            if response.status_code >= 500:
                failures.append(f"{spec.name} {body!r:.80}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 400:
                assert set(response.json()) == {"error", "request_id", "data_timestamp"}
    assert failures == []


async def test_malformed_json_and_wrong_content_are_4xx(http: httpx.AsyncClient) -> None:
    for spec in [s for t in installed_toolsets() for s in t.specs][:10]:
        for content in (b"{", b"\xff\xfe", b'{"a": 1}{"b": 2}'):
            response = await http.post(
                spec.path, content=content, headers={**auth(bot="fuzz"), "Content-Type": "application/json"}
            )
            assert 400 <= response.status_code < 500, (spec.name, content, response.text)
