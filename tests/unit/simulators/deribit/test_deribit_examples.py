"""Deribit's clock-derived request examples name options the simulator lists, whatever the date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.exchanges.deribit import schemas as s
from cerbero_mcp.exchanges.deribit.expiries import expiry_code, last_friday, next_quarterly
from cerbero_mcp.simulators.deribit.market import DeribitMarket
from cerbero_mcp.simulators.engine import ManualClock

DAY = 86_400.0


def test_quarterlies_are_the_last_friday_of_mar_jun_sep_dec_two_weeks_out() -> None:
    assert last_friday(2026, 12) == date(2026, 12, 25)
    assert last_friday(2027, 4) == date(2027, 4, 30)
    assert next_quarterly(date(2026, 12, 1)) == date(2026, 12, 25)
    assert next_quarterly(date(2026, 12, 11)) == date(2026, 12, 25)  # exactly two weeks
    assert next_quarterly(date(2026, 12, 12)) == date(2027, 3, 26)
    assert next_quarterly(date(2027, 6, 30)) == date(2027, 9, 24)
    assert expiry_code(date(2026, 12, 25)) == "25DEC26"
    assert expiry_code(date(2025, 3, 7)) == "7MAR25"


def test_the_spread_example_is_listed_on_every_day_of_the_next_years() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    market = DeribitMarket(7, start)
    for day in range(1_050):
        now = start + day * DAY + (day % 24) * 3600 + 1_799  # a different hour each day
        market.ensure_listed(now)
        for leg in s.example_call_spread(datetime.fromtimestamp(now, UTC).date()):
            name = str(leg["instrument"])
            assert name in market.listings, (datetime.fromtimestamp(now, UTC), name)
            expiry = market.model.instrument(name).expiry
            assert expiry is not None
            assert expiry - now > 13 * DAY, (datetime.fromtimestamp(now, UTC), name)


def test_the_request_models_compute_their_examples_from_the_process_clock() -> None:
    december = ManualClock(datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp())
    previous = use_clock(december)
    try:
        combo = s.ComboOrderRequest.model_json_schema()["examples"][0]
        payoff = s.SpreadPayoffRequest.model_json_schema()["examples"][0]
        assert [leg["instrument"] for leg in combo["legs"]] == ["BTC-25DEC26-100000-C", "BTC-25DEC26-120000-C"]
        assert payoff["legs"] == combo["legs"]
        december.set(december.now() + 11 * DAY)  # 25 December is now under two weeks away
        later = s.ComboOrderRequest.model_json_schema()["examples"][0]
        assert [leg["instrument"] for leg in later["legs"]] == ["BTC-26MAR27-100000-C", "BTC-26MAR27-120000-C"]
        assert s.ComboOrderRequest.model_validate(later).legs[0].instrument == "BTC-26MAR27-100000-C"
    finally:
        use_clock(previous)


def test_expiry_codes_match_the_simulators() -> None:
    from cerbero_mcp.simulators.deribit.market import expiry_code as simulator_code

    day = date(2027, 3, 26)
    assert expiry_code(day) == simulator_code(datetime(2027, 3, 26, 8, tzinfo=UTC).timestamp())
    assert expiry_code(day + timedelta(days=7)) == "2APR27"
