"""IBKR's error texts: a missing contract is not a missing order (issue 13, item 11)."""

from __future__ import annotations

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.ibkr.errors import to_error


@pytest.mark.parametrize(
    "text",
    [
        "contract not found",
        "Contract ID 123456 not found",
        "conid 99999999 not found",
        "No contract found for conid 99999999",
        "Invalid contract id: 99999999",
        "No security definition has been found for the request",
    ],
)
def test_a_missing_contract_is_invalid_input_never_order_not_found(text: str) -> None:
    error = to_error(text)
    assert isinstance(error, errors.InvalidInputError), type(error).__name__
    assert error.status < 500


@pytest.mark.parametrize(
    "text",
    ["OrderID 1000000123 not found", "Order not found", "OrderId 902 that needs to be cancelled is not found."],
)
def test_a_missing_order_is_order_not_found(text: str) -> None:
    assert isinstance(to_error(text), errors.OrderNotFoundError)


@pytest.mark.parametrize(
    "text",
    [
        "OrderID 1000000123 is cancelled: it cannot be cancelled",
        "OrderId 15073 that needs to be cancelled cannot be cancelled, state: Filled.",
    ],
)
def test_an_order_that_no_longer_works_is_not_reported_missing(text: str) -> None:
    assert not isinstance(to_error(text), errors.OrderNotFoundError)
