"""Alpaca's settings: paper and live trading hosts, the market-data host and feed, API keys per environment."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from cerbero_mcp.venue_settings import Credential, ExtraSetting, VenueSettings, VenueUrl

VENUE_SETTINGS = VenueSettings(
    name="alpaca",
    title="Alpaca",
    url_testnet=VenueUrl("https://paper-api.alpaca.markets", "Alpaca paper trading host (paths under /v2)."),
    url_live=VenueUrl("https://api.alpaca.markets", "Alpaca live trading host (paths under /v2)."),
    credentials=(
        Credential(
            "api_key_id",
            "Alpaca API key id, sent as APCA-API-KEY-ID (paper and live keys differ).",
            testnet_description="Alpaca paper API key id.",
            live_description="Alpaca live API key id.",
        ),
        Credential(
            "secret_key",
            "Alpaca API secret key, sent as APCA-API-SECRET-KEY.",
            testnet_description="Alpaca paper API secret key.",
            live_description="Alpaca live API secret key.",
        ),
    ),
    max_leverage_description=(
        "Refuse Alpaca orders whose resulting gross position value (USD, options x100) over the account's equity "
        "exceeds this (default 1: cash-like)."
    ),
    max_leverage_default=Decimal(1),
    extras=(
        ExtraSetting(
            "data_url",
            str,
            Field(
                "https://data.alpaca.markets",
                description="Alpaca market-data host, one for paper and live (bars, quotes, snapshots, option chains).",
            ),
        ),
        ExtraSetting(
            "data_feed",
            Literal["iex", "sip"],
            Field("iex", description="Alpaca stock data feed: iex (free plan) or sip (all US exchanges, paid plan)."),
        ),
    ),
)
