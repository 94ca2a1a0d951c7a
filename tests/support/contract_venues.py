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

    def wire_client_id(self, client_order_id: str) -> str:
        """Return how a client_order_id appears in the venue request (most venues send it as is)."""
        return client_order_id

    def resting_price(self, mid: Decimal, side: str) -> Decimal:
        """Return a tick-aligned price 20 % away from mid on the passive side."""
        target = mid * (Decimal("0.8") if side == "buy" else Decimal("1.2"))
        return (target / self.tick).to_integral_value(rounding=ROUND_DOWN) * self.tick


class HyperliquidContract(VenueContract):
    """Hyperliquid's tick is not one number: a price has at most 5 significant figures (integers always valid)."""

    def resting_price(self, mid: Decimal, side: str) -> Decimal:
        """Return a price 20 % away from mid on the passive side, cut to 5 significant figures."""
        target = mid * (Decimal("0.8") if side == "buy" else Decimal("1.2"))
        step = max(Decimal(1).scaleb(target.adjusted() - 4), self.tick)
        return (target / step).to_integral_value(rounding=ROUND_DOWN) * step

    def wire_client_id(self, client_order_id: str) -> str:
        """Return the cloid the gateway derives from a client_order_id (16 bytes: a hash of it)."""
        from cerbero_mcp.exchanges.hyperliquid.signing import cloid_for

        return cloid_for(client_order_id)


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
    # BTC, Hyperliquid's perpetual (asset 0, szDecimals 5): 5 significant figures make the step 0.1 at
    # 1,000 (where the misaligned-price test probes) and 1 at ~95,000. Every action is POST /exchange.
    "hyperliquid": HyperliquidContract(
        venue="hyperliquid",
        instrument="BTC",
        currency="USDC",
        tick=Decimal("0.1"),
        lot=Decimal("0.00001"),
        small_quantity=Decimal("0.0002"),
        unaffordable_quantity=Decimal("100"),
        unknown_instrument="NOPECOIN",
        leverage_setting="HYPERLIQUID_MAX_LEVERAGE",
        leveraged_quantity=Decimal("3"),
        order_paths=("/exchange",),
        order_fault_prefix="/exchange",
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
    # AAPL on Alpaca: whole or fractional shares (fractionable), tick 0.01 at $1 and above; paper account
    # of $100k equity with a cash-like default cap of 1. Alpaca has no post-only orders.
    "alpaca": VenueContract(
        venue="alpaca",
        instrument="AAPL",
        currency=None,
        tick=Decimal("0.01"),
        lot=Decimal("1"),
        small_quantity=Decimal("2"),
        unaffordable_quantity=Decimal("4000"),  # ~$750k: past 4x buying power, inside the suite's cap of 10
        unknown_instrument="NOPE123",
        leverage_setting="ALPACA_MAX_LEVERAGE",
        leveraged_quantity=Decimal("2000"),
        order_paths=("/v2/orders",),
        order_fault_prefix="/v2/orders",
        supports_post_only=False,
        # Above Alpaca's cash-like default cap of 1 (which refuses any order past equity before Alpaca sees it),
        # so the suite reaches Alpaca's own "insufficient buying power".
        extra={"settings": {"ALPACA_MAX_LEVERAGE": "10"}},
    ),
}
