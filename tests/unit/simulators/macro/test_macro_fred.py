"""FRED: observations and series as FRED's API documents them, gaps, units, frequencies, keys, limits, timing."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from macro_sim import CREDS, T1, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.macro.fred_series import SERIES

ISSUE_SERIES = ["DGS1MO", "DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30", "T5YIE", "T10YIE",
                "T5YIFR", "DTWEXBGS", "DCOILWTICO", "VIXCLS", "CBBTCUSD", "SP500"]  # fmt: skip
# realistic bands for the clock's day (March 2026)
BANDS = {"DGS10": (2.5, 6.0), "DGS1MO": (1.5, 6.0), "T10YIE": (1.5, 3.5), "T5YIFR": (1.0, 4.0),
         "DTWEXBGS": (100, 140), "DCOILWTICO": (35, 110), "VIXCLS": (8, 60), "CBBTCUSD": (40_000, 200_000),
         "SP500": (4_500, 9_000), "CPIAUCSL": (300, 360), "UNRATE": (3, 6.5)}  # fmt: skip


async def test_observations_reply_has_fred_envelope_and_string_values(sim: Sim) -> None:
    r = await sim.fred("series/observations", series_id="DGS10", observation_start="2026-02-01")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["realtime_start", "realtime_end", "observation_start", "observation_end", "units",
                          "output_type", "file_type", "order_by", "sort_order", "count", "offset", "limit",
                          "observations"]  # fmt: skip
    assert body["realtime_start"] == body["realtime_end"] == "2026-03-04"
    assert body["observation_start"] == "2026-02-01"
    assert body["observation_end"] == "9999-12-31"
    assert (body["units"], body["file_type"], body["sort_order"], body["limit"]) == ("lin", "json", "asc", 100000)
    obs = body["observations"]
    assert body["count"] == len(obs)
    assert all(set(o) == {"realtime_start", "realtime_end", "date", "value"} for o in obs)
    assert all(isinstance(o["value"], str) for o in obs)


@pytest.mark.parametrize("series_id", ISSUE_SERIES)
async def test_every_series_the_issue_needs_is_served(sim: Sim, series_id: str) -> None:
    obs = await sim.observations(series_id, observation_start="2026-01-01")
    values = [Decimal(o["value"]) for o in obs if o["value"] != "."]
    assert len(values) >= 20
    low, high = BANDS.get(series_id, (0.01, 10.0))
    assert all(low <= v <= high for v in values), (series_id, values[-5:])


async def test_holidays_are_dots_and_weekends_are_absent(sim: Sim) -> None:
    obs = await sim.observations("DGS10", observation_start="2025-01-01", observation_end="2025-01-31")
    by_date = {o["date"]: o["value"] for o in obs}
    assert by_date["2025-01-01"] == "."
    assert by_date["2025-01-20"] == "."
    assert "2025-01-04" not in by_date
    assert "2025-01-05" not in by_date
    assert len(obs) == 23  # every weekday of January 2025
    btc = await sim.observations("CBBTCUSD", observation_start="2025-01-01", observation_end="2025-01-31")
    assert len(btc) == 31
    assert all(o["value"] != "." for o in btc)


async def test_treasury_series_equal_the_treasury_curve(sim: Sim) -> None:
    obs = await sim.observations("DGS10", observation_start="2025-06-02", observation_end="2025-06-06")
    r = await sim.treasury(field_tdr_date_value_month="202506")
    for o in obs:
        tag = f'<d:NEW_DATE m:type="Edm.DateTime">{o["date"]}T00:00:00</d:NEW_DATE>'
        entry = r.text[r.text.index(tag) :]
        ten = entry[entry.index('<d:BC_10YEAR m:type="Edm.Double">') + 33 :].split("<", 1)[0]
        assert o["value"] == ten


async def test_units_are_computed_from_the_levels(sim: Sim) -> None:
    lin = await sim.observations("CPIAUCSL", observation_start="2024-01-01", observation_end="2025-12-01")
    chg = await sim.observations("CPIAUCSL", observation_start="2024-02-01", observation_end="2025-12-01", units="chg")
    pch = await sim.observations("CPIAUCSL", observation_start="2024-02-01", observation_end="2025-12-01", units="pch")
    pc1 = await sim.observations("CPIAUCSL", observation_start="2025-01-01", observation_end="2025-12-01", units="pc1")
    level = {o["date"]: float(o["value"]) for o in lin}
    dates = sorted(level)
    for prev_d, d in itertools.pairwise(dates):
        c = next(o for o in chg if o["date"] == d)
        p = next(o for o in pch if o["date"] == d)
        assert float(c["value"]) == pytest.approx(level[d] - level[prev_d], abs=2e-3)
        assert float(p["value"]) == pytest.approx((level[d] / level[prev_d] - 1) * 100, abs=1e-3)
    for o in pc1:
        year_ago = o["date"].replace("2025", "2024", 1)
        assert float(o["value"]) == pytest.approx((level[o["date"]] / level[year_ago] - 1) * 100, abs=1e-3)
    logs = await sim.observations("CPIAUCSL", observation_start="2025-01-01", observation_end="2025-01-01", units="log")
    assert float(logs[0]["value"]) == pytest.approx(math.log(level["2025-01-01"]), abs=1e-4)


async def test_frequency_aggregates_with_the_chosen_method(sim: Sim) -> None:
    daily = await sim.observations("DGS2", observation_start="2025-03-01", observation_end="2025-03-31")
    values = [float(o["value"]) for o in daily if o["value"] != "."]
    avg = await sim.observations("DGS2", observation_start="2025-03-01", observation_end="2025-03-31", frequency="m")
    eop = await sim.observations("DGS2", observation_start="2025-03-01", observation_end="2025-03-31", frequency="m",
                                 aggregation_method="eop")  # fmt: skip
    assert [o["date"] for o in avg] == ["2025-03-01"]
    assert float(avg[0]["value"]) == pytest.approx(sum(values) / len(values), abs=0.006)
    assert float(eop[0]["value"]) == values[-1]
    weekly = await sim.observations("DGS2", observation_start="2025-03-01", observation_end="2025-03-31", frequency="w")
    assert all(date.fromisoformat(o["date"]).weekday() == 4 for o in weekly)  # weeks ending Friday
    r = await sim.fred("series/observations", series_id="CPIAUCSL", frequency="d")
    assert r.status_code == 400
    assert "native frequency" in r.json()["error_message"]


async def test_limit_offset_and_sort_order_page_the_observations(sim: Sim) -> None:
    every = await sim.observations("SP500", observation_start="2025-01-01", observation_end="2025-12-31")
    r = await sim.fred("series/observations", series_id="SP500", observation_start="2025-01-01",
                       observation_end="2025-12-31", limit=5, offset=10, sort_order="desc")  # fmt: skip
    body = r.json()
    assert body["count"] == len(every)
    assert body["limit"] == 5
    assert body["offset"] == 10
    assert body["observations"] == list(reversed(every))[10:15]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"series_id": "NOSUCHSERIES"}, "Bad Request.  The series does not exist."),
        ({"series_id": "DGS10", "units": "pct"}, "Bad Request.  Variable units is not one of the values"),
        ({"series_id": "DGS10", "limit": "0"}, "Bad Request.  Variable limit is not between 1 and 100000."),
        ({"series_id": "DGS10", "sort_order": "up"}, "Bad Request.  Variable sort_order is not one of the values"),
        ({"series_id": "DGS10", "observation_start": "2025-13-01"}, "Bad Request.  Variable observation_start"),
        ({"series_id": "DGS10", "aggregation_method": "max"}, "Bad Request.  Variable aggregation_method"),
        ({}, "Bad Request.  Variable series_id is not set."),
    ],
)
async def test_bad_requests_are_400_with_freds_message(sim: Sim, params: dict[str, str], message: str) -> None:
    r = await sim.fred("series/observations", **params)
    assert r.status_code == 400
    body = r.json()
    assert body["error_code"] == 400
    assert body["error_message"].startswith(message)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        (None, "Variable api_key is not set."),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "is not a 32 character alpha-numeric lower-case string."),
        ("short", "is not a 32 character alpha-numeric lower-case string."),
        ("0" * 32, "The value for variable api_key is not registered."),
    ],
)
async def test_keys_are_checked(sim: Sim, key: str | None, fragment: str) -> None:
    r = await sim.fred("series/observations", key=key, series_id="DGS10")
    assert r.status_code == 400
    assert fragment in r.json()["error_message"]


async def test_without_file_type_json_the_answer_is_xml(sim: Sim) -> None:
    query = {"series_id": "DGS10", "api_key": CREDS["fred_api_key"], "observation_start": "2026-02-02"}
    r = await sim.get("/fred/fred/series/observations", query)
    root = ET.fromstring(r.text)  # noqa: S314 - our own simulator's output
    assert r.status_code == 200
    assert root.tag == "observations"
    assert root.get("file_type") == "xml"
    assert root[0].get("date") == "2026-02-02"
    assert root[0].get("value")
    bad = await sim.get("/fred/fred/series/observations", {"series_id": "DGS10", "api_key": "x"})
    err = ET.fromstring(bad.text)  # noqa: S314 - our own simulator's output
    assert bad.status_code == 400
    assert err.tag == "error"
    assert err.get("code") == "400"


async def test_series_metadata(sim: Sim) -> None:
    r = await sim.fred("series", series_id="T10YIE")
    s = r.json()["seriess"][0]
    assert s["id"] == "T10YIE"
    assert s["frequency_short"] == "D"
    assert s["units"] == "Percent"
    assert s["observation_end"] == "2026-03-02"
    assert s["last_updated"] == "2026-03-03 15:20:00-06"
    cpi = (await sim.fred("series", series_id="CPIAUCSL")).json()["seriess"][0]
    assert (cpi["frequency"], cpi["seasonal_adjustment_short"], cpi["observation_end"]) == (
        "Monthly",
        "SA",
        "2026-01-01",
    )
    r = await sim.fred("series", series_id="NOPE")
    assert r.status_code == 400
    assert r.json()["error_message"] == "Bad Request.  The series does not exist."


async def test_nothing_is_served_before_its_release(sim: Sim, clock: ManualClock) -> None:
    assert (await sim.observations("DGS10", sort_order="desc", limit=1))[0]["date"] == "2026-03-02"
    assert (await sim.observations("CPIAUCSL", sort_order="desc", limit=1))[0]["date"] == "2026-01-01"
    assert (await sim.observations("UNRATE", sort_order="desc", limit=1))[0]["date"] == "2026-01-01"
    clock.set(datetime(2026, 3, 4, 21, 20, tzinfo=UTC).timestamp())  # 16:20 New York: Tuesday's H.15 is in
    assert (await sim.observations("DGS10", sort_order="desc", limit=1))[0]["date"] == "2026-03-03"
    clock.set(datetime(2026, 3, 6, 13, 30, tzinfo=UTC).timestamp())  # the jobs report, first Friday of March
    assert (await sim.observations("UNRATE", sort_order="desc", limit=1))[0]["date"] == "2026-02-01"
    clock.set(datetime(2026, 3, 11, 13, 30, tzinfo=UTC).timestamp())  # CPI, second Wednesday
    assert (await sim.observations("CPIAUCSL", sort_order="desc", limit=1))[0]["date"] == "2026-02-01"


async def test_nothing_after_now_at_another_pinned_date() -> None:
    clock = ManualClock(T1)  # Thursday 2025-07-03 13:30 New York
    async for sim in open_sim(make_app(clock), clock):
        assert (await sim.observations("DGS10", sort_order="desc", limit=1))[0]["date"] == "2025-07-01"
        assert (await sim.observations("SP500", sort_order="desc", limit=1))[0]["date"] == "2025-07-02"
        assert (await sim.observations("CBBTCUSD", sort_order="desc", limit=1))[0]["date"] == "2025-07-02"
        assert (await sim.observations("GDP", sort_order="desc", limit=1))[0]["date"] == "2025-01-01"
        later = await sim.observations("DGS10", observation_start="2025-07-02")
        assert later == []


async def test_values_are_a_function_of_seed_and_date() -> None:
    seen = []
    for seed, t in ((7, T1), (7, T1 + 86_400 * 30), (8, T1)):
        clock = ManualClock(t)
        async for sim in open_sim(make_app(clock, seed=seed), clock):
            seen.append(await sim.observations("T10YIE", observation_start="2025-05-01", observation_end="2025-06-30"))
    pairs = [[(o["date"], o["value"]) for o in s] for s in seen]
    assert pairs[0] == pairs[1]  # a later clock does not rewrite history
    assert pairs[0] != pairs[2]


async def test_rate_limit_120_per_minute_per_key(sim: Sim, clock: ManualClock) -> None:
    for _ in range(120):
        r = await sim.fred("series", series_id="DGS10")
        assert r.status_code == 200
    r = await sim.fred("series", series_id="DGS10")
    assert r.status_code == 429
    assert r.json() == {"error_code": 429, "error_message": "Too Many Requests.  Exceeded Rate Limit"}
    clock.advance(60)
    assert (await sim.fred("series", series_id="DGS10")).status_code == 200


async def test_rate_limit_switch_off_lets_every_call_through(sim: Sim) -> None:
    sim.venue.rate_limit = False
    for _ in range(130):
        assert (await sim.fred("series", series_id="DGS10")).status_code == 200


def test_catalog_names_the_series_of_the_issue() -> None:
    assert set(ISSUE_SERIES) <= set(SERIES)
    assert {"DGS20", "DGS3", "DGS7", "DFF", "CPIAUCSL", "UNRATE", "GDP"} <= set(SERIES)
