"""The provider kit: what a read-only data provider (macro, sentiment) builds on.

A provider is a `ToolSet(name, kind="provider", client_factory=MyClient.build)` whose client is a
`ProviderClient`: one client, built once by `build(settings)`, serves both tokens (sources such as
FRED have no testnet). Each tool declares how long its answer stays fresh, once:

    TOOLS = ToolSet("macro", kind="provider", client_factory=MacroClient.build)

    @TOOLS.read("get_fred_series")
    @cache_for(ttl_s=3600)
    async def get_fred_series(ctx: ToolContext, req: FredSeriesRequest) -> FredSeries:
        \"\"\"Return a FRED series.\"\"\"
        client: MacroClient = await ctx.client()
        ...

The answer is kept per (tool, canonical request) in the client's `ResponseCache` and serves both
tokens; a tool that reads a trading venue's client (`ctx.venue_client("bybit")`, whose testnet and
mainnet data differ) declares `cache_for(..., per_environment=True)`. Every number a provider
returns is an `Observation` naming its `Source` and when it was observed; a `ProviderResponse`'s
`data_timestamp` is its oldest observation. A `SourceBudget` keeps a client within a source's
published rate limit.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, model_validator

from cerbero_mcp.common.clock import Clock, current, utcnow
from cerbero_mcp.common.errors import CerberoError, NotConfiguredError, RateLimitError
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse
from cerbero_mcp.common.pacing import Limit, Pacer
from cerbero_mcp.contracts import ToolContext, ToolResponse
from cerbero_mcp.exchanges.base import ErrorTable
from cerbero_mcp.settings import Settings

__all__ = [
    "CacheStatus",
    "Observation",
    "ProviderClient",
    "ProviderResponse",
    "ResponseCache",
    "Source",
    "SourceBudget",
    "Sourced",
    "cache_for",
    "cached",
    "declared_ttl",
    "request_key",
    "sourced_items",
]

T = TypeVar("T")
Req = TypeVar("Req", bound=BaseModel)
Resp = TypeVar("Resp", bound=BaseModel)
CacheStatus = Literal["hit", "miss", "joined"]
CACHE_HEADER = "X-Cache"


# --- what every data point carries ---------------------------------------------------------------


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Source(BaseModel):
    """Who published a data point, and where it was read."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64, description="The publisher, e.g. FRED, CFTC, CryptoPanic.")
    url: str = Field(pattern=r"^https?://", max_length=2048, description="The dataset or endpoint it was read from.")


class Sourced(BaseModel):
    """Base of anything a provider returns: its source and when the source observed it."""

    source: Source
    observed_at: UtcDatetime = Field(description="When the source observed or published this (UTC).")
    delay_s: float | None = Field(
        None,
        ge=0,
        description="How late the source publishes this, in seconds (e.g. 900 for a 15-minute delayed quote); "
        "null when it is not delayed.",
    )


class Observation(Sourced):
    """One number from one source at one time."""

    # float, not Decimal: these are analytics inputs (yields, rates, scores), which the project keeps
    # in float64, and a float is a JSON number for agents where pydantic writes a Decimal as a string.
    value: float = Field(allow_inf_nan=False, description="The observed value (a missing value is left out).")
    unit: str | None = Field(None, max_length=32, description="Unit of the value, e.g. percent, USD, index.")


def sourced_items(value: Any) -> Iterator[Sourced]:
    """Yield every `Sourced` item inside a model, list, tuple or dict, depth first."""
    if isinstance(value, Sourced):
        yield value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from sourced_items(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from sourced_items(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from sourced_items(item)


class ProviderResponse(ToolResponse):
    """Base of a provider tool's response: unless given, `data_timestamp` is its oldest observation."""

    # data_timestamp has a default (below) only so tools need not pass it; responses always carry it.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    data_timestamp: datetime = Field(
        default_factory=utcnow,
        description="The oldest observation in this response (UTC); when it holds none, when it was answered.",
    )

    @model_validator(mode="after")
    def _oldest_observation(self) -> Self:
        if "data_timestamp" not in self.model_fields_set:
            oldest = min((item.observed_at for item in sourced_items(self)), default=None)
            if oldest is not None:
                self.data_timestamp = oldest
        return self


# --- the response cache ---------------------------------------------------------------------------


class ResponseCache:
    """A bounded in-memory cache with a TTL per entry; concurrent misses of one key share one fetch.

    Written here rather than taken from a library: the asyncio caches (aiocache, async-lru) expire
    entries on the event loop's real time, so tests could not move their clock, and none shares one
    in-flight call among concurrent misses while leaving failures uncached. cachetools' TLRUCache
    would cover only the bounded storage below, a dozen lines, at the price of a dependency.
    """

    def __init__(self, max_entries: int = 1024, *, clock: Clock | None = None) -> None:
        """Keep at most `max_entries` answers; time comes from `clock` (default: the process clock)."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()  # key → (expires_at, value)
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    def _now(self) -> float:
        return (self._clock or current()).now()

    def __len__(self) -> int:
        return len(self._entries)

    async def get_or_fetch(
        self, key: Hashable, ttl_s: float, fetch: Callable[[], Awaitable[T]]
    ) -> tuple[T, CacheStatus]:
        """Return the fresh answer of `key`, or fetch it once for every concurrent caller and keep it `ttl_s`."""
        if not ttl_s > 0:
            raise ValueError("ttl_s must be positive")
        entry = self._entries.get(key)
        if entry is not None:
            expires_at, value = entry
            if self._now() < expires_at:
                self._entries.move_to_end(key)
                return value, "hit"
            del self._entries[key]
        status: CacheStatus = "joined"
        future = self._inflight.get(key)
        if future is None:
            status = "miss"
            # A task of its own: the fetch outlives any one caller, so a caller that goes away
            # (client disconnected) neither cancels it for the others nor loses its answer.
            future = asyncio.ensure_future(fetch())
            self._inflight[key] = future
            future.add_done_callback(functools.partial(self._settle, key, ttl_s))
        value = await asyncio.shield(future)
        return value, status

    def _settle(self, key: Hashable, ttl_s: float, future: asyncio.Future[Any]) -> None:
        # Runs before the waiters resume (callbacks run in the order added), so they find the entry.
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if future.cancelled() or future.exception() is not None:  # exception(): retrieved, not logged
            return  # failures are not cached: the next call asks the source again
        self._entries[key] = (self._now() + ttl_s, future.result())
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            now = self._now()
            for stale in [k for k, (expires_at, _) in self._entries.items() if expires_at <= now]:
                del self._entries[stale]
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # the least recently used

    def invalidate(self, key: Hashable) -> None:
        """Drop the answer of `key`, if kept."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop every kept answer."""
        self._entries.clear()

    async def aclose(self) -> None:
        """Cancel the fetches in flight and drop every answer."""
        pending = list(self._inflight.values())
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._inflight.clear()
        self._entries.clear()


# --- a source's rate limit ------------------------------------------------------------------------


class SourceBudget:
    """A source's request budget, `calls` per `per_s` seconds (a token bucket): past it, RATE_LIMIT.

    Refusing (429, retryable, with Retry-After) rather than waiting keeps a slow source from holding
    a request open; the cache in front of it means the budget is only spent on misses. A minimum
    interval between calls is `SourceBudget(name, calls=1, per_s=interval)`.
    """

    def __init__(self, source: str, calls: int, per_s: float, *, clock: Clock | None = None) -> None:
        """Allow `calls` calls per `per_s` seconds to `source`, bursts up to `calls`."""
        if calls < 1 or not per_s > 0:
            raise ValueError("a budget needs calls >= 1 and per_s > 0")
        self.source = source
        self.calls = calls
        self.per_s = per_s
        self._clock = clock
        self._tokens = float(calls)
        self._updated: float | None = None

    def _now(self) -> float:
        return (self._clock or current()).now()

    def remaining(self) -> float:
        """Return how many calls may be made now."""
        now = self._now()
        if self._updated is not None:
            refill = max(0.0, now - self._updated) * self.calls / self.per_s
            self._tokens = min(float(self.calls), self._tokens + refill)
        self._updated = now
        return self._tokens

    def spend(self, calls: int = 1) -> None:
        """Take `calls` from the budget before calling the source, or raise RATE_LIMIT saying when to retry."""
        available = self.remaining()
        if available < calls:
            wait_s = (calls - available) * self.per_s / self.calls
            raise RateLimitError(
                f"the gateway's budget for {self.source} ({self.calls} calls per {self.per_s:g} s) is spent",
                details={"source": self.source, "retry_after_s": round(wait_s, 3)},
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
                suggested_fix="retry after the Retry-After seconds; identical calls within a tool's TTL are free",
            )
        self._tokens = available - calls


# --- the provider's client and the cached tools ---------------------------------------------------


@dataclass(frozen=True)
class SourceInfo:
    """What an outside source is called in answers and where it is documented."""

    name: str
    url: str


# A provider's `error_of`: the common error of a source's non-2xx answer, with its key masked.
ErrorOf = Callable[..., CerberoError]


def secret_text(value: Any) -> str | None:
    """Return a setting's secret as stripped text, or None when unset or blank."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value.strip() or None if isinstance(value, str) else None


class SourceClient:
    """One outside source of a provider: its transport, its pacer, its error table and its key (if it needs one).

    A source whose key is missing is still built: its calls raise 503 NOT_CONFIGURED naming the variable,
    so the provider's other sources keep working.
    """

    def __init__(
        self,
        http: UpstreamHTTP,
        table: ErrorTable,
        limits: Mapping[str, Limit],
        error_of: ErrorOf,
        *,
        secret: str | None = None,
        variable: str | None = None,
        missing_hint: str = "",
        max_wait_s: float = 5.0,
    ) -> None:
        """Send through `http` paced by `limits`; `variable` names the setting a missing `secret` needs."""
        self.http = http
        self.table = table
        self.pacer = Pacer(table.venue, limits, max_wait_s=max_wait_s)
        self._keys = tuple(limits)
        self._error_of = error_of
        self._secret = secret
        self.variable = variable
        self._missing_hint = missing_hint
        self.calls = 0  # upstream requests sent (tests and the benches read it)

    @property
    def name(self) -> str:
        """Return the source's name as answers show it."""
        return self.table.venue

    @property
    def configured(self) -> bool:
        """Return whether the source has the key it needs (always, for a keyless source)."""
        return self.variable is None or bool(self._secret)

    def secret(self) -> str:
        """Return the source's key, or raise 503 NOT_CONFIGURED naming the variable."""
        if not self._secret:
            variable = self.variable or "?"
            raise NotConfiguredError(
                f"{self.name} needs an API key: set {variable}",
                details={"source": self.name, "missing": [variable]},
                suggested_fix=f"add {variable} to .env and restart{self._missing_hint}",
            )
        return self._secret

    async def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """GET `path` once the pace allows it; a non-2xx answer raises the source's common error."""
        await self.pacer.acquire(*self._keys)
        self.calls += 1
        response = await self.http.request("GET", path, params=params, headers=headers)
        if response.status >= 300:
            raise self._error_of(self.table, response, secrets=(self._secret or "",))
        return response

    async def aclose(self) -> None:
        """Close the source's connection pool."""
        await self.http.aclose()


class ProviderClient:
    """Base of a provider's one client (both tokens): holds the response cache its tools use."""

    def __init__(self, *, cache: ResponseCache | None = None) -> None:
        """Use `cache`, or a new one on the process clock."""
        self.cache = cache if cache is not None else ResponseCache()

    @classmethod
    async def build(cls, settings: Settings) -> Self:
        """Build the client; a subclass reads its settings and opens its sessions here."""
        return cls()

    async def aclose(self) -> None:
        """Cancel fetches in flight and drop the cache (a subclass also closes its sessions)."""
        await self.cache.aclose()


class _SharedContext(ToolContext):
    """The context of a call whose answer serves both tokens: no per-environment venue clients."""

    async def venue_client(self, venue: str) -> Any:
        """Refuse: a venue's testnet and mainnet data differ, so the answer could cross tokens."""
        raise TypeError(
            f"{self.venue}.{self.tool} reads {venue!r}'s client but its cache serves both tokens: "
            "declare cache_for(..., per_environment=True)"
        )


def request_key(request: BaseModel) -> str:
    """Return the canonical form of a request: equal requests (defaults given or not) give equal keys."""
    return json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


async def _provider_cache(ctx: ToolContext) -> ResponseCache:
    client = await ctx.client()
    cache = getattr(client, "cache", None)
    if not isinstance(cache, ResponseCache):
        raise TypeError(f"{ctx.venue}'s client has no ResponseCache: make it a ProviderClient")
    return cache


def cache_for(
    ttl_s: float, *, per_environment: bool = False
) -> Callable[[Callable[[ToolContext, Req], Awaitable[Resp]]], Callable[[ToolContext, Req], Awaitable[Resp]]]:
    """Cache a provider tool's answer for `ttl_s` seconds per request; put it under `@TOOLS.read(...)`.

    The key is the tool and the canonical request; `per_environment=True` adds the caller's
    environment, which a tool reading a trading venue's client needs (and without it, such a tool is
    refused the venue client). The response says `X-Cache: hit | miss | joined` over REST.
    """
    if not ttl_s > 0:
        raise ValueError("ttl_s must be positive")

    def decorator(func: Callable[[ToolContext, Req], Awaitable[Resp]]) -> Callable[[ToolContext, Req], Awaitable[Resp]]:
        @functools.wraps(func)
        async def wrapper(ctx: ToolContext, req: Req) -> Resp:
            cache = await _provider_cache(ctx)
            key = ("tool", ctx.tool, ctx.environment if per_environment else None, request_key(req))
            call_ctx = ctx if per_environment else _SharedContext(**{f.name: getattr(ctx, f.name) for f in fields(ctx)})
            value, status = await cache.get_or_fetch(key, ttl_s, lambda: func(call_ctx, req))
            ctx.response_headers[CACHE_HEADER] = status
            return value

        wrapper.__dict__["cache_ttl_s"] = ttl_s
        return wrapper

    return decorator


def declared_ttl(func: Callable[..., Any]) -> float | None:
    """Return the TTL a tool function declared with `cache_for`, or None."""
    ttl = getattr(func, "cache_ttl_s", None)
    return float(ttl) if isinstance(ttl, int | float) else None


async def cached(
    ctx: ToolContext,
    key: Hashable,
    ttl_s: float,
    fetch: Callable[[], Awaitable[T]],
    *,
    per_environment: bool = False,
) -> T:
    """Return `fetch()`'s answer kept `ttl_s` under `key` in the provider's cache (e.g. a series several tools read)."""
    cache = await _provider_cache(ctx)
    value, _ = await cache.get_or_fetch(("key", ctx.environment if per_environment else None, key), ttl_s, fetch)
    return value
