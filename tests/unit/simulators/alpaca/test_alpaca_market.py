"""The Alpaca simulator's clock, calendar, assets and option listings over time, and its market data."""

from __future__ import annotations

from datetime import date

from alpaca_sim import T0, Sim, make_app, open_sim

from cerbero_mcp.simulators.alpaca import hours
from cerbero_mcp.simulators.alpaca.market import parse_occ
from cerbero_mcp.simulators.alpaca.wire import read_token
from cerbero_mcp.simulators.engine import ManualClock

LATER = 1_790_956_800.0  # 2026-10-02T16:00:00Z, a Friday seven months after T0


async def test_clock_speaks_new_york_time(sim: Sim, clock: ManualClock) -> None:
    c = await sim.ok("GET", "/v2/clock")
    assert c == {
        "timestamp": "2026-03-02T10:30:00.000000-05:00",
        "is_open": True,
        "next_open": "2026-03-03T09:30:00.000000-05:00",
        "next_close": "2026-03-02T16:00:00.000000-05:00",
    }
    clock.set(hours.at(date(2026, 4, 3), hours.dtime(12, 0)))  # Good Friday
    c = await sim.ok("GET", "/v2/clock")
    assert c["is_open"] is False
    assert c["next_open"] == "2026-04-06T09:30:00.000000-04:00"


async def test_calendar_skips_holidays_and_marks_early_closes(sim: Sim) -> None:
    days = await sim.ok("GET", "/v2/calendar", start="2026-11-23", end="2026-11-30")
    assert [d["date"] for d in days] == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"]
    friday = days[3]
    assert (friday["open"], friday["close"], friday["session_open"]) == ("09:30", "13:00", "0400")
    assert days[2]["settlement_date"] == "2026-11-27"  # T+1 over Thanksgiving
    july = await sim.ok("GET", "/v2/calendar", start="2026-07-01", end="2026-07-06")
    assert [d["date"] for d in july] == ["2026-07-01", "2026-07-02", "2026-07-06"]  # the 4th is a Saturday: the 3rd off
    assert hours.is_trading_day(date(2027, 12, 31))  # a Saturday New Year's Day is not observed the day before


async def test_option_listings_follow_the_clock(clock: ManualClock) -> None:
    seen = {}
    for when in (T0, LATER):
        clock.set(when)
        async for s in open_sim(make_app(clock), clock):
            body = await s.ok("GET", "/v2/options/contracts", underlying_symbols="AAPL", limit="10000")
            expiries = sorted({c["expiration_date"] for c in body["option_contracts"]})
            seen[when] = expiries
            today = hours.ny_date(when).isoformat()
            assert all(e >= today for e in expiries)
            assert body["next_page_token"] is None
            one = body["option_contracts"][0]
            root, exp, kind, strike = parse_occ(one["symbol"]) or ("", date.min, "", 0)
            assert (root, exp.isoformat(), kind, str(strike)) == (
                "AAPL", one["expiration_date"], one["type"], one["strike_price"])  # fmt: skip
            assert one["size"] == "100"
    assert seen[T0][0] == "2026-03-06"
    assert seen[LATER][0] == "2026-10-02"
    assert "2026-03-20" in seen[T0]  # the March monthly (third Friday)
    assert "2026-10-16" in seen[LATER]
    assert not set(seen[T0]) & set(seen[LATER])


async def test_listing_grows_as_the_clock_moves(sim: Sim, clock: ManualClock) -> None:
    before = {c["expiration_date"] for c in (await sim.ok("GET", "/v2/options/contracts", limit="10000"))[
        "option_contracts"]}  # fmt: skip
    clock.set(T0 + 10 * 86_400)
    after = {c["expiration_date"] for c in (await sim.ok("GET", "/v2/options/contracts", limit="10000"))[
        "option_contracts"]}  # fmt: skip
    assert "2026-03-06" in before
    assert "2026-03-06" not in after
    assert max(after) >= max(before)


async def test_option_chain_pages_with_greeks(sim: Sim) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"type": "put", "limit": "40", "strike_price_gte": "200", "strike_price_lte": "260"}
        if token:
            params["page_token"] = token
        body = await sim.ok("GET", "/v1beta1/options/snapshots/AAPL", **params)
        pages += 1
        seen += list(body["snapshots"])
        for snap in body["snapshots"].values():
            assert set(snap["greeks"]) == {"delta", "gamma", "rho", "theta", "vega"}
            assert snap["greeks"]["delta"] < 0
            assert 0 < snap["impliedVolatility"] < 2
            assert snap["latestQuote"]["ap"] >= snap["latestQuote"]["bp"]
        token = body["next_page_token"]
        if token is None:
            break
        assert read_token(token) == seen[-1]
    assert pages > 1
    assert len(seen) == len(set(seen))
    assert all(s[10] == "P" and 200_000 <= int(s[11:]) <= 260_000 for s in seen)


async def test_stock_snapshot_and_bars(sim: Sim) -> None:
    snaps = await sim.ok("GET", "/v2/stocks/snapshots", symbols="AAPL,MSFT,NOPE")
    assert set(snaps) == {"AAPL", "MSFT"}
    s = snaps["AAPL"]
    assert s["latestTrade"]["t"] == "2026-03-02T15:30:00Z"
    assert s["minuteBar"]["t"] == "2026-03-02T15:29:00Z"
    assert s["dailyBar"]["t"] == "2026-03-02T05:00:00Z"
    assert s["prevDailyBar"]["t"] == "2026-02-27T05:00:00Z"
    assert isinstance(s["latestQuote"]["bp"], float)
    first = await sim.ok("GET", "/v2/stocks/AAPL/bars", timeframe="1Hour", start="2026-02-27", limit="3")
    assert len(first["bars"]) == 3
    # 2026-02-27T00:00Z is 19:00 New York on the 26th (after-hours); nothing from 20:00 to the 04:00 pre-market
    assert [b["t"] for b in first["bars"]] == ["2026-02-27T00:00:00Z", "2026-02-27T09:00:00Z", "2026-02-27T10:00:00Z"]
    rest = await sim.ok("GET", "/v2/stocks/AAPL/bars", timeframe="1Hour", start="2026-02-27",
                        page_token=first["next_page_token"])  # fmt: skip
    assert rest["next_page_token"] is None
    assert rest["bars"][0]["t"] > first["bars"][-1]["t"]
    # Friday 20:00 New York to Monday 04:00: no stock bars
    weekend = [b["t"] for b in rest["bars"] if "2026-02-28T01" <= b["t"] < "2026-03-02T09"]
    assert weekend == []
    daily = await sim.ok("GET", "/v2/stocks/AAPL/bars", timeframe="1Day", start="2026-02-20")
    assert [b["t"][:10] for b in daily["bars"]] == ["2026-02-20", "2026-02-23", "2026-02-24", "2026-02-25",
                                                   "2026-02-26", "2026-02-27", "2026-03-02"]  # fmt: skip


async def test_sip_is_fifteen_minutes_delayed_on_the_basic_plan(sim: Sim) -> None:
    code, body = await sim.error("GET", "/v2/stocks/AAPL/snapshot", feed="sip")
    assert (code, body) == (403, {"message": "subscription does not permit querying recent SIP data"})
    bars = await sim.ok("GET", "/v2/stocks/AAPL/bars", timeframe="1Min", feed="sip", start="2026-03-02T15:00:00Z")
    assert bars["bars"][-1]["t"] == "2026-03-02T15:15:00Z"
    code, _ = await sim.error("GET", "/v2/stocks/AAPL/bars", timeframe="1Min", feed="sip", end="2026-03-02T15:29:00Z")
    assert code == 403
    code, body = await sim.error("GET", "/v2/stocks/AAPL/bars", timeframe="7Hour2")
    assert code == 400


async def test_crypto_data_and_unknown_paths(sim: Sim) -> None:
    body = await sim.ok("GET", "/v1beta3/crypto/us/latest/quotes", symbols="BTC/USD,ETH/USD")
    assert set(body["quotes"]) == {"BTC/USD", "ETH/USD"}
    bars = await sim.ok("GET", "/v1beta3/crypto/us/bars", symbols="BTC/USD", timeframe="1Hour", start="2026-02-28")
    assert any(b["t"].startswith("2026-02-28") for b in bars["bars"]["BTC/USD"])  # crypto trades on weekends
    asset = await sim.ok("GET", "/v2/assets/BTC/USD")
    assert (asset["class"], asset["min_order_size"], asset["price_increment"]) == ("crypto", "0.000019", "1")
    r = await sim.call("GET", "/v2/nowhere")
    assert (r.status_code, r.json()) == (404, {"message": "Not Found"})


async def test_a_bars_page_ending_on_a_symbols_last_bar_resumes_with_the_next_symbol(sim: Sim) -> None:
    window = {"timeframe": "1Hour", "start": "2026-02-27T12:00:00Z", "end": "2026-02-27T20:00:00Z"}
    aapl = (await sim.ok("GET", "/v2/stocks/AAPL/bars", **window))["bars"]
    first = await sim.ok("GET", "/v2/stocks/bars", symbols="AAPL,MSFT", limit=str(len(aapl)), **window)
    assert list(first["bars"]) == ["AAPL"]
    assert first["next_page_token"] is not None
    rest = await sim.ok("GET", "/v2/stocks/bars", symbols="AAPL,MSFT", limit=str(len(aapl)),
                        page_token=first["next_page_token"], **window)  # fmt: skip
    assert [b["t"] for b in rest["bars"]["MSFT"]] == [b["t"] for b in aapl]
    assert rest["next_page_token"] is None
