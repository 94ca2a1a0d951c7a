"""What the contract suite needs to know of each venue: instruments and orders that mean the same thing.

A new venue adds one `VenueContract` to `CONTRACTS`; every test in this folder then runs against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any


@dataclass(frozen=True)
class VenueContract:
    """One venue's instruments and sizes for the common-vocabulary contract."""

    venue: str
    instrument: str
    currency: str | None
    tick: Decimal
    lot: Decimal
    small_quantity: Decimal
    unaffordable_quantity: Decimal
    unknown_instrument: str
    leverage_setting: str
    leveraged_quantity: Decimal  # a market order that a 2x cap must refuse
    order_paths: tuple[str, ...]  # the venue paths that place orders (POST), to find them in the recorder
    order_fault_prefix: str  # a path prefix that aims a simulator fault at the order POST (with method POST)
    supports_post_only: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def is_order(self, method: str, path: str) -> bool:
        """Return whether a recorded request placed an order."""
        return method == "POST" and path.endswith(self.order_paths)

    def resting_price(self, mid: Decimal, side: str) -> Decimal:
        """Return a tick-aligned price 20 % away from mid on the passive side."""
        target = mid * (Decimal("0.8") if side == "buy" else Decimal("1.2"))
        return (target / self.tick).to_integral_value(rounding=ROUND_DOWN) * self.tick


CONTRACTS: dict[str, VenueContract] = {
    "deribit": VenueContract(
        venue="deribit",
        instrument="BTC-PERPETUAL",
        currency="BTC",
        tick=Decimal("0.5"),
        lot=Decimal("10"),
        small_quantity=Decimal("100"),
        unaffordable_quantity=Decimal("1000000000"),
        unknown_instrument="BTC-NOPE",
        leverage_setting="DERIBIT_MAX_LEVERAGE",
        leveraged_quantity=Decimal("3000000"),
        order_paths=("/private/buy", "/private/sell"),
        order_fault_prefix="/api/v2/private/buy",
    ),
    # BTCPERP, Bybit's USDC perpetual: its spelling says linear, so the vocabulary's requests need no
    # category (BTCUSDT is both a spot pair and a perpetual and would). Sized in BTC, tick 0.10.
    "bybit": VenueContract(
        venue="bybit",
        instrument="BTCPERP",
        currency="USDC",
        tick=Decimal("0.1"),
        lot=Decimal("0.001"),
        small_quantity=Decimal("0.01"),
        unaffordable_quantity=Decimal("400"),
        unknown_instrument="BTCNOPE",
        leverage_setting="BYBIT_MAX_LEVERAGE",
        leveraged_quantity=Decimal("20"),
        order_paths=("/v5/order/create", "/v5/order/create-batch"),
        order_fault_prefix="/v5/order/create",
    ),
    "ibkr": VenueContract(
        venue="ibkr",
        instrument="AAPL",
        currency=None,
        tick=Decimal("0.01"),
        lot=Decimal("1"),
        small_quantity=Decimal("2"),
        unaffordable_quantity=Decimal("10000000"),
        unknown_instrument="NOPE123",
        leverage_setting="IBKR_MAX_LEVERAGE",
        leveraged_quantity=Decimal("20000"),
        order_paths=("/orders",),
        order_fault_prefix="/v1/api/iserver/account/",
        supports_post_only=False,
    ),
}
