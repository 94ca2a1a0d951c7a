"""Alpaca symbols: which asset class a symbol names, and the parts of an OCC option symbol.

Stocks and ETFs are tickers (`AAPL`, `BRK.B`), crypto pairs have a slash (`BTC/USD`), options use
the OCC form: root, YYMMDD expiry, C/P, strike x 1000 on 8 digits (`AAPL270115C00200000`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

AssetClass = Literal["us_equity", "us_option", "crypto"]
OCC = re.compile(r"^(?P<root>[A-Z]{1,6})(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
CRYPTO = re.compile(r"^[A-Z0-9]{2,10}/[A-Z]{3,5}$")
OPTION_MULTIPLIER = Decimal(100)


class OptionSymbol(NamedTuple):
    """The parts of an OCC option symbol."""

    root: str
    expiry: date
    right: Literal["call", "put"]
    strike: Decimal


def asset_class(symbol: str) -> AssetClass:
    """Return the asset class a symbol's spelling names."""
    if "/" in symbol:
        return "crypto"
    if OCC.match(symbol):
        return "us_option"
    return "us_equity"


def parse_occ(symbol: str) -> OptionSymbol | None:
    """Return the parts of an OCC symbol, or None when it is not one."""
    match = OCC.match(symbol)
    if match is None:
        return None
    raw = match["expiry"]
    try:
        expiry = date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        return None
    return OptionSymbol(
        match["root"], expiry, "call" if match["right"] == "C" else "put", Decimal(match["strike"]) / 1000
    )


def occ_symbol(root: str, expiry: date, right: Literal["call", "put"], strike: Decimal) -> str:
    """Return the OCC symbol of an option contract."""
    return f"{root}{expiry:%y%m%d}{'C' if right == 'call' else 'P'}{int(strike * 1000):08d}"


def multiplier(symbol: str) -> Decimal:
    """Return how many units of the underlying one unit of `symbol` is (options: 100 shares)."""
    return OPTION_MULTIPLIER if asset_class(symbol) == "us_option" else Decimal(1)


CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")


def pair_symbol(symbol: str, asset_class_name: str | None) -> str:
    """Return a crypto position's symbol as orders spell it (Alpaca lists positions as BTCUSD, orders as BTC/USD)."""
    if asset_class_name != "crypto" or "/" in symbol:
        return symbol
    quote = next((q for q in CRYPTO_QUOTES if symbol.endswith(q) and len(symbol) > len(q)), None)
    return f"{symbol[: -len(quote)]}/{quote}" if quote else symbol
