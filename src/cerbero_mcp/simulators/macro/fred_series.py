"""The FRED series the simulator serves: metadata, observation calendars, values and release times.

Values come from the shared macro model (model.py), so FRED's Treasury series equal the Treasury's
curve, its breakevens give the 5y5y forward, and its equity closes are the Finnhub ETFs' index.
Release rules (New York time): H.15-style bond series the next bond-market business day at 16:20;
equity closes and VIX the next weekday at 08:05; seven-day series the next weekday at 09:00;
weekly claims the Thursday after the week ending Saturday at 08:30; CPI the second Wednesday of the
next month and the jobs report the first Friday, both at 08:30; GDP's advance estimate the last
Thursday of the month after the quarter at 08:30.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from cerbero_mcp.simulators.macro.calendar import (
    at,
    days_between,
    is_business_day,
    month_start,
    next_business_day,
    nth_weekday,
)
from cerbero_mcp.simulators.macro.model import MacroModel, q

Kind = Literal["bond", "stock", "daily7", "weekly", "monthly", "quarterly"]
Value = Callable[[MacroModel, date], float | Decimal | None]


@dataclass(frozen=True, slots=True)
class Series:
    """One FRED series: its metadata, its calendar, its values and when each is released."""

    id: str
    title: str
    kind: Kind
    units: str
    units_short: str
    decimals: int
    value: Value
    seasonal: bool = False

    @property
    def frequency(self) -> tuple[str, str]:
        """Return FRED's (frequency, frequency_short)."""
        return {
            "bond": ("Daily", "D"),
            "stock": ("Daily, Close", "D"),
            "daily7": ("Daily, 7-Day", "D"),
            "weekly": ("Weekly, Ending Saturday", "W"),
            "monthly": ("Monthly", "M"),
            "quarterly": ("Quarterly", "Q"),
        }[self.kind]

    def dates(self, start: date, end: date) -> list[date]:
        """Return the observation dates of the series in [start, end] (business-day series: every weekday)."""
        if start > end:
            return []
        if self.kind in ("bond", "stock"):
            return [d for d in days_between(start, end) if d.weekday() < 5]
        if self.kind == "daily7":
            return days_between(start, end)
        if self.kind == "weekly":
            first = start + timedelta(days=(5 - start.weekday()) % 7)
            return [first + timedelta(days=7 * i) for i in range((end - first).days // 7 + 1)] if first <= end else []
        step = 1 if self.kind == "monthly" else 3
        m = month_start(start)
        if self.kind == "quarterly":
            m = date(m.year, (m.month - 1) // 3 * 3 + 1, 1)
            if m < start:
                m = month_start(m, 3)
        elif m < start:
            m = month_start(m, 1)
        out: list[date] = []
        while m <= end:
            out.append(m)
            m = month_start(m, step)
        return out

    def released_at(self, d: date) -> float:
        """Return when the observation dated `d` is published (epoch seconds)."""
        if self.kind == "bond":
            return at(next_business_day(d, "bond"), 16, 20)
        if self.kind == "stock":
            return at(_next_weekday(d), 8, 5)
        if self.kind == "daily7":
            return at(_next_weekday(d), 9, 0)
        if self.kind == "weekly":
            return at(d + timedelta(days=5), 8, 30)  # Thursday after the week ending Saturday
        if self.kind == "monthly":
            return monthly_release(self.id, d)
        return gdp_release(d)


def _next_weekday(d: date) -> date:
    n = d + timedelta(days=1)
    while n.weekday() >= 5:
        n += timedelta(days=1)
    return n


def monthly_release(series_id: str, month: date) -> float:
    """Return the release time of a monthly series' month: CPI mid-month, the jobs report the first Friday."""
    nxt = month_start(month, 1)
    if series_id == "CPIAUCSL":
        return at(nth_weekday(nxt.year, nxt.month, 2, 2), 8, 30)
    return at(nth_weekday(nxt.year, nxt.month, 4, 1), 8, 30)


def gdp_release(quarter: date) -> float:
    """Return the advance GDP estimate's release: the last Thursday of the month after the quarter."""
    m = month_start(quarter, 3)
    return at(nth_weekday(m.year, m.month, 3, -1), 8, 30)


# --- values ---------------------------------------------------------------------------------------


def _tenor(field: str) -> Value:
    def value(model: MacroModel, d: date) -> Decimal | None:
        if not is_business_day(d, "bond"):
            return None
        return model.curve(d).get(field)

    return value


def _spread(long: str, short: str) -> Value:
    def value(model: MacroModel, d: date) -> Decimal | None:
        if not is_business_day(d, "bond"):
            return None
        c = model.curve(d)
        a, b = c.get(long), c.get(short)
        return None if a is None or b is None else a - b

    return value


def _bond_level(name: str, decimals: int) -> Value:
    def value(model: MacroModel, d: date) -> Decimal | None:
        return q(model.level(name).close(d), decimals) if is_business_day(d, "bond") else None

    return value


def _stock_close(name: str, scale: float = 1.0, hour: int = 16, minute: int = 0) -> Value:
    def value(model: MacroModel, d: date) -> float | None:
        return model.level(name).at(at(d, hour, minute)) * scale if is_business_day(d, "stock") else None

    return value


def _forward(model: MacroModel, d: date) -> Decimal | None:
    if not is_business_day(d, "bond"):
        return None
    be5, be10 = q(model.level("be5").close(d), 2), q(model.level("be10").close(d), 2)
    return 2 * be10 - be5  # 5y5y: (10y * 10 - 5y * 5) / 5


def _real(field: str, breakeven: str) -> Value:
    def value(model: MacroModel, d: date) -> Decimal | None:
        if not is_business_day(d, "bond"):
            return None
        nominal = model.curve(d).get(field)
        return None if nominal is None else nominal - q(model.level(breakeven).close(d), 2)

    return value


def _monthly(name: str) -> Value:
    return lambda model, d: model.monthly(name, d)


PCT = ("Percent", "%")
SERIES: dict[str, Series] = {
    s.id: s
    for s in [
        *(
            Series(
                f"DGS{label}",
                f"Market Yield on U.S. Treasury Securities at {title} Constant Maturity, Quoted on an Investment Basis",
                "bond",
                *PCT,
                2,
                _tenor(field),
            )
            for label, title, field in (
                ("1MO", "1-Month", "BC_1MONTH"),
                ("3MO", "3-Month", "BC_3MONTH"),
                ("6MO", "6-Month", "BC_6MONTH"),
                ("1", "1-Year", "BC_1YEAR"),
                ("2", "2-Year", "BC_2YEAR"),
                ("3", "3-Year", "BC_3YEAR"),
                ("5", "5-Year", "BC_5YEAR"),
                ("7", "7-Year", "BC_7YEAR"),
                ("10", "10-Year", "BC_10YEAR"),
                ("20", "20-Year", "BC_20YEAR"),
                ("30", "30-Year", "BC_30YEAR"),
            )
        ),
        Series(
            "T10Y2Y",
            "10-Year Treasury Constant Maturity Minus 2-Year Treasury Constant Maturity",
            "bond",
            *PCT,
            2,
            _spread("BC_10YEAR", "BC_2YEAR"),
        ),
        Series(
            "T10Y3M",
            "10-Year Treasury Constant Maturity Minus 3-Month Treasury Constant Maturity",
            "bond",
            *PCT,
            2,
            _spread("BC_10YEAR", "BC_3MONTH"),
        ),
        Series("T5YIE", "5-Year Breakeven Inflation Rate", "bond", *PCT, 2, _bond_level("be5", 2)),
        Series("T10YIE", "10-Year Breakeven Inflation Rate", "bond", *PCT, 2, _bond_level("be10", 2)),
        Series("T5YIFR", "5-Year, 5-Year Forward Inflation Expectation Rate", "bond", *PCT, 2, _forward),
        Series(
            "DFII5",
            "Market Yield on U.S. Treasury Securities at 5-Year Constant Maturity, Quoted on an "
            "Investment Basis, Inflation-Indexed",
            "bond",
            *PCT,
            2,
            _real("BC_5YEAR", "be5"),
        ),
        Series(
            "DFII10",
            "Market Yield on U.S. Treasury Securities at 10-Year Constant Maturity, Quoted on an "
            "Investment Basis, Inflation-Indexed",
            "bond",
            *PCT,
            2,
            _real("BC_10YEAR", "be10"),
        ),
        Series("DFF", "Federal Funds Effective Rate", "daily7", *PCT, 2, lambda m, d: m.effective_ffr(d)),
        Series("DFEDTARU", "Federal Funds Target Range - Upper Limit", "daily7", *PCT, 2, lambda m, d: m.fed_upper(d)),
        Series(
            "DTWEXBGS",
            "Nominal Broad U.S. Dollar Index",
            "bond",
            "Index Jan 2006=100",
            "Index Jan 2006=100",
            4,
            _bond_level("broad_usd", 4),
        ),
        Series(
            "DEXUSEU",
            "U.S. Dollars to Euro Spot Exchange Rate",
            "bond",
            "U.S. Dollars to One Euro",
            "U.S. $ to 1 Euro",
            4,
            _bond_level("eurusd", 4),
        ),
        Series(
            "DCOILWTICO",
            "Crude Oil Prices: West Texas Intermediate (WTI) - Cushing, Oklahoma",
            "stock",
            "Dollars per Barrel",
            "$ per Barrel",
            2,
            _stock_close("wti", hour=14, minute=30),
        ),
        Series("VIXCLS", "CBOE Volatility Index: VIX", "stock", "Index", "Index", 2, _stock_close("vix", minute=15)),
        Series("SP500", "S&P 500", "stock", "Index", "Index", 2, _stock_close("spx")),
        Series(
            "NASDAQCOM",
            "NASDAQ Composite Index",
            "stock",
            "Index Feb 5, 1971=100",
            "Index Feb 5, 1971=100",
            2,
            _stock_close("ndx", 0.915),
        ),
        Series("DJIA", "Dow Jones Industrial Average", "stock", "Index", "Index", 2, _stock_close("djia")),
        Series(
            "CBBTCUSD", "Coinbase Bitcoin", "daily7", "U.S. Dollars", "U.S. $", 2, lambda m, d: m.level("btc").close(d)
        ),
        Series(
            "BAMLH0A0HYM2",
            "ICE BofA US High Yield Index Option-Adjusted Spread",
            "bond",
            *PCT,
            2,
            _bond_level("hy_oas", 2),
        ),
        Series(
            "CPIAUCSL",
            "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
            "monthly",
            "Index 1982-1984=100",
            "Index 1982-1984=100",
            3,
            _monthly("cpi"),
            seasonal=True,
        ),
        Series("UNRATE", "Unemployment Rate", "monthly", *PCT, 1, _monthly("unrate"), seasonal=True),
        Series(
            "PAYEMS",
            "All Employees, Total Nonfarm",
            "monthly",
            "Thousands of Persons",
            "Thous. of Persons",
            0,
            _monthly("payems"),
            seasonal=True,
        ),
        Series(
            "GDP",
            "Gross Domestic Product",
            "quarterly",
            "Billions of Dollars",
            "Bil. of $",
            3,
            lambda m, d: m.quarterly("gdp", d),
            seasonal=True,
        ),
        Series(
            "ICSA", "Initial Claims", "weekly", "Number", "Number", 0, lambda m, d: m.weekly("icsa", d), seasonal=True
        ),
    ]
}
