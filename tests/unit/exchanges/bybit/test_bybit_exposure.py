"""What a Bybit write does to risk: legs of orders and batches, and the unified account they are valued against."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.contracts import Leg
from cerbero_mcp.exchanges.bybit import exposure
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.gates import exposure_of
from unit.exchanges.bybit.bybit_documented import EMPTY, DocumentedClient


def test_inverse_is_valued_at_its_usd_size_options_at_the_index_linear_at_the_price() -> None:
    assert exposure.notional_usd("inverse", Decimal("-300"), Decimal("27000"), None) == Decimal("300")
    assert exposure.notional_usd("option", Decimal("2"), Decimal("435"), Decimal("16600")) == Decimal("33200")
    assert exposure.notional_usd("linear", Decimal("0.5"), Decimal("60000"), None) == Decimal("30000")
    assert exposure.notional_usd("spot", Decimal("2"), Decimal("0.05"), Decimal("3000")) == Decimal("6000")


async def test_every_order_of_a_batch_is_a_leg(ctx: Any) -> None:
    request = s.BybitBatchOrderRequest(
        category="spot",
        orders=[
            s.BybitBatchOrderItem(instrument="BTCUSDT", side="buy", quantity="0.05", price="30000"),
            s.BybitBatchOrderItem(instrument="BTCUSDT", side="sell", quantity="0.01", price="40000", reduce_only=False),
        ],
    )
    legs = await exposure.batch_legs(ctx, request)
    assert legs == [
        Leg("BTCUSDT", "buy", Decimal("0.05"), Decimal("30000")),
        Leg("BTCUSDT", "sell", Decimal("0.01"), Decimal("40000")),
    ]
    assert exposure.LEG_CATEGORIES.get() == {"BTCUSDT": "spot"}  # left for `book` in the same task


async def test_book_is_the_unified_account_in_usd_with_inverse_positions_at_their_usd_size(
    ctx: Any, documented: DocumentedClient
) -> None:
    for category in ("linear", "option"):
        documented.overrides[("/v5/position/list", category)] = EMPTY
    legs = await exposure.order_legs(
        ctx, s.BybitPlaceOrderRequest(instrument="BTCUSD", side="buy", type="market", quantity="100")
    )
    book = await exposure.book(ctx, legs)
    assert book.equity == Decimal("3.31216591")  # totalEquity, USD
    assert dict(book.positions) == {"BTCUSD": Decimal("-300")}  # the documented inverse short
    result = exposure_of(legs, book)
    assert result.legs[0].notional == Decimal("100")
    assert result.resulting_notional == Decimal("200")  # short 300 USD, buying 100 USD back
