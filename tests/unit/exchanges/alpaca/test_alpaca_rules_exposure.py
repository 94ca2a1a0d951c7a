"""Alpaca's increments and minimums (refused with the nearest valid values), request rules, and exposure legs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from cerbero_mcp.common.errors import InvalidInputError, InvalidOrderError
from cerbero_mcp.exchanges.alpaca import exposure
from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.orders import checked_body
from cerbero_mcp.exchanges.alpaca.rules import check_order
from cerbero_mcp.exchanges.alpaca.symbols import asset_class, multiplier, occ_symbol, parse_occ
from support.fixtures import load_fixture
from unit.exchanges.alpaca.alpaca_documented import DocumentedClient

STOCK = {"symbol": "AAPL", "tradable": True, "fractionable": True}
WHOLE = {"symbol": "BRK.A", "tradable": True, "fractionable": False}
PAIR = {
    "symbol": "BTC/USD",
    "tradable": True,
    "min_order_size": "0.0001",
    "min_trade_increment": "0.000000001",
    "price_increment": "1",
}


def check(kind: Any, asset: dict[str, Any], **kw: Any) -> None:
    args: dict[str, Any] = {
        "quantity": None,
        "notional": None,
        "prices": {},
        "reference_price": None,
        "time_in_force": "day",
    }
    check_order(kind, asset, **{**args, **kw})


def test_a_sub_penny_price_at_or_above_one_dollar_is_refused_with_the_nearest_cents() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check("us_equity", STOCK, quantity=Decimal(1), prices={"price": Decimal("190.123")})
    assert caught.value.details is not None
    assert caught.value.details["nearest_valid"] == ["190.12", "190.13"]


def test_below_one_dollar_four_decimals_are_allowed() -> None:
    check("us_equity", STOCK, quantity=Decimal(1), prices={"price": Decimal("0.1234")})
    with pytest.raises(InvalidInputError):
        check("us_equity", STOCK, quantity=Decimal(1), prices={"price": Decimal("0.12345")})


def test_fractional_shares_need_a_fractionable_asset_and_a_day_order() -> None:
    check("us_equity", STOCK, quantity=Decimal("0.5"), reference_price=Decimal(190))
    with pytest.raises(InvalidInputError) as caught:
        check("us_equity", WHOLE, quantity=Decimal("0.5"))
    assert caught.value.details is not None
    assert caught.value.details["nearest_valid"] == ["1"]
    with pytest.raises(InvalidInputError, match="day orders"):
        check("us_equity", STOCK, quantity=Decimal("0.5"), time_in_force="gtc")


def test_a_fractional_order_under_one_dollar_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="minimum 1"):
        check("us_equity", STOCK, quantity=Decimal("0.001"), reference_price=Decimal(190))


def test_crypto_takes_the_pair_increments_and_gtc_or_ioc() -> None:
    check(
        "crypto",
        PAIR,
        quantity=Decimal("0.001"),
        prices={"price": Decimal(60000)},
        time_in_force="gtc",
        reference_price=Decimal(60000),
    )
    with pytest.raises(InvalidInputError, match="minimum"):
        check("crypto", PAIR, quantity=Decimal("0.00001"), time_in_force="gtc")
    with pytest.raises(InvalidInputError, match="nearest valid: 60000, 60001"):
        check("crypto", PAIR, quantity=Decimal("0.001"), prices={"price": Decimal("60000.5")}, time_in_force="gtc")
    with pytest.raises(InvalidInputError, match="time_in_force gtc or ioc"):
        check("crypto", PAIR, quantity=Decimal("0.001"), time_in_force="day")


def test_options_are_whole_contracts_day_orders_and_simple() -> None:
    contract = load_fixture("alpaca", "option_contract")
    check("us_option", contract, quantity=Decimal(2), prices={"price": Decimal("1.25")})
    with pytest.raises(InvalidInputError):
        check("us_option", contract, quantity=Decimal("1.5"))
    with pytest.raises(InvalidInputError, match="time_in_force day"):
        check("us_option", contract, quantity=Decimal(1), time_in_force="gtc")
    with pytest.raises(InvalidInputError, match="simple"):
        check("us_option", contract, quantity=Decimal(1), order_class="bracket")


def test_notional_needs_a_fractionable_stock() -> None:
    with pytest.raises(InvalidInputError, match="not fractionable"):
        check("us_equity", WHOLE, notional=Decimal(50))
    with pytest.raises(InvalidInputError):
        check("us_option", STOCK, notional=Decimal(50))


def test_request_fields_that_do_not_apply_are_refused() -> None:
    base = {"instrument": "AAPL", "side": "buy", "quantity": "1"}
    bad: list[dict[str, Any]] = [
        {**base, "type": "limit", "price": "1", "post_only": True},
        {**base, "type": "market", "order_class": "bracket", "take_profit": {"limit_price": "2"}},
        {**base, "type": "limit", "price": "1", "take_profit": {"limit_price": "2"}},
        {**base, "type": "trailing_stop"},
        {**base, "type": "market", "trail_percent": "1"},
        {"instrument": "AAPL", "side": "buy", "type": "market", "quantity": "1", "notional": "10"},
        {"instrument": "AAPL", "side": "buy", "type": "limit", "price": "1", "notional": "10", "time_in_force": "day"},
        {**base, "type": "market", "extended_hours": True},
        {
            **base,
            "type": "limit",
            "order_class": "oco",
            "price": "1",
            "take_profit": {"limit_price": "2"},
            "stop_loss": {"stop_price": "0.5"},
        },
    ]
    for body in bad:
        with pytest.raises(ValidationError):
            s.AlpacaPlaceOrderRequest.model_validate(body)


def test_occ_symbols_round_trip_and_name_the_asset_class() -> None:
    parts = parse_occ("AAPL270115C00200000")
    assert parts is not None
    assert (parts.root, str(parts.strike), parts.right) == ("AAPL", "200", "call")
    assert occ_symbol(parts.root, parts.expiry, parts.right, parts.strike) == "AAPL270115C00200000"
    assert [asset_class(x) for x in ("AAPL", "BTC/USD", "AAPL270115C00200000")] == ["us_equity", "crypto", "us_option"]
    assert multiplier("AAPL270115C00200000") == 100
    assert multiplier("AAPL") == 1


async def test_bracket_exits_are_reduce_only_legs(ctx: Any) -> None:
    req = s.AlpacaPlaceOrderRequest(
        instrument="AAPL",
        side="buy",
        type="limit",
        quantity=Decimal(2),
        price=Decimal(150),
        order_class="bracket",
        take_profit=s.TakeProfit(limit_price=Decimal(200)),
        stop_loss=s.StopLoss(stop_price=Decimal(140)),
    )
    legs = await exposure.order_legs(ctx, req)
    assert [(leg.side, leg.reduce_only) for leg in legs] == [("buy", False), ("sell", True), ("sell", True)]


async def test_an_oco_pair_is_one_group_of_alternatives(ctx: Any) -> None:
    req = s.AlpacaPlaceOrderRequest(
        instrument="AAPL",
        side="sell",
        type="limit",
        quantity=Decimal(2),
        order_class="oco",
        take_profit=s.TakeProfit(limit_price=Decimal(200)),
        stop_loss=s.StopLoss(stop_price=Decimal(140)),
    )
    legs = await exposure.order_legs(ctx, req)
    assert len(legs) == 2
    assert legs[0].one_of == legs[1].one_of is not None


async def test_a_notional_order_is_sized_at_the_latest_price(ctx: Any) -> None:
    req = s.AlpacaPlaceOrderRequest(instrument="AAPL", side="buy", type="market", notional=Decimal("161.1998"))
    (leg,) = await exposure.order_legs(ctx, req)
    assert leg.quantity == Decimal(1)  # the documented snapshot's latest trade is 161.1998


async def test_the_book_values_options_with_the_100_multiplier(documented: DocumentedClient, ctx: Any) -> None:
    book = await exposure.book(ctx, [])
    assert book.value("AAPL270115C00200000", Decimal(2), Decimal("1.5")) == Decimal(300)
    assert book.value("AAPL", Decimal(2), Decimal("1.5")) == Decimal(3)
    assert book.equity == Decimal(str(load_fixture("alpaca", "account")["equity"]))


async def test_a_reduce_only_order_that_would_open_is_refused_before_sending(documented: DocumentedClient) -> None:
    documented.overrides[("GET", "/v2/positions/AAPL")] = None
    req = s.AlpacaPlaceOrderRequest(
        instrument="AAPL", side="sell", type="market", quantity=Decimal(1), reduce_only=True
    )
    with pytest.raises(InvalidOrderError, match="would open"):
        await checked_body(documented, req)
    assert not [c for c in documented.calls if c[0] == "POST"]


def test_crypto_positions_are_named_as_orders_name_them() -> None:
    from cerbero_mcp.exchanges.alpaca.symbols import pair_symbol

    assert pair_symbol("BTCUSD", "crypto") == "BTC/USD"
    assert pair_symbol("ETHUSDT", "crypto") == "ETH/USDT"
    assert pair_symbol("AAPL", "us_equity") == "AAPL"
    assert pair_symbol("BTC/USD", "crypto") == "BTC/USD"


def test_the_leverage_cap_defaults_to_one_cash_like() -> None:
    from cerbero_mcp.settings import Settings

    assert Settings.from_mapping({}).max_leverage("alpaca") == Decimal(1)
    assert Settings.from_mapping({"ALPACA_MAX_LEVERAGE": "2"}).max_leverage("alpaca") == Decimal(2)


async def test_an_accepted_market_order_is_read_back_with_its_fill(documented: DocumentedClient) -> None:
    from cerbero_mcp.exchanges.alpaca.orders import read_back

    accepted = {"id": "o-1", "type": "market", "status": "accepted", "qty": "2", "filled_qty": "0"}
    filled = {**accepted, "status": "filled", "filled_qty": "2", "filled_avg_price": "190.5"}
    documented.overrides[("GET", "/v2/orders/o-1")] = filled
    assert (await read_back(documented, accepted))["status"] == "filled"
    limit = {**accepted, "type": "limit"}
    assert await read_back(documented, limit) is limit  # a resting order is not re-read
