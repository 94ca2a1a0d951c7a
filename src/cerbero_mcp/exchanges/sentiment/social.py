"""get_social: a coin's LunarCrush metrics now (/coins/{coin}/v1) and as a time series (/coins/{coin}/time-series/v2).

The coin endpoint documents price, market cap, Galaxy Score and AltRank, but not the social numbers
of "now": sentiment, social volume and dominance and 24-hour interactions are fields of the coins list
(/coins/list/v1, the top 1000 coins by market cap read once and cached, up to an hour behind at the
source) and, per hour, of the time series. `now` takes each from the coin endpoint, else from the
coins list (`from_coins_list`), else from the latest hourly bucket (`from_latest_bucket`); a value
none of them sends stays null.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.providers import Source, cached
from cerbero_mcp.exchanges.sentiment.client import LUNARCRUSH, SentimentClient
from cerbero_mcp.exchanges.sentiment.parsing import (
    CoinNow,
    parse_lunarcrush_coin,
    parse_lunarcrush_coins_list,
    parse_lunarcrush_series,
)
from cerbero_mcp.exchanges.sentiment.schemas import (
    MAX_DAY_RANGE_DAYS,
    MAX_HOUR_RANGE_DAYS,
    Social,
    SocialNow,
    SocialPoint,
    SocialRequest,
)
from cerbero_mcp.exchanges.sentiment.toolset import client_of, sentiment_tool

# LunarCrush refreshes its metrics hourly on the Individual plan, which allows 10 calls a minute:
# five minutes for the coin, ten for a series (whose past buckets do not change).
COIN_TTL_S = 300.0
SERIES_TTL_S = 600.0
SOCIAL_TTL_S = 60.0
LIST_TTL_S = 600.0
# The top 1000 by market cap in one call (the documented maximum page): every coin an agent is likely
# to ask about, for one call every ten minutes whatever the number of coins asked.
LIST_PARAMS = {"sort": "market_cap_rank", "limit": 1000}
DEFAULT_SPAN = {"hour": timedelta(days=2), "day": timedelta(days=30)}
MAX_SPAN = {"hour": timedelta(days=MAX_HOUR_RANGE_DAYS), "day": timedelta(days=MAX_DAY_RANGE_DAYS)}
BUCKET = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
COIN_SOURCE = Source(name=LUNARCRUSH.name, url="https://lunarcrush.com/developers/api/endpoints#coins")
SOCIAL_FIELDS = ("galaxy_score", "alt_rank", "sentiment", "social_volume_24h", "social_dominance", "interactions_24h")
# `now` fields an hourly bucket also carries, under the same name.
BUCKET_FIELDS = ("galaxy_score", "alt_rank", "sentiment", "social_dominance")


def _floor(when: datetime, bucket: str) -> datetime:
    when = when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0) if bucket == "day" else when


def window(start: datetime | None, end: datetime | None, bucket: str) -> tuple[datetime, datetime]:
    """Return the series window: defaults filled, start floored to its bucket, the span bounded."""
    last = (end or utcnow()).astimezone(UTC).replace(second=0, microsecond=0)
    first = _floor(start or last - DEFAULT_SPAN[bucket], bucket)
    if last - first > MAX_SPAN[bucket]:
        days = MAX_SPAN[bucket].days
        raise InvalidInputError(
            f"the {bucket} series spans at most {days} days",
            details={"field": "start", "max_days": days, "bucket": bucket},
            suggested_fix=f"narrow start..end to {days} days" + (" or ask for bucket=day" if bucket == "hour" else ""),
        )
    if first >= last:
        raise InvalidInputError("start must be before end", details={"field": "start"})
    return first, last


def coin_path(coin: str) -> str:
    """Return the coin as LunarCrush's path takes it: a numeric id as is, a symbol in upper case."""
    return coin if coin.isdigit() else coin.upper()


async def _coin(ctx: ToolContext, client: SentimentClient, coin: str) -> tuple[CoinNow, datetime]:
    async def fetch() -> tuple[CoinNow, datetime]:
        return parse_lunarcrush_coin(await client.lunarcrush_coin(coin)), utcnow()

    return await cached(ctx, ("lunarcrush-coin", coin), COIN_TTL_S, fetch)


async def _series(
    ctx: ToolContext, client: SentimentClient, coin: str, bucket: str, start: datetime, end: datetime
) -> tuple[list[SocialPoint], datetime]:
    params = {"bucket": bucket, "start": int(start.timestamp()), "end": int(end.timestamp())}

    async def fetch() -> tuple[list[SocialPoint], datetime]:
        points, _ = parse_lunarcrush_series(await client.lunarcrush_time_series(coin, params))
        return points, utcnow()

    return await cached(ctx, ("lunarcrush-series", coin, tuple(sorted(params.items()))), SERIES_TTL_S, fetch)


async def _listed(ctx: ToolContext, client: SentimentClient, coin: str) -> CoinNow | None:
    async def fetch() -> list[CoinNow]:
        return parse_lunarcrush_coins_list(await client.lunarcrush_coins_list(LIST_PARAMS))

    try:
        rows = await cached(ctx, ("lunarcrush-coins-list",), LIST_TTL_S, fetch)
    except CerberoError:
        return None  # the list only completes `now`: without it the hourly bucket does
    return next((row for row in rows if coin in (row.id, row.symbol)), None)


def now_of(coin: CoinNow, listed: CoinNow | None, latest: SocialPoint | None, fetched_at: datetime) -> SocialNow:
    """Return the current metrics: the coin endpoint's, else the coins list's, else the latest hourly bucket's."""
    values: dict[str, float | int | None] = {name: getattr(coin, name) for name in SOCIAL_FIELDS}
    from_list: list[str] = []
    from_bucket: list[str] = []
    for name in SOCIAL_FIELDS:
        if values[name] is None and listed is not None and getattr(listed, name) is not None:
            values[name] = getattr(listed, name)
            from_list.append(name)
    for name in BUCKET_FIELDS:
        if values[name] is None and latest is not None and getattr(latest, name) is not None:
            values[name] = getattr(latest, name)
            from_bucket.append(name)
    return SocialNow(
        source=COIN_SOURCE,
        observed_at=coin.generated or fetched_at,
        name=coin.name or (listed.name if listed else None),
        symbol=coin.symbol or (listed.symbol if listed else None),
        price=coin.price,
        market_cap=coin.market_cap,
        interactions_1h=latest.interactions if latest else None,
        posts_active_1h=latest.posts_active if latest else None,
        from_coins_list=from_list,
        latest_bucket_at=latest.time if latest else None,
        from_latest_bucket=from_bucket,
        **values,
    )


@sentiment_tool("get_social", SOCIAL_TTL_S)
async def get_social(ctx: ToolContext, req: SocialRequest) -> Social:
    """Return a coin's LunarCrush social metrics now and as an hourly or daily series (needs LUNARCRUSH_KEY).

    Galaxy Score (0-100), AltRank (1 = best), sentiment (% positive posts, interaction-weighted), social
    dominance (%), interactions and active posts (social volume). Hourly series span at most 31 days,
    daily at most 366. The coin's name is untrusted third-party text.
    """
    client = await client_of(ctx)
    client.lunarcrush.secret()
    coin = coin_path(req.coin)
    start, end = window(req.start, req.end, req.bucket)
    now, coin_read = await _coin(ctx, client, coin)
    points: list[SocialPoint] = []
    series_read = coin_read
    if req.series:
        points, series_read = await _series(ctx, client, coin, req.bucket, start, end)
        points = [p for p in points if start <= p.time <= end]
    listed = await _listed(ctx, client, coin)
    latest = points[-1] if points and req.bucket == "hour" else None
    if latest is None and listed is None:
        # Neither an hourly series nor the coins list: the latest hourly bucket is the only "now" left
        # for the social numbers (an extra call, only then: LunarCrush's plans allow 10 a minute).
        recent, _ = await _series(ctx, client, coin, "hour", _floor(end - timedelta(hours=3), "hour"), end)
        latest = recent[-1] if recent else None
    fetched_at = min(coin_read, series_read)
    return Social(
        coin=now.symbol or coin,
        now=now_of(now, listed, latest, coin_read),
        bucket=req.bucket,
        start=start,
        end=end,
        series=points,
        fetched_at=fetched_at,
    )
