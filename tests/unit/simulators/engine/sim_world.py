"""The small simulated venue the engine's unit tests share."""

from __future__ import annotations

from cerbero_mcp.simulators.engine import Instrument, MarketModel, Underlying

T0 = 1_736_000_000.0  # 2025-01-04T14:13:20Z, a few days after the paths' anchor
SEED = 42


def build_market(seed: int = SEED) -> MarketModel:
    """Return the test market: BTC (linear and inverse perps, spot), AAPL stock."""
    return MarketModel(
        seed,
        [Underlying("BTC", 100_000.0, vol=0.6, carry=0.05), Underlying("AAPL", 200.0, vol=0.3, rate=0.04)],
        [
            Instrument.perpetual("BTC-USDT", "BTC", "0.1", "0.001", quote_currency="USDT"),
            Instrument.perpetual("BTC-PERPETUAL", "BTC", "0.5", "10", inverse=True, settle_currency="BTC"),
            Instrument.spot("BTCUSDT", "BTC", "0.01", "0.00001", quote_currency="USDT", min_notional="5"),
            Instrument.stock("AAPL"),
        ],
    )
