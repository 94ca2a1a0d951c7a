"""Alpaca: US stocks and ETFs, options and crypto (Trading API v2 and Market Data API)."""
