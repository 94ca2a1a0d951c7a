"""Deribit's settings: API bases, OAuth client credentials per environment, leverage cap."""

from __future__ import annotations

from cerbero_mcp.venue_settings import Credential, VenueSettings, VenueUrl

VENUE_SETTINGS = VenueSettings(
    name="deribit",
    title="Deribit",
    url_testnet=VenueUrl("https://test.deribit.com/api/v2", "Deribit testnet API base."),
    url_live=VenueUrl("https://www.deribit.com/api/v2", "Deribit live API base."),
    credentials=(
        Credential(
            "client_id",
            "Deribit API client id (both environments).",
            testnet_description="Deribit testnet client id (overrides the shared one).",
            live_description="Deribit live client id (overrides the shared one).",
        ),
        Credential(
            "client_secret",
            "Deribit API client secret (both environments).",
            testnet_description="Deribit testnet client secret.",
            live_description="Deribit live client secret.",
        ),
    ),
    max_leverage_description="Refuse Deribit orders whose resulting notional/equity exceeds this.",
)
