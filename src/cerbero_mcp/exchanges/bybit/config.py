"""Bybit's settings: API hosts, HMAC API keys per environment, leverage cap, receive window."""

from __future__ import annotations

from pydantic import Field

from cerbero_mcp.venue_settings import Credential, ExtraSetting, VenueSettings, VenueUrl

VENUE_SETTINGS = VenueSettings(
    name="bybit",
    title="Bybit",
    # Demo Trading (https://api-demo.bybit.com, keys from the mainnet Demo Trading account) works as the
    # testnet URL too: the client notices the host and refuses what demo trading does not offer.
    url_testnet=VenueUrl(
        "https://api-testnet.bybit.com",
        "Bybit testnet REST host (or Demo Trading: https://api-demo.bybit.com, with demo keys).",
    ),
    url_live=VenueUrl("https://api.bybit.com", "Bybit live REST host (api.bybit.com; api.bytick.com also works)."),
    credentials=(
        Credential(
            "api_key",
            "Bybit API key, HMAC system-generated (both environments).",
            testnet_description="Bybit testnet (or demo trading) API key.",
            live_description="Bybit live API key.",
        ),
        Credential(
            "api_secret",
            "Bybit API secret (both environments).",
            testnet_description="Bybit testnet (or demo trading) API secret.",
            live_description="Bybit live API secret.",
        ),
    ),
    max_leverage_description=(
        "Refuse Bybit orders whose resulting gross notional (USD) over the unified account's totalEquity exceeds this."
    ),
    extras=(
        ExtraSetting(
            "recv_window_ms",
            int,
            Field(
                5000, ge=100, le=60000, description="X-BAPI-RECV-WINDOW: how long a signed Bybit request stays valid."
            ),
        ),
    ),
)
