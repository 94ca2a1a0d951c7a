"""The sentiment provider's one client (both tokens): one connection pool, pacer and error table per source.

    source       base (setting)                                  key (setting)      auth
    CryptoPanic  SENTIMENT_CRYPTOPANIC_URL cryptopanic.com       CRYPTOPANIC_KEY    ?auth_token= (its only form)
    CoinDesk     SENTIMENT_COINDESK_URL data-api.coindesk.com    COINDESK_API_KEY   header `authorization: Apikey`
    LunarCrush   SENTIMENT_LUNARCRUSH_URL lunarcrush.com         LUNARCRUSH_KEY     header `Authorization: Bearer`

A source whose key is missing is still built; its calls raise 503 NOT_CONFIGURED naming the variable,
so get_news works with either news key alone. The keys are sent in headers where the source allows it,
so they never sit in a URL (CryptoPanic takes its token only as a query parameter: the transport's
logs and errors carry the path, never the query, and `error_of` masks an echoed key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.common.pacing import Limit
from cerbero_mcp.exchanges.base import ErrorTable
from cerbero_mcp.exchanges.providers import ProviderClient, ResponseCache, SourceClient, SourceInfo, secret_text
from cerbero_mcp.exchanges.sentiment.errors import (
    COINDESK_ERRORS,
    CRYPTOPANIC_ERRORS,
    LUNARCRUSH_ERRORS,
    error_of,
)
from cerbero_mcp.settings import Settings

PROVIDER = "sentiment"
CRYPTOPANIC_POSTS_PATH = "/api/developer/v2/posts/"
COINDESK_NEWS_PATH = "/news/v1/article/list"
LUNARCRUSH_PREFIX = "/api4/public"
# Wait at most this long for a pacing slot before refusing with 429 (a tool call should not hang).
MAX_WAIT_S = 5.0

# Limits depend on each source's plan. LunarCrush's are published per plan (Individual: 10/min,
# 2,000/day); CryptoPanic and CoinDesk publish theirs on pricing pages we could not confirm, so these
# stay well under the lowest figures seen in public client code. A source's own 429 keeps Retry-After.
PACING: dict[str, dict[str, Limit]] = {
    "cryptopanic": {"requests": Limit(2, 1, "conservative: under the lowest plan's per-second limit")},
    "coindesk": {
        "requests": Limit(20, 1, "conservative: under the free key's per-second ceiling"),
        "minute": Limit(300, 60, "conservative: under the free key's per-minute ceiling"),
    },
    "lunarcrush": {
        "requests": Limit(10, 60, "Individual plan: 10 requests per minute"),
        "day": Limit(2000, 86400, "Individual plan: 2,000 requests per day"),
    },
}


CRYPTOPANIC = SourceInfo("CryptoPanic", "https://cryptopanic.com/developers/api/")
COINDESK = SourceInfo("CoinDesk", "https://developers.coindesk.com/documentation/data-api/news_v1_article_list")
LUNARCRUSH = SourceInfo("LunarCrush", "https://lunarcrush.com/developers/api/endpoints")


class SentimentClient(ProviderClient):
    """The sentiment provider's client: CryptoPanic, CoinDesk and LunarCrush, and the shared response cache."""

    def __init__(
        self,
        cryptopanic: SourceClient,
        coindesk: SourceClient,
        lunarcrush: SourceClient,
        *,
        cache: ResponseCache | None = None,
    ) -> None:
        """Hold the three sources and the cache."""
        super().__init__(cache=cache)
        self.cryptopanic = cryptopanic
        self.coindesk = coindesk
        self.lunarcrush = lunarcrush

    @classmethod
    async def build(cls, settings: Settings) -> SentimentClient:
        """Build the three sources from the sentiment settings (URLs, keys) on the shared transport."""

        def source(key: str, table: ErrorTable, url_setting: str, key_setting: str, variable: str) -> SourceClient:
            http = UpstreamHTTP(
                table.venue,
                str(settings.provider_option(PROVIDER, url_setting)).rstrip("/"),
                connect_timeout_s=settings.upstream_connect_timeout_s,
                read_timeout_s=settings.upstream_read_timeout_s,
                pool_size=settings.upstream_pool_size,
                default_headers={"Accept": "application/json"},
            )
            secret = secret_text(settings.provider_option(PROVIDER, key_setting))
            return SourceClient(
                http, table, PACING[key], error_of, secret=secret, variable=variable, max_wait_s=MAX_WAIT_S
            )

        return cls(
            cryptopanic=source(
                "cryptopanic", CRYPTOPANIC_ERRORS, "sentiment_cryptopanic_url", "cryptopanic_key", "CRYPTOPANIC_KEY"
            ),
            coindesk=source(
                "coindesk", COINDESK_ERRORS, "sentiment_coindesk_url", "coindesk_api_key", "COINDESK_API_KEY"
            ),
            lunarcrush=source(
                "lunarcrush", LUNARCRUSH_ERRORS, "sentiment_lunarcrush_url", "lunarcrush_key", "LUNARCRUSH_KEY"
            ),
        )

    # --- one method per upstream endpoint -----------------------------------------------------------

    async def cryptopanic_posts(self, params: Mapping[str, Any]) -> Any:
        """GET /api/developer/v2/posts/?auth_token=&public=true (currencies, kind, filter, regions, page)."""
        token = self.cryptopanic.secret()
        response = await self.cryptopanic.get(CRYPTOPANIC_POSTS_PATH, {**params, "auth_token": token, "public": "true"})
        return response.json()

    async def coindesk_articles(self, params: Mapping[str, Any]) -> Any:
        """GET /news/v1/article/list (lang, limit, categories, to_ts) with `authorization: Apikey <key>`."""
        key = self.coindesk.secret()
        response = await self.coindesk.get(COINDESK_NEWS_PATH, params, headers={"Authorization": f"Apikey {key}"})
        return response.json()

    async def lunarcrush_coin(self, coin: str) -> Any:
        """GET /api4/public/coins/{coin}/v1: the coin's current metrics."""
        key = self.lunarcrush.secret()
        response = await self.lunarcrush.get(
            f"{LUNARCRUSH_PREFIX}/coins/{coin}/v1", headers={"Authorization": f"Bearer {key}"}
        )
        return response.json()

    async def lunarcrush_coins_list(self, params: Mapping[str, Any]) -> Any:
        """GET /api4/public/coins/list/v1 (sort, limit up to 1000, page): every coin's metrics, up to an hour behind."""
        key = self.lunarcrush.secret()
        response = await self.lunarcrush.get(
            f"{LUNARCRUSH_PREFIX}/coins/list/v1", params, headers={"Authorization": f"Bearer {key}"}
        )
        return response.json()

    async def lunarcrush_time_series(self, coin: str, params: Mapping[str, Any]) -> Any:
        """GET /api4/public/coins/{coin}/time-series/v2 (bucket=hour|day, start, end in unix seconds)."""
        key = self.lunarcrush.secret()
        response = await self.lunarcrush.get(
            f"{LUNARCRUSH_PREFIX}/coins/{coin}/time-series/v2", params, headers={"Authorization": f"Bearer {key}"}
        )
        return response.json()

    async def aclose(self) -> None:
        """Close every source's pool and drop the cache."""
        for source in (self.cryptopanic, self.coindesk, self.lunarcrush):
            await source.aclose()
        await super().aclose()
