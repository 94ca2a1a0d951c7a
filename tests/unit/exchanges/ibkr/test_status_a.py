"""One IBKR order read by its status endpoint, on IBKR's documented answer (issue 13, items 1 and 4)."""

from __future__ import annotations

from decimal import Decimal

from cerbero_mcp.common.errors import InvalidOrderError, OrderNotFoundError
from cerbero_mcp.exchanges.ibkr.errors import to_error
from cerbero_mcp.exchanges.ibkr.mapping import to_order
from cerbero_mcp.exchanges.ibkr.status import cancel_outcome, live_row
from support.fixtures import load_fixture


def test_the_documented_order_status_reads_as_the_live_list_would() -> None:
    order = to_order(live_row(load_fixture("ibkr", "iserver_account_order_status")))
    assert order.order_id == "1210386759"
    assert order.instrument == "SPY"
    assert order.side == "buy"
    assert order.type == "limit"
    assert order.price == Decimal("457.00")
    assert order.quantity == Decimal("1.0")
    assert order.filled_quantity == 0
    assert order.time_in_force == "gtc"
    assert order.status in ("open", "untriggered")


def test_a_stop_orders_trigger_is_its_stop_price() -> None:
    status = {**load_fixture("ibkr", "iserver_account_order_status"), "order_type": "STOP", "side": "S"}
    status.pop("limit_price")
    status["stop_price"] = "440.00"
    order = to_order(live_row(status))
    assert (order.type, order.side, order.stop_price, order.price) == ("stop_market", "sell", Decimal("440.00"), None)


def test_a_cancel_refused_because_the_order_already_ended_is_told_apart() -> None:
    cascaded = to_error("OrderID 1000000002 is cancelled: it cannot be cancelled")
    assert isinstance(cascaded, InvalidOrderError)
    assert cancel_outcome(cascaded) == "cancelled"
    filled = to_error("OrderId 15073 that needs to be cancelled cannot be cancelled, state: Filled.")
    assert cancel_outcome(filled) == "done"
    assert cancel_outcome(to_error("OrderID 5 not found")) is None
    assert isinstance(to_error("OrderID 5 not found"), OrderNotFoundError)
