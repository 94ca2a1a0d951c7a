"""Deribit API v2 simulator: JSON-RPC over HTTP, client-credentials auth, the v2 market and trading."""
