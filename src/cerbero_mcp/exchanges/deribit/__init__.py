"""Deribit: BTC and ETH perpetuals, dated futures and options over API v2."""
