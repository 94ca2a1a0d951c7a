"""The macro provider's settings: one base URL per source and the API keys (no testnet: one value for both tokens)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from cerbero_mcp.venue_settings import ExtraSetting, ProviderSettings

PROVIDER_SETTINGS = ProviderSettings(
    name="macro",
    title="Macro data (US Treasury, FRED, Finnhub, CFTC)",
    settings=(
        ExtraSetting(
            "macro_treasury_url",
            str,
            Field(
                "https://home.treasury.gov", description="US Treasury site base (daily par yield curve feed; no key)."
            ),
        ),
        ExtraSetting(
            "macro_fred_url", str, Field("https://api.stlouisfed.org", description="FRED API base (St. Louis Fed).")
        ),
        ExtraSetting(
            "macro_finnhub_url",
            str,
            Field("https://finnhub.io/api/v1", description="Finnhub API base (quotes, calendar)."),
        ),
        ExtraSetting(
            "macro_cftc_url",
            str,
            Field("https://publicreporting.cftc.gov", description="CFTC public reporting (Socrata) base; no key."),
        ),
        ExtraSetting(
            "fred_api_key",
            SecretStr | None,
            Field(None, description="FRED API key (32 lower-case letters/digits); FRED tools answer 503 without it."),
        ),
        ExtraSetting(
            "finnhub_api_key",
            SecretStr | None,
            Field(None, description="Finnhub API key; quote and calendar tools answer 503 without it."),
        ),
        ExtraSetting(
            "cftc_app_token",
            SecretStr | None,
            Field(None, description="Optional Socrata app token for the CFTC API (raises its throttling limits)."),
        ),
    ),
)
