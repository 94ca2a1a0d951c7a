"""Risk desk positions: underlyings, and options' delta from the quant library where a venue has none."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common.options import bs_greeks
from cerbero_mcp.exchanges.risk.holdings import bybit_option_delta, crypto_underlying, quant_delta, read_alpaca


@pytest.mark.parametrize(
    ("symbol", "coin"),
    [
        ("BTCUSDT", "BTC"),
        ("BTC/USD", "BTC"),
        ("BTC-PERPETUAL", "BTC"),
        ("BTC_USDC-PERPETUAL", "BTC"),
        ("ETHPERP", "ETH"),
    ],
)
def test_crypto_symbols_name_their_coin(symbol: str, coin: str) -> None:
    assert crypto_underlying(symbol) == coin


def test_quant_delta_recovers_the_delta_at_the_implied_vol_of_the_price() -> None:
    # The clock is pinned at 2026-03-04 15:00 UTC; the option expires at 21:00 UTC on 2026-06-19.
    years = (date(2026, 6, 19) - date(2026, 3, 4)).days / 365.25 + 6 / (24 * 365.25)
    price = float(bs_greeks(190.0, 200.0, years, 0.0, 0.3, "call").price)
    delta, source = quant_delta(Decimal(str(price)), Decimal(190), Decimal(200), date(2026, 6, 19), "call")
    assert source == "quant_library"
    assert delta == pytest.approx(float(bs_greeks(190.0, 200.0, years, 0.0, 0.3, "call").delta), abs=1e-3)
    put, _ = quant_delta(Decimal("12"), Decimal(190), Decimal(200), date(2026, 6, 19), "put")
    assert put is not None
    assert -1 < put < 0
    assert quant_delta(Decimal("5"), Decimal(190), Decimal(200), date(2026, 3, 1), "call") == (None, "expired")
    impossible, why = quant_delta(Decimal("500"), Decimal(190), Decimal(200), date(2026, 6, 19), "call")
    assert impossible is None
    assert why.startswith("no implied vol")


class FakeAlpaca:
    """Alpaca's answers for one long call and one short stock, with no greeks in the option snapshot."""

    async def account(self) -> dict[str, Any]:
        """GET /v2/account."""
        return {"currency": "USD", "equity": "20000", "initial_margin": "500", "maintenance_margin": "400"}

    async def positions(self) -> list[dict[str, Any]]:
        """GET /v2/positions."""
        return [
            {
                "symbol": "AAPL260619C00200000",
                "qty": "2",
                "side": "long",
                "asset_class": "us_option",
                "current_price": "8",
            },
            {"symbol": "MSFT", "qty": "-3", "side": "short", "asset_class": "us_equity", "current_price": "400"},
        ]

    async def option_snapshots(self, symbols: list[str]) -> dict[str, Any]:
        """GET /v1beta1/options/snapshots: a quote, no greeks."""
        return {symbols[0]: {"latestQuote": {"bp": 7.9, "ap": 8.1}}}

    async def stock_snapshots(self, symbols: list[str]) -> dict[str, Any]:
        """GET /v2/stocks/snapshots."""
        return {symbols[0]: {"latestTrade": {"p": 190}}}


class Context:
    """A tool context whose client is the fake."""

    async def client(self) -> FakeAlpaca:
        """Return the fake Alpaca client."""
        return FakeAlpaca()


async def test_alpaca_option_without_greeks_gets_the_quant_library_delta() -> None:
    snapshot = await read_alpaca(Context())  # type: ignore[arg-type]
    assert snapshot.equity_usd == Decimal(20000)
    option, stock = snapshot.holdings
    assert (option.kind, option.underlying, option.delta_source) == ("option", "AAPL", "quant_library")
    assert option.notional_usd == Decimal(1600)  # 2 contracts x $8 x 100
    assert option.delta_usd is not None
    assert 0 < option.delta_usd < 2 * 100 * 190
    assert (stock.underlying, stock.notional_usd, stock.delta_usd) == ("MSFT", Decimal(-1200), Decimal(-1200))


def test_bybit_option_delta_prefers_bybit_then_falls_back_to_the_quant_library() -> None:
    spot, size = Decimal(100000), Decimal("0.5")
    symbol = "BTC-26JUN26-110000-C"
    assert bybit_option_delta(symbol, size, "0.2", {}, spot) == (Decimal("20000.0"), "venue")
    assert bybit_option_delta(symbol, size, "", {"delta": "0.4"}, spot) == (Decimal("20000.0"), "venue")
    delta, source = bybit_option_delta(symbol, size, "", {"markIv": "0.6"}, spot)
    assert source == "quant_library"
    assert delta is not None
    assert Decimal(10000) < delta < Decimal(30000)  # an out-of-the-money call: 0.2 < delta < 0.6 per BTC
    put, _ = bybit_option_delta("BTC-26JUN26-90000-P", size, "", {"markIv": "0.6"}, spot)
    assert put is not None
    assert put < 0
    assert bybit_option_delta(symbol, size, "", {}, spot)[0] is None
