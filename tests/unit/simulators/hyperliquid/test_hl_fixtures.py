"""The simulator's answers have the shapes of the documented bodies in tests/fixtures/hyperliquid (the fixture wins)."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from hl_sim import CLOID, OWNER, T0_MS, Sim, order_wire, trigger_wire

FIXTURES = Path(__file__).parents[3] / "fixtures" / "hyperliquid"
OPTIONAL = {"onlyIsolated", "builderFee"}  # present only for some assets / builder-routed fills


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def same_shape(doc: Any, ours: Any, where: str = "$") -> list[str]:
    """Return where `ours` lacks a documented key or has another JSON type (documented nulls match anything)."""
    if doc is None:
        return []
    if isinstance(doc, dict):
        if not isinstance(ours, dict):
            return [f"{where}: expected an object, got {ours!r}"]
        out: list[str] = []
        for key, value in doc.items():
            if key not in ours:
                if key not in OPTIONAL:
                    out.append(f"{where}.{key}: missing")
                continue
            out += same_shape(value, ours[key], f"{where}.{key}")
        return out
    if isinstance(doc, list):
        if not isinstance(ours, list):
            return [f"{where}: expected a list, got {ours!r}"]
        if doc and ours:
            return same_shape(doc[0], ours[0], f"{where}[0]")
        return []
    if isinstance(doc, str) and _numeric(doc):
        ok = isinstance(ours, str) and _numeric(ours)
        return [] if ok else [f"{where}: expected a decimal string, got {ours!r}"]
    same = type(doc) is type(ours)
    return [] if same else [f"{where}: expected {type(doc).__name__}, got {ours!r}"]


def _numeric(s: str) -> bool:
    try:
        Decimal(s)
    except InvalidOperation:
        return False
    return True


async def trade(sim: Sim) -> dict[str, int]:
    await sim.act({"type": "updateLeverage", "asset": 1, "isCross": False, "leverage": 10})
    px = str(round(await sim.mid("ETH") * 1.01, 1))
    (filled,) = await sim.place(order_wire(1, True, px, "0.05", tif="Ioc"))
    (resting,) = await sim.place(order_wire(0, False, "150000", "0.001", cloid=CLOID))
    (trig,) = await sim.place({**trigger_wire(1, False, "1000", "0.05", "1500", "sl"), "c": "0x" + "cd" * 16})
    return {"filled": filled["filled"]["oid"], "resting": resting["resting"]["oid"], "trigger": trig["resting"]["oid"]}


@pytest.mark.parametrize(
    ("fixture", "body"),
    [
        ("meta.json", {"type": "meta"}),
        ("spot_meta.json", {"type": "spotMeta"}),
        ("l2_book.json", {"type": "l2Book", "coin": "BTC"}),
        ("candle_snapshot.json", {"type": "candleSnapshot",
                                  "req": {"coin": "BTC", "interval": "15m", "startTime": T0_MS - 3_600_000}}),
        ("funding_history.json", {"type": "fundingHistory", "coin": "ETH", "startTime": T0_MS - 3_600_000}),
        ("predicted_fundings.json", {"type": "predictedFundings"}),
        ("meta_and_asset_ctxs.json", {"type": "metaAndAssetCtxs"}),
        ("spot_meta_and_asset_ctxs.json", {"type": "spotMetaAndAssetCtxs"}),
        ("clearinghouse_state.json", {"type": "clearinghouseState", "user": OWNER}),
        ("spot_clearinghouse_state.json", {"type": "spotClearinghouseState", "user": OWNER}),
        ("user_fills.json", {"type": "userFills", "user": OWNER}),
        ("order_status_unknown.json", {"type": "orderStatus", "user": OWNER, "oid": 1}),
    ],
)  # fmt: skip
async def test_info_answers_have_the_documented_shape(sim: Sim, fixture: str, body: dict[str, Any]) -> None:
    await trade(sim)
    assert same_shape(load(fixture), await sim.info(body)) == []


async def test_all_mids_are_decimal_strings_by_coin_name(sim: Sim) -> None:
    assert all(isinstance(v, str) and _numeric(v) for v in load("all_mids.json").values())
    mids = await sim.info({"type": "allMids"})
    assert all(isinstance(v, str) and _numeric(v) for v in mids.values())
    assert "PURR/USDC" in mids
    assert any(k.startswith("@") for k in mids)


async def test_frontend_open_orders_have_the_documented_limit_and_trigger_rows(sim: Sim) -> None:
    await trade(sim)
    limit_doc, trigger_doc = load("frontend_open_orders.json")
    rows = await sim.info({"type": "frontendOpenOrders", "user": OWNER})
    (limit,) = [r for r in rows if not r["isTrigger"]]
    (trigger,) = [r for r in rows if r["isTrigger"]]
    assert same_shape(limit_doc, limit) == []
    assert same_shape(trigger_doc, trigger) == []
    assert trigger["tif"] is None
    assert trigger["triggerCondition"] == "Price below 1500"
    assert trigger["triggerPx"] == "1500.0"


async def test_order_status_has_the_documented_shape(sim: Sim) -> None:
    oids = await trade(sim)
    ours = await sim.info({"type": "orderStatus", "user": OWNER, "oid": oids["filled"]})
    assert same_shape(load("order_status.json"), ours) == []
    assert ours["order"]["order"]["sz"] == "0.0"  # whole values print with one decimal, as documented


async def test_exchange_answers_have_the_documented_shape(sim: Sim) -> None:
    px = str(math.ceil(await sim.mid("BTC") * 1.01))
    assert same_shape(load("order_filled.json"), await sim.act({"type": "order", "grouping": "na",
                      "orders": [order_wire(0, True, px, "0.001", tif="Ioc")]})) == []  # fmt: skip
    resting = await sim.act({"type": "order", "orders": [order_wire(0, True, "90000", "0.001")], "grouping": "na"})
    assert same_shape(load("order_resting.json"), resting) == []
    error = await sim.act({"type": "order", "orders": [order_wire(0, True, "90000", "0.0001")], "grouping": "na"})
    assert error == load("order_error.json")
    oid = resting["response"]["data"]["statuses"][0]["resting"]["oid"]
    assert await sim.act({"type": "cancel", "cancels": [{"a": 0, "o": oid}]}) == load("cancel_success.json")
    assert await sim.act({"type": "cancel", "cancels": [{"a": 0, "o": oid}]}) == load("cancel_error.json")
    assert await sim.act({"type": "updateLeverage", "asset": 0, "isCross": True, "leverage": 3}) == load(
        "action_default.json"
    )
    err = await sim.act({"type": "noop"}, key="0x" + "66" * 32)
    assert same_shape(load("action_err.json"), err) == []
    assert err["response"].endswith(" does not exist.")
