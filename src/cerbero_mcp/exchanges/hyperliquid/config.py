"""Hyperliquid's settings: API hosts, the account and its API (agent) wallet per environment, leverage cap, slippage."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from cerbero_mcp.venue_settings import Credential, ExtraSetting, VenueSettings, VenueUrl

VENUE_SETTINGS = VenueSettings(
    name="hyperliquid",
    title="Hyperliquid",
    url_testnet=VenueUrl("https://api.hyperliquid-testnet.xyz", "Hyperliquid testnet API (POST /info, /exchange)."),
    url_live=VenueUrl("https://api.hyperliquid.xyz", "Hyperliquid mainnet API (POST /info, /exchange)."),
    credentials=(
        Credential(
            "wallet_address",
            "Hyperliquid account (master wallet) address, 0x + 40 hex: the account reads and trades are for.",
            testnet_description="Hyperliquid testnet account address.",
            live_description="Hyperliquid mainnet account address.",
        ),
        Credential(
            "api_wallet_address",
            "Address of the API (agent) wallet approved for the account; empty when the key is the account's own.",
            required=False,
            testnet_description="Hyperliquid testnet API wallet address.",
            live_description="Hyperliquid mainnet API wallet address.",
        ),
        Credential(
            "private_key",
            "Private key (0x + 64 hex) of the API wallet (or of the account itself) that signs actions.",
            testnet_description="Hyperliquid testnet signing key.",
            live_description="Hyperliquid mainnet signing key.",
        ),
    ),
    max_leverage_description=(
        "Refuse Hyperliquid orders whose resulting gross notional (USD) over the account value "
        "(clearinghouseState marginSummary.accountValue) exceeds this."
    ),
    extras=(
        ExtraSetting(
            "market_slippage",
            Decimal,
            Field(
                Decimal("0.05"),
                gt=0,
                le=Decimal("0.5"),
                description=(
                    "Market orders are IOC limits at mid x (1 +/- this): the worst price a market order accepts "
                    "(0.05 = 5 %, the SDK's default)."
                ),
            ),
        ),
    ),
)
