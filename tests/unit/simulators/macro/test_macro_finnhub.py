"""Finnhub: quotes and the economic calendar as finnhub-python describes them, tokens, limits, timing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from macro_sim import CREDS, T0, T1, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock

ETFS = ["SPY", "QQQ", "DIA", "IWM", "GLD", "USO", "UUP", "TLT"]
PRICE_BANDS = {"SPY": (450, 900), "QQQ": (400, 800), "DIA": (350, 600), "IWM": (150, 320), "GLD": (250, 500),
               "USO": (40, 130), "UUP": (22, 33), "TLT": (70, 120)}  # fmt: skip


@pytest.mark.parametrize("symbol", ETFS)
async def test_quote_has_finnhubs_fields_as_numbers(sim: Sim, symbol: str) -> None:
    r = await sim.finnhub("quote", symbol=symbol)
    assert r.status_code == 200
    q = r.json()
    assert set(q) == {"c", "d", "dp", "h", "l", "o", "pc", "t"}
    assert all(isinstance(q[k], int | float) for k in q)
    assert isinstance(q["t"], int)
    assert q["t"] == int(T0)
    low, high = PRICE_BANDS[symbol]
    assert low <= q["c"] <= high
    assert q["l"] <= min(q["o"], q["c"])
    assert q["h"] >= max(q["o"], q["c"])
    assert q["d"] == pytest.approx(q["c"] - q["pc"], abs=0.011)
    assert q["dp"] == pytest.approx((q["c"] / q["pc"] - 1) * 100, abs=0.01)


async def test_quote_outside_the_session_is_the_last_close(sim: Sim, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 7, 15, tzinfo=UTC).timestamp())  # Saturday
    q = (await sim.finnhub("quote", symbol="SPY")).json()
    friday_close = datetime(2026, 3, 6, 21, tzinfo=UTC).timestamp()  # 16:00 New York
    assert q["t"] == int(friday_close)
    clock.set(datetime(2026, 3, 9, 13, tzinfo=UTC).timestamp())  # Monday 09:00 New York (EDT from the 8th)
    assert (await sim.finnhub("quote", symbol="SPY")).json() == q


async def test_unknown_symbol_is_all_zeros(sim: Sim) -> None:
    q = (await sim.finnhub("quote", symbol="NOPE")).json()
    assert q == {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}


async def test_spy_tracks_freds_sp500_close(sim: Sim, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 5, 14, tzinfo=UTC).timestamp())  # Thursday, before the open: last close is the 4th
    spy = (await sim.finnhub("quote", symbol="SPY")).json()
    obs = await sim.observations("SP500", observation_start="2026-03-03", observation_end="2026-03-04")
    sp500 = float(obs[-1]["value"])
    assert obs[-1]["date"] == "2026-03-04"
    assert spy["c"] == pytest.approx(sp500 / 10.03, rel=1e-4)


@pytest.mark.parametrize(
    ("token", "header", "status", "error"),
    [
        (None, None, 401, "Please use an API key."),
        ("wrongkey000000000000", None, 401, "Invalid API key."),
        (None, CREDS["finnhub_api_key"], 200, None),
    ],
)
async def test_token_parameter_or_header(sim: Sim, token: str | None, header: str | None, status: int,
                                         error: str | None) -> None:  # fmt: skip
    headers = {"X-Finnhub-Token": header} if header else {}
    params = {"symbol": "SPY", **({"token": token} if token else {})}
    r = await sim.get("/finnhub/api/v1/quote", params, headers=headers)
    assert r.status_code == status
    if error is not None:
        assert r.json() == {"error": error}


async def test_free_plan_key_gets_403_on_the_economic_calendar(sim: Sim) -> None:
    r = await sim.finnhub(
        "calendar/economic", token=CREDS["finnhub_free_key"], **{"from": "2026-03-01", "to": "2026-03-10"}
    )
    assert r.status_code == 403
    assert "error" in r.json()
    assert (await sim.finnhub("quote", token=CREDS["finnhub_free_key"], symbol="SPY")).status_code == 200


async def test_economic_calendar_window_fields_and_actuals(sim: Sim) -> None:
    r = await sim.finnhub("calendar/economic", **{"from": "2026-03-01", "to": "2026-03-31"})
    items = r.json()["economicCalendar"]
    assert items
    assert all(set(i) == {"actual", "country", "estimate", "event", "impact", "prev", "time", "unit"} for i in items)
    times = [datetime.strptime(i["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for i in items]
    assert all(date(2026, 3, 1) <= t.date() <= date(2026, 3, 31) for t in times)
    assert times == sorted(times)
    events = {i["event"] for i in items if i["country"] == "US"}
    assert {"CPI MoM", "CPI YoY", "Non Farm Payrolls", "Unemployment Rate", "Fed Interest Rate Decision",
            "Initial Jobless Claims"} <= events  # fmt: skip
    assert {i["country"] for i in items} >= {"US", "EU", "GB", "JP"}
    for item, t in zip(items, times, strict=True):
        if t.timestamp() <= T0:
            assert item["actual"] is not None
        else:
            assert item["actual"] is None  # not released yet
        assert item["estimate"] is not None
        assert item["prev"] is not None
    fomc = next(i for i in items if i["event"] == "Fed Interest Rate Decision")
    assert fomc["time"] == "2026-03-18 18:00:00"  # 14:00 New York on the meeting's second day


async def test_calendar_agrees_with_fred(sim: Sim, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 20, tzinfo=UTC).timestamp())
    items = (await sim.finnhub("calendar/economic", **{"from": "2026-03-01", "to": "2026-03-15"})).json()
    by_event = {i["event"]: i for i in items["economicCalendar"] if i["country"] == "US"}
    unrate = await sim.observations("UNRATE", observation_start="2026-02-01", observation_end="2026-02-01")
    assert by_event["Unemployment Rate"]["actual"] == float(unrate[0]["value"])
    assert by_event["Unemployment Rate"]["time"] == "2026-03-06 13:30:00"
    cpi = await sim.observations("CPIAUCSL", observation_start="2026-01-01", observation_end="2026-02-01", units="pch")
    assert by_event["CPI MoM"]["actual"] == pytest.approx(float(cpi[-1]["value"]), abs=0.051)


async def test_nothing_released_after_now_at_another_pinned_date() -> None:
    clock = ManualClock(T1)  # 2025-07-03 13:30 New York; the June jobs report came out at 08:30
    async for sim in open_sim(make_app(clock), clock):
        items = (await sim.finnhub("calendar/economic", **{"from": "2025-07-01", "to": "2025-07-31"})).json()
        for i in items["economicCalendar"]:
            released = datetime.strptime(i["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() <= T1
            assert (i["actual"] is not None) == released, i


async def test_rate_limit_60_per_minute_with_headers(sim: Sim, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 4, 15, 1, tzinfo=UTC).timestamp())
    for n in range(60):
        if n and n % 25 == 0:
            clock.advance(1.0)  # stay under 30 a second
        r = await sim.finnhub("quote", symbol="SPY")
        assert r.status_code == 200
        assert r.headers["X-Ratelimit-Remaining"] == str(59 - n)
    r = await sim.finnhub("quote", symbol="SPY")
    assert r.status_code == 429
    assert r.json() == {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
    assert r.headers["X-Ratelimit-Limit"] == "60"
    assert r.headers["X-Ratelimit-Remaining"] == "0"
    reset = int(r.headers["X-Ratelimit-Reset"])
    assert reset == int(datetime(2026, 3, 4, 15, 2, tzinfo=UTC).timestamp())
    clock.set(float(reset))
    assert (await sim.finnhub("quote", symbol="SPY")).status_code == 200


async def test_rate_limit_30_per_second(sim: Sim) -> None:
    codes = [(await sim.finnhub("quote", symbol="QQQ")).status_code for _ in range(31)]
    assert codes == [200] * 30 + [429]


async def test_rate_limit_switch_off(sim: Sim) -> None:
    sim.venue.rate_limit = False
    codes = {(await sim.finnhub("quote", symbol="QQQ")).status_code for _ in range(70)}
    assert codes == {200}


async def test_quotes_are_deterministic_per_seed() -> None:
    quotes = []
    for seed in (3, 3, 4):
        clock = ManualClock(T0)
        async for sim in open_sim(make_app(clock, seed=seed), clock):
            quotes.append((await sim.finnhub("quote", symbol="GLD")).json())
    assert quotes[0] == quotes[1]
    assert quotes[0] != quotes[2]
