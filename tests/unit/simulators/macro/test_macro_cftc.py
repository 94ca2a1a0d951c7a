"""CFTC COT on Socrata: string rows with the real field names, weekly timing, the SoQL subset and its errors."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from macro_sim import T1, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.macro.cftc import DISAGGREGATED_CLASSES, TFF_CLASSES

TFF, DISAGG = "gpe5-46if", "72hh-3qpy"
ES, GOLD = "13874A", "088691"


def es(**extra: str) -> dict[str, str]:
    """Return SoQL parameters for the E-mini S&P 500 rows."""
    return {"$where": f"cftc_contract_market_code = '{ES}'", **extra}


async def test_rows_are_strings_with_socratas_date_format(sim: Sim) -> None:
    r = await sim.cot(TFF, **es(**{"$order": "report_date_as_yyyy_mm_dd DESC", "$limit": "3"}))
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 3
    for row in rows:
        assert all(isinstance(v, str) for v in row.values())
        assert row["report_date_as_yyyy_mm_dd"].endswith("T00:00:00.000")
        assert row["market_and_exchange_names"] == "E-MINI S&P 500 - CHICAGO MERCANTILE EXCHANGE"
        for c in TFF_CLASSES:
            assert {c.long, c.short, c.change_long, c.change_short} <= set(row)
        assert "dealer_positions_long_all" in row
        assert "asset_mgr_positions_long" in row
        assert "lev_money_positions_short" in row
        assert "nonrept_positions_short_all" in row
    dates = [date.fromisoformat(r["report_date_as_yyyy_mm_dd"][:10]) for r in rows]
    assert all(d.weekday() == 1 for d in dates)
    assert dates == sorted(dates, reverse=True)
    assert [b - a for a, b in zip(dates[1:], dates, strict=False)] == [timedelta(days=7)] * 2


async def test_disaggregated_has_the_double_underscore_swap_fields(sim: Sim) -> None:
    rows = (await sim.cot(DISAGG, **{"$where": f"cftc_contract_market_code='{GOLD}'", "$limit": "1"})).json()
    row = rows[0]
    assert "swap__positions_short_all" in row
    assert "swap__positions_spread_all" in row
    assert "swap_positions_short_all" not in row
    for c in DISAGGREGATED_CLASSES:
        assert {c.long, c.short} <= set(row)
    assert row["market_and_exchange_names"] == "GOLD - COMMODITY EXCHANGE INC."


@pytest.mark.parametrize(("dataset", "classes"), [(TFF, TFF_CLASSES), (DISAGG, DISAGGREGATED_CLASSES)])
async def test_longs_and_shorts_add_up_to_the_open_interest(sim: Sim, dataset: str, classes: tuple) -> None:  # type: ignore[type-arg]
    rows = (await sim.cot(dataset, **{"$limit": "200", "$order": "report_date_as_yyyy_mm_dd DESC"})).json()
    assert len(rows) == 200
    for row in rows:
        oi = int(row["open_interest_all"])
        spreads = sum(int(row[c.spread]) for c in classes if c.spread)
        longs = sum(int(row[c.long]) for c in classes) + spreads + int(row["nonrept_positions_long_all"])
        shorts = sum(int(row[c.short]) for c in classes) + spreads + int(row["nonrept_positions_short_all"])
        assert longs == shorts == oi
        assert int(row["nonrept_positions_long_all"]) > 0
        assert int(row["nonrept_positions_short_all"]) > 0


async def test_changes_are_week_on_week_differences(sim: Sim) -> None:
    rows = (await sim.cot(TFF, **es(**{"$order": "report_date_as_yyyy_mm_dd DESC", "$limit": "5"}))).json()
    for cur, prev in itertools.pairwise(rows):
        assert int(cur["change_in_open_interest_all"]) == int(cur["open_interest_all"]) - int(prev["open_interest_all"])
        lev = int(cur["lev_money_positions_long"]) - int(prev["lev_money_positions_long"])
        assert int(cur["change_in_lev_money_long"]) == lev


async def test_a_report_appears_on_friday_at_15_30_new_york(sim: Sim, clock: ManualClock) -> None:
    def latest(rows: list[dict[str, str]]) -> str:
        return rows[0]["report_date_as_yyyy_mm_dd"][:10]

    params = es(**{"$order": "report_date_as_yyyy_mm_dd DESC", "$limit": "1"})
    assert latest((await sim.cot(TFF, **params)).json()) == "2026-02-24"  # Wednesday 4 March
    clock.set(datetime(2026, 3, 6, 20, 29, tzinfo=UTC).timestamp())  # Friday 15:29 New York
    assert latest((await sim.cot(TFF, **params)).json()) == "2026-02-24"
    clock.set(datetime(2026, 3, 6, 20, 30, tzinfo=UTC).timestamp())
    assert latest((await sim.cot(TFF, **params)).json()) == "2026-03-03"


async def test_nothing_after_now_at_another_pinned_date() -> None:
    clock = ManualClock(T1)  # Thursday 2025-07-03
    async for sim in open_sim(make_app(clock), clock):
        rows = (await sim.cot(DISAGG, **{"$where": "report_date_as_yyyy_mm_dd >= '2025-06-20'"})).json()
        assert {r["report_date_as_yyyy_mm_dd"][:10] for r in rows} == {"2025-06-24"}


async def test_real_markets_and_codes(sim: Sim) -> None:
    rows = (await sim.cot(TFF, **{"$where": "report_date_as_yyyy_mm_dd = '2026-02-24'"})).json()
    codes = {r["cftc_contract_market_code"]: r["contract_market_name"] for r in rows}
    assert codes[ES] == "E-MINI S&P 500"
    assert codes["209742"] == "NASDAQ MINI"
    assert codes["043602"] == "UST 10Y NOTE"
    assert codes["042601"] == "UST 2Y NOTE"
    assert codes["099741"] == "EURO FX"
    assert codes["097741"] == "JAPANESE YEN"
    assert codes["133741"] == "BITCOIN"
    rows = (await sim.cot(DISAGG, **{"$where": "report_date_as_yyyy_mm_dd = '2026-02-24'"})).json()
    codes = {r["cftc_contract_market_code"]: r["contract_market_name"] for r in rows}
    assert codes[GOLD] == "GOLD"
    assert codes["067651"] == "WTI-PHYSICAL"


# --- SoQL --------------------------------------------------------------------------------------------


async def test_where_with_and_or_between_in_and_numbers(sim: Sim) -> None:
    where = (
        "(cftc_contract_market_code = '13874A' OR cftc_contract_market_code = '043602') "
        "AND report_date_as_yyyy_mm_dd between '2025-01-01' and '2025-03-31T00:00:00.000' "
        "AND open_interest_all > 1000"
    )
    rows = (await sim.cot(TFF, **{"$where": where})).json()
    assert {r["cftc_contract_market_code"] for r in rows} == {ES, "043602"}
    assert len(rows) == 2 * 12  # twelve Tuesdays
    in_where = (
        "cftc_contract_market_code in ('13874A', '043602') AND "
        "report_date_as_yyyy_mm_dd between '2025-01-01' and '2025-03-31'"
    )
    in_rows = (await sim.cot(TFF, **{"$where": in_where})).json()
    assert in_rows == rows
    not_in = (await sim.cot(TFF, **{"$where": "cftc_contract_market_code not in ('13874A') AND "
                                    "report_date_as_yyyy_mm_dd = '2025-01-07'"})).json()  # fmt: skip
    assert ES not in {r["cftc_contract_market_code"] for r in not_in}
    assert len(not_in) == 16
    big = (
        await sim.cot(TFF, **{"$where": "open_interest_all >= 4000000 AND report_date_as_yyyy_mm_dd = '2025-01-07'"})
    ).json()
    assert big
    assert all(int(r["open_interest_all"]) >= 4_000_000 for r in big)


async def test_upper_and_like_match_market_names(sim: Sim) -> None:
    rows = (await sim.cot(DISAGG, **{"$where": "upper(market_and_exchange_names) like '%CRUDE%' OR "
                                     "market_and_exchange_names like 'WTI%'", "$limit": "5"})).json()  # fmt: skip
    assert rows
    assert {r["cftc_contract_market_code"] for r in rows} == {"067651"}
    lowered = (await sim.cot(DISAGG, **{"$where": "lower(contract_market_name) = 'gold'", "$limit": "2"})).json()
    assert {r["cftc_contract_market_code"] for r in lowered} == {GOLD}


async def test_select_order_limit_and_offset(sim: Sim) -> None:
    params = es(**{"$select": "report_date_as_yyyy_mm_dd AS d, open_interest_all",
                   "$order": "report_date_as_yyyy_mm_dd DESC", "$limit": "3", "$offset": "2"})  # fmt: skip
    rows = (await sim.cot(TFF, **params)).json()
    assert [set(r) for r in rows] == [{"d", "open_interest_all"}] * 3
    every = (await sim.cot(TFF, **es(**{"$order": "report_date_as_yyyy_mm_dd DESC", "$limit": "5"}))).json()
    assert [r["d"] for r in rows] == [r["report_date_as_yyyy_mm_dd"] for r in every[2:5]]
    by_oi = (await sim.cot(TFF, **{"$where": "report_date_as_yyyy_mm_dd = '2026-02-24'",
                                   "$order": "open_interest_all DESC", "$limit": "3"})).json()  # fmt: skip
    ois = [int(r["open_interest_all"]) for r in by_oi]
    assert ois == sorted(ois, reverse=True)  # numeric order, not text order


async def test_default_limit_is_1000_and_simple_column_filters_work(sim: Sim) -> None:
    assert len((await sim.cot(TFF)).json()) == 1000
    rows = (await sim.cot(TFF, cftc_contract_market_code=ES, **{"$limit": "5000"})).json()
    assert rows
    assert {r["cftc_contract_market_code"] for r in rows} == {ES}
    assert len(rows) == len({r["report_date_as_yyyy_mm_dd"] for r in rows})


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"$where": "no_such_column = 'x'"}, 400, "query.soql.no-such-column"),
        ({"$select": "nope"}, 400, "query.soql.no-such-column"),
        ({"$where": "cftc_contract_market_code = 13874"}, 400, "query.soql.type-mismatch"),
        ({"$where": "open_interest_all > 'lots'"}, 400, "query.soql.type-mismatch"),
        ({"$where": "soundex(commodity_name) = 'x'"}, 400, "query.soql.no-such-function"),
        ({"$where": "cftc_contract_market_code = '13874A"}, 400, "query.compiler.malformed"),
        ({"$where": "open_interest_all >"}, 400, "query.compiler.malformed"),
        ({"$order": "open_interest_all sideways"}, 400, "query.compiler.malformed"),
        ({"$group": "commodity_name"}, 400, "query.soql.unsupported-parameter"),
        ({"$limit": "-1"}, 400, "query.soql.invalid-number"),
        ({"nonexistent_field": "1"}, 400, "query.soql.no-such-column"),
    ],
)
async def test_refusals_use_socratas_error_json(sim: Sim, params: dict[str, str], status: int, code: str) -> None:
    r = await sim.cot(TFF, **params)
    assert r.status_code == status
    body = r.json()
    assert body["errorCode"] == code
    assert code in body["message"]
    assert isinstance(body["data"], dict)


async def test_unknown_dataset_is_404_dataset_missing(sim: Sim) -> None:
    r = await sim.cot("zzzz-zzzz")
    assert r.status_code == 404
    assert r.json() == {"code": "dataset.missing", "error": True, "message": "Not found", "data": {"id": "zzzz-zzzz"}}


async def test_positions_are_deterministic_per_seed() -> None:
    seen = []
    for seed in (5, 5, 6):
        clock = ManualClock(T1)
        async for sim in open_sim(make_app(clock, seed=seed), clock):
            seen.append((await sim.cot(TFF, **es(**{"$where": f"cftc_contract_market_code = '{ES}' AND "
                                                    "report_date_as_yyyy_mm_dd = '2025-06-24'"}))).json())  # fmt: skip
    assert seen[0] == seen[1]
    assert seen[0] != seen[2]
