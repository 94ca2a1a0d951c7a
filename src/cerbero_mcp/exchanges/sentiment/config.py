"""The sentiment provider's settings: a base URL per source and the API keys (one value for both tokens)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from cerbero_mcp.venue_settings import ExtraSetting, ProviderSettings

PROVIDER_SETTINGS = ProviderSettings(
    name="sentiment",
    title="Sentiment data (CryptoPanic, CoinDesk news, LunarCrush) and cross-venue derivatives analytics",
    settings=(
        ExtraSetting(
            "sentiment_cryptopanic_url",
            str,
            Field("https://cryptopanic.com", description="CryptoPanic site base (the developer API lives under it)."),
        ),
        ExtraSetting(
            "sentiment_coindesk_url",
            str,
            Field("https://data-api.coindesk.com", description="CoinDesk Data API base (news articles)."),
        ),
        ExtraSetting(
            "sentiment_lunarcrush_url",
            str,
            Field("https://lunarcrush.com", description="LunarCrush site base (API v4 under /api4/public)."),
        ),
        ExtraSetting(
            "cryptopanic_key",
            SecretStr | None,
            Field(None, description="CryptoPanic API auth token; get_news leaves CryptoPanic out without it."),
        ),
        ExtraSetting(
            "coindesk_api_key",
            SecretStr | None,
            Field(None, description="CoinDesk Data API key; get_news leaves CoinDesk out without it."),
        ),
        ExtraSetting(
            "lunarcrush_key",
            SecretStr | None,
            Field(None, description="LunarCrush API v4 key (Bearer); get_social answers 503 without it."),
        ),
    ),
)
