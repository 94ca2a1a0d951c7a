"""FINRA 4210's pattern-day-trader arithmetic: day trades from fills, the five-day window, when one rolls off."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from cerbero_mcp.exchanges.risk.pdt import PdtFacts, count_day_trades, opened_today, split_window, weekdays_around

ONE = Decimal(1)


def at(day: int, hour: int) -> datetime:
    """Return a moment of March 2026 in UTC (New York is UTC-5 until the 8th)."""
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_a_same_day_open_then_close_is_one_day_trade_and_overnight_is_none() -> None:
    fills = [
        (at(2, 15), "AAPL", "buy", ONE, "o1"),
        (at(2, 16), "AAPL", "sell", Decimal("0.5"), "o2"),
        (at(2, 17), "AAPL", "sell", Decimal("0.5"), "o2"),  # a partial fill of the same order: still one
        (at(3, 15), "MSFT", "buy", ONE, "o3"),
        (at(4, 15), "MSFT", "sell", ONE, "o4"),  # held overnight: not a day trade
        (at(4, 15), "SPY", "sell", ONE, "o5"),  # short, then covered the same day
        (at(4, 16), "SPY", "buy", ONE, "o6"),
    ]
    assert count_day_trades(fills) == [date(2026, 3, 2), date(2026, 3, 4)]
    # MSFT was bought yesterday: selling it today opened nothing today; SPY's round trip left nothing open.
    assert opened_today(fills, date(2026, 3, 4)) == {"MSFT": Decimal(-1), "SPY": Decimal(0)}


def test_the_window_is_five_business_days_and_the_oldest_rolls_off_five_later() -> None:
    days = [
        date(2026, 2, 26),
        date(2026, 2, 27),
        date(2026, 3, 2),
        date(2026, 3, 3),
        date(2026, 3, 4),
        date(2026, 3, 5),
    ]
    days += [date(2026, 3, 6), date(2026, 3, 9)]
    window, upcoming = split_window(days, date(2026, 3, 4))
    assert window == [date(2026, 2, 26), date(2026, 2, 27), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    facts = facts_with(3, window, upcoming, [date(2026, 2, 27), date(2026, 3, 3), date(2026, 3, 4)])
    # Friday 27 Feb counts on the five business days from it; on Friday 6 March it is out.
    assert facts.oldest_rolls_off() == date(2026, 3, 6)


def test_the_fourth_day_trade_breaks_the_rule_only_on_a_small_margin_account() -> None:
    window, upcoming = split_window(weekdays_around(date(2026, 3, 4)), date(2026, 3, 4))
    facts = facts_with(3, window, upcoming, [], opened={"AAPL": ONE})
    assert facts.applies
    assert facts.would_day_trade("AAPL", "sell")
    assert facts.would_break("AAPL", "sell")
    assert not facts.would_day_trade("AAPL", "buy")  # adds to today's position: no round trip
    flat = facts_with(3, window, upcoming, [], opened={"AAPL": Decimal(0)})
    assert not flat.would_day_trade("AAPL", "buy")
    assert not flat.would_day_trade("AAPL", "sell")
    assert not facts.would_break("MSFT", "sell")  # nothing opened today
    assert not facts.would_day_trade("BTC/USD", "sell")  # crypto is not a security under the rule
    two = facts_with(2, window, upcoming, [], opened={"AAPL": ONE})
    assert two.would_day_trade("AAPL", "sell")
    assert not two.would_break("AAPL", "sell")
    rich = facts_with(3, window, upcoming, [], opened={"AAPL": ONE}, equity=Decimal(25_000))
    assert not rich.applies
    assert not rich.would_break("AAPL", "sell")
    cash = facts_with(3, window, upcoming, [], opened={"AAPL": ONE}, margin=False)
    assert not cash.applies


def facts_with(
    count: int,
    window: list[date],
    upcoming: list[date],
    dates: list[date],
    *,
    opened: dict[str, Decimal] | None = None,
    equity: Decimal = Decimal(20_000),
    margin: bool | None = True,
) -> PdtFacts:
    """Return PDT facts of a test account."""
    return PdtFacts(
        venue="alpaca",
        margin_account=margin,
        equity_usd=equity,
        pattern_day_trader=False,
        day_trades=count,
        count_source="test",
        business_days=window,
        upcoming_days=upcoming,
        calendar_source="test",
        day_trade_dates=dates,
        opened_today=opened or {},
    )
