"""CryptoPanic's posts API (cryptopanic.com/developers/api/), current v2 and legacy v1.

- `GET /api/developer/v2/posts/` (current) and `GET /api/v1/posts/` (legacy, same parameters).
- Auth: the `auth_token` query parameter. Missing or unknown: 401 `{"status": "Incomplete", "info":
  "Token not found"}`. Two plans are simulated: the full post object (Growth-like plan, the key
  the gateway is given) and the Developer plan, whose posts carry only `title`, `description`,
  `published_at`, `created_at` and `kind`.
- Parameters: `public=true`, `currencies=BTC,ETH` (any of them; at most 50 codes), `regions=en,de`
  (default `en`), `kind=news|media|all` (default all), `filter=rising|hot|bullish|bearish|important|
  saved|lol`, `page` (from 1). An unknown filter or kind is 400; a page past the end is 404 `{"detail":
  "Invalid page."}` (Django REST framework paging).
- Reply: `{"next": <absolute URL of the next page or null>, "previous": <url|null>, "results": [...]}`
  (v1 adds `count`), 20 posts a page, newest first by `published_at`; the next URL repeats every
  parameter (the token included) with `page` advanced, so a client follows it to the end.
- Posts (v2): `id, slug, title, description, published_at, created_at, kind, source{title, region,
  domain, type}, original_url, url, image, instruments[{code, title, slug, url}], votes{negative,
  positive, important, liked, disliked, lol, toxic, saved, comments}, panic_score, panic_score_1h,
  author, content{original, clean}`; v1 has `domain`, `source.path` and `currencies` in place of
  `instruments` and no `original_url`/`description`/`image`/`panic_score`/`content`. Times are
  "YYYY-MM-DDTHH:MM:SSZ"; `published_at` is the outlet's time, `created_at` CryptoPanic's (later), and
  a post is listed only once `created_at` has passed. The feed covers the last `WINDOW_DAYS` days.
- Limits: `RATE_LIMIT_PER_S` calls a second per token; over it: 429 `{"status": "Incomplete", "info":
  "API rate limit exceeded"}` with `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from cerbero_mcp.simulators.sentiment.news import COIN_BY_CODE, Story, stories_back

PATH_V2 = "/api/developer/v2/posts/"
PATH_V1 = "/api/v1/posts/"
PAGE_SIZE = 20
WINDOW_DAYS = 7
MAX_CURRENCIES = 50
RATE_LIMIT_PER_S = 2
ID_OFFSET = 20_000_000
FILTERS = ("rising", "hot", "bullish", "bearish", "important", "saved", "lol")
KINDS = ("news", "media", "all")
DEVELOPER_FIELDS = ("title", "description", "published_at", "created_at", "kind")
DESCRIPTION_CHARS = 280
TOKEN_NOT_FOUND = {"status": "Incomplete", "info": "Token not found"}
RATE_LIMITED = {"status": "Incomplete", "info": "API rate limit exceeded"}
INVALID_PAGE = {"detail": "Invalid page."}


class CryptoPanicError(Exception):
    """A CryptoPanic error answer: HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        """Keep the status and body."""
        super().__init__(str(body))
        self.status = status
        self.body = body


def iso(t: float) -> str:
    """Return epoch seconds as CryptoPanic writes times: "YYYY-MM-DDTHH:MM:SSZ"."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _matches_filter(story: Story, name: str, now: float) -> bool:
    v = story.votes
    score = v["positive"] + v["important"] + v["liked"] + v["comments"]
    if name == "hot":
        return score >= 4
    if name == "rising":
        return now - story.cryptopanic_at <= 86_400 and score >= 2
    if name == "bullish":
        return v["positive"] >= 3 and v["positive"] >= 2 * v["negative"]
    if name == "bearish":
        return v["negative"] >= 3 and v["negative"] >= 2 * v["positive"]
    if name == "important":
        return v["important"] >= 2
    if name == "saved":
        return v["saved"] >= 1
    return v["lol"] >= 1  # lol


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def select(seed: int, params: Mapping[str, str], now: float) -> list[Story]:
    """Return the stories a request's filters select at `now`, newest first; raise CryptoPanicError on bad input."""
    currencies = {c.upper() for c in _csv(params.get("currencies"))}
    if len(currencies) > MAX_CURRENCIES:
        raise CryptoPanicError(400, {"status": "Incomplete", "info": f"Too many currencies (max {MAX_CURRENCIES})"})
    regions = set(_csv(params.get("regions"))) or {"en"}
    kind = params.get("kind", "all") or "all"
    if kind not in KINDS:
        raise CryptoPanicError(400, {"status": "Incomplete", "info": f"Invalid kind: {kind}"})
    flt = params.get("filter") or None
    if flt is not None and flt not in FILTERS:
        raise CryptoPanicError(400, {"status": "Incomplete", "info": f"Invalid filter: {flt}"})
    out: list[Story] = []
    for story in stories_back(seed, now, now - WINDOW_DAYS * 86_400):
        if not story.on_cryptopanic or story.cryptopanic_at > now:
            continue
        if currencies and not currencies.intersection(story.coins):
            continue
        if story.outlet.region not in regions:
            continue
        if kind != "all" and story.kind != kind:
            continue
        if flt is not None and not _matches_filter(story, flt, now):
            continue
        out.append(story)
    return out


def post_id(story: Story) -> int:
    """Return CryptoPanic's id of a story."""
    return ID_OFFSET + story.story_id


def _coins(story: Story) -> list[dict[str, Any]]:
    out = []
    for code in story.coins:
        coin = COIN_BY_CODE[code]
        out.append(
            {
                "code": coin.code,
                "title": coin.title,
                "slug": coin.slug,
                "url": f"https://cryptopanic.com/news/{coin.slug}/",
            }
        )
    return out


def _description(story: Story) -> str:
    body = story.body
    return body if len(body) <= DESCRIPTION_CHARS else body[: DESCRIPTION_CHARS - 1] + "…"


def _panic_score(story: Story, *, hour: bool = False) -> int:
    """Return CryptoPanic's 0-100 importance score of a story (from its votes; the last hour's weighs comments)."""
    v = story.votes
    raw = 3 * v["important"] + 2 * (v["positive"] + v["negative"]) + v["liked"] + (2 * v["comments"] if hour else 0)
    return min(100, 10 + 5 * raw)


def post_v2(story: Story, *, developer: bool) -> dict[str, Any]:
    """Return a story as a v2 post (the Developer plan's reduced object when `developer`)."""
    pid = post_id(story)
    full: dict[str, Any] = {
        "id": pid,
        "slug": story.slug,
        "title": story.cryptopanic_title,
        "description": _description(story),
        "published_at": iso(story.published),
        "created_at": iso(story.cryptopanic_at),
        "kind": story.kind,
        "source": {
            "title": story.outlet.name,
            "region": story.outlet.region,
            "domain": story.outlet.domain,
            "type": "media" if story.kind == "media" else "feed",
        },
        "original_url": story.url,
        "url": f"https://cryptopanic.com/news/{pid}/{story.slug}",
        "image": f"https://cryptopanic.com/static/images/posts/{pid}.jpg",
        "instruments": _coins(story),
        "votes": dict(story.votes),
        "panic_score": _panic_score(story),
        "panic_score_1h": _panic_score(story, hour=True),
        "author": story.author,
        "content": {"original": f"<p>{story.body}</p>", "clean": story.body},
    }
    if developer:
        return {key: full[key] for key in DEVELOPER_FIELDS}
    return full


def post_v1(story: Story) -> dict[str, Any]:
    """Return a story as a legacy v1 post."""
    pid = post_id(story)
    return {
        "kind": story.kind,
        "domain": story.outlet.domain,
        "source": {
            "title": story.outlet.name,
            "region": story.outlet.region,
            "domain": story.outlet.domain,
            "path": None,
            "type": "media" if story.kind == "media" else "feed",
        },
        "title": story.cryptopanic_title,
        "published_at": iso(story.published),
        "slug": story.slug,
        "currencies": _coins(story),
        "id": pid,
        "url": f"https://cryptopanic.com/news/{pid}/{story.slug}",
        "created_at": iso(story.cryptopanic_at),
        "votes": dict(story.votes),
    }


def _page_url(url_without_query: str, params: Mapping[str, str], page: int) -> str:
    query = dict(params)
    if page == 1:
        query.pop("page", None)
    else:
        query["page"] = str(page)
    return f"{url_without_query}?{urlencode(query)}" if query else url_without_query


def posts(
    seed: int, params: Mapping[str, str], now: float, *, url: str, version: int, developer: bool
) -> dict[str, Any]:
    """Answer one posts request; `url` is the absolute URL of the endpoint (no query) for next/previous."""
    raw_page = params.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise CryptoPanicError(404, INVALID_PAGE)
    page = int(raw_page)
    stories = select(seed, params, now)
    pages = max(1, -(-len(stories) // PAGE_SIZE))
    if page > pages:
        raise CryptoPanicError(404, INVALID_PAGE)
    chunk = stories[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    body: dict[str, Any] = {}
    if version == 1:
        body["count"] = len(stories)
    body["next"] = _page_url(url, params, page + 1) if page < pages else None
    body["previous"] = _page_url(url, params, page - 1) if page > 1 else None
    if version == 1:
        body["results"] = [post_v1(s) for s in chunk]
    else:
        body["results"] = [post_v2(s, developer=developer) for s in chunk]
    return body
