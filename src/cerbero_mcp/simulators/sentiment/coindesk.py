"""CoinDesk's Data API news list (data-api.coindesk.com, ex CCData / CryptoCompare).

- `GET /news/v1/article/list` with `lang` (EN default; EN, ES, TR, FR, JP, PT), `limit` (1-100,
  default 10), `to_ts` (articles published on or before it; -1 or absent: now), `categories` and
  `exclude_categories` (comma-separated category names such as BTC, ETH, REGULATION), `source_ids`
  (comma-separated source keys or ids).
- Auth: the `authorization: Apikey <key>` header or the `api_key` query parameter. The endpoint
  answers without a key (at a lower anonymous limit); a key that is not the instance's is 401.
- Reply: `{"Data": [article, ...], "Err": {}}`, newest first by `PUBLISHED_ON` (unix seconds); to
  page back, pass the oldest `PUBLISHED_ON` minus one as the next `to_ts`. Articles carry `TYPE`
  "121", `ID`, `GUID`, `PUBLISHED_ON`, `IMAGE_URL`, `TITLE`, `SUBTITLE`, `AUTHORS`, `URL`,
  `SOURCE_ID`, `BODY`, `KEYWORDS` ("|"-separated), `LANG`, `UPVOTES`, `DOWNVOTES`, `SCORE`,
  `SENTIMENT` (POSITIVE / NEGATIVE / NEUTRAL), `STATUS`, `CREATED_ON`, `UPDATED_ON`, `SOURCE_DATA`
  (the source: `TYPE` "120", `ID`, `SOURCE_KEY`, `NAME`, `URL`, `LANG`, `SOURCE_TYPE`…) and
  `CATEGORY_DATA` (`[{"TYPE": "122", "ID", "NAME", "CATEGORY"}]`).
- Errors: the HTTP status with `{"Data": {}, "Err": {"type", "message", "other_info": {"param",
  "values"}}}`: 400 for a malformed parameter, 401 for a bad key, 429 over a limit.
- Limits (per key, or per address without one): calls per second, minute and hour in calendar
  windows (`RATE_LIMITS`; `ANONYMOUS_LIMITS` without a key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cerbero_mcp.simulators.sentiment.news import HISTORY_START, OUTLETS, Story, stories_back

PATH = "/news/v1/article/list"
LANGS = ("EN", "ES", "TR", "FR", "JP", "PT")
REGION_LANG = {"en": "EN", "es": "ES", "de": "DE"}
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
ID_OFFSET = 40_000_000
RATE_LIMITS = ((1.0, 20), (60.0, 300), (3600.0, 3000))
ANONYMOUS_LIMITS = ((1.0, 5), (60.0, 50), (3600.0, 500))
ERR_BAD_PARAM = 2
ERR_UNAUTHORIZED = 1
ERR_RATE_LIMIT = 99
UNAUTHORIZED_MESSAGE = "We could not authenticate you. Please check your api key or authorization header."
RATE_LIMIT_MESSAGE = "You are over your rate limit please upgrade your account!"
CATEGORY_IDS = {
    name: i + 1
    for i, name in enumerate(
        (
            "BTC", "ETH", "SOL", "XRP", "DOGE", "HYPE", "BNB", "ADA", "LINK", "AVAX", "MARKET", "ETF",
            "TRADING", "MACROECONOMICS", "DERIVATIVES", "ON-CHAIN", "TECHNOLOGY", "STABLECOIN",
            "REGULATION", "BUSINESS", "EXCHANGE",
        )
    )
}  # fmt: skip


class CoinDeskError(Exception):
    """A Data API error answer: HTTP status and JSON body."""

    def __init__(
        self, status: int, err_type: int, message: str, param: str | None = None, values: list[str] | None = None
    ) -> None:
        """Build the documented `{"Data": {}, "Err": {...}}` body."""
        super().__init__(message)
        self.status = status
        other: dict[str, Any] = {}
        if param is not None:
            other = {"param": param, "values": values or []}
        self.body: dict[str, Any] = {"Data": {}, "Err": {"type": err_type, "message": message, "other_info": other}}


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise CoinDeskError(400, ERR_BAD_PARAM, f"{name} must be an integer", name, [raw]) from None


def source_data(story: Story) -> dict[str, Any]:
    """Return the SOURCE_DATA object of a story's outlet."""
    o = story.outlet
    return {
        "TYPE": "120",
        "ID": o.source_id,
        "SOURCE_KEY": o.source_key,
        "NAME": o.name,
        "IMAGE_URL": f"https://resources.cryptocompare.com/news/{o.source_id}/logo.png",
        "URL": f"https://www.{o.domain}/arc/outboundfeeds/rss/",
        "LANG": REGION_LANG.get(o.region, "EN"),
        "SOURCE_TYPE": "RSS",
        "LAUNCH_DATE": None,
        "SORT_ORDER": 0,
        "BENCHMARK_SCORE": 60 + o.source_id % 30,
        "STATUS": "ACTIVE",
        "LAST_UPDATED_TS": int(HISTORY_START),
        "CREATED_ON": int(HISTORY_START),
        "UPDATED_ON": int(HISTORY_START),
    }


def article(story: Story) -> dict[str, Any]:
    """Return a story as a Data API article."""
    published = int(story.published)
    up = story.votes["positive"]
    down = story.votes["negative"]
    return {
        "TYPE": "121",
        "ID": ID_OFFSET + story.story_id,
        "GUID": story.url,
        "PUBLISHED_ON": published,
        "PUBLISHED_ON_NS": None,
        "IMAGE_URL": f"https://images.cryptocompare.com/news/default/{story.outlet.source_key}.png",
        "TITLE": story.title,
        "SUBTITLE": story.subtitle,
        "AUTHORS": story.author,
        "URL": story.url,
        "SOURCE_ID": story.outlet.source_id,
        "BODY": story.body,
        "KEYWORDS": "|".join(story.keywords),
        "LANG": REGION_LANG.get(story.outlet.region, "EN"),
        "UPVOTES": up,
        "DOWNVOTES": down,
        "SCORE": up - down,
        "SENTIMENT": story.sentiment,
        "STATUS": "ACTIVE",
        "CREATED_ON": published + 60,
        "UPDATED_ON": None,
        "SOURCE_DATA": source_data(story),
        "CATEGORY_DATA": [
            {"TYPE": "122", "ID": CATEGORY_IDS.get(name, 0), "NAME": name, "CATEGORY": name}
            for name in dict.fromkeys(story.categories)
        ],
    }


def _source_match(story: Story, wanted: list[str]) -> bool:
    o = story.outlet
    return o.source_key in wanted or str(o.source_id) in wanted


def article_list(seed: int, params: Mapping[str, str], now: float) -> dict[str, Any]:
    """Answer /news/v1/article/list at `now`; raise CoinDeskError on a malformed parameter."""
    lang = (params.get("lang") or "EN").upper()
    if lang not in LANGS:
        raise CoinDeskError(400, ERR_BAD_PARAM, f"lang must be one of {', '.join(LANGS)}", "lang", [lang])
    limit = _int(params, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise CoinDeskError(400, ERR_BAD_PARAM, f"limit must be between 1 and {MAX_LIMIT}", "limit", [str(limit)])
    to_ts = _int(params, "to_ts", -1)
    newest = now if to_ts < 0 else min(float(to_ts), now)
    categories = {c.upper() for c in _csv(params.get("categories"))}
    excluded = {c.upper() for c in _csv(params.get("exclude_categories"))}
    sources = [s.lower() for s in _csv(params.get("source_ids"))]
    known = {o.source_key for o in OUTLETS} | {str(o.source_id) for o in OUTLETS}
    unknown = [s for s in sources if s not in known]
    if unknown:
        raise CoinDeskError(404, ERR_BAD_PARAM, "Some of the source_ids are not valid", "source_ids", unknown)
    data: list[dict[str, Any]] = []
    if lang not in {REGION_LANG.get(o.region) for o in OUTLETS}:
        return {"Data": data, "Err": {}}  # no outlet writes in it: nothing to walk back through
    for story in stories_back(seed, newest):
        if not story.on_coindesk or story.outlet.kind != "news":
            continue
        if REGION_LANG.get(story.outlet.region) != lang:
            continue
        tags = set(story.categories)
        if categories and not categories & tags:
            continue
        if excluded & tags:
            continue
        if sources and not _source_match(story, sources):
            continue
        data.append(article(story))
        if len(data) >= limit:
            break
    return {"Data": data, "Err": {}}
