"""IBKR exposure without a price: refuse, never value the order at 0 (issue 13, item 3)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common.errors import UpstreamError
from cerbero_mcp.contracts import Leg
from cerbero_mcp.exchanges.ibkr import client as client_module
from cerbero_mcp.exchanges.ibkr.client import SNAPSHOT_TRIES, IbkrClient
from cerbero_mcp.exchanges.ibkr.exposure import book, reference_price

AAPL = 265598


class NoPriceClient:
    """An IBKR client whose snapshots never carry a price (a feed that has not started, a halted line)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.snapshots = 0

    async def snapshot(self, conids: list[int]) -> list[dict[str, Any]]:
        self.snapshots += 1
        return [{"conid": c, **self.row} for c in conids]

    async def conid(self, instrument: str) -> int:
        return AAPL

    async def positions(self) -> list[dict[str, Any]]:
        return []

    async def portfolio_summary(self) -> dict[str, Any]:
        return {"netliquidation": {"amount": 1_000_000.0}}


class Ctx:
    """The part of a ToolContext that `book` uses."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def client(self) -> Any:
        return self._client


@pytest.mark.parametrize("row", [{}, {"31": "", "84": "", "86": ""}, {"84": "189.50"}, {"31": "0"}])
async def test_a_snapshot_without_a_price_refuses_instead_of_answering_zero(row: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as raised:
        await reference_price(NoPriceClient(row), AAPL)  # type: ignore[arg-type]
    assert "no price" in raised.value.message
    assert raised.value.retryable


async def test_a_price_is_the_last_else_the_mid() -> None:
    assert await reference_price(NoPriceClient({"31": "190.25"}), AAPL) == Decimal("190.25")  # type: ignore[arg-type]
    mid = await reference_price(NoPriceClient({"84": "190.00", "86": "190.50"}), AAPL)  # type: ignore[arg-type]
    assert mid == Decimal("190.25")


async def test_a_market_order_without_a_price_gets_no_risk_check_and_no_book() -> None:
    legs = [Leg(instrument="AAPL", side="buy", quantity=Decimal(100))]
    with pytest.raises(UpstreamError):
        await book(Ctx(NoPriceClient({})), legs)  # type: ignore[arg-type]


async def test_the_snapshot_waits_longer_after_its_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def call(*args: Any, **kwargs: Any) -> Any:
        return [{"conid": AAPL}]  # IBKR keeps answering the pre-flight shape

    async def accounts() -> list[str]:
        return ["DU1"]

    client = IbkrClient.__new__(IbkrClient)
    client.snapshot_retry_s = client_module.SNAPSHOT_RETRY_S
    monkeypatch.setattr(client, "call", call)
    monkeypatch.setattr(client, "accounts", accounts)
    monkeypatch.setattr(client_module.clock, "sleep", sleep)
    rows = await client.snapshot([AAPL])
    assert rows == [{"conid": AAPL}]
    assert len(slept) == SNAPSHOT_TRIES - 1
    assert slept[0] >= 0.5  # the first answer is a pre-flight: IBKR needs time to start the line
    assert slept == sorted(slept)
