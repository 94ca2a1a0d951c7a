"""The US pattern-day-trader rule (FINRA Rule 4210(f)(8)(B)) as the risk desk reads it from a venue.

A day trade is buying and selling (or selling short and buying) the same security on the same day in
a margin account. Four or more day trades within five business days mark the customer a pattern day
trader, who must keep $25,000 of equity; below that, the fourth day trade is the one that breaks the
rule. So the guard refuses, on an account the rule applies to (a margin account under $25,000), the
trade that would be the fourth day trade of the last five business days.

The count comes from the venue where it gives one (Alpaca's `daytrade_count`), otherwise from the
account's fills (IBKR's `/iserver/account/trades`, at most 7 days back). Business days are the NYSE
calendar from Alpaca's `/v2/calendar`; IBKR, which this gateway has no exchange calendar for, counts
weekdays and says so. A proposed trade is a day trade when it trades against a position opened today
in the same instrument (today's fills left a net position on the other side). Crypto is not a security under the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.risk.holdings import dec

NEW_YORK = ZoneInfo("America/New_York")
PDT_EQUITY_USD = Decimal(25_000)
PDT_DAY_TRADES = 4  # "four or more day trades within five business days"
WINDOW_DAYS = 5
PDT_VENUES = ("alpaca", "ibkr")


@dataclass
class PdtFacts:
    """What a venue says about its account for the rule, and the day trades of the window."""

    venue: str
    margin_account: bool | None
    equity_usd: Decimal
    pattern_day_trader: bool | None
    day_trades: int
    count_source: str
    business_days: list[date]  # the five-day window, oldest first, ending today (or the last business day)
    upcoming_days: list[date]  # the business days after today, for when a day trade rolls off
    calendar_source: str
    day_trade_dates: list[date] = field(default_factory=list)  # one per day trade found in the fills, oldest first
    opened_today: dict[str, Decimal] = field(default_factory=dict)  # instrument → net signed qty of today's fills

    @property
    def applies(self) -> bool:
        """Return whether the rule limits this account: a margin account (or unknown) under $25,000."""
        return self.margin_account is not False and self.equity_usd < PDT_EQUITY_USD

    def would_day_trade(self, instrument: str, side: str) -> bool:
        """Return whether trading `side` of `instrument` now closes a position opened today (a day trade)."""
        if "/" in instrument:  # a crypto pair is not a security under FINRA's rule
            return False
        opened = self.opened_today.get(instrument.upper(), Decimal(0))
        return opened > 0 if side == "sell" else opened < 0

    def would_break(self, instrument: str, side: str) -> bool:
        """Return whether the trade would be the day trade that breaks the rule on this account."""
        return self.applies and self.would_day_trade(instrument, side) and self.day_trades + 1 >= PDT_DAY_TRADES

    def oldest_rolls_off(self) -> date | None:
        """Return the business day the oldest counted day trade leaves the five-day window, if its date is known."""
        dates = [d for d in self.day_trade_dates if self.business_days and d >= self.business_days[0]]
        if not dates:
            return None
        oldest = min(dates)
        calendar = [*self.business_days, *self.upcoming_days]
        if oldest not in calendar:
            return None
        index = calendar.index(oldest) + WINDOW_DAYS
        return calendar[index] if index < len(calendar) else None


def ny_date(moment: datetime) -> date:
    """Return the New York calendar date of an aware moment."""
    return moment.astimezone(NEW_YORK).date()


def split_window(days: list[date], today: date) -> tuple[list[date], list[date]]:
    """Return (the last five business days up to today, the business days after today)."""
    past = sorted(d for d in days if d <= today)
    return past[-WINDOW_DAYS:], sorted(d for d in days if d > today)


def weekdays_around(today: date, back: int = 14, ahead: int = 14) -> list[date]:
    """Return the weekdays within `back`/`ahead` days of `today` (no holidays known)."""
    return [d for i in range(-back, ahead + 1) if (d := today + timedelta(days=i)).weekday() < 5]


def count_day_trades(fills: list[tuple[datetime, str, str, Decimal, str]]) -> list[date]:
    """Return the date of each day trade in fills (time, instrument, side, qty, order id): a same-day open, then close.

    Per instrument and New York day, in time order, a fill against the quantity opened earlier that
    day closes it; each closing order counts once (its partial fills are one trade).
    """
    trades: list[date] = []
    opened: dict[tuple[str, date], Decimal] = {}
    counted: set[tuple[str, date, str]] = set()
    for moment, instrument, side, qty, order_id in sorted(fills, key=lambda f: f[0]):
        key = (instrument.upper(), ny_date(moment))
        signed = qty if side == "buy" else -qty
        held = opened.get(key, Decimal(0))
        closing = bool(held) and (held > 0) != (signed > 0)
        if closing and (key[0], key[1], order_id) not in counted:
            counted.add((key[0], key[1], order_id))
            trades.append(key[1])
        opened[key] = held + signed
    return sorted(trades)


def opened_today(fills: list[tuple[datetime, str, str, Decimal, str]], today: date) -> dict[str, Decimal]:
    """Return, per instrument, the net signed quantity today's fills opened (0 after a round trip)."""
    opened: dict[str, Decimal] = {}
    for moment, instrument, side, qty, _ in fills:
        if ny_date(moment) == today:
            name = instrument.upper()
            opened[name] = opened.get(name, Decimal(0)) + (qty if side == "buy" else -qty)
    return opened


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def alpaca_facts(ctx: ToolContext) -> PdtFacts:
    """Read Alpaca's account (daytrade_count, multiplier, equity), its NYSE calendar and this window's fills."""
    from cerbero_mcp.exchanges.alpaca.symbols import pair_symbol

    client = await ctx.client()
    account = await client.account()
    today = ny_date(utcnow())
    rows = await client.calendar((today - timedelta(days=14)).isoformat(), (today + timedelta(days=14)).isoformat())
    days = sorted({date.fromisoformat(str(row["date"])) for row in rows if isinstance(row, dict) and row.get("date")})
    window, upcoming = split_window(days, today)
    fills: list[tuple[datetime, str, str, Decimal, str]] = []
    if window:
        start = datetime.combine(window[0], datetime.min.time(), tzinfo=NEW_YORK).astimezone(UTC)
        token: str | None = None
        for _ in range(50):  # 50 pages of 100 fills: beyond any account the rule limits
            params: dict[str, Any] = {
                "activity_types": "FILL",
                "after": start.isoformat().replace("+00:00", "Z"),
                "direction": "asc",
                "page_size": 100,
            }
            if token:
                params["page_token"] = token
            page = await client.activities(params)
            for row in page:
                moment = _parse_time(row.get("transaction_time"))
                if moment is None or row.get("activity_type", "FILL") != "FILL":
                    continue
                symbol = pair_symbol(str(row.get("symbol")), "crypto" if "/" in str(row.get("symbol")) else None)
                side = "buy" if str(row.get("side", "")).startswith("buy") else "sell"
                fills.append((moment, symbol, side, dec(row.get("qty")), str(row.get("order_id"))))
            if len(page) < 100:
                break
            token = str(page[-1].get("id"))
    multiplier = dec(account.get("multiplier"))
    venue_count = account.get("daytrade_count")
    dates = [d for d in count_day_trades(fills) if d >= window[0]] if window else []
    # Alpaca's figure is the venue's own: it wins over what the fills suggest.
    count = int(venue_count) if isinstance(venue_count, int | str) and str(venue_count).isdigit() else len(dates)
    last_equity = dec(account.get("last_equity"))
    return PdtFacts(
        venue="alpaca",
        margin_account=(multiplier > 1) if multiplier else None,
        # FINRA's $25,000 is the equity at the prior day's close (Alpaca: last_equity).
        equity_usd=last_equity if last_equity else dec(account.get("equity")),
        pattern_day_trader=bool(account.get("pattern_day_trader")),
        day_trades=count,
        count_source="alpaca daytrade_count" if venue_count is not None else "alpaca fills (/v2/account/activities)",
        business_days=window,
        upcoming_days=upcoming,
        calendar_source="NYSE calendar (alpaca /v2/calendar)",
        day_trade_dates=dates,
        opened_today=opened_today(fills, today),
    )


async def ibkr_facts(ctx: ToolContext) -> PdtFacts:
    """Read IBKR's net liquidation and the last 7 days of fills; count day trades over five weekdays."""
    client = await ctx.client()
    summary = await client.portfolio_summary()
    today = ny_date(utcnow())
    window, upcoming = split_window(weekdays_around(today), today)
    fills: list[tuple[datetime, str, str, Decimal, str]] = []
    for row in await client.trades(7):
        moment = _parse_time(row.get("trade_time_r"))
        if moment is None or str(row.get("sec_type", "STK")).upper() == "CRYPTO":
            continue
        side = "buy" if str(row.get("side", "")).upper().startswith("B") else "sell"
        fills.append((moment, str(row.get("symbol")), side, dec(row.get("size")), str(row.get("order_id"))))
    dates = [d for d in count_day_trades(fills) if window and d >= window[0]]
    accounts = await client.portfolio_accounts()
    trading_type = str((accounts[0] if accounts else {}).get("tradingType") or "").upper()
    return PdtFacts(
        venue="ibkr",
        # IBKR names margin accounts' trading types with MRGN; anything else is not known to be cash.
        margin_account=True if "MRGN" in trading_type else None,
        equity_usd=dec(summary.get("netliquidation")),
        pattern_day_trader=None,
        day_trades=len(dates),
        count_source="ibkr fills (/iserver/account/trades, 7 days)",
        business_days=window,
        upcoming_days=upcoming,
        calendar_source="weekdays (no exchange holiday calendar for IBKR here)",
        day_trade_dates=dates,
        opened_today=opened_today(fills, today),
    )


FACT_READERS = {"alpaca": alpaca_facts, "ibkr": ibkr_facts}
