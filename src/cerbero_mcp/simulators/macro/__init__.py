"""Loopback simulators of the macro data sources: US Treasury, FRED, Finnhub and the CFTC's COT (Socrata)."""
