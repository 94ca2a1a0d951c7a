"""The macro provider's one client (both tokens): one connection pool, pacer and error table per source.

    source     base (setting)                        key (setting)      pace (documented limit)
    Treasury   MACRO_TREASURY_URL home.treasury.gov  none               60/min (none published; polite)
    FRED       MACRO_FRED_URL api.stlouisfed.org     FRED_API_KEY       120/min per key
    Finnhub    MACRO_FINNHUB_URL finnhub.io/api/v1   FINNHUB_API_KEY    60/min and 30/s (free plan)
    CFTC       MACRO_CFTC_URL publicreporting...     CFTC_APP_TOKEN opt 60/min (Socrata throttles unnamed apps)

A source whose key is missing is still built; its calls raise 503 NOT_CONFIGURED naming the variable,
so the keyless sources work with no key at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.common.pacing import Limit
from cerbero_mcp.exchanges.base import ErrorTable
from cerbero_mcp.exchanges.macro.errors import CFTC_ERRORS, FINNHUB_ERRORS, FRED_ERRORS, TREASURY_ERRORS, error_of
from cerbero_mcp.exchanges.providers import ProviderClient, ResponseCache, SourceClient, SourceInfo, secret_text
from cerbero_mcp.settings import Settings

PROVIDER = "macro"
TREASURY_FEED_PATH = "/resource-center/data-chart-center/interest-rates/pages/xml"
TFF_DATASET = "gpe5-46if"  # Traders in Financial Futures, futures only
DISAGGREGATED_DATASET = "72hh-3qpy"  # Disaggregated, futures only
# Wait at most this long for a pacing slot before refusing with 429 (a tool call should not hang).
MAX_WAIT_S = 5.0

PACING: dict[str, dict[str, Limit]] = {
    "treasury": {"requests": Limit(60, 60, "no published limit; a polite budget for a public site")},
    "fred": {"requests": Limit(120, 60, "about 120 requests per minute per key (FRED API terms)")},
    "finnhub": {
        "requests": Limit(60, 60, "free plan: 60 API calls per minute"),
        "burst": Limit(30, 1, "30 API calls per second on every plan"),
    },
    "cftc": {"requests": Limit(60, 60, "Socrata throttles requests without an app token; keep well under")},
}


TREASURY = SourceInfo(
    "US Treasury",
    "https://home.treasury.gov/resource-center/data-chart-center/interest-rates/TextView?type=daily_treasury_yield_curve",
)
FRED = SourceInfo("FRED", "https://fred.stlouisfed.org/series/")
FINNHUB = SourceInfo("Finnhub", "https://finnhub.io/docs/api/quote")
CFTC = SourceInfo("CFTC", "https://publicreporting.cftc.gov/")


# What a missing key's refusal adds: the macro tools that need no key at all.
KEYLESS_HINT = "; the keyless tools (Treasury, CFTC) work without it"


class MacroClient(ProviderClient):
    """The macro provider's client: Treasury, FRED, Finnhub and CFTC sources, and the shared response cache."""

    def __init__(
        self,
        treasury: SourceClient,
        fred: SourceClient,
        finnhub: SourceClient,
        cftc: SourceClient,
        *,
        cache: ResponseCache | None = None,
    ) -> None:
        """Hold the four sources and the cache."""
        super().__init__(cache=cache)
        self.treasury = treasury
        self.fred = fred
        self.finnhub = finnhub
        self.cftc = cftc

    @classmethod
    async def build(cls, settings: Settings) -> MacroClient:
        """Build the four sources from the macro settings (URLs, keys) on the shared transport."""

        def http(name: str, setting: str) -> UpstreamHTTP:
            return UpstreamHTTP(
                name,
                str(settings.provider_option(PROVIDER, setting)),
                connect_timeout_s=settings.upstream_connect_timeout_s,
                read_timeout_s=settings.upstream_read_timeout_s,
                pool_size=settings.upstream_pool_size,
                default_headers={"Accept": "application/json, application/xml;q=0.9, */*;q=0.1"},
            )

        app_token = secret_text(settings.provider_option(PROVIDER, "cftc_app_token"))
        cftc_http = http("CFTC", "macro_cftc_url")
        if app_token:
            cftc_http = UpstreamHTTP(
                "CFTC",
                cftc_http.base_url,
                connect_timeout_s=settings.upstream_connect_timeout_s,
                read_timeout_s=settings.upstream_read_timeout_s,
                pool_size=settings.upstream_pool_size,
                default_headers={"Accept": "application/json", "X-App-Token": app_token},
            )

        def source(key: str, transport: UpstreamHTTP, table: ErrorTable, **credential: str | None) -> SourceClient:
            return SourceClient(
                transport, table, PACING[key], error_of, missing_hint=KEYLESS_HINT, max_wait_s=MAX_WAIT_S, **credential
            )

        return cls(
            treasury=source("treasury", http("US Treasury", "macro_treasury_url"), TREASURY_ERRORS),
            fred=source(
                "fred",
                http("FRED", "macro_fred_url"),
                FRED_ERRORS,
                secret=secret_text(settings.provider_option(PROVIDER, "fred_api_key")),
                variable="FRED_API_KEY",
            ),
            finnhub=source(
                "finnhub",
                http("Finnhub", "macro_finnhub_url"),
                FINNHUB_ERRORS,
                secret=secret_text(settings.provider_option(PROVIDER, "finnhub_api_key")),
                variable="FINNHUB_API_KEY",
            ),
            cftc=source("cftc", cftc_http, CFTC_ERRORS),
        )

    # --- one method per upstream endpoint -----------------------------------------------------------

    async def treasury_curve_feed(self, *, year: int | None = None, month: str | None = None) -> bytes:
        """GET /resource-center/.../interest-rates/pages/xml?data=daily_treasury_yield_curve (a year or a YYYYMM)."""
        params: dict[str, Any] = {"data": "daily_treasury_yield_curve"}
        if month is not None:
            params["field_tdr_date_value_month"] = month
        else:
            params["field_tdr_date_value"] = year
        response = await self.treasury.get(TREASURY_FEED_PATH, params)
        return response.body

    async def fred_observations(self, params: Mapping[str, Any]) -> Any:
        """GET /fred/series/observations (JSON) with `params` (series_id, observation_start/end, units, ...)."""
        key = self.fred.secret()
        response = await self.fred.get("/fred/series/observations", {**params, "api_key": key, "file_type": "json"})
        return response.json()

    async def fred_series(self, series_id: str) -> Any:
        """GET /fred/series (JSON): a series' title, units, frequency and last update."""
        key = self.fred.secret()
        response = await self.fred.get("/fred/series", {"series_id": series_id, "api_key": key, "file_type": "json"})
        return response.json()

    async def finnhub_quote(self, symbol: str) -> Any:
        """GET /quote?symbol= (the key in the X-Finnhub-Token header, so it never sits in a URL)."""
        key = self.finnhub.secret()
        response = await self.finnhub.get("/quote", {"symbol": symbol}, headers={"X-Finnhub-Token": key})
        return response.json()

    async def finnhub_economic_calendar(self, start: str, end: str) -> Any:
        """GET /calendar/economic?from=YYYY-MM-DD&to=YYYY-MM-DD."""
        key = self.finnhub.secret()
        response = await self.finnhub.get(
            "/calendar/economic", {"from": start, "to": end}, headers={"X-Finnhub-Token": key}
        )
        return response.json()

    async def cftc_rows(self, dataset: str, query: Mapping[str, Any]) -> Any:
        """GET /resource/<dataset>.json with SoQL ($select, $where, $order, $limit, $offset)."""
        response = await self.cftc.get(f"/resource/{dataset}.json", query)
        return response.json()

    async def aclose(self) -> None:
        """Close every source's pool and drop the cache."""
        for source in (self.treasury, self.fred, self.finnhub, self.cftc):
            await source.aclose()
        await super().aclose()
