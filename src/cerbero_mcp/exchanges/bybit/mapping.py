"""Bybit's wire objects → the common vocabulary's models (orders, positions, fills, instruments, times)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.bybit import schemas as s
from cerbero_mcp.exchanges.bybit.client import to_decimal
from cerbero_mcp.exchanges.bybit.symbols import Category

# A number as Bybit writes it (always a string): "50000.00", "-0.0001", "1684738540559".
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def info_of(raw: Any) -> Any:
    """Return a Bybit payload for an `info` field: numeric strings as Decimals (so they print canonically).

    Bybit writes every number as a string ("0.10", "1190.000"); the one response format writes
    decimals without trailing zeros, so they become Decimals here. Ids stay as sent ("…Id" keys),
    since an id is a name, not a number.
    """
    if isinstance(raw, dict):
        return {
            key: value if str(key).lower().endswith("id") and isinstance(value, str) else info_of(value)
            for key, value in raw.items()
        }
    if isinstance(raw, list):
        return [info_of(item) for item in raw]
    if isinstance(raw, str) and _NUMBER.fullmatch(raw):
        return Decimal(raw)
    return raw


def ms_to_dt(ms: Any) -> datetime:
    """Return a UTC datetime for epoch milliseconds (Bybit sends them as strings or numbers)."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def maybe_dt(ms: Any) -> datetime | None:
    """Return a UTC datetime for epoch milliseconds, None for "", "0" or null."""
    if ms in (None, "", "0", 0):
        return None
    return ms_to_dt(ms)


def dt_to_ms(value: datetime) -> int:
    """Return epoch milliseconds for a datetime."""
    return int(value.timestamp() * 1000)


def positive(value: Any) -> Decimal | None:
    """Return a Decimal, or None when Bybit sends "", "0" or "0.00" for "not set"."""
    number = to_decimal(value)
    return number if number else None


def order_type(raw: dict[str, Any]) -> str:
    """Return the vocabulary's order type of a Bybit order (a trigger price makes it a stop)."""
    kind = str(raw.get("orderType", "Limit")).lower()
    if positive(raw.get("triggerPrice")) is not None:
        return "stop_limit" if kind == "limit" else "stop_market"
    return kind


def to_order(raw: dict[str, Any], category: str | None = None) -> v.Order:
    """Map a Bybit order (/v5/order/realtime) to the common model."""
    quantity = to_decimal(raw.get("qty")) or Decimal(0)
    filled = to_decimal(raw.get("cumExecQty")) or Decimal(0)
    status = s.ORDER_STATUS.get(str(raw.get("orderStatus")), "open")
    kind = order_type(raw)
    tif = str(raw.get("timeInForce", ""))
    info = info_of(raw)
    if category is not None:
        info.setdefault("category", category)
    return v.Order(
        order_id=str(raw["orderId"]),
        client_order_id=raw.get("orderLinkId") or None,
        instrument=str(raw["symbol"]),
        side=s.SIDE_BACK.get(str(raw.get("side")), "buy"),
        type=kind,
        status=status,
        price=positive(raw.get("price")) if kind in ("limit", "stop_limit") else None,
        stop_price=positive(raw.get("triggerPrice")),
        quantity=quantity,
        filled_quantity=filled,
        average_fill_price=positive(raw.get("avgPrice")),
        time_in_force=s.TIME_IN_FORCE_BACK.get(tif),
        post_only=tif == "PostOnly",
        reduce_only=bool(raw.get("reduceOnly", False)),
        created_at=maybe_dt(raw.get("createdTime")),
        updated_at=maybe_dt(raw.get("updatedTime")),
        info=info,
    )


def to_position(raw: dict[str, Any], category: str | None = None) -> v.Position:
    """Map a Bybit position (/v5/position/list) to the common model."""
    size = to_decimal(raw.get("size")) or Decimal(0)
    side = str(raw.get("side", ""))
    info = info_of(raw)
    if category is not None:
        info.setdefault("category", category)
    return v.Position(
        instrument=str(raw["symbol"]),
        side="flat" if size == 0 or side not in ("Buy", "Sell") else ("long" if side == "Buy" else "short"),
        size=abs(size),
        average_price=positive(raw.get("avgPrice")),
        mark_price=positive(raw.get("markPrice")),
        unrealized_pnl=to_decimal(raw.get("unrealisedPnl")),
        realized_pnl=to_decimal(raw.get("cumRealisedPnl")),
        liquidation_price=positive(raw.get("liqPrice")),
        info=info,
    )


def signed_size(raw: dict[str, Any]) -> Decimal:
    """Return a position's size with the sign of its side (Sell negative)."""
    size = to_decimal(raw.get("size")) or Decimal(0)
    return -size if raw.get("side") == "Sell" else size


def to_fill(raw: dict[str, Any]) -> v.Fill:
    """Map one execution (/v5/execution/list) to the common model."""
    maker = raw.get("isMaker")
    return v.Fill(
        trade_id=str(raw.get("execId")),
        price=to_decimal(raw.get("execPrice")) or Decimal(0),
        quantity=to_decimal(raw.get("execQty")) or Decimal(0),
        fee=to_decimal(raw.get("execFee")),
        liquidity=None if maker is None else ("maker" if maker else "taker"),
    )


def to_instrument(raw: dict[str, Any], category: str) -> s.BybitInstrumentInfo:
    """Map one instrument (/v5/market/instruments-info) to its rules."""
    lots = raw.get("lotSizeFilter") or {}
    prices = raw.get("priceFilter") or {}
    options_type = str(raw.get("optionsType", "")).lower()
    return s.BybitInstrumentInfo(
        instrument=str(raw["symbol"]),
        category=cast(Category, category),
        status=raw.get("status"),
        base_coin=raw.get("baseCoin"),
        quote_coin=raw.get("quoteCoin"),
        settle_coin=raw.get("settleCoin") or None,
        contract_type=raw.get("contractType") or None,
        tick_size=to_decimal(prices.get("tickSize")),
        qty_step=qty_step(raw),
        min_order_qty=to_decimal(lots.get("minOrderQty")),
        max_order_qty=to_decimal(lots.get("maxOrderQty")),
        min_notional=min_notional(raw),
        expiry=maybe_dt(raw.get("deliveryTime")),
        option_type="call" if options_type == "call" else "put" if options_type == "put" else None,
        info=info_of(raw),
    )


def qty_step(meta: dict[str, Any]) -> Decimal | None:
    """Return the quantity increment (spot calls it basePrecision)."""
    lots = meta.get("lotSizeFilter") or {}
    return to_decimal(lots.get("qtyStep")) or to_decimal(lots.get("basePrecision"))


def min_notional(meta: dict[str, Any]) -> Decimal | None:
    """Return the minimum order value in the quote coin (linear minNotionalValue, spot minOrderAmt)."""
    lots = meta.get("lotSizeFilter") or {}
    return to_decimal(lots.get("minNotionalValue")) or to_decimal(lots.get("minOrderAmt"))
