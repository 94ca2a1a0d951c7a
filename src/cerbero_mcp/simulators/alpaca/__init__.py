"""Loopback fake of Alpaca (trading API v2 and market data), written from its documentation."""
