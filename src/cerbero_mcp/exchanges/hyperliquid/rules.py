"""Hyperliquid's price and size rules, checked before anything is sent (docs: tick-and-lot-size).

- size: a multiple of 10^-szDecimals;
- price: at most 5 significant figures and at most MAX_DECIMALS − szDecimals decimals (6 for perps,
  8 for spot); an integer price is always allowed, whatever its significant figures;
- order value: at least $10 (an order that only reduces a position is not held to it here, as it
  may be closing a remainder).

A misaligned value is refused with the nearest valid values, never rounded silently. Only the
gateway's own derived prices (a market order's slippage bound) are rounded, with `round_price`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from cerbero_mcp.exchanges.validation import check_increment, check_min_notional

PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
SIG_FIGS = 5
MIN_ORDER_VALUE = Decimal(10)


@dataclass(frozen=True)
class Asset:
    """One tradable asset: its /exchange id, its /info coin name, its size decimals and kind."""

    asset_id: int  # perps: index in meta.universe; spot: 10000 + spot pair index
    coin: str  # what /info takes: "BTC", "PURR/USDC", "@107"
    name: str  # what the caller wrote (a spot pair may be asked as BASE/QUOTE)
    sz_decimals: int
    spot: bool
    max_leverage: int | None = None
    only_isolated: bool = False

    @property
    def size_step(self) -> Decimal:
        """Return the size increment."""
        return Decimal(1).scaleb(-self.sz_decimals)

    @property
    def max_price_decimals(self) -> int:
        """Return how many decimals a price may have."""
        return max(0, (SPOT_MAX_DECIMALS if self.spot else PERP_MAX_DECIMALS) - self.sz_decimals)


def price_step(asset: Asset, price: Decimal) -> Decimal:
    """Return the price increment at `price`: the coarser of 5 significant figures and the decimal cap, at most 1."""
    decimals = Decimal(1).scaleb(-asset.max_price_decimals)
    figures = Decimal(1).scaleb(price.adjusted() - (SIG_FIGS - 1))
    # Integer prices are always valid, so the step never exceeds 1.
    return min(max(decimals, figures), Decimal(1))


def check_price(asset: Asset, field: str, price: Decimal | None) -> None:
    """Refuse a price off Hyperliquid's significant-figure and decimal rules (nearest valid values)."""
    if price is None:
        return
    check_increment(field, price, price_step(asset, price))


def check_size(asset: Asset, size: Decimal) -> None:
    """Refuse a size with more decimals than the asset's szDecimals."""
    check_increment("quantity", size, asset.size_step)


def check_order(
    asset: Asset,
    size: Decimal | None,
    prices: dict[str, Decimal | None],
    reference: Decimal | None,
    *,
    reduce_only: bool,
) -> None:
    """Check size, every price and the $10 minimum order value of one order."""
    if size is not None:
        check_size(asset, size)
    for field, price in prices.items():
        check_price(asset, field, price)
    if size is not None and reference is not None and not reduce_only:
        check_min_notional(size * reference, MIN_ORDER_VALUE, {"instrument": asset.name, "unit": "USDC"})


def round_price(asset: Asset, price: Decimal, *, up: bool) -> Decimal:
    """Round a price the gateway derived itself (a slippage bound) to a valid one, up or down."""
    step = price_step(asset, price)
    rounded = (price / step).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR) * step
    # Rounding up across a power of ten can leave a sixth figure at the new magnitude: re-align.
    step = price_step(asset, rounded)
    return ((rounded / step).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR) * step).normalize()
