"""The macro tools through the app on a pinned clock: documented bodies on loopback, the cache, NOT_CONFIGURED."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.exchanges.macro.client import TREASURY_FEED_PATH, MacroClient
from cerbero_mcp.exchanges.macro.config import PROVIDER_SETTINGS
from cerbero_mcp.exchanges.macro.rates import TREASURY_TTL_S
from cerbero_mcp.exchanges.macro.tools import TOOLS
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings, compose_settings, installed_declarations
from cerbero_mcp.simulators.engine.clock import ManualClock
from support.fixtures import FIXTURES, serve_fixtures
from support.lifespan import running
from support.tokens import ADMIN, MAINNET, TESTNET, auth

MACRO = FIXTURES / "macro"
# The Treasury fixture holds 2020-07-01 and 2020-07-02; the clock is the next day.
NOW = datetime(2020, 7, 3, 15, tzinfo=UTC)
FRED_KEY = "abcdefghijklmnopqrstuvwxyz123456"  # the FRED docs' demonstration key
MacroSettings = compose_settings(installed_declarations(), [PROVIDER_SETTINGS])


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """Pin the process clock at NOW for one test."""
    manual = ManualClock(NOW.timestamp())
    previous = use_clock(manual)
    try:
        yield manual
    finally:
        use_clock(previous)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """Serve the documented bodies at the sources' paths (one loopback server stands for every source)."""
    routes = {
        TREASURY_FEED_PATH: (200, (MACRO / "treasury_daily_yield_curve.xml").read_text()),
        "/fred/series": (200, (MACRO / "fred_series.json").read_text()),
        "/fred/series/observations": (200, (MACRO / "fred_series_observations.json").read_text()),
        "/calendar/economic": (200, (MACRO / "finnhub_economic_calendar.json").read_text()),
        "/resource/gpe5-46if.json": (200, (MACRO / "cftc_tff_row.json").read_text()),
        "/resource/72hh-3qpy.json": (200, (MACRO / "cftc_disaggregated_rows.json").read_text()),
    }
    with serve_fixtures(routes) as url:
        yield url


def settings_for(tmp_path: Path, url: str, **keys: str) -> Settings:
    """Return settings pointing every macro source at `url`, with the given keys."""
    values = {
        "TESTNET_TOKEN": TESTNET,
        "MAINNET_TOKEN": MAINNET,
        "ADMIN_TOKEN": ADMIN,
        "AUDIT_LOG_FILE": str(tmp_path / "audit.jsonl"),
        "AUDIT_HMAC_KEY": "k" * 32,
        "AUDIT_FSYNC": "false",
        "STATE_DB": str(tmp_path / "state.db"),
        "MACRO_TREASURY_URL": url,
        "MACRO_FRED_URL": url,
        "MACRO_FINNHUB_URL": url,
        "MACRO_CFTC_URL": url,
        **{name.upper(): value for name, value in keys.items()},
    }
    settings: Settings = MacroSettings.from_mapping(values)
    return settings


@asynccontextmanager
async def macro_app(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Serve the macro tools; yield an HTTP client and the app."""
    app = build_app(settings, [TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            yield http, app


async def call(http: httpx.AsyncClient, tool: str, body: dict[str, Any], token: str = TESTNET) -> httpx.Response:
    """Call a macro tool."""
    return await http.post(f"/mcp-macro/tools/{tool}", json=body, headers=auth(token))


def macro_client(app: Any) -> MacroClient:
    """Return the provider's one client."""
    client: MacroClient = app.state.cerbero.registry.cached()[("macro", "shared")]
    return client


async def test_latest_curve_without_any_key_then_cached_for_both_tokens(
    tmp_path: Path, upstream: str, clock: ManualClock
) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, app):
        first = await call(http, "get_treasury_yields", {})
        assert first.status_code == 200, first.text
        body = first.json()
        (curve,) = body["curves"]
        assert curve["date"] == "2020-07-02"
        ten = next(item for item in curve["yields"] if item["tenor"] == "10Y")
        assert ten["value"] == 0.68
        assert ten["unit"] == "percent"
        assert ten["source"]["name"] == "US Treasury"
        assert ten["observed_at"] == "2020-07-02T00:00:00.000Z"
        assert first.headers["x-cache"] == "miss"
        assert body["cache_age_s"] == 0
        assert body["cache_ttl_s"] == TREASURY_TTL_S
        sent = macro_client(app).treasury.calls
        assert sent == 2  # the June and July 2020 feeds cover the last 14 days

        clock.advance(30)
        again = await call(http, "get_treasury_yields", {}, MAINNET)
        assert again.headers["x-cache"] == "hit"
        assert again.json()["cache_age_s"] == 30
        assert again.json()["curves"] == body["curves"]
        assert macro_client(app).treasury.calls == sent

        clock.advance(TREASURY_TTL_S)
        stale = await call(http, "get_treasury_yields", {})
        assert stale.headers["x-cache"] == "miss"
        assert stale.json()["cache_age_s"] == 0
        assert macro_client(app).treasury.calls == sent + 2


async def test_curve_range_filters_tenors_and_pages(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _):
        answer = await call(
            http, "get_treasury_yields", {"start": "2020-06-25", "end": "2020-07-03", "tenors": ["2Y"], "limit": 1}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [c["date"] for c in body["curves"]] == ["2020-07-02"]
        assert [y["tenor"] for y in body["curves"][0]["yields"]] == ["2Y"]
        assert body["page"] == {"total": 2, "offset": 0, "next_offset": 1}


async def test_a_range_over_the_maximum_is_refused_naming_it(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _app):
        answer = await call(http, "get_treasury_yields", {"start": "2010-01-01", "end": "2020-07-01"})
        assert answer.status_code == 422
        assert "at most 1830 days" in answer.text
        calendar = await call(http, "get_cot_tff", {"market": "sp500_emini", "start": "2010-01-01"})
        assert calendar.status_code == 422
        assert "at most 1830 days" in calendar.text


async def test_slope_from_the_fixture_curve(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _):
        answer = await call(http, "get_yield_curve_slope", {"lookback_days": 30})
        assert answer.status_code == 200, answer.text
        spreads = {item["name"]: item for item in answer.json()["spreads"]}
        # 2020-07-02: 10Y 0.68 - 2Y 0.16 = 52 bp; 2020-07-01: 0.69 - 0.17 = 52 bp; 3m10y 0.68 - 0.14 = 54 bp.
        assert spreads["2s10s"]["latest"]["value_bp"] == 52.0
        assert spreads["3m10y"]["latest"]["value_bp"] == 54.0
        assert spreads["5s30s"]["latest"]["value_bp"] == 114.0
        assert spreads["2s10s"]["percentile"] == 100.0
        assert spreads["2s10s"]["inverted"] is False
        assert [p["date"] for p in spreads["2s10s"]["history"]] == ["2020-07-02", "2020-07-01"]


@pytest.mark.parametrize(
    ("tool", "body", "variable"),
    [
        ("get_fred_series", {"series_id": "DGS10"}, "FRED_API_KEY"),
        ("get_breakeven_inflation", {}, "FRED_API_KEY"),
        ("get_equity_futures", {}, "FINNHUB_API_KEY"),
        ("get_economic_calendar", {}, "FINNHUB_API_KEY"),
        ("get_asset_prices", {"assets": ["US10Y", "VIX"]}, "FRED_API_KEY"),
        ("get_asset_prices", {"assets": ["GOLD"]}, "FINNHUB_API_KEY"),
    ],
)
async def test_a_tool_whose_source_needs_a_missing_key_answers_not_configured(
    tmp_path: Path, upstream: str, clock: ManualClock, tool: str, body: dict[str, Any], variable: str
) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, app):
        answer = await call(http, tool, body)
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "NOT_CONFIGURED"
        assert variable in error["message"]
        client = macro_client(app)
        assert client.fred.calls == client.finnhub.calls == 0  # refused before anything was sent


async def test_keyless_assets_need_no_key(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _):
        answer = await call(http, "get_asset_prices", {"assets": ["US2Y", "US10Y"]})
        assert answer.status_code == 200, answer.text
        quotes = {q["instrument"]: q for q in answer.json()["quotes"]}
        assert quotes["US10Y"]["value"] == 0.68
        assert quotes["US10Y"]["symbol"] == "BC_10YEAR"  # the Treasury's own field name
        assert quotes["US10Y"]["previous"] == 0.69
        assert quotes["US10Y"]["change"] == pytest.approx(-0.01)
        assert quotes["US10Y"]["end_of_day"] is True
        assert quotes["US10Y"]["age_s"] == (NOW - datetime(2020, 7, 2, tzinfo=UTC)).total_seconds()


async def test_fred_series_with_a_key(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream, fred_api_key=FRED_KEY)) as (http, _):
        answer = await call(http, "get_fred_series", {"series_id": "gnpca"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["series_id"], body["title"], body["frequency"]) == (
            "GNPCA",
            "Real Gross National Product",
            "Annual",
        )
        assert [p["value"] for p in body["points"]] == [1065.9, 975.5, 912.1]
        assert body["points"][0]["source"]["url"] == "https://fred.stlouisfed.org/series/GNPCA"
        assert body["page"] == {"total": 84, "offset": 0, "next_offset": 3}
        assert FRED_KEY not in answer.text


async def test_calendar_window_filters_and_paging(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream, finnhub_api_key="k" * 20)) as (http, _):
        answer = await call(http, "get_economic_calendar", {"start": "2026-05-20", "end": "2026-05-25",
                                                            "importance": ["high"]})  # fmt: skip
        assert answer.status_code == 200, answer.text
        (event,) = answer.json()["events"]
        assert event["event"] == "Building Permits Prel"
        assert event["time"] == "2026-05-21T12:30:00.000Z"
        assert event["released"] is False  # the pinned clock is in 2020
        too_long = await call(http, "get_economic_calendar", {"start": "2026-05-01", "end": "2026-07-01"})
        assert too_long.status_code == 422
        assert "at most 31 days" in too_long.text


async def test_cot_tff_by_code_from_the_documented_row(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _):
        answer = await call(http, "get_cot_tff", {"market": "232741", "start": "2025-07-01", "end": "2025-08-31"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["code"] == "232741"
        assert body["market"] == "AUSTRALIAN DOLLAR - CHICAGO MERCANTILE EXCHANGE"
        (report,) = body["reports"]
        classes = {c["trader_class"]: c for c in report["classes"]}
        assert classes["leveraged_funds"]["net"] == 19628 - 30092
        assert classes["leveraged_funds"]["net_change"] is None
        assert report["observed_at"] == "2025-08-05T00:00:00.000Z"
        assert report["delay_s"] == 3 * 86400 + 19.5 * 3600  # released Friday 15:30 EDT
        wrong = await call(http, "get_cot_tff", {"market": "gold"})
        assert wrong.status_code == 400
        assert "get_cot_disaggregated" in wrong.text


async def test_cot_disaggregated_weekly_change_of_the_net(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _):
        answer = await call(
            http, "get_cot_disaggregated", {"market": "gold", "start": "2026-09-01", "end": "2026-10-01"}
        )
        assert answer.status_code == 200, answer.text
        latest, _older = answer.json()["reports"]  # newest first
        managed = {c["trader_class"]: c for c in latest["classes"]}["managed_money"]
        # 2026-09-29: 131711 - 11393 = 120318; 2026-09-22: 135699 - 8310 = 127389; change -7071.
        assert (managed["net"], managed["net_change"]) == (120318, -7071)
        swaps = {c["trader_class"]: c for c in latest["classes"]}["swap_dealers"]
        assert swaps["short"] == 244539


async def test_extreme_positioning_percentile_and_zscore(tmp_path: Path, upstream: str, clock: ManualClock) -> None:
    async with macro_app(settings_for(tmp_path, upstream)) as (http, _):
        answer = await call(http, "get_cot_extreme_positioning", {"markets": ["gold"], "extreme_z": 0.5})
        assert answer.status_code == 200, answer.text
        (market,) = answer.json()["markets"]
        managed = {c["trader_class"]: c for c in market["classes"]}["managed_money"]
        # window nets [127389, 120318]: the latest is the lower of two (50th percentile),
        # z = (120318 - 123853.5) / (7071 / sqrt 2) = -0.7071, past the 0.5 asked: a low extreme.
        assert managed["percentile"] == 50.0
        assert managed["zscore"] == pytest.approx(-0.7071, abs=1e-4)
        assert managed["extreme"] == "low"
        assert "gold.managed_money" in answer.json()["extremes"]
