"""alpaca-py as the oracle of the wire JSON: our order bodies carry the fields and values the SDK would send.

alpaca-py's request models hold floats, so they never reach our wire; here they say, for random
orders, which fields Alpaca expects and with which values. Ours must carry the same fields with the
same numbers (as exact strings from Decimal) — floats are compared through their shortest repr.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.client import json_body
from cerbero_mcp.exchanges.alpaca.orders import order_body, replace_body

SEEDS = range(60)


def normal(value: Any) -> Any:
    """Return an SDK field value the way its JSON says it: enums by value, numbers as exact Decimals."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: normal(x) for k, x in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value))
    return value


def ours(body: dict[str, Any]) -> dict[str, Any]:
    """Return our wire JSON with every numeric string as a Decimal (the same value Alpaca reads)."""

    def back(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: back(x) for k, x in value.items()}
        if isinstance(value, str):
            try:
                return Decimal(value)
            except ArithmeticError:
                return value
        return value

    wire = json.loads(json_body(body))
    assert all(not isinstance(x, float) for x in wire.values()), "a float reached the wire"
    return {k: back(x) for k, x in wire.items()}


def price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(100, 99_999)) / 100


def random_order(rng: random.Random) -> tuple[s.AlpacaPlaceOrderRequest, Any]:
    """Return the same random order as our request and as alpaca-py's."""
    kind = rng.choice(["market", "limit", "stop_market", "stop_limit", "trailing_stop", "bracket", "notional"])
    side = rng.choice(["buy", "sell"])
    qty = Decimal(rng.randint(1, 500))
    coid = f"oracle-{rng.randrange(10**8)}" if rng.random() < 0.5 else None
    tif = rng.choice(["day", "gtc"])
    sdk_common = {"symbol": "AAPL", "side": OrderSide(side), "time_in_force": TimeInForce(tif), "client_order_id": coid}
    common = {"instrument": "AAPL", "side": side, "time_in_force": tif, "client_order_id": coid}
    if kind == "market":
        return s.AlpacaPlaceOrderRequest(type="market", quantity=qty, **common), MarketOrderRequest(
            qty=float(qty), **sdk_common
        )
    if kind == "notional":
        amount = price(rng)
        common["time_in_force"] = "day"
        sdk_common["time_in_force"] = TimeInForce.DAY
        return s.AlpacaPlaceOrderRequest(type="market", notional=amount, **common), MarketOrderRequest(
            notional=float(amount), **sdk_common
        )
    if kind == "limit":
        p = price(rng)
        return s.AlpacaPlaceOrderRequest(type="limit", quantity=qty, price=p, **common), LimitOrderRequest(
            qty=float(qty), limit_price=float(p), **sdk_common
        )
    if kind == "stop_market":
        p = price(rng)
        return s.AlpacaPlaceOrderRequest(type="stop_market", quantity=qty, stop_price=p, **common), StopOrderRequest(
            qty=float(qty), stop_price=float(p), **sdk_common
        )
    if kind == "stop_limit":
        p, q = price(rng), price(rng)
        ours_req = s.AlpacaPlaceOrderRequest(type="stop_limit", quantity=qty, price=q, stop_price=p, **common)
        return ours_req, StopLimitOrderRequest(qty=float(qty), stop_price=float(p), limit_price=float(q), **sdk_common)
    if kind == "trailing_stop":
        trail = Decimal(rng.randint(1, 200)) / 10
        if rng.random() < 0.5:
            return s.AlpacaPlaceOrderRequest(
                type="trailing_stop", quantity=qty, trail_percent=trail, **common
            ), TrailingStopOrderRequest(qty=float(qty), trail_percent=float(trail), **sdk_common)
        return s.AlpacaPlaceOrderRequest(
            type="trailing_stop", quantity=qty, trail_price=trail, **common
        ), TrailingStopOrderRequest(qty=float(qty), trail_price=float(trail), **sdk_common)
    entry, tp, sl = price(rng), price(rng), price(rng)
    sl_limit = price(rng) if rng.random() < 0.5 else None
    ours_req = s.AlpacaPlaceOrderRequest(
        type="limit",
        quantity=qty,
        price=entry,
        order_class="bracket",
        take_profit=s.TakeProfit(limit_price=tp),
        stop_loss=s.StopLoss(stop_price=sl, limit_price=sl_limit),
        **common,
    )
    sdk = LimitOrderRequest(
        qty=float(qty),
        limit_price=float(entry),
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=float(tp)),
        stop_loss=StopLossRequest(stop_price=float(sl), limit_price=float(sl_limit) if sl_limit else None),
        **sdk_common,
    )
    return ours_req, sdk


@pytest.mark.parametrize("seed", SEEDS)
def test_our_order_json_equals_what_alpaca_py_would_send(seed: int) -> None:
    request, sdk = random_order(random.Random(seed))
    assert ours(order_body(request)) == normal(sdk.to_request_fields())


@pytest.mark.parametrize("seed", range(20))
def test_our_replace_json_equals_what_alpaca_py_would_send(seed: int) -> None:
    rng = random.Random(seed)
    qty = Decimal(rng.randint(1, 100)) if rng.random() < 0.7 else None
    limit = price(rng) if rng.random() < 0.7 else None
    stop = price(rng) if rng.random() < 0.3 else None
    if qty is None and limit is None and stop is None:
        qty = Decimal(1)
    coid = f"r-{seed}" if rng.random() < 0.5 else None
    request = s.AlpacaAmendOrderRequest(order_id="x", quantity=qty, price=limit, stop_price=stop, client_order_id=coid)
    sdk = ReplaceOrderRequest(
        qty=int(qty) if qty is not None else None,
        limit_price=float(limit) if limit is not None else None,
        stop_price=float(stop) if stop is not None else None,
        client_order_id=coid,
    )
    assert ours(replace_body(request)) == normal(sdk.to_request_fields())
