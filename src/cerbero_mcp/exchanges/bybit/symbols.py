"""Bybit's native symbols: which category a symbol names, and the dated symbols the examples use.

Bybit has four categories and one symbol space per category, so a symbol alone does not always say
which market it is: `BTCUSDT` is both the spot pair and the USDT perpetual. The spelling decides the
rest (Bybit's own naming, docs/v5/enum.mdx and the instruments list):

    BTC-27MAR26-70000-P[-USDT]   option          BTC-27MAR26, BTCUSDT-27MAR26   linear (dated futures)
    BTCUSDH26                    inverse future  BTCUSD                         inverse perpetual
    BTCPERP                      linear (USDC perpetual)
    anything else (BTCUSDT, ETHBTC)  spot or linear: the instrument list decides, else `category` is required
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Literal

Category = Literal["linear", "inverse", "spot", "option"]
CATEGORIES: tuple[Category, ...] = ("linear", "inverse", "spot", "option")
MONTH_CODES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Futures month letters (CME convention) Bybit uses for inverse futures: BTCUSDH26 = March 2026.
FUTURES_MONTHS = "FGHJKMNQUVXZ"
_EXPIRY = r"\d{1,2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{2}"
_PATTERNS: tuple[tuple[re.Pattern[str], Category], ...] = (
    (re.compile(rf"^[A-Z0-9]+-{_EXPIRY}-\d+(?:\.\d+)?-[CP](?:-[A-Z]+)?$"), "option"),
    (re.compile(rf"^[A-Z0-9]+-{_EXPIRY}$"), "linear"),
    (re.compile(rf"^[A-Z0-9]+USD[{FUTURES_MONTHS}]\d{{2}}$"), "inverse"),
    (re.compile(r"^[A-Z0-9]+USD$"), "inverse"),
    (re.compile(r"^[A-Z0-9]+PERP$"), "linear"),
)
# What the ambiguous spellings can be; the instruments list narrows them down.
AMBIGUOUS: tuple[Category, ...] = ("linear", "spot")
FRIDAY = 4


def category_from_symbol(symbol: str) -> Category | None:
    """Return the category a symbol's spelling names, or None when it could be spot or linear."""
    for pattern, category in _PATTERNS:
        if pattern.fullmatch(symbol):
            return category
    return None


def is_dated(symbol: str) -> bool:
    """Return whether a symbol names a dated future (linear or inverse) rather than a perpetual."""
    return bool(re.fullmatch(rf"^[A-Z0-9]+-{_EXPIRY}$", symbol)) or bool(
        re.fullmatch(rf"^[A-Z0-9]+USD[{FUTURES_MONTHS}]\d{{2}}$", symbol)
    )


def last_friday(year: int, month: int) -> date:
    """Return the last Friday of a month."""
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - FRIDAY) % 7)


def next_quarterly(today: date, min_days: int = 14) -> date:
    """Return the first quarterly expiry (last Friday of Mar/Jun/Sep/Dec) at least `min_days` after `today`."""
    earliest = today + timedelta(days=min_days)
    year, month = earliest.year, earliest.month
    while True:
        if month % 3 == 0 and (expiry := last_friday(year, month)) >= earliest:
            return expiry
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def expiry_code(day: date) -> str:
    """Return Bybit's DMMMYY expiry code, e.g. 27MAR26 or 6JUN25 (no leading zero, as Bybit lists them)."""
    return f"{day.day}{MONTH_CODES[day.month - 1]}{day.year % 100:02d}"


def quarterly_future(today: date, base: str = "BTC") -> str:
    """Return the USDC-settled dated future of the next quarterly, e.g. BTC-27MAR26."""
    return f"{base}-{expiry_code(next_quarterly(today))}"


def quarterly_option(today: date, strike: int = 100000, kind: str = "C", base: str = "BTC") -> str:
    """Return a quarterly option symbol, e.g. BTC-27MAR26-100000-C."""
    return f"{base}-{expiry_code(next_quarterly(today))}-{strike}-{kind}"
