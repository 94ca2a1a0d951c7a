"""Deribit's quarterly expiries (last Friday of Mar/Jun/Sep/Dec, 08:00 UTC) and their DMMMYY codes.

The request examples name a quarterly option derived from the clock, so they never go stale:
quarterlies are listed months ahead, on Deribit and in the simulator alike.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

MONTH_CODES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
FRIDAY = 4


def last_friday(year: int, month: int) -> date:
    """Return the last Friday of a month."""
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - FRIDAY) % 7)


def next_quarterly(today: date, min_days: int = 14) -> date:
    """Return the first quarterly expiry date at least `min_days` days after `today`."""
    earliest = today + timedelta(days=min_days)
    year, month = earliest.year, earliest.month
    while True:
        if month % 3 == 0 and (expiry := last_friday(year, month)) >= earliest:
            return expiry
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def expiry_code(day: date) -> str:
    """Return Deribit's DMMMYY code of an expiry date, e.g. 25DEC26 or 7MAR25."""
    return f"{day.day}{MONTH_CODES[day.month - 1]}{day.year % 100:02d}"
