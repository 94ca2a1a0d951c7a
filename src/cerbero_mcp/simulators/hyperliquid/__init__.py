"""Loopback fake of Hyperliquid's /info and /exchange API (see simulator.py)."""
