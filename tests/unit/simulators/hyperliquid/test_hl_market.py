"""The Hyperliquid simulator's /info market data: listing by date, mids, books, candles, funding, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hl_sim import T0, T0_MS, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock

BEFORE_HYPE = 1_717_243_200.0  # 2024-06-01T12:00:00Z, before HYPE's listing on 2024-11-29


async def test_listing_follows_the_pinned_date() -> None:
    early, late = ManualClock(BEFORE_HYPE), ManualClock(T0)
    async for old in open_sim(make_app(early), early):
        meta = await old.info({"type": "meta"})
        spot = await old.info({"type": "spotMeta"})
        assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL"]
        assert [u["name"] for u in spot["universe"]] == ["PURR/USDC"]
        assert "HYPE" not in await old.info({"type": "allMids"})
        r = await old.http.post("/info", json={"type": "l2Book", "coin": "HYPE"})
        assert r.status_code == 422
    async for new in open_sim(make_app(late), late):
        meta = await new.info({"type": "meta"})
        spot = await new.info({"type": "spotMeta"})
        assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL", "HYPE"]
        assert [(u["name"], u["index"], u["tokens"]) for u in spot["universe"]] == [
            ("PURR/USDC", 0, [1, 0]),
            ("@107", 107, [150, 0]),
        ]
        assert {t["name"] for t in spot["tokens"]} == {"USDC", "PURR", "HYPE"}


async def test_listing_appears_when_the_clock_passes_the_launch() -> None:
    clock = ManualClock(1_732_838_400.0 - 60)
    async for s in open_sim(make_app(clock), clock):
        assert "HYPE" not in await s.info({"type": "allMids"})
        clock.advance(120)
        assert "HYPE" in await s.info({"type": "allMids"})


async def test_prices_anchor_on_the_pinned_day() -> None:
    early, late = ManualClock(BEFORE_HYPE), ManualClock(T0)
    mids = []
    for clock in (early, late):
        async for s in open_sim(make_app(clock), clock):
            mids.append(await s.mid("BTC"))
    assert all(50_000 < m < 200_000 for m in mids)
    assert mids[0] != mids[1]


async def test_meta_and_asset_ctxs_align_with_the_universe(sim: Sim) -> None:
    meta, ctxs = await sim.info({"type": "metaAndAssetCtxs"})
    assert len(ctxs) == len(meta["universe"])
    for ctx in ctxs:
        for key in ("funding", "openInterest", "markPx", "oraclePx", "midPx", "premium", "dayNtlVlm", "prevDayPx"):
            assert isinstance(ctx[key], str)
            Decimal(ctx[key])
        assert len(ctx["impactPxs"]) == 2


async def test_all_mids_are_strings_for_perps_and_spot(sim: Sim) -> None:
    mids = await sim.info({"type": "allMids"})
    assert set(mids) == {"BTC", "ETH", "SOL", "HYPE", "PURR/USDC", "@107"}
    assert all(isinstance(v, str) and Decimal(v) > 0 for v in mids.values())


async def test_l2_book_has_twenty_levels_on_the_price_grid(sim: Sim) -> None:
    book = await sim.info({"type": "l2Book", "coin": "BTC"})
    assert book["coin"] == "BTC"
    assert book["time"] == T0_MS
    bids, asks = book["levels"]
    assert len(bids) == len(asks) == 20
    assert Decimal(bids[0]["px"]) < Decimal(asks[0]["px"])
    assert [Decimal(b["px"]) for b in bids] == sorted((Decimal(b["px"]) for b in bids), reverse=True)
    for level in bids + asks:
        px = Decimal(level["px"])
        assert px == px.to_integral_value()  # BTC at ~95,000: 5 significant figures are whole dollars
        assert isinstance(level["sz"], str)
        assert level["n"] >= 1


async def test_l2_book_aggregates_to_n_sig_figs(sim: Sim) -> None:
    book = await sim.info({"type": "l2Book", "coin": "BTC", "nSigFigs": 3})
    for level in book["levels"][0] + book["levels"][1]:
        assert Decimal(level["px"]) % 100 == 0  # 3 significant figures of ~95,000


async def test_l2_book_refuses_a_bad_n_sig_figs(sim: Sim) -> None:
    r = await sim.http.post("/info", json={"type": "l2Book", "coin": "BTC", "nSigFigs": 7})
    assert r.status_code == 422


async def test_candles_are_ascending_with_closing_times(sim: Sim) -> None:
    rows = await sim.info(
        {
            "type": "candleSnapshot",
            "req": {"coin": "ETH", "interval": "15m", "startTime": T0_MS - 3_600_000, "endTime": T0_MS},
        }
    )
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    assert rows[0]["t"] == T0_MS - 3_600_000
    for r in rows:
        assert r["T"] == r["t"] + 900_000 - 1
        assert r["s"] == "ETH"
        assert r["i"] == "15m"
        assert Decimal(r["l"]) <= Decimal(r["o"]) <= Decimal(r["h"])
        assert isinstance(r["n"], int)


async def test_candles_serve_only_the_latest_5000(sim: Sim) -> None:
    rows = await sim.info(
        {
            "type": "candleSnapshot",
            "req": {"coin": "BTC", "interval": "1m", "startTime": T0_MS - 10_000 * 60_000, "endTime": T0_MS},
        }
    )
    assert 4999 <= len(rows) <= 5000
    assert rows[0]["t"] == T0_MS - 4999 * 60_000  # older candles than the latest 5000 are not served
    assert rows[-1]["t"] >= T0_MS - 60_000


async def test_candles_refuse_an_unknown_interval(sim: Sim) -> None:
    r = await sim.http.post(
        "/info", json={"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "7m", "startTime": T0_MS}}
    )
    assert r.status_code == 422


async def test_funding_history_is_hourly_and_ascending(sim: Sim) -> None:
    rows = await sim.info({"type": "fundingHistory", "coin": "BTC", "startTime": T0_MS - 5 * 3_600_000})
    assert [r["time"] for r in rows] == [T0_MS - h * 3_600_000 for h in (5, 4, 3, 2, 1, 0)]  # startTime is inclusive
    assert all(r["coin"] == "BTC" and isinstance(r["fundingRate"], str) for r in rows)


async def test_predicted_fundings_name_the_next_hour(sim: Sim) -> None:
    rows = await sim.info({"type": "predictedFundings"})
    coin, venues = rows[0]
    assert coin == "BTC"
    assert venues[0][0] == "HlPerp"
    assert venues[0][1]["nextFundingTime"] == T0_MS + 3_600_000


async def test_unknown_user_has_an_empty_account(sim: Sim) -> None:
    state = await sim.info({"type": "clearinghouseState", "user": "0x" + "99" * 20})
    assert state["assetPositions"] == []
    assert state["marginSummary"]["accountValue"] == "0.0"


@pytest.mark.parametrize(
    "body", [{"type": "nope"}, {"kind": "meta"}, {"type": "l2Book"}, {"type": "l2Book", "coin": "DOGE"}]
)
async def test_undeserializable_info_is_422_plain_text(sim: Sim, body: dict[str, object]) -> None:
    r = await sim.http.post("/info", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("Failed to deserialize the JSON body into the target type")


async def test_other_paths_and_methods_are_404(sim: Sim) -> None:
    assert (await sim.http.get("/info")).status_code == 404
    assert (await sim.http.post("/v1/info", json={"type": "meta"})).status_code == 404
