"""Bybit's symbol → category rules, its error table, and the increments checked before an order leaves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.bybit import errors as bybit_errors
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit import tools
from cerbero_mcp.exchanges.bybit.orders import order_params
from cerbero_mcp.exchanges.bybit.symbols import category_from_symbol, expiry_code, next_quarterly, quarterly_future
from cerbero_mcp.exchanges.bybit.toolset import check_order_values
from support.fixtures import load_fixture
from unit.exchanges.bybit.bybit_documented import DocumentedClient


@pytest.mark.parametrize(
    ("symbol", "category"),
    [
        ("BTC-27MAR26-70000-P-USDT", "option"),
        ("BTC-30DEC22-18000-C", "option"),
        ("ETH-3JAN25-3500.5-C", "option"),
        ("BTC-27MAR26", "linear"),
        ("BTCUSDT-27MAR26", "linear"),
        ("BTCPERP", "linear"),
        ("BTCUSD", "inverse"),
        ("BTCUSDH26", "inverse"),
        ("BTCUSDT", None),
        ("ETHBTC", None),
        ("1000PEPEUSDT", None),
    ],
)
def test_the_spelling_names_the_category_where_it_can(symbol: str, category: str | None) -> None:
    assert category_from_symbol(symbol) == category


async def test_a_symbol_listed_as_spot_and_linear_needs_a_category(documented: DocumentedClient) -> None:
    with pytest.raises(errors.InvalidInputError) as caught:
        await documented.resolve_category("BTCUSDT")
    assert caught.value.details == {"instrument": "BTCUSDT", "categories": ["linear", "spot"], "field": "category"}
    assert await documented.resolve_category("BTCUSDT", "spot") == "spot"
    assert await documented.resolve_category("BTCUSDT", prefer="linear") == "linear"


async def test_a_symbol_only_one_category_lists_takes_that_category(documented: DocumentedClient) -> None:
    documented.overrides[("/v5/market/instruments-info", "linear")] = {"retCode": 0, "result": {"list": []}}
    assert await documented.resolve_category("BTCUSDT") == "spot"


async def test_an_unlisted_symbol_is_not_found_and_a_contradicting_category_is_refused(
    documented: DocumentedClient,
) -> None:
    with pytest.raises(errors.InvalidInputError, match="not found"):
        await documented.resolve_category("NOPEUSDT")
    with pytest.raises(errors.InvalidInputError, match="inverse symbol"):
        await documented.resolve_category("BTCUSD", "linear")


async def test_get_ticker_without_category_on_an_ambiguous_symbol_sends_nothing_but_listings(ctx: Any) -> None:
    with pytest.raises(errors.InvalidInputError, match="give category"):
        await tools.get_ticker(ctx, s.BybitTickerRequest(instrument="BTCUSDT"))
    assert {path for _, path, _ in ctx._client.calls} == {"/v5/market/instruments-info"}


def test_examples_derive_dated_symbols_from_the_clock() -> None:
    assert next_quarterly(date(2026, 3, 4)) == date(2026, 3, 27)
    assert next_quarterly(date(2026, 3, 20)) == date(2026, 6, 26)
    assert expiry_code(date(2026, 3, 27)) == "27MAR26"
    assert quarterly_future(date(2026, 3, 4)) == "BTC-27MAR26"


@pytest.mark.parametrize(
    ("code", "cls", "definite"),
    [
        (10003, errors.UpstreamAuthError, True),
        (10004, errors.UpstreamAuthError, True),
        (10006, errors.RateLimitError, True),
        (10016, errors.UpstreamError, False),
        (10000, errors.UpstreamTimeoutError, False),
        (110001, errors.OrderNotFoundError, True),
        (110007, errors.InsufficientFundsError, True),
        (110072, errors.InvalidOrderError, True),
        (10001, errors.InvalidInputError, True),
        (170131, errors.InsufficientFundsError, True),
    ],
)
def test_error_table_classes_and_which_codes_are_definite_refusals(
    code: int, cls: type[errors.CerberoError], definite: bool
) -> None:
    error = bybit_errors.to_error(code, "message", write=True)
    assert type(error) is cls
    assert error.definite is definite
    assert bybit_errors.to_error(code, "message", write=False).definite is False  # a read refuses nothing


LINEAR = load_fixture("bybit", "instruments_linear")["result"]["list"][0]


def test_a_misaligned_price_is_refused_with_the_nearest_valid_values() -> None:
    with pytest.raises(errors.InvalidInputError) as caught:
        check_order_values(LINEAR, Decimal("0.01"), {"price": Decimal("50000.05")}, Decimal("50000.05"))
    assert caught.value.details is not None
    assert caught.value.details["nearest_valid"] == ["50000", "50000.1"]


def test_quantity_off_step_below_minimum_or_notional_is_refused() -> None:
    with pytest.raises(errors.InvalidInputError, match=r"multiple of 0\.001"):
        check_order_values(LINEAR, Decimal("0.0015"), {}, Decimal("50000"))
    with pytest.raises(errors.InvalidInputError, match=r"below the minimum 0\.001"):
        check_order_values(LINEAR, Decimal("0.0001"), {}, Decimal("50000"))
    with pytest.raises(errors.InvalidInputError, match="notional 3 is below the minimum 5"):
        check_order_values(LINEAR, Decimal("0.001"), {}, Decimal("3000"))
    check_order_values(LINEAR, Decimal("0.001"), {"price": Decimal("50000.1")}, Decimal("50000.1"))
    check_order_values(LINEAR, Decimal("600"), {}, Decimal("50000"))  # a limit order up to maxOrderQty 1190
    with pytest.raises(errors.InvalidInputError, match="maximum 500 for a market order"):
        check_order_values(LINEAR, Decimal("600"), {}, Decimal("50000"), market=True)


def test_order_parameters_carry_bybit_spelling_tp_sl_and_spot_market_units() -> None:
    limit = s.BybitPlaceOrderRequest(
        instrument="BTCUSDT",
        side="buy",
        quantity="0.001",
        price="50000",
        post_only=True,
        client_order_id="a-1",
        take_profit="60000",
        stop_loss="45000",
        tp_trigger_by="mark",
    )
    assert order_params(limit, "linear") == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": Decimal("0.001"),
        "price": Decimal("50000"),
        "timeInForce": "PostOnly",
        "orderLinkId": "a-1",
        "takeProfit": Decimal("60000"),
        "stopLoss": Decimal("45000"),
        "tpTriggerBy": "MarkPrice",
        "slTriggerBy": "LastPrice",
    }
    market = s.BybitPlaceOrderRequest(instrument="BTCUSDT", side="sell", type="market", quantity="0.01")
    assert order_params(market, "spot")["marketUnit"] == "baseCoin"
    stop = s.BybitPlaceOrderRequest(instrument="BTCUSDT", side="sell", type="stop_market", quantity="1", stop_price="1")
    assert order_params(stop, "linear")["triggerDirection"] == 2
    option = s.BybitPlaceOrderRequest(instrument="BTC-27MAR26-70000-P", side="buy", quantity="0.01", price="5")
    assert order_params(option, "option")["orderLinkId"].startswith("cmcp-")  # Bybit requires one on options


def test_requests_refuse_what_bybit_does_not_take() -> None:
    with pytest.raises(ValueError, match="no day orders"):
        s.BybitPlaceOrderRequest(instrument="X", side="buy", quantity="1", price="1", time_in_force="day")
    with pytest.raises(ValueError, match="reduce-only order cannot carry"):
        s.BybitPlaceOrderRequest(instrument="X", side="buy", quantity="1", price="1", reduce_only=True, stop_loss="1")
    with pytest.raises(ValueError, match="client_order_id"):
        s.BybitPlaceOrderRequest(instrument="X", side="buy", quantity="1", price="1", client_order_id="a" * 37)
    with pytest.raises(ValueError, match="one batch is one category"):
        s.BybitBatchOrderRequest(
            orders=[
                s.BybitBatchOrderItem(instrument="A", category="spot", side="buy", quantity="1", price="1"),
                s.BybitBatchOrderItem(instrument="B", category="linear", side="buy", quantity="1", price="1"),
            ]
        )
