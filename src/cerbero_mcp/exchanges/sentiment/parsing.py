"""Parsing of the sources' bodies into the provider's own records; every text field goes through `untrusted`.

    CryptoPanic  {"next": url|null, "previous": url|null, "results": [{"id", "slug", "title", "description",
                 "published_at", "created_at", "kind", "source": {"title", "region", "domain"}, "url",
                 "original_url", "instruments" | "currencies": [{"code", "title"}], "votes": {...}}]}
    CoinDesk     {"Data": [{"ID", "GUID", "PUBLISHED_ON" (unix s), "TITLE", "SUBTITLE", "URL", "BODY",
                 "KEYWORDS", "SENTIMENT" (POSITIVE|NEGATIVE|NEUTRAL), "SOURCE_DATA": {"NAME"},
                 "CATEGORY_DATA": [{"NAME", "CATEGORY"}]}], "Err": {}}
    LunarCrush   coin: {"config": {"generated"}, "data": {"name", "symbol", "price", "galaxy_score", "alt_rank",
                 ...}}; time series: {"config": {...}, "data": [{"time", "galaxy_score", "alt_rank", "sentiment",
                 "social_dominance", "interactions", "posts_active", ...}]}

A malformed item (no id, time or title) is skipped and counted, not fatal: one bad post must not hide
the rest of a page. A body without the list itself is a broken answer (502 UPSTREAM_ERROR).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from cerbero_mcp.common.errors import UpstreamError
from cerbero_mcp.exchanges.sentiment.schemas import SocialPoint, Votes
from cerbero_mcp.exchanges.sentiment.untrusted import clean_text, clean_url

MAX_TITLE = 300
MAX_SUMMARY = 600
MAX_NAME = 100
MAX_ID = 64
MAX_TAGS = 10
_CODE = re.compile(r"^[A-Z0-9]{1,15}$")
_SENTIMENTS: dict[str, Literal["positive", "negative", "neutral"]] = {
    "POSITIVE": "positive",
    "NEGATIVE": "negative",
    "NEUTRAL": "neutral",
}
_VOTES = ("positive", "negative", "important", "liked", "disliked", "lol", "toxic", "saved", "comments")


@dataclass(frozen=True)
class Story:
    """One item of one news source, sanitised."""

    source: Literal["CryptoPanic", "CoinDesk"]
    id: str
    published_at: datetime
    title: str
    url: str | None = None  # the source's own link (CryptoPanic: its post page)
    original_url: str | None = None  # the publisher's article, when the source gives it
    summary: str | None = None
    publisher: str | None = None
    kind: Literal["news", "media"] = "news"
    currencies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    sentiment: Literal["positive", "negative", "neutral"] | None = None
    votes: Votes | None = None

    @property
    def key(self) -> str:
        """Return the item's identity across pages: source and id."""
        return f"{self.source}:{self.id}"


@dataclass
class Parsed:
    """The stories of one page and how many malformed items were skipped."""

    stories: list[Story] = field(default_factory=list)
    skipped: int = 0
    next_url: str | None = None


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = clean_text(str(value), MAX_ID)
    return text if text and re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", text) else None


def _iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unix_time(value: Any) -> datetime | None:
    """Return a unix timestamp in seconds (int, float or digits) as a UTC datetime, or None."""
    if isinstance(value, bool):
        return None
    if (isinstance(value, str) and re.fullmatch(r"\d{1,12}(\.\d+)?", value)) or isinstance(value, Decimal):
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value < 32503680000:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def number(value: Any) -> float | None:
    """Return a finite number sent as a JSON number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str | Decimal):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def integer(value: Any) -> int | None:
    """Return a whole number (an integral float counts), else None."""
    found = number(value)
    return int(found) if found is not None and found.is_integer() and abs(found) < 2**53 else None


def _codes(entries: Any, *keys: str) -> tuple[str, ...]:
    codes: list[str] = []
    if isinstance(entries, list):
        for entry in entries:
            raw = next((entry.get(k) for k in keys if isinstance(entry, dict) and isinstance(entry.get(k), str)), None)
            code = clean_text(raw, 15)
            if code and _CODE.match(code.upper()) and code.upper() not in codes:
                codes.append(code.upper())
    return tuple(codes[:MAX_TAGS])


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _votes(value: Any) -> Votes | None:
    if not isinstance(value, dict):
        return None
    counts = {name: max(0, integer(value.get(name)) or 0) for name in _VOTES}
    return Votes(**counts)


def parse_cryptopanic_posts(body: Any) -> Parsed:
    """Return the stories of a CryptoPanic /posts/ page and its absolute `next` URL."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise UpstreamError("CryptoPanic answered without a results list", details={"source": "CryptoPanic"})
    parsed = Parsed(next_url=clean_url(body.get("next")))
    for item in body["results"]:
        story = _cryptopanic_story(item) if isinstance(item, dict) else None
        if story is None:
            parsed.skipped += 1
        else:
            parsed.stories.append(story)
    return parsed


def _cryptopanic_story(item: dict[str, Any]) -> Story | None:
    ident = _id(item.get("id"))
    published = _iso_time(item.get("published_at")) or _iso_time(item.get("created_at"))
    title = clean_text(item.get("title"), MAX_TITLE)
    if ident is None or published is None or title is None:
        return None
    source = _mapping(item.get("source"))
    publisher = clean_text(source.get("title") or source.get("domain") or item.get("domain"), MAX_NAME)
    # v2 names the tagged coins "instruments"; v1 (and the free plan's answers) "currencies".
    tagged = item.get("instruments") if isinstance(item.get("instruments"), list) else item.get("currencies")
    return Story(
        source="CryptoPanic",
        id=ident,
        published_at=published,
        title=title,
        url=clean_url(item.get("url")),
        original_url=clean_url(item.get("original_url")),
        summary=clean_text(item.get("description"), MAX_SUMMARY, markup=True),
        publisher=publisher,
        kind="media" if item.get("kind") == "media" else "news",
        currencies=_codes(tagged, "code"),
        votes=_votes(item.get("votes")),
    )


def parse_coindesk_articles(body: Any) -> Parsed:
    """Return the stories of a CoinDesk /news/v1/article/list answer."""
    if not isinstance(body, dict) or not isinstance(body.get("Data"), list):
        err = body.get("Err") if isinstance(body, dict) else None
        message = clean_text(err.get("message"), 200) if isinstance(err, dict) else None
        raise UpstreamError(
            f"CoinDesk answered without a Data list{': ' + message if message else ''}",
            details={"source": "CoinDesk"},
        )
    parsed = Parsed()
    for item in body["Data"]:
        story = _coindesk_story(item) if isinstance(item, dict) else None
        if story is None:
            parsed.skipped += 1
        else:
            parsed.stories.append(story)
    return parsed


def _coindesk_story(item: dict[str, Any]) -> Story | None:
    ident = _id(item.get("ID"))
    published = unix_time(item.get("PUBLISHED_ON"))
    title = clean_text(item.get("TITLE"), MAX_TITLE)
    if ident is None or published is None or title is None:
        return None
    source = _mapping(item.get("SOURCE_DATA"))
    url = clean_url(item.get("URL"))
    summary = clean_text(item.get("SUBTITLE"), MAX_SUMMARY, markup=True) or clean_text(
        item.get("BODY"), MAX_SUMMARY, markup=True
    )
    sentiment = item.get("SENTIMENT")
    return Story(
        source="CoinDesk",
        id=ident,
        published_at=published,
        title=title,
        url=url,
        original_url=url,  # CoinDesk lists the publisher's own article URL
        summary=summary,
        publisher=clean_text(source.get("NAME"), MAX_NAME),
        categories=_codes(item.get("CATEGORY_DATA"), "CATEGORY", "NAME"),
        sentiment=_SENTIMENTS.get(sentiment.upper()) if isinstance(sentiment, str) else None,
    )


# --- LunarCrush -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoinNow:
    """A coin's current LunarCrush metrics (None where the source sent nothing usable)."""

    generated: datetime | None
    id: str | None
    name: str | None
    symbol: str | None
    galaxy_score: float | None
    alt_rank: int | None
    sentiment: float | None
    social_volume_24h: float | None
    social_dominance: float | None
    interactions_24h: float | None
    price: float | None
    market_cap: float | None


def _data(body: Any, kind: type, what: str) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("data"), kind):
        message = clean_text(body.get("error"), 200) if isinstance(body, dict) else None
        raise UpstreamError(
            f"LunarCrush answered {what} without data{': ' + message if message else ''}",
            details={"source": "LunarCrush"},
        )
    return body["data"]


def _generated(body: dict[str, Any]) -> datetime | None:
    config = body.get("config")
    return unix_time(config.get("generated")) if isinstance(config, dict) else None


def _coin_now(data: dict[str, Any], generated: datetime | None) -> CoinNow:
    symbol = clean_text(data.get("symbol"), 20)
    ident = integer(data.get("id"))
    return CoinNow(
        generated=generated,
        id=str(ident) if ident is not None else None,
        name=clean_text(data.get("name"), MAX_NAME),
        symbol=symbol.upper() if symbol else None,
        galaxy_score=number(data.get("galaxy_score")),
        alt_rank=integer(data.get("alt_rank")),
        sentiment=number(data.get("sentiment")),
        social_volume_24h=number(data.get("social_volume_24h")),
        social_dominance=number(data.get("social_dominance")),
        interactions_24h=number(data.get("interactions_24h")),
        price=number(data.get("price")),
        market_cap=number(data.get("market_cap")),
    )


def parse_lunarcrush_coin(body: Any) -> CoinNow:
    """Return a coin's current metrics from /coins/{coin}/v1."""
    return _coin_now(_data(body, dict, "the coin"), _generated(body))


def parse_lunarcrush_coins_list(body: Any) -> list[CoinNow]:
    """Return every row of /coins/list/v1 (rows without an id or symbol are skipped)."""
    rows = _data(body, list, "the coins list")
    generated = _generated(body)
    coins = [_coin_now(row, generated) for row in rows if isinstance(row, dict)]
    return [coin for coin in coins if coin.id is not None or coin.symbol is not None]


def parse_lunarcrush_series(body: Any) -> tuple[list[SocialPoint], datetime | None]:
    """Return the buckets of /coins/{coin}/time-series/v2, oldest first, and when the source generated them."""
    rows = _data(body, list, "the time series")
    points: dict[datetime, SocialPoint] = {}
    for row in rows:
        time = unix_time(row.get("time")) if isinstance(row, dict) else None
        if time is None:
            continue
        points[time] = SocialPoint(
            time=time,
            galaxy_score=number(row.get("galaxy_score")),
            alt_rank=integer(row.get("alt_rank")),
            sentiment=number(row.get("sentiment")),
            social_dominance=number(row.get("social_dominance")),
            interactions=number(row.get("interactions")),
            posts_active=number(row.get("posts_active")),
            posts_created=number(row.get("posts_created")),
            contributors_active=number(row.get("contributors_active")),
            close=number(row.get("close")),
        )
    return [points[t] for t in sorted(points)], _generated(body)
