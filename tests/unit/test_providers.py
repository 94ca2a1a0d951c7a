"""The provider kit: the response cache (TTL, single flight, bounds), budgets, sourced models, cache_for."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import Field, ValidationError

from cerbero_mcp.client_registry import ClientRegistry
from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.common.errors import RateLimitError, UpstreamError
from cerbero_mcp.contracts import ToolContext, ToolSpec
from cerbero_mcp.exchanges.providers import (
    Observation,
    ProviderClient,
    ProviderResponse,
    ResponseCache,
    Source,
    SourceBudget,
    cache_for,
    cached,
    declared_ttl,
    request_key,
)
from cerbero_mcp.settings import Environment, Settings
from cerbero_mcp.simulators.engine.clock import ManualClock
from cerbero_mcp.tooling import ToolRequest, ToolSet
from support import provider_toy

T0 = datetime(2026, 3, 4, 15, tzinfo=UTC).timestamp()
SRC = Source(name="FRED", url="https://fred.stlouisfed.org/series/DGS10")


class Upstream:
    """A fetch that counts its calls, can fail, and can be held until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.hold: asyncio.Event | None = None

    async def __call__(self) -> int:
        self.calls += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise UpstreamError("FRED answered HTTP 503")
        return self.calls


# --- ResponseCache --------------------------------------------------------------------------------


async def test_an_answer_is_kept_for_its_ttl_then_fetched_again() -> None:
    clock, upstream = ManualClock(T0), Upstream()
    cache = ResponseCache(clock=clock)
    assert await cache.get_or_fetch("k", 60, upstream) == (1, "miss")
    clock.advance(59.9)
    assert await cache.get_or_fetch("k", 60, upstream) == (1, "hit")
    clock.advance(0.1)
    assert await cache.get_or_fetch("k", 60, upstream) == (2, "miss")
    assert upstream.calls == 2


async def test_each_entry_has_its_own_ttl() -> None:
    clock, upstream = ManualClock(T0), Upstream()
    cache = ResponseCache(clock=clock)
    await cache.get_or_fetch("short", 5, upstream)
    await cache.get_or_fetch("long", 600, upstream)
    clock.advance(10)
    assert (await cache.get_or_fetch("short", 5, upstream))[1] == "miss"
    assert (await cache.get_or_fetch("long", 600, upstream))[1] == "hit"


async def test_concurrent_identical_calls_share_one_upstream_call() -> None:
    upstream = Upstream()
    upstream.hold = asyncio.Event()
    cache = ResponseCache(clock=ManualClock(T0))
    calls = [asyncio.create_task(cache.get_or_fetch("k", 60, upstream)) for _ in range(10)]
    await asyncio.sleep(0)  # every task runs up to its wait on the shared fetch
    upstream.hold.set()
    results = await asyncio.gather(*calls)
    assert upstream.calls == 1
    assert [value for value, _ in results] == [1] * 10
    assert sorted(status for _, status in results) == ["joined"] * 9 + ["miss"]
    assert await cache.get_or_fetch("k", 60, upstream) == (1, "hit")


async def test_a_failure_reaches_every_waiter_and_is_not_cached() -> None:
    upstream = Upstream()
    upstream.fail, upstream.hold = True, asyncio.Event()
    cache = ResponseCache(clock=ManualClock(T0))
    calls = [asyncio.create_task(cache.get_or_fetch("k", 60, upstream)) for _ in range(3)]
    await asyncio.sleep(0)
    upstream.hold.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, UpstreamError) for result in results)
    assert upstream.calls == 1
    assert len(cache) == 0
    upstream.fail = False
    assert await cache.get_or_fetch("k", 60, upstream) == (2, "miss")


async def test_a_caller_that_goes_away_does_not_cancel_the_shared_fetch() -> None:
    upstream = Upstream()
    upstream.hold = asyncio.Event()
    cache = ResponseCache(clock=ManualClock(T0))
    leaver = asyncio.create_task(cache.get_or_fetch("k", 60, upstream))
    stayer = asyncio.create_task(cache.get_or_fetch("k", 60, upstream))
    await asyncio.sleep(0)
    leaver.cancel()
    upstream.hold.set()
    assert await stayer == (1, "joined")
    assert leaver.cancelled()
    assert await cache.get_or_fetch("k", 60, upstream) == (1, "hit")


async def test_the_cache_is_bounded_dropping_expired_then_least_recently_used() -> None:
    clock = ManualClock(T0)
    cache = ResponseCache(max_entries=2, clock=clock)

    async def value(v: str) -> str:
        return v

    await cache.get_or_fetch("a", 60, lambda: value("a"))
    await cache.get_or_fetch("b", 60, lambda: value("b"))
    await cache.get_or_fetch("a", 60, lambda: value("a2"))  # a hit: "a" is now the most recent
    await cache.get_or_fetch("c", 60, lambda: value("c"))  # "b" goes
    assert len(cache) == 2
    assert await cache.get_or_fetch("a", 60, lambda: value("a3")) == ("a", "hit")
    assert await cache.get_or_fetch("b", 60, lambda: value("b2")) == ("b2", "miss")
    await cache.get_or_fetch("short", 1, lambda: value("s"))
    clock.advance(2)
    await cache.get_or_fetch("d", 60, lambda: value("d"))  # the expired "short" goes first, then the LRU
    assert len(cache) == 2


async def test_aclose_cancels_fetches_in_flight_and_empties_the_cache() -> None:
    upstream = Upstream()
    cache = ResponseCache(clock=ManualClock(T0))
    await cache.get_or_fetch("done", 60, upstream)
    upstream.hold = asyncio.Event()
    waiting = asyncio.create_task(cache.get_or_fetch("k", 60, upstream))
    await asyncio.sleep(0)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(cache) == 0


async def test_ttl_and_size_must_be_positive() -> None:
    cache = ResponseCache()
    with pytest.raises(ValueError, match="ttl_s"):
        await cache.get_or_fetch("k", 0, Upstream())
    with pytest.raises(ValueError, match="max_entries"):
        ResponseCache(max_entries=0)
    with pytest.raises(ValueError, match="ttl_s"):
        cache_for(0)


# --- SourceBudget ---------------------------------------------------------------------------------


def test_a_budget_refuses_past_its_rate_and_says_when_to_retry() -> None:
    clock = ManualClock(T0)
    budget = SourceBudget("FRED", calls=2, per_s=60, clock=clock)
    budget.spend()
    budget.spend()
    with pytest.raises(RateLimitError) as raised:
        budget.spend()
    assert raised.value.retryable is True
    assert raised.value.headers == {"Retry-After": "30"}
    assert raised.value.details == {"source": "FRED", "retry_after_s": 30.0}
    clock.advance(30)  # one call's worth refilled
    budget.spend()
    with pytest.raises(RateLimitError):
        budget.spend()
    clock.advance(3600)  # refills up to the burst, not beyond
    assert budget.remaining() == 2


def test_a_minimum_interval_is_a_budget_of_one_call() -> None:
    clock = ManualClock(T0)
    budget = SourceBudget("CFTC", calls=1, per_s=5, clock=clock)
    budget.spend()
    clock.advance(4)
    with pytest.raises(RateLimitError):
        budget.spend()
    clock.advance(1)
    budget.spend()


# --- sourced data -----------------------------------------------------------------------------------


def test_an_observation_is_in_utc_and_refuses_naive_times_and_nan() -> None:
    cet = timezone(timedelta(hours=1))
    point = Observation(value=4.2, source=SRC, observed_at=datetime(2026, 3, 4, 16, tzinfo=cet), delay_s=900)
    assert point.observed_at == datetime(2026, 3, 4, 15, tzinfo=UTC)
    assert point.observed_at.tzinfo is UTC
    assert point.model_dump(mode="json")["observed_at"] == "2026-03-04T15:00:00Z"
    with pytest.raises(ValidationError, match="timezone"):
        Observation(value=4.2, source=SRC, observed_at=datetime(2026, 3, 4, 15))
    with pytest.raises(ValidationError, match="finite"):
        Observation(value=math.nan, source=SRC, observed_at=datetime(2026, 3, 4, 15, tzinfo=UTC))
    with pytest.raises(ValidationError, match="url"):
        Source(name="FRED", url="ftp://fred")


class Curve(ProviderResponse):
    """A response with observations at several depths."""

    headline: Observation | None = None
    points: list[Observation] = Field(default_factory=list)
    by_tenor: dict[str, Observation] = Field(default_factory=dict)


def at(hour: int) -> Observation:
    """Return an observation made at `hour`:00 UTC on the test day."""
    return Observation(value=float(hour), source=SRC, observed_at=datetime(2026, 3, 4, hour, tzinfo=UTC))


def test_data_timestamp_is_the_oldest_observation_wherever_it_is() -> None:
    curve = Curve(headline=at(14), points=[at(13), at(15)], by_tenor={"10y": at(9)})
    assert curve.data_timestamp == datetime(2026, 3, 4, 9, tzinfo=UTC)
    assert Curve.model_validate_json(curve.model_dump_json()) == curve


def test_an_explicit_data_timestamp_is_kept_and_no_observation_means_now() -> None:
    explicit = datetime(2026, 3, 4, 8, tzinfo=UTC)
    assert Curve(points=[at(13)], data_timestamp=explicit).data_timestamp == explicit
    previous = use_clock(ManualClock(T0))
    try:
        assert Curve().data_timestamp == datetime.fromtimestamp(T0, UTC)
    finally:
        use_clock(previous)
    assert "data_timestamp" in Curve.model_json_schema(mode="serialization")["required"]


# --- cache_for, cached, and the provider's context -----------------------------------------------------


@dataclass
class FakeServices:
    """What a ToolContext reaches: settings and the client registry."""

    settings: Settings
    registry: ClientRegistry
    pipeline: Any = None


def make_ctx(registry: ClientRegistry, venue: str, tool: str, env: Environment = "testnet") -> ToolContext:
    """Return the context of one call to `venue.tool`."""
    services = FakeServices(registry.settings, registry)
    return ToolContext(venue=venue, tool=tool, environment=env, request_id="r", bot_tag="b", state=services)


class Req(ToolRequest):
    """A request with a default."""

    name: str
    limit: int = 10


class Resp(ProviderResponse):
    """One observation."""

    point: Observation


def registry_with(*venues: tuple[str, Any, bool]) -> ClientRegistry:
    """Return a registry with the given (venue, factory, shared) registered."""
    registry = ClientRegistry(Settings.from_mapping({}))
    for venue, factory, shared in venues:
        registry.register(venue, factory, shared=shared)
    return registry


def test_request_key_is_canonical() -> None:
    assert request_key(Req(name="x")) == request_key(Req(limit=10, name="x")) == '{"limit":10,"name":"x"}'
    assert request_key(Req(name="x", limit=11)) != request_key(Req(name="x"))


async def test_cache_for_keys_by_tool_and_request_not_by_token() -> None:
    calls: list[str] = []

    @cache_for(60)
    async def tool(ctx: ToolContext, req: Req) -> Resp:
        """Count the calls."""
        calls.append(req.name)
        return Resp(point=at(len(calls)))

    registry = registry_with(("prov", ProviderClient.build, True))
    first_ctx = make_ctx(registry, "prov", "t", "testnet")
    await tool(first_ctx, Req(name="a"))
    assert first_ctx.response_headers == {"X-Cache": "miss"}
    mainnet_ctx = make_ctx(registry, "prov", "t", "mainnet")
    await tool(mainnet_ctx, Req(name="a", limit=10))
    assert mainnet_ctx.response_headers == {"X-Cache": "hit"}
    await tool(make_ctx(registry, "prov", "t"), Req(name="b"))
    await tool(make_ctx(registry, "prov", "other_tool"), Req(name="a"))
    assert calls == ["a", "b", "a"]
    assert declared_ttl(tool) == 60
    assert tool.__doc__ == "Count the calls."


async def test_a_tool_cached_for_both_tokens_may_not_read_a_venue_client() -> None:
    @dataclass
    class VenueClient:
        env: Environment

    async def venue_factory(settings: Settings, env: Environment) -> VenueClient:
        return VenueClient(env)

    @cache_for(60)
    async def shared(ctx: ToolContext, req: Req) -> Resp:
        """Read a venue: refused."""
        await ctx.venue_client("venue")
        raise AssertionError("unreachable")

    @cache_for(60, per_environment=True)
    async def per_env(ctx: ToolContext, req: Req) -> Resp:
        """Read a venue: allowed, cached per environment."""
        client: VenueClient = await ctx.venue_client("venue")
        return Resp(point=Observation(value=float(client.env == "mainnet"), source=SRC, observed_at=at(9).observed_at))

    registry = registry_with(("prov", ProviderClient.build, True), ("venue", venue_factory, False))
    with pytest.raises(TypeError, match=r"per_environment=True"):
        await shared(make_ctx(registry, "prov", "shared"), Req(name="a"))
    testnet = await per_env(make_ctx(registry, "prov", "per_env", "testnet"), Req(name="a"))
    mainnet = await per_env(make_ctx(registry, "prov", "per_env", "mainnet"), Req(name="a"))
    assert (testnet.point.value, mainnet.point.value) == (0.0, 1.0)


async def test_cached_shares_one_fetch_between_tools() -> None:
    upstream = Upstream()
    registry = registry_with(("prov", ProviderClient.build, True))
    one = await cached(make_ctx(registry, "prov", "tool_a"), ("DGS10",), 60, upstream)
    two = await cached(make_ctx(registry, "prov", "tool_b", "mainnet"), ("DGS10",), 60, upstream)
    assert (one, two, upstream.calls) == (1, 1, 1)


async def test_cache_for_needs_a_provider_client() -> None:
    async def plain(settings: Settings) -> object:
        return object()

    @cache_for(60)
    async def tool(ctx: ToolContext, req: Req) -> Resp:
        """Never runs."""
        raise AssertionError("unreachable")

    registry = registry_with(("prov", plain, True))
    with pytest.raises(TypeError, match="ProviderClient"):
        await tool(make_ctx(registry, "prov", "t"), Req(name="a"))


# --- the provider ToolSet -------------------------------------------------------------------------


def test_a_provider_declares_no_writes() -> None:
    with pytest.raises(TypeError, match="read-only"):
        provider_toy.TOOLS.write("place_order", risk="opens")
    with pytest.raises(TypeError, match="read-only"):
        ToolSet("macro_x", kind="provider").write("cancel_order")
    assert [spec.kind for spec in provider_toy.TOOLS.specs] == ["read", "read"]


def test_the_toy_provider_declares_a_ttl_on_every_tool() -> None:
    specs: list[ToolSpec] = provider_toy.TOOLS.specs
    assert {spec.name: declared_ttl(spec.func) for spec in specs} == {
        "get_rate": provider_toy.RATE_TTL_S,
        "get_toy_orders": provider_toy.VENUE_TTL_S,
    }
    assert all(issubclass(spec.response_model, ProviderResponse) for spec in specs)


def test_a_provider_with_a_per_environment_factory_fails_at_declaration() -> None:
    from support.toy import ToyClient

    with pytest.raises(TypeError, match=r"badprov: a shared \(provider\) client factory takes \(settings\)"):
        ToolSet("badprov", kind="provider", client_factory=ToyClient.build)
