"""IBKR's settings: Client Portal API bases, OAuth 1.0a credentials per environment, leverage cap, WebSocket."""

from __future__ import annotations

from pydantic import Field

from cerbero_mcp.venue_settings import Credential, ExtraSetting, VenueSettings, VenueUrl

VENUE_SETTINGS = VenueSettings(
    name="ibkr",
    title="Interactive Brokers",
    # Paper and live share the host: the OAuth credentials pick the account.
    url_testnet=VenueUrl("https://api.ibkr.com/v1/api", "IBKR Client Portal API base (paper)."),
    url_live=VenueUrl("https://api.ibkr.com/v1/api", "IBKR Client Portal API base (live)."),
    credentials=(
        Credential(
            "consumer_key",
            "IBKR OAuth consumer key, 9 characters (both environments).",
            testnet_description="IBKR paper consumer key.",
            live_description="IBKR live consumer key.",
        ),
        Credential(
            "access_token",
            "IBKR OAuth access token (both environments).",
            testnet_description="IBKR paper access token.",
            live_description="IBKR live access token.",
        ),
        Credential(
            "access_token_secret",
            "IBKR OAuth access token secret, base64 (both environments).",
            testnet_description="IBKR paper access token secret.",
            live_description="IBKR live access token secret.",
        ),
        Credential(
            "signature_key_path",
            "Path of the private RSA signature key PEM (both environments).",
            testnet_description="Path of the paper signature key PEM.",
            live_description="Path of the live signature key PEM.",
        ),
        Credential(
            "encryption_key_path",
            "Path of the private RSA encryption key PEM (both environments).",
            testnet_description="Path of the paper encryption key PEM.",
            live_description="Path of the live encryption key PEM.",
        ),
        Credential(
            "dh_prime",
            "Diffie-Hellman prime in hex (both environments).",
            testnet_description="Paper Diffie-Hellman prime in hex.",
            live_description="Live Diffie-Hellman prime in hex.",
        ),
        Credential(
            "account_id",
            "IBKR account id to trade (default: the first account).",
            required=False,
            testnet_description="IBKR paper account id.",
            live_description="IBKR live account id.",
        ),
    ),
    max_leverage_description="Leverage cap for IBKR orders (vs net liquidation).",
    extras=(
        ExtraSetting(
            "ws_max_subscriptions",
            int,
            Field(80, ge=1, le=500, description="Market-data subscriptions per IBKR socket."),
        ),
        ExtraSetting(
            "ws_idle_timeout_s",
            float,
            Field(300.0, gt=0, description="Seconds before an unused IBKR market-data subscription is dropped."),
        ),
    ),
)
