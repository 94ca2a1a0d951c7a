"""Deribit's transient error codes are retryable, never final invalid orders (issue 13, item 18)."""

from __future__ import annotations

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.deribit.errors import to_error

# code, message as Deribit (and ccxt's exception table) names them
TRANSIENT = [
    (10040, "retry"),
    (10041, "settlement_in_progress"),
    (10047, "matching_engine_queue_full"),
    (11051, "system_maintenance"),
]


@pytest.mark.parametrize(("code", "message"), TRANSIENT)
def test_transient_codes_are_retryable_not_invalid_order(code: int, message: str) -> None:
    error = to_error(code, message, http_status=400)
    assert not isinstance(error, errors.InvalidOrderError)
    assert error.retryable, (code, type(error).__name__)


@pytest.mark.parametrize(
    ("code", "message"), [(10040, "retry"), (10041, "settlement_in_progress"), (11051, "system_maintenance")]
)
def test_transient_answer_to_an_order_post_may_have_placed_it(code: int, message: str) -> None:
    # Not a definite refusal: the pipeline keeps the idempotency key and says "look it up", never re-sends.
    error = to_error(code, message, http_status=400, write=True)
    assert error.definite is False


def test_too_many_requests_and_a_full_queue_are_rate_limits() -> None:
    assert isinstance(to_error(10028, "too_many_requests", http_status=429), errors.RateLimitError)
    assert isinstance(to_error(10047, "matching_engine_queue_full", http_status=400), errors.RateLimitError)
