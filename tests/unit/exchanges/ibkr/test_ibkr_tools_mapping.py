"""IBKR tool mappings that do not need a venue: order rows, snapshot fields, schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cerbero_mcp.exchanges.ibkr.mapping import to_order
from cerbero_mcp.exchanges.ibkr.orders import ibkr_order
from cerbero_mcp.exchanges.ibkr.tools import clock_from_schedule
from cerbero_mcp.exchanges.ibkr.ws import parse_field_value as field_decimal


@pytest.mark.parametrize(
    ("row_type", "expected"),
    [
        ({"origOrderType": "TRAILLMT", "orderType": "Trail Limit"}, "trailing_limit"),
        ({"orderType": "Trail Limit"}, "trailing_limit"),
        ({"origOrderType": "STOP_LIMIT"}, "stop_limit"),
        ({"orderType": "Limit"}, "limit"),
        ({"origOrderType": "MARKET"}, "market"),
    ],
)
def test_order_types_read_back_from_either_spelling(row_type: dict[str, str], expected: str) -> None:
    row = {"orderId": 7, "side": "BUY", "status": "Submitted", "totalSize": 1, "ticker": "AAPL", **row_type}
    assert to_order(row).type == expected


def test_stop_price_of_a_stp_order_comes_from_price() -> None:
    row = {
        "orderId": 7,
        "side": "SELL",
        "status": "PreSubmitted",
        "totalSize": 2,
        "origOrderType": "STOP",
        "price": "50",
    }
    order = to_order(row)
    assert (order.type, order.price, order.stop_price, order.status) == (
        "stop_market",
        None,
        Decimal(50),
        "untriggered",
    )


def test_outgoing_orders_put_prices_where_ibkr_reads_them() -> None:
    stp = ibkr_order(1, "sell", "stop_market", Decimal(1), stop_price=Decimal("50.5"))
    assert (stp["orderType"], stp["price"]) == ("STP", 50.5)
    assert "auxPrice" not in stp
    stop_limit = ibkr_order(1, "buy", "stop_limit", Decimal(1), price=Decimal(101), stop_price=Decimal(100))
    assert (stop_limit["price"], stop_limit["auxPrice"]) == (101.0, 100.0)
    child = ibkr_order(1, "sell", "limit", Decimal(1), price=Decimal(120), parent_id="p-1")
    assert child["parentId"] == "p-1"
    assert "cOID" not in child


@pytest.mark.parametrize(
    ("raw", "value"), [("C182.50", Decimal("182.50")), ("1,200", Decimal(1200)), (None, None), ("n/a", None)]
)
def test_snapshot_fields_decode(raw: str | None, value: Decimal | None) -> None:
    assert field_decimal(raw) == value


def test_clock_reads_regular_hours_in_the_exchange_zone() -> None:
    schedule = [
        {
            "timezone": "America/New_York",
            "schedules": [
                {"tradingScheduleDate": "20261123", "tradingTimes": [{"openingTime": "0930", "closingTime": "1600"}]},
                {"tradingScheduleDate": "20261121", "tradingTimes": []},
            ],
        }
    ]
    saturday = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    clock = clock_from_schedule("AAPL", schedule, saturday)
    assert clock.is_open is False
    assert clock.model_dump(mode="json")["next_open"] == "2026-11-23T14:30:00.000Z"
    assert clock.timezone == "America/New_York"
    monday_noon_ny = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    open_clock = clock_from_schedule("AAPL", schedule, monday_noon_ny)
    assert open_clock.is_open is True
    assert open_clock.model_dump(mode="json")["next_close"] == "2026-11-23T21:00:00.000Z"
