"""IBKR order bodies and the OTO failure path (issue 13 items 6 and 7), without a venue."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from cerbero_mcp.common.errors import InvalidInputError, InvalidOrderError, UpstreamTimeoutError
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.linked import place_oto_order
from cerbero_mcp.exchanges.ibkr.orders import ibkr_order

STOCK_RULES = {"instrument_type": "STK", "currency": "USD", "rules": {"incrementRules": [
    {"lowerEdge": 0.0, "increment": 0.0001}, {"lowerEdge": 1.0, "increment": 0.01}]}}  # fmt: skip


class TimingOutVenue:
    """A client whose order request carrying a child (parentId) times out after it left."""

    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self.cancelled: list[str] = []

    async def conid(self, instrument: str) -> int:
        return 265598

    async def contract_rules(self, conid: int) -> dict[str, Any]:
        return STOCK_RULES

    async def place_orders(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sent.append(orders)
        if any("parentId" in order for order in orders):
            raise UpstreamTimeoutError("ibkr did not answer in time")
        return [{"order_id": str(1000 + len(self.sent)), "order_status": "Submitted"}]

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        self.cancelled.append(order_id)
        return {}


async def test_an_oto_timeout_stays_may_have_been_placed_and_cancels_nothing() -> None:
    venue = TimingOutVenue()

    async def client() -> TimingOutVenue:
        return venue

    request = s.OtoRequest.model_validate(
        {
            "trigger": {"instrument": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "100"},
            "child": {"instrument": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "price": "300"},
            "client_order_id": "oto-timeout-1",
        }
    )
    with pytest.raises(UpstreamTimeoutError) as raised:
        await place_oto_order(SimpleNamespace(client=client), request)  # type: ignore[arg-type]
    assert raised.value.definite is False  # the pipeline reports it as "may have been placed"
    assert venue.cancelled == []
    assert len(venue.sent) == 1
    assert [order.get("parentId") for order in venue.sent[0]] == [None, "oto-timeout-1"]


def test_trailing_orders_carry_trailing_amt_and_type_not_aux_price() -> None:
    trail = ibkr_order(1, "sell", "trailing_stop", Decimal(1), trailing_amount=Decimal("2.5"))
    assert (trail["orderType"], trail["trailingAmt"], trail["trailingType"]) == ("TRAIL", 2.5, "amt")
    assert "auxPrice" not in trail
    assert "price" not in trail
    limit = ibkr_order(1, "sell", "trailing_limit", Decimal(1), price=Decimal("0.5"), trailing_amount=Decimal(3))
    assert (limit["orderType"], limit["trailingAmt"], limit["trailingType"], limit["price"]) == (
        "TRAILLMT",
        3.0,
        "amt",
        0.5,
    )
    with pytest.raises(InvalidInputError, match="trailing amount"):
        ibkr_order(1, "sell", "trailing_stop", Decimal(1))


class ChildlessVenue(TimingOutVenue):
    """A client whose answer to `[trigger, child]` lists the trigger only."""

    async def place_orders(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sent.append(orders)
        return [{"order_id": "2001", "order_status": "Submitted"}]


async def test_a_trigger_accepted_without_its_child_is_cancelled_and_stays_may_have_been_placed() -> None:
    venue = ChildlessVenue()

    async def client() -> ChildlessVenue:
        return venue

    request = s.OtoRequest.model_validate(
        {
            "trigger": {"instrument": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "100"},
            "child": {"instrument": "AAPL", "side": "sell", "type": "limit", "quantity": "1", "price": "300"},
            "client_order_id": "oto-lone-1",
        }
    )
    with pytest.raises(InvalidOrderError) as raised:
        await place_oto_order(SimpleNamespace(client=client), request)  # type: ignore[arg-type]
    assert venue.cancelled == ["2001"]
    assert raised.value.details is not None
    assert raised.value.details["may_have_been_placed"] is True  # it worked for a while: it may have filled
