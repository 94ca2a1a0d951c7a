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
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from cerbero_mcp.common.errors import NotConfiguredError
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse
from cerbero_mcp.common.pacing import Limit, Pacer
from cerbero_mcp.exchanges.base import ErrorTable
from cerbero_mcp.exchanges.providers import ProviderClient, ResponseCache
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


@dataclass(frozen=True)
class SourceInfo:
    """What a source is called in answers and where it is documented."""

    name: str
    url: str


CRYPTOPANIC = SourceInfo("CryptoPanic", "https://cryptopanic.com/developers/api/")
COINDESK = SourceInfo("CoinDesk", "https://developers.coindesk.com/documentation/data-api/news_v1_article_list")
LUNARCRUSH = SourceInfo("LunarCrush", "https://lunarcrush.com/developers/api/endpoints")


class SourceClient:
    """One source: its transport, its pacer, its error table and the credential it needs."""

    def __init__(self, key: str, http: UpstreamHTTP, table: ErrorTable, *, secret: str | None, variable: str) -> None:
        """Send through `http`, paced by PACING[key]; `variable` names the setting a missing `secret` needs."""
        self.key = key
        self.http = http
        self.table = table
        self.pacer = Pacer(table.venue, PACING[key], max_wait_s=MAX_WAIT_S)
        self._secret = secret
        self.variable = variable
        self.calls = 0  # upstream requests sent (tests and the bench read it)

    @property
    def name(self) -> str:
        """Return the source's name as answers show it."""
        return self.table.venue

    @property
    def configured(self) -> bool:
        """Return whether the source has its key."""
        return bool(self._secret)

    def secret(self) -> str:
        """Return the source's key, or raise 503 NOT_CONFIGURED naming the variable."""
        if not self._secret:
            raise NotConfiguredError(
                f"{self.name} needs an API key: set {self.variable}",
                details={"source": self.name, "missing": [self.variable]},
                suggested_fix=f"add {self.variable} to .env and restart",
            )
        return self._secret

    async def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """GET `path` once the pace allows it; a non-2xx answer raises the source's common error."""
        await self.pacer.acquire(*PACING[self.key])
        self.calls += 1
        response = await self.http.request("GET", path, params=params, headers=headers)
        if response.status >= 300:
            raise error_of(self.table, response, secrets=(self._secret or "",))
        return response

    async def aclose(self) -> None:
        """Close the source's connection pool."""
        await self.http.aclose()


def _secret(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value.strip() or None if isinstance(value, str) else None


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
            secret = _secret(settings.provider_option(PROVIDER, key_setting))
            return SourceClient(key, http, table, secret=secret, variable=variable)

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
