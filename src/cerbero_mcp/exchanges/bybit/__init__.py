"""Bybit v5 (unified trading account): spot, linear, inverse and options over the REST API."""
