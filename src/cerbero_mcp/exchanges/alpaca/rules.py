"""Alpaca's increments and minimums, checked before an order is sent (refused with the nearest valid values).

From Alpaca's order docs: stock prices of $1.00 and above take 2 decimals, below $1.00 4 decimals
("sub-penny increment does not fulfill minimum pricing criteria"); fractional quantities go to 9
decimals on fractionable assets, whole shares otherwise; fractional and notional orders are day orders
of at least $1; options trade whole contracts at $0.01 and day only; crypto pairs carry their own
`min_order_size`, `min_trade_increment` and `price_increment` on the asset, time in force gtc or ioc.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges.alpaca.client import to_decimal
from cerbero_mcp.exchanges.alpaca.symbols import AssetClass
from cerbero_mcp.exchanges.validation import check_increment, check_min_notional

PENNY = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")
FRACTION_STEP = Decimal("0.000000001")
WHOLE = Decimal(1)
MIN_FRACTIONAL_NOTIONAL = Decimal(1)
TIME_IN_FORCE: dict[AssetClass, tuple[str, ...]] = {
    "us_equity": ("day", "gtc", "ioc", "fok"),
    "us_option": ("day",),
    "crypto": ("gtc", "ioc"),
}


def price_step(asset_class: AssetClass, price: Decimal, asset: dict[str, Any]) -> Decimal:
    """Return the price increment of `price` for the asset."""
    if asset_class == "crypto":
        return to_decimal(asset.get("price_increment")) or SUB_PENNY
    if asset_class == "us_option":
        return PENNY
    return PENNY if price >= 1 else SUB_PENNY


def quantity_rules(asset_class: AssetClass, asset: dict[str, Any]) -> tuple[Decimal, Decimal | None]:
    """Return (step, minimum) of the order quantity."""
    if asset_class == "crypto":
        return to_decimal(asset.get("min_trade_increment")) or FRACTION_STEP, to_decimal(asset.get("min_order_size"))
    if asset_class == "us_option":
        return WHOLE, WHOLE
    return (FRACTION_STEP if asset.get("fractionable") else WHOLE), None


def check_order(
    asset_class: AssetClass,
    asset: dict[str, Any],
    *,
    quantity: Decimal | None,
    notional: Decimal | None,
    prices: dict[str, Decimal | None],
    reference_price: Decimal | None,
    time_in_force: str,
    order_class: str = "simple",
    extended_hours: bool = False,
) -> None:
    """Refuse an order Alpaca would refuse for its increments, minimums or time in force (nothing is sent)."""
    symbol = str(asset.get("symbol") or "")
    if asset and asset.get("tradable") is False:
        raise InvalidInputError(f"alpaca: {symbol} is not tradable", details={"instrument": symbol})
    allowed = TIME_IN_FORCE[asset_class]
    if time_in_force not in allowed:
        raise InvalidInputError(
            f"alpaca: {asset_class} orders take time_in_force {' or '.join(allowed)}, not {time_in_force}",
            details={"field": "time_in_force", "allowed": list(allowed)},
            suggested_fix=f"send time_in_force {allowed[0]!r}",
        )
    if asset_class != "us_equity" and (order_class != "simple" or extended_hours):
        raise InvalidInputError(
            f"alpaca: {asset_class} orders are simple regular-hours orders (no bracket/oco/oto, no extended_hours)",
            details={"field": "order_class" if order_class != "simple" else "extended_hours"},
        )
    if notional is not None:
        if asset_class == "us_option":
            raise InvalidInputError(
                "alpaca: options are ordered by quantity, not notional", details={"field": "notional"}
            )
        if asset_class == "us_equity" and not asset.get("fractionable"):
            raise InvalidInputError(
                f"alpaca: {symbol} is not fractionable: notional orders need a fractionable asset",
                details={"field": "notional"},
                suggested_fix="send a whole-share quantity instead",
            )
        check_increment("notional", notional, PENNY)
        check_min_notional(notional, MIN_FRACTIONAL_NOTIONAL, {"instrument": symbol})
    step, minimum = quantity_rules(asset_class, asset)
    if quantity is not None:
        check_increment("quantity", quantity, step, minimum=minimum)
        fractional = asset_class == "us_equity" and quantity % 1 != 0
        if fractional and time_in_force != "day":
            raise InvalidInputError(
                "alpaca: fractional share orders are day orders",
                details={"field": "time_in_force"},
                suggested_fix="send time_in_force 'day' or a whole-share quantity",
            )
        if fractional and order_class != "simple":
            raise InvalidInputError(
                "alpaca: bracket, oco and oto orders take whole shares", details={"field": "quantity"}
            )
        if (fractional or asset_class == "crypto") and reference_price is not None:
            check_min_notional(quantity * reference_price, MIN_FRACTIONAL_NOTIONAL, {"instrument": symbol})
    for field, value in prices.items():
        if value is not None:
            check_increment(field, value, price_step(asset_class, value, asset))
