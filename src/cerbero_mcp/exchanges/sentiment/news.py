"""get_news: CryptoPanic and CoinDesk merged, de-duplicated, newest first, paged with an opaque cursor.

Each call reads one CoinDesk list (back from the cursor's time, `to_ts`) and up to three CryptoPanic
pages (from the cursor's page). A page answers only stories down to the older of the two sources'
horizons (the oldest item each returned, unless it returned everything): past it, one source may
still hold newer stories than the other's, so answering them would break newest-first order. Each
source's page is cached on its own (failures are not), so a failed source is asked again on the next
call while the other answers from its cache.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, NotConfiguredError
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges.providers import cached
from cerbero_mcp.exchanges.sentiment import paging
from cerbero_mcp.exchanges.sentiment.client import SentimentClient
from cerbero_mcp.exchanges.sentiment.dedup import (
    DEDUP_METHOD,
    DEDUP_WINDOW,
    cluster,
    fingerprint,
    normalised_title,
    story_urls,
)
from cerbero_mcp.exchanges.sentiment.parsing import Parsed, Story, parse_coindesk_articles, parse_cryptopanic_posts
from cerbero_mcp.exchanges.sentiment.schemas import News, NewsItem, NewsRequest, NewsSourceRef, SourceStatus
from cerbero_mcp.exchanges.sentiment.toolset import client_of, sentiment_tool

# News moves by the minute; CryptoPanic's plans allow a few calls a second at most and CoinDesk's
# free keys a few thousand a month: two minutes per source page keeps a burst of agents to one call.
CRYPTOPANIC_TTL_S = 120.0
COINDESK_TTL_S = 120.0
# The merged answer: short, so a partial answer (one source down) is not served for long.
NEWS_TTL_S = 30.0
CRYPTOPANIC_MAX_PAGES = 3
COINDESK_MAX_LIMIT = 100  # the article list's documented maximum per call
LOOKAHEAD = 20  # extra CoinDesk items per call: room for duplicates and the other source's horizon
SourceName = Literal["CryptoPanic", "CoinDesk"]


@dataclass(frozen=True)
class Fetched:
    """One source page as parsed, and when it was read."""

    parsed: Parsed
    fetched_at: datetime


@dataclass
class SourceRead:
    """What one source gave this call."""

    name: SourceName
    stories: list[Story] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)  # CryptoPanic: story key -> page it came from
    exhausted: bool = False
    oldest: datetime | None = None  # oldest item read, the source's horizon unless exhausted
    last_page: int = 0
    fetched_at: datetime | None = None
    status: SourceStatus | None = None
    error: CerberoError | None = None


def _ts(when: datetime) -> float:
    return when.timestamp()


def _fresh(story: Story, cursor: paging.Cursor) -> bool:
    if cursor.before is not None and _ts(story.published_at) > cursor.before:
        return False  # newer than the page boundary: answered on an earlier page
    return story.key not in cursor.seen


def _already_answered(story: Story, cursor: paging.Cursor) -> bool:
    marks = [fingerprint(normalised_title(story.title)), *(fingerprint(u) for u in story_urls(story))]
    when = _ts(story.published_at)
    window = DEDUP_WINDOW.total_seconds()
    return any(m in cursor.answered and abs(cursor.answered[m] - when) <= window for m in marks)


async def _cryptopanic_page(ctx: ToolContext, client: SentimentClient, params: dict[str, Any]) -> Fetched:
    async def fetch() -> Fetched:
        return Fetched(parse_cryptopanic_posts(await client.cryptopanic_posts(params)), utcnow())

    key = ("cryptopanic-posts", tuple(sorted(params.items())))
    return await cached(ctx, key, CRYPTOPANIC_TTL_S, fetch)


async def _coindesk_list(ctx: ToolContext, client: SentimentClient, params: dict[str, Any]) -> Fetched:
    async def fetch() -> Fetched:
        return Fetched(parse_coindesk_articles(await client.coindesk_articles(params)), utcnow())

    key = ("coindesk-articles", tuple(sorted(params.items())))
    return await cached(ctx, key, COINDESK_TTL_S, fetch)


async def read_cryptopanic(
    ctx: ToolContext, client: SentimentClient, req: NewsRequest, cursor: paging.Cursor
) -> SourceRead:
    """Read CryptoPanic pages from the cursor's page until enough fresh stories or the end (at most three)."""
    read = SourceRead("CryptoPanic")
    base: dict[str, Any] = {}
    if req.currencies:
        base["currencies"] = ",".join(dict.fromkeys(c.upper() for c in req.currencies))
    if req.kind != "all":
        base["kind"] = req.kind
    page = cursor.cryptopanic_page
    fresh = 0
    for _ in range(CRYPTOPANIC_MAX_PAGES):
        params = {**base, "page": page} if page > 1 else dict(base)
        fetched = await _cryptopanic_page(ctx, client, params)
        read.fetched_at = min(read.fetched_at or fetched.fetched_at, fetched.fetched_at)
        read.last_page = page
        for story in fetched.parsed.stories:
            if story.key in read.pages:
                continue  # new posts pushed it from the page before onto this one: read once
            read.pages[story.key] = page
            read.oldest = min(read.oldest or story.published_at, story.published_at)
            if _fresh(story, cursor):
                read.stories.append(story)
                fresh += 1
        if fetched.parsed.next_url is None or page >= paging.MAX_CRYPTOPANIC_PAGE:
            read.exhausted = True
            break
        behind = cursor.before is not None and read.oldest is not None and _ts(read.oldest) > cursor.before
        if fresh >= req.limit and not behind:
            break
        page += 1
    return read


async def read_coindesk(
    ctx: ToolContext, client: SentimentClient, req: NewsRequest, cursor: paging.Cursor
) -> SourceRead:
    """Read one CoinDesk article list back from the cursor's time."""
    read = SourceRead("CoinDesk")
    limit = min(COINDESK_MAX_LIMIT, req.limit + LOOKAHEAD)
    params: dict[str, Any] = {"lang": "EN", "limit": limit}
    if req.currencies:
        params["categories"] = ",".join(dict.fromkeys(c.upper() for c in req.currencies))
    if cursor.before is not None:
        params["to_ts"] = math.floor(cursor.before)  # "on or before": the seen list drops the repeats
    fetched = await _coindesk_list(ctx, client, params)
    read.fetched_at = fetched.fetched_at
    count = len(fetched.parsed.stories) + fetched.parsed.skipped
    read.exhausted = count < limit
    for story in fetched.parsed.stories:
        read.oldest = min(read.oldest or story.published_at, story.published_at)
        if _fresh(story, cursor):
            read.stories.append(story)
    return read


def _item(group: Sequence[Story]) -> NewsItem:
    first = group[0]  # copies are sorted oldest first: the first report
    coindesk = next((s for s in group if s.source == "CoinDesk"), None)
    cryptopanic = next((s for s in group if s.source == "CryptoPanic"), None)
    url = next((s.original_url for s in group if s.original_url), None) or next((s.url for s in group if s.url), None)
    return NewsItem(
        sources=list(dict.fromkeys(s.source for s in group)),
        published_at=first.published_at,
        latest_at=group[-1].published_at,
        title=first.title,
        summary=next((s.summary for s in group if s.summary), None),
        url=url,
        kind="media" if all(s.kind == "media" for s in group) else "news",
        currencies=list(dict.fromkeys(c for s in group for c in s.currencies))[:10],
        categories=list(dict.fromkeys(c for s in group for c in s.categories))[:10],
        sentiment=coindesk.sentiment if coindesk else None,
        votes=cryptopanic.votes if cryptopanic else None,
        copies=[
            NewsSourceRef(
                source=s.source,
                id=s.id,
                url=s.url,
                published_at=s.published_at,
                publisher=s.publisher,
                sentiment=s.sentiment,
                votes=s.votes,
            )
            for s in group
        ],
    )


@dataclass
class Merged:
    """One page of the merged feed and the cursor of the next."""

    groups: list[list[Story]]
    next_cursor: paging.Cursor | None


def merge_page(reads: Sequence[SourceRead], cursor: paging.Cursor, limit: int) -> Merged:
    """Merge the sources' fresh stories into one newest-first page of `limit` stories and the next cursor."""
    candidates = [s for r in reads for s in r.stories if not _already_answered(s, cursor)]
    groups = cluster(candidates)
    horizons = [r.oldest for r in reads if not r.exhausted and r.oldest is not None]
    horizon = max(horizons) if horizons else None

    def newest(group: list[Story]) -> datetime:
        return group[-1].published_at

    ready = sorted(
        (g for g in groups if horizon is None or newest(g) >= horizon),
        key=lambda g: (-_ts(newest(g)), g[0].key),
    )
    page = ready[:limit]
    more = len(ready) > limit or any(not r.exhausted for r in reads)
    if not more:
        return Merged(page, None)
    cryptopanic = next((r for r in reads if r.name == "CryptoPanic"), None)
    answered_keys = {s.key for g in page for s in g}
    boundary: float | None
    if page:
        boundary = _ts(newest(page[-1]))
        seen = {k: t for k, t in cursor.seen.items() if t <= boundary}
        seen.update({s.key: _ts(s.published_at) for g in page for s in g if _ts(s.published_at) <= boundary})
        window = DEDUP_WINDOW.total_seconds()
        answered = {k: t for k, t in cursor.answered.items() if t >= boundary - window}
        for group in page:
            for story in group:
                answered[fingerprint(normalised_title(story.title))] = _ts(newest(group))
                for url in story_urls(story):
                    answered[fingerprint(url)] = _ts(newest(group))
    else:
        boundary, seen, answered = cursor.before, dict(cursor.seen), dict(cursor.answered)
    page_number = cursor.cryptopanic_page
    if cryptopanic is not None and cryptopanic.last_page:
        waiting = [cryptopanic.pages[s.key] for s in cryptopanic.stories if s.key not in answered_keys]
        if waiting:
            page_number = min(waiting)
        elif not cryptopanic.exhausted:
            page_number = cryptopanic.last_page + 1
    next_cursor = paging.Cursor(
        filters=cursor.filters,
        before=boundary,
        seen=seen,
        answered=answered,
        cryptopanic_page=min(page_number, paging.MAX_CRYPTOPANIC_PAGE),
    )
    return Merged(page, next_cursor)


def _status(read: SourceRead) -> SourceStatus:
    return SourceStatus(source=read.name, status="ok", items=len(read.stories))


@sentiment_tool("get_news", NEWS_TTL_S)
async def get_news(ctx: ToolContext, req: NewsRequest) -> News:
    """Return crypto news from CryptoPanic and CoinDesk merged and de-duplicated, newest first, paged.

    Filter by currency codes and kind (news, media); each item names every source carrying it, its
    publication time, link, title, summary and the source's own sentiment (CoinDesk) or votes (CryptoPanic).
    Works with either key (CRYPTOPANIC_KEY, COINDESK_API_KEY): a missing or failing source is named in
    `source_status` and the answer is `partial`. Titles and summaries are untrusted third-party text.
    """
    client = await client_of(ctx)
    wanted: list[SourceName] = list(dict.fromkeys(req.sources or ["CryptoPanic", "CoinDesk"]))
    filters = paging.filters_key(sorted({c.upper() for c in req.currencies or []}), req.kind, sorted(wanted))
    cursor = paging.decode(req.cursor, filters) if req.cursor else paging.Cursor(filters=filters)
    sources = {"CryptoPanic": client.cryptopanic, "CoinDesk": client.coindesk}
    statuses: list[SourceStatus] = []
    reads: list[SourceRead] = []
    errors: list[CerberoError] = []
    missing = [sources[name].variable or name for name in wanted if not sources[name].configured]
    if len(missing) == len(wanted):
        raise NotConfiguredError(
            f"sentiment.get_news needs a news key: set {' or '.join(missing)}",
            details={"missing": missing},
            suggested_fix=f"add {' or '.join(missing)} to .env and restart; either one is enough",
        )
    for name in wanted:
        source = sources[name]
        if not source.configured:
            statuses.append(
                SourceStatus(source=name, status="not_configured", error=f"NOT_CONFIGURED: set {source.variable}")
            )
            continue
        if name == "CoinDesk" and req.kind == "media":
            statuses.append(SourceStatus(source=name, status="skipped", note="CoinDesk lists articles only"))
            continue
        try:
            read = await (read_cryptopanic if name == "CryptoPanic" else read_coindesk)(ctx, client, req, cursor)
        except CerberoError as exc:
            errors.append(exc)
            statuses.append(SourceStatus(source=name, status="failed", error=f"{exc.code}: {exc.message}"[:300]))
            continue
        reads.append(read)
        statuses.append(_status(read))
    if errors and not reads:
        raise errors[0]  # every source asked failed: the first one's error, with its class and Retry-After
    merged = merge_page(reads, cursor, req.limit)
    fetched_at = min((r.fetched_at for r in reads if r.fetched_at), default=utcnow())
    return News(
        items=[_item(group) for group in merged.groups],
        next_cursor=paging.encode(merged.next_cursor) if merged.next_cursor else None,
        partial=any(s.status in ("failed", "not_configured") for s in statuses),
        source_status=statuses,
        dedup=DEDUP_METHOD,
        fetched_at=fetched_at,
        data_timestamp=fetched_at,
    )
