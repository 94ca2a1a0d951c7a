"""The Treasury par yield curve feed: Atom/OData XML as the Treasury publishes it, business days, tenors, timing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from macro_sim import T1, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock

ATOM = "{http://www.w3.org/2005/Atom}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"


def parse(body: str) -> list[dict[str, tuple[str, str]]]:
    """Return each entry's properties: local name -> (text, m:type), read by namespace URI."""
    root = ET.fromstring(body)  # noqa: S314 - our own simulator's output
    assert root.tag == f"{ATOM}feed"
    out: list[dict[str, tuple[str, str]]] = []
    for entry in root.findall(f"{ATOM}entry"):
        content = entry.find(f"{ATOM}content")
        assert content is not None
        assert content.get("type") == "application/xml"
        props = content.find(f"{M}properties")
        assert props is not None
        row: dict[str, tuple[str, str]] = {}
        for el in props:
            assert el.tag.startswith(D), el.tag
            row[el.tag.removeprefix(D)] = (el.text or "", el.get(f"{M}type", ""))
        out.append(row)
    return out


def dates_of(rows: list[dict[str, tuple[str, str]]]) -> list[date]:
    """Return the entries' NEW_DATE values."""
    return [date.fromisoformat(r["NEW_DATE"][0][:10]) for r in rows]


async def test_feed_uses_the_atom_and_odata_namespaces_and_edm_types(sim: Sim) -> None:
    r = await sim.treasury(field_tdr_date_value_month="202602")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    assert 'xmlns="http://www.w3.org/2005/Atom"' in r.text
    assert 'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices"' in r.text
    assert 'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"' in r.text
    rows = parse(r.text)
    assert len(rows) == 19  # February 2026: 20 weekdays, Washington's Birthday on the 16th
    for row in rows:
        text, kind = row["NEW_DATE"]
        assert kind == "Edm.DateTime"
        assert text.endswith("T00:00:00")
        for name, (value, vtype) in row.items():
            if name.startswith("BC_"):
                assert vtype == "Edm.Double"
                assert Decimal("0") < Decimal(value) < Decimal("10")
    assert dates_of(rows) == sorted(dates_of(rows))


async def test_only_bond_market_business_days_are_published(sim: Sim) -> None:
    rows = parse((await sim.treasury(field_tdr_date_value="2025")).text)
    days = set(dates_of(rows))
    assert all(d.weekday() < 5 for d in days)
    for holiday in (date(2025, 1, 1), date(2025, 1, 20), date(2025, 7, 4), date(2025, 10, 13), date(2025, 11, 11),
                    date(2025, 12, 25)):  # fmt: skip
        assert holiday not in days
    assert date(2025, 4, 18) in days  # Good Friday: stocks close, the curve is published
    assert len(days) == 250


async def test_tenors_appear_when_the_treasury_added_them(sim: Sim) -> None:
    early_2018 = parse((await sim.treasury(field_tdr_date_value_month="201803")).text)
    assert all("BC_2MONTH" not in r and "BC_4MONTH" not in r and "BC_1_5MONTH" not in r for r in early_2018)
    late_2022 = parse((await sim.treasury(field_tdr_date_value_month="202210")).text)
    with_4m = [d for d, r in zip(dates_of(late_2022), late_2022, strict=True) if "BC_4MONTH" in r]
    assert with_4m
    assert min(with_4m) >= date(2022, 10, 19)
    assert any(d < date(2022, 10, 19) for d in dates_of(late_2022))
    y2024 = parse((await sim.treasury(field_tdr_date_value="2024")).text)
    assert all("BC_1_5MONTH" not in r for r in y2024)
    march_2025 = parse((await sim.treasury(field_tdr_date_value_month="202503")).text)
    assert sum("BC_1_5MONTH" in r for r in march_2025) >= len(march_2025) - 1


async def test_some_days_leave_an_existing_tenor_out(sim: Sim) -> None:
    rows = parse((await sim.treasury(field_tdr_date_value="2024")).text) + parse(
        (await sim.treasury(field_tdr_date_value="2023")).text
    )
    full = {name for r in rows for name in r if name.startswith("BC_")}
    short = [r for r in rows if {n for n in r if n.startswith("BC_")} != full]
    assert 0 < len(short) < len(rows) // 20


async def test_a_day_appears_at_six_pm_new_york_and_never_earlier(sim: Sim, clock: ManualClock) -> None:
    rows = parse((await sim.treasury(field_tdr_date_value_month="202603")).text)
    assert dates_of(rows) == [date(2026, 3, 2), date(2026, 3, 3)]  # 10:00 New York on the 4th
    clock.set(datetime(2026, 3, 4, 22, 59, tzinfo=UTC).timestamp())  # 17:59 New York
    assert dates_of(parse((await sim.treasury(field_tdr_date_value_month="202603")).text))[-1] == date(2026, 3, 3)
    clock.set(datetime(2026, 3, 4, 23, 0, tzinfo=UTC).timestamp())
    assert dates_of(parse((await sim.treasury(field_tdr_date_value_month="202603")).text))[-1] == date(2026, 3, 4)
    assert parse((await sim.treasury(field_tdr_date_value="2027")).text) == []


async def test_nothing_after_now_at_another_pinned_date() -> None:
    clock = ManualClock(T1)  # 2025-07-03 13:30 New York
    async for sim in open_sim(make_app(clock), clock):
        days = dates_of(parse((await sim.treasury(field_tdr_date_value="2025")).text))
        assert days[-1] == date(2025, 7, 2)
        assert parse((await sim.treasury(field_tdr_date_value_month="202508")).text) == []


async def test_all_history_pages_by_300_and_ends_with_an_empty_page(sim: Sim) -> None:
    first = parse((await sim.treasury(field_tdr_date_value="all", page="0")).text)
    assert len(first) == 300
    assert dates_of(first)[0] == date(2018, 1, 2)
    pages: list[date] = []
    n = 0
    while True:
        rows = parse((await sim.treasury(field_tdr_date_value="all", page=str(n))).text)
        if not rows:
            break
        pages += dates_of(rows)
        n += 1
    assert pages == sorted(set(pages))
    assert pages[-1] == date(2026, 3, 3)


async def test_other_datasets_and_bad_periods_are_feeds_without_entries(sim: Sim) -> None:
    for params in ({"field_tdr_date_value": "20x5"}, {"field_tdr_date_value_month": "202613"}):
        r = await sim.treasury(**params)
        assert r.status_code == 200
        assert parse(r.text) == []
    r = await sim.get("/treasury/resource-center/data-chart-center/interest-rates/pages/xml",
                      {"data": "daily_treasury_bill_rates", "field_tdr_date_value": "2025"})  # fmt: skip
    assert r.status_code == 200
    assert parse(r.text) == []


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_curve_is_a_function_of_the_seed(seed: int) -> None:
    bodies = []
    for s in (seed, seed, seed + 100):
        clock = ManualClock(T1)
        async for sim in open_sim(make_app(clock, seed=s), clock):
            rows = parse((await sim.treasury(field_tdr_date_value_month="202506")).text)
            bodies.append([sorted((k, v) for k, (v, _) in r.items() if k.startswith("BC_")) for r in rows])
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]
