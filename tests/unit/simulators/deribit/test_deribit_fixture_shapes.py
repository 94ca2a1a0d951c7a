"""The Deribit simulator answers each method in the shape Deribit documents (tests/fixtures/deribit).

One scenario drives the simulator in-process (ASGI) through every documented method; each documented
body is then compared with the simulator's answer to the same method: every documented key must be
there with the same JSON type (arrays element by element). When they disagree the documentation wins
and the simulator is what needs fixing.
"""

from __future__ import annotations

import asyncio
import json
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import httpx
import pytest

from cerbero_mcp.common.http import dumps_exact
from cerbero_mcp.simulators.deribit.simulator import build_app
from cerbero_mcp.simulators.engine import ManualClock, SimulatorConfig
from support.fixtures import FIXTURES, load_fixture, shape_differences

T0 = 1_772_452_800.0  # Monday 2026-03-02 12:00 UTC: far from the 08:00 settlement pause
CREDS = {"client_id": "bot-id", "client_secret": "bot-secret"}
CALL, PUT = "BTC-25DEC26-100000-C", "BTC-25DEC26-100000-P"
DOCUMENTED = sorted(p.stem for p in (FIXTURES / "deribit").glob("*.json"))
# Fields Deribit documents as present only in some cases (the field descriptions of its API reference).
CONDITIONAL = frozenset(
    {
        "is_rebalance",  # "Optional (only for spot)"
        "advanced",  # "only for options; omitted if not applicable"
        "implv",  # "Only if advanced=implv"
        "fees",  # "available when parameter extended = true and user has any discounts"
    }
)


class Venue:
    """The simulator over ASGI, speaking the JSON-RPC envelope."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None
        self.ids = 0

    async def call(self, method: str, params: dict[str, Any], *, private: bool = False) -> tuple[int, Any]:
        self.ids += 1
        headers = {"Authorization": f"Bearer {self.token}"} if private else {}
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}
        # Exact JSON numbers for Decimal prices and amounts, as a real client sends them.
        r = await self.http.post(
            "/api/v2/", content=dumps_exact(body), headers={**headers, "Content-Type": "application/json"}
        )
        return r.status_code, json.loads(r.text, parse_float=Decimal)

    async def ok(self, method: str, params: dict[str, Any], *, private: bool = False) -> Any:
        status, body = await self.call(method, params, private=private)
        assert status == 200, (method, body)
        assert "result" in body, (method, body)
        return body


def on_tick(price: Decimal, tick: Decimal) -> Decimal:
    """Return `price` floored onto `tick`."""
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


async def drive() -> dict[str, Any]:
    """Call every documented method on a fresh simulator; return its answers by fixture name."""
    clock = ManualClock(T0)
    answers: dict[str, Any] = {}
    app = build_app(SimulatorConfig("deribit", "testnet", 11, CREDS, clock), rate_limit=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://deribit.sim") as http:
        venue = Venue(http)
        answers["public_auth"] = await venue.ok("public/auth", {"grant_type": "client_credentials", **CREDS})
        venue.token = answers["public_auth"]["result"]["access_token"]
        answers["public_get_instruments"] = await venue.ok(
            "public/get_instruments", {"currency": "BTC", "kind": "future"}
        )
        answers["public_get_instrument"] = await venue.ok("public/get_instrument", {"instrument_name": CALL})
        answers["public_ticker"] = await venue.ok("public/ticker", {"instrument_name": "BTC-PERPETUAL"})
        answers["public_get_order_book"] = await venue.ok(
            "public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 5}
        )
        end_ms = int(T0 * 1000)
        answers["public_get_tradingview_chart_data"] = await venue.ok(
            "public/get_tradingview_chart_data",
            {
                "instrument_name": "BTC-PERPETUAL",
                "start_timestamp": end_ms - 2 * 3_600_000,
                "end_timestamp": end_ms,
                "resolution": "30",
            },
        )
        answers["private_get_account_summary"] = await venue.ok(
            "private/get_account_summary", {"currency": "BTC", "extended": True}, private=True
        )
        answers["private_buy"] = await venue.ok(
            "private/buy",
            {"instrument_name": "ETH-PERPETUAL", "amount": 40, "type": "market", "label": "market0000234"},
            private=True,
        )
        answers["private_get_positions"] = await venue.ok("private/get_positions", {"currency": "ETH"}, private=True)
        eth = (await venue.ok("public/ticker", {"instrument_name": "ETH-PERPETUAL"}))["result"]
        crossing = await venue.ok(
            "private/sell",
            {"instrument_name": "ETH-PERPETUAL", "amount": 37, "type": "limit", "price": eth["best_bid_price"]},
            private=True,
        )
        filled = crossing["result"]["order"]
        assert (filled["order_type"], filled["order_state"]) == ("limit", "filled"), filled
        answers["private_get_order_state"] = await venue.ok(
            "private/get_order_state", {"order_id": filled["order_id"]}, private=True
        )
        option = (await venue.ok("public/get_instrument", {"instrument_name": CALL}))["result"]
        tick = Decimal(str(option["tick_size"]))
        resting = await venue.ok(
            "private/buy",
            {"instrument_name": CALL, "amount": Decimal("0.1"), "type": "limit", "price": tick},
            private=True,
        )
        order_id = resting["result"]["order"]["order_id"]
        answers["private_edit"] = await venue.ok(
            "private/edit", {"order_id": order_id, "amount": Decimal("0.2"), "price": 2 * tick}, private=True
        )
        answers["private_get_open_orders_by_currency"] = await venue.ok(
            "private/get_open_orders_by_currency", {"currency": "BTC"}, private=True
        )
        eth_tick = Decimal(
            str((await venue.ok("public/get_instrument", {"instrument_name": "ETH-PERPETUAL"}))["result"]["tick_size"])
        )
        stop = await venue.ok(
            "private/sell",
            {
                "instrument_name": "ETH-PERPETUAL",
                "amount": 5,
                "type": "stop_market",
                "trigger": "index_price",
                "trigger_price": on_tick(Decimal(str(eth["mark_price"])) * Decimal("0.8"), eth_tick),
            },
            private=True,
        )
        answers["private_cancel"] = await venue.ok(
            "private/cancel", {"order_id": stop["result"]["order"]["order_id"]}, private=True
        )
        answers["private_create_combo"] = await venue.ok(
            "private/create_combo",
            {
                "trades": [
                    {"instrument_name": CALL, "amount": 1, "direction": "buy"},
                    {"instrument_name": PUT, "amount": 1, "direction": "sell"},
                ]
            },
            private=True,
        )
        status, answers["error_bad_request"] = await venue.call(
            "public/get_order_book", {"instrument_name": "BTC-PERPETUAL", "depth": 7}
        )
        assert status == 400
    limited = build_app(SimulatorConfig("deribit", "testnet", 11, CREDS, clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://deribit.sim") as http:
        venue = Venue(http)
        for _ in range(1000):  # the clock is frozen, so the public credit pool runs out and stays out
            status, body = await venue.call("public/get_time", {})
            if status == 429:
                answers["error_too_many_requests"] = body
                break
    return answers


@pytest.fixture(scope="module")
def answers() -> dict[str, Any]:
    return asyncio.run(drive())


def test_every_documented_fixture_is_compared(answers: dict[str, Any]) -> None:
    assert set(DOCUMENTED) <= set(answers)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_simulator_answer_has_the_documented_shape(name: str, answers: dict[str, Any]) -> None:
    differences = shape_differences(load_fixture("deribit", name), answers[name], conditional=CONDITIONAL)
    assert differences == [], f"{name}: the simulator differs from Deribit's documented answer:\n" + "\n".join(
        differences
    )


def test_the_shape_comparison_flags_missing_keys_and_other_types() -> None:
    documented = {"result": [{"price": Decimal("1.5"), "label": "", "maybe": None}, {"price": 2, "label": None}]}
    assert shape_differences(documented, {"result": [{"price": 3, "label": "x", "extra": True}]}) == []
    assert shape_differences(documented, {"result": [{"price": "market_price", "label": None}]}) == [
        '$.result[0].price: documented number, simulator string ("market_price")'
    ]
    assert shape_differences(documented, {"result": [{"label": "x"}]}) == [
        "$.result[0].price: documented, missing from the simulator"
    ]
    assert shape_differences(documented, {"result": [{"label": "x"}]}, conditional=frozenset({"price"})) == []
    assert shape_differences(documented, {"result": {}}) == ["$.result: documented array, simulator object ({})"]
