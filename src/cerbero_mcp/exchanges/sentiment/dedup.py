"""Matching the same story across news sources: canonical URL or normalised title within a time window.

CryptoPanic links to its own post page and names the publisher's article only on some plans
(`original_url`), so a URL match alone misses most pairs; the normalised title catches them: case,
accents' composition, punctuation and spacing ignored, then equal, or nearly equal (a difflib ratio
of at least 0.9 for titles of 24+ characters from different sources with the same numbers, for
"Bitcoin tops $100K as ETFs buy" vs "Bitcoin Tops $100K As ETFs Buy - report").
Both only within DEDUP_WINDOW of each other, so a recurring headline ("Bitcoin price today") on
different days stays two stories.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import timedelta
from difflib import SequenceMatcher
from urllib.parse import parse_qsl, urlencode, urlsplit

from cerbero_mcp.exchanges.sentiment.parsing import Story

DEDUP_WINDOW = timedelta(hours=12)
FUZZY_RATIO = 0.9
FUZZY_MIN_LENGTH = 24
# Query parameters that only track the click (campaigns, referrers), never select the article.
_TRACKING = re.compile(r"^(utm_|mtm_|pk_)|^(fbclid|gclid|dclid|msclkid|ref|ref_src|referrer|source|campaign)$", re.I)
_NOT_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+")
DEDUP_METHOD = (
    "Stories are merged when, within 12 hours of each other, they share a canonical URL (scheme, www., "
    "trailing slash and tracking parameters ignored) or a normalised title (case, punctuation and spacing "
    "ignored; equal, or across sources a similarity ratio of at least 0.9 for titles of 24+ characters "
    "with the same numbers)."
)


def canonical_url(url: str | None) -> str | None:
    """Return the form of `url` two links to one article share (host without www., no tracking), or None."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.search(k))
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{urlencode(query)}" if query else "")


def normalised_title(title: str) -> str:
    """Return `title` case-folded with punctuation and spacing removed, for comparing headlines."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def fingerprint(text: str) -> str:
    """Return a short stable hash of a normalised title or canonical URL (what a cursor remembers)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def story_urls(story: Story) -> set[str]:
    """Return the canonical URLs a story is known by."""
    return {u for u in (canonical_url(story.original_url), canonical_url(story.url)) if u}


def same_story(a: Story, b: Story) -> bool:
    """Return whether `a` and `b` report the same story (see the module docstring)."""
    if abs(a.published_at - b.published_at) > DEDUP_WINDOW:
        return False
    if story_urls(a) & story_urls(b):
        return True
    ta, tb = normalised_title(a.title), normalised_title(b.title)
    if ta == tb:
        return True
    # Near-equal titles only across sources, and only with the same numbers: "BTC tops $70,000" and
    # "BTC tops $80,000" are two stories however alike they read.
    if a.source == b.source or _NUMBER.findall(ta) != _NUMBER.findall(tb):
        return False
    if min(len(ta), len(tb)) < FUZZY_MIN_LENGTH or 2 * min(len(ta), len(tb)) < FUZZY_RATIO * (len(ta) + len(tb)):
        return False
    matcher = SequenceMatcher(None, ta, tb, autojunk=False)
    # The cheap upper bounds first: most pairs of headlines are nowhere near each other.
    return matcher.quick_ratio() >= FUZZY_RATIO and matcher.ratio() >= FUZZY_RATIO


def cluster(stories: Sequence[Story]) -> list[list[Story]]:
    """Group `stories` into stories told once (transitively: a~b and b~c put a, b, c together)."""
    parent = list(range(len(stories)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(stories)):
        for j in range(i + 1, len(stories)):
            if root(i) != root(j) and same_story(stories[i], stories[j]):
                parent[root(j)] = root(i)
    groups: dict[int, list[Story]] = {}
    for i, story in enumerate(stories):
        groups.setdefault(root(i), []).append(story)
    return [sorted(group, key=lambda s: (s.published_at, s.key)) for group in groups.values()]
