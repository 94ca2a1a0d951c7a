"""Loopback fake of Bybit API v5 (unified account), written from Bybit's documentation."""
