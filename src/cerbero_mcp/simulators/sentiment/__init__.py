"""Loopback simulators of the sentiment data sources: CryptoPanic, CoinDesk (news) and LunarCrush (social)."""
