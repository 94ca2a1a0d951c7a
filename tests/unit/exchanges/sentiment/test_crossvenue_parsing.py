"""The cross-venue readers on the venues' documented bodies (tests/fixtures/<venue>/), through fake venue clients."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from cerbero_mcp.contracts import Services, ToolContext
from cerbero_mcp.exchanges.hyperliquid.rules import Asset
from cerbero_mcp.exchanges.sentiment import crossvenue_tools as xt

FIXTURES = Path(__file__).parents[3] / "fixtures"

# A public/get_funding_rate_history result with the fields and types Deribit documents (docs.deribit.com: timestamp,
# index_price, prev_index_price, interest_8h, interest_1h, JSON numbers; the values are illustrative, in the
# exponent form Deribit sends small rates in). tests/fixtures/deribit has no body of this method.
DERIBIT_FUNDING_HISTORY = """[
  {"timestamp": 1569891600000, "index_price": 8222.87, "prev_index_price": 8305.72,
   "interest_8h": -0.00009234260068476106, "interest_1h": -4.739622041017375e-7},
  {"timestamp": 1569895200000, "index_price": 8286.49, "prev_index_price": 8222.87,
   "interest_8h": -0.00006720918180255509, "interest_1h": -2.8583510923267753e-8}
]"""


def body(venue: str, name: str) -> Any:
    """Return a fixture's JSON (parsed with Decimal numbers, as the clients parse exactly)."""
    return json.loads((FIXTURES / venue / name).read_text(), parse_float=Decimal)


class Http:
    """What the readers take from a client's transport: its base URL."""

    base_url = "https://venue.example"


class FakeDeribit:
    """Deribit's public reads answering the documented bodies."""

    http = Http()

    async def public_ticker(self, instrument_name: str) -> dict[str, Any]:
        assert instrument_name == "BTC-PERPETUAL"
        result: dict[str, Any] = body("deribit", "public_ticker.json")["result"]
        return result

    async def public_get_funding_rate_history(self, instrument_name: str, start: int, end: int) -> list[Any]:
        assert start < end
        rows: list[Any] = json.loads(DERIBIT_FUNDING_HISTORY, parse_float=Decimal)
        return rows


class FakeBybit:
    """Bybit's /v5/market reads answering the documented bodies (the tickers example is inverse: renamed)."""

    http = Http()

    def __init__(self, *, interval_in_ticker: bool = True) -> None:
        self.interval_in_ticker = interval_in_ticker

    async def market_tickers(self, category: str, symbol: str | None = None) -> dict[str, Any]:
        row = {**body("bybit", "tickers_inverse.json")["result"]["list"][0], "symbol": "BTCUSDT"}
        if not self.interval_in_ticker:
            del row["fundingIntervalHour"]
        return {"category": category, "list": [row]}

    async def instrument(self, category: str, symbol: str) -> dict[str, Any]:
        rows = body("bybit", "instruments_linear.json")["result"]["list"]
        found: dict[str, Any] = next(r for r in rows if r["symbol"] == symbol)
        return found

    async def market_funding_history(self, *args: Any) -> dict[str, Any]:
        result: dict[str, Any] = body("bybit", "funding_history.json")["result"]
        return result

    async def market_open_interest(self, *args: Any) -> dict[str, Any]:
        result: dict[str, Any] = body("bybit", "open_interest.json")["result"]
        return result

    async def market_kline(self, *args: Any) -> dict[str, Any]:
        result: dict[str, Any] = body("bybit", "kline.json")["result"]
        return result


class FakeHyperliquid:
    """Hyperliquid's /info reads answering the documented bodies."""

    http = Http()

    async def asset(self, coin: str) -> Asset:
        return Asset(asset_id=0, coin=coin, name=coin, sz_decimals=5, spot=False, max_leverage=50)

    async def meta_and_asset_ctxs(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        meta, contexts = body("hyperliquid", "meta_and_asset_ctxs.json")
        return meta, contexts

    async def funding_history(self, coin: str, start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = body("hyperliquid", "funding_history.json")
        return rows


class Registry:
    """The client registry of the fakes."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients

    async def get(self, venue: str, env: str) -> Any:
        return self.clients[venue]


class State:
    """The services a tool context reaches: only the registry here."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.registry = Registry(clients)


def context(**clients: Any) -> ToolContext:
    """Return a call's context whose venue clients are the fakes."""
    return ToolContext(
        venue="sentiment",
        tool="t",
        environment="testnet",
        request_id="r",
        bot_tag="b",
        state=cast(Services, State(clients)),
    )


async def test_deribit_funding_and_open_interest_from_its_documented_bodies() -> None:
    ctx = context(deribit=FakeDeribit())
    funding = await xt.deribit_funding(ctx, "BTC", 24, True)
    assert funding.instrument == "BTC-PERPETUAL"
    assert funding.interval_hours == 8
    assert funding.rate == Decimal("0.00002203")
    assert funding.annualised == Decimal("0.00002203") * 1095
    assert [p.rate for p in funding.history] == [Decimal("-4.739622041017375E-7"), Decimal("-2.8583510923267753E-8")]
    assert funding.history[0].rate_8h == Decimal("-4.739622041017375E-7") * 8
    assert funding.history_points == 2
    oi = await xt.deribit_oi(ctx, "BTC")
    assert oi.oi_usd == 502231260  # the inverse perpetual counts USD
    assert oi.oi_coin == pytest.approx(Decimal(502231260) / Decimal("36288.31"), abs=Decimal("1e-8"))
    assert not oi.history_available
    assert oi.source.url == "https://venue.example"


@pytest.mark.parametrize("interval_in_ticker", [True, False], ids=["ticker-interval", "instrument-interval"])
async def test_bybit_funding_and_open_interest_from_its_documented_bodies(interval_in_ticker: bool) -> None:
    ctx = context(bybit=FakeBybit(interval_in_ticker=interval_in_ticker))
    funding = await xt.bybit_funding(ctx, "BTC", 48, True)
    assert funding.interval_hours == 8  # fundingIntervalHour 8, or fundingInterval 480 minutes
    assert funding.rate == Decimal("0.0001")
    assert funding.annualised == Decimal("0.1095")
    assert [(p.ts.timestamp(), p.rate) for p in funding.history] == [(1672041600.0, Decimal("0.0001"))]
    oi = await xt.bybit_oi(ctx, "BTC", "1h", 3)
    assert oi.oi_coin == Decimal("240113967")
    assert oi.oi_usd == Decimal("2089.79")  # openInterestValue as sent
    assert [p.oi_coin for p in oi.history] == [Decimal("63910691.00000000")] * 3
    assert oi.history == sorted(oi.history, key=lambda p: p.ts)
    assert all(p.oi_usd is None for p in oi.history)  # the documented kline example is of other hours


async def test_hyperliquid_funding_and_open_interest_from_its_documented_bodies() -> None:
    ctx = context(hyperliquid=FakeHyperliquid())
    funding = await xt.hyperliquid_funding(ctx, "BTC", 24, True)
    assert funding.interval_hours == 1
    assert funding.rate == Decimal("0.0000125")
    assert funding.rate_8h == Decimal("0.0001")
    assert funding.annualised == Decimal("0.1095")
    assert [p.rate_8h for p in funding.history] == [Decimal("-0.00177568"), Decimal("0.0001")]
    assert funding.history_mean_8h == Decimal("-0.00083784")
    oi = await xt.hyperliquid_oi(ctx, "BTC")
    assert oi.oi_coin == Decimal("688.11")
    assert oi.oi_usd == Decimal("688.11") * Decimal("67101.0")
    assert oi.mark_price == Decimal("67101.0")


class PagedBybit(FakeBybit):
    """An hourly-funded symbol whose 250 settled rates take two pages of 200 (newest first, by endTime)."""

    HOUR_MS = 3_600_000
    LAST_MS = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int, int]] = []

    async def market_tickers(self, category: str, symbol: str | None = None) -> dict[str, Any]:
        answer = await super().market_tickers(category, symbol)
        answer["list"][0]["fundingIntervalHour"] = "1"
        return answer

    async def market_funding_history(self, *args: Any) -> dict[str, Any]:
        _, symbol, start, end, limit = args
        self.asked.append((start, end, limit))
        stamps = [self.LAST_MS - i * self.HOUR_MS for i in range(250)]
        kept = [ts for ts in stamps if ts <= end][:limit]
        return {
            "list": [
                {"symbol": symbol, "fundingRate": f"0.0000{i % 10}", "fundingRateTimestamp": str(ts)}
                for i, ts in enumerate(kept)
            ]
        }


async def test_bybit_funding_history_pages_back_until_the_window_is_covered() -> None:
    fake = PagedBybit()
    funding = await xt.bybit_funding(context(bybit=fake), "BTC", 480, True)
    assert funding.interval_hours == 1
    assert funding.history_points == 250
    assert [p.ts for p in funding.history] == sorted(p.ts for p in funding.history)
    assert len(fake.asked) == 2
    assert fake.asked[1][1] == fake.LAST_MS - 200 * fake.HOUR_MS + fake.HOUR_MS - 1  # before the oldest of page 1
