"""The macro data provider: US Treasury curve, FRED, Finnhub quotes and calendar, CFTC Commitments of Traders."""
