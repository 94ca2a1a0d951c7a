"""alpaca-py's request models and helpers against the simulator: order classes, the option chain, faults."""

from __future__ import annotations

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.requests import OptionChainRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import ContractType, OrderClass, OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from cerbero_mcp.simulators.engine import SimStack


def client(stack: SimStack) -> TradingClient:
    creds = stack.credentials("alpaca", "testnet")
    c = TradingClient(creds["key_id"], creds["secret_key"], paper=True, url_override=stack.url("alpaca", "testnet"))
    c._retry = 0
    return c


def test_bracket_from_alpaca_py_models_and_its_replace(stack: SimStack) -> None:
    c = client(stack)
    req = LimitOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY, limit_price=150.0, time_in_force=TimeInForce.GTC,
                            order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=400.0),
                            stop_loss=StopLossRequest(stop_price=140.0, limit_price=139.5))  # fmt: skip
    order = c.submit_order(req)
    assert order.order_class == OrderClass.BRACKET
    assert order.legs is not None
    assert [leg.status for leg in order.legs] == [OrderStatus.HELD, OrderStatus.HELD]
    # the SDK sent JSON numbers (its models are floats): the simulator read the same values
    sent = stack.control("alpaca", "testnet").recorded("/v2/orders")[-1].body
    assert sent["take_profit"] == {"limit_price": 400.0}
    assert order.limit_price == "150"
    replaced = c.replace_order_by_id(order.id, ReplaceOrderRequest(limit_price=151.0))
    assert replaced.replaces == order.id
    assert replaced.id != order.id
    assert c.get_order_by_id(order.id).status == OrderStatus.REPLACED
    nested = c.get_orders(GetOrdersRequest(status="open", nested=True))
    assert [o.id for o in nested] == [replaced.id]
    c.cancel_order_by_id(replaced.id)
    assert {leg.status for leg in c.get_order_by_id(replaced.id).legs or []} == {OrderStatus.CANCELED}


def test_alpaca_py_option_chain_follows_every_page(stack: SimStack) -> None:
    creds = stack.credentials("alpaca", "mainnet")
    data = OptionHistoricalDataClient(creds["key_id"], creds["secret_key"], url_override=stack.url("alpaca", "testnet"))
    chain = data.get_option_chain(OptionChainRequest(underlying_symbol="SPY", type=ContractType.CALL))
    assert len(chain) > 100  # more than the simulator's default page
    snap = next(iter(chain.values()))
    assert snap.greeks is not None
    assert 0 < snap.greeks.delta < 1
    assert snap.implied_volatility is not None


def test_injected_fault_reaches_the_sdk_and_is_recorded(stack: SimStack) -> None:
    control = stack.control("alpaca", "testnet")
    control.inject("http_5xx", count=1, status=503, path_prefix="/v2/account")
    with pytest.raises(APIError) as exc:
        client(stack).get_account()
    assert exc.value.status_code == 503
    assert client(stack).get_account().status == "ACTIVE"
    assert [r.path for r in control.recorded("/v2/account")] == ["/v2/account", "/v2/account"]
