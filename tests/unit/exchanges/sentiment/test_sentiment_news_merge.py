"""De-duplication across news sources, the opaque cursor, and paging of the merged feed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges.sentiment import paging
from cerbero_mcp.exchanges.sentiment.dedup import canonical_url, cluster, fingerprint, normalised_title, same_story
from cerbero_mcp.exchanges.sentiment.news import SourceRead, _item, merge_page
from cerbero_mcp.exchanges.sentiment.parsing import Story
from cerbero_mcp.exchanges.sentiment.schemas import NewsRequest, Votes

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def story(
    source: Literal["CryptoPanic", "CoinDesk"],
    ident: int,
    minutes_ago: float,
    title: str,
    url: str | None = None,
) -> Story:
    """Return a story published `minutes_ago` before T0."""
    return Story(
        source=source,
        id=str(ident),
        published_at=T0 - timedelta(minutes=minutes_ago),
        title=title,
        url=url if source == "CoinDesk" else f"https://cryptopanic.com/news/{ident}/x/",
        original_url=url,
        sentiment="positive" if source == "CoinDesk" else None,
        votes=Votes(positive=3) if source == "CryptoPanic" else None,
    )


# --- matching -------------------------------------------------------------------------------------


def test_canonical_url_ignores_scheme_www_trailing_slash_and_tracking() -> None:
    a = canonical_url("https://www.CoinDesk.com/markets/btc/?utm_source=x&mtm_campaign=API-OFA")
    b = canonical_url("http://coindesk.com/markets/btc")
    assert a == b == "coindesk.com/markets/btc"
    assert canonical_url("https://x.com/a?id=1&utm_medium=m") == "x.com/a?id=1"
    assert canonical_url("https://x.com/a?id=1") != canonical_url("https://x.com/a?id=2")


def test_normalised_title_ignores_case_punctuation_and_spacing() -> None:
    assert normalised_title("  Bitcoin TOPS $100K!  ") == normalised_title("bitcoin tops 100k")
    assert normalised_title("Ether’s “merge” — done") == "ether s merge done"


def test_same_url_is_one_story_even_with_different_titles() -> None:
    a = story("CoinDesk", 1, 0, "Headline A", "https://news.example/a?utm_source=cp")
    b = story("CryptoPanic", 2, 30, "Completely different words", "https://www.news.example/a/")
    assert same_story(a, b)


def test_same_normalised_title_within_the_window_is_one_story() -> None:
    a = story("CoinDesk", 1, 0, "SEC approves spot ether ETFs")
    b = story("CryptoPanic", 2, 11 * 60, "SEC Approves Spot Ether ETFs.")
    assert same_story(a, b)


def test_a_near_identical_long_title_is_one_story() -> None:
    a = story("CoinDesk", 1, 0, "Bitcoin climbs above $70,000 as ETF inflows accelerate")
    b = story("CryptoPanic", 2, 5, "Bitcoin Climbs Above $70,000 As ETF Inflows Accelerate - report")
    assert same_story(a, b)


def test_alike_titles_with_other_numbers_are_other_stories() -> None:
    a = story("CoinDesk", 1, 0, "Bitcoin climbs above $70,000 as ETF inflows accelerate")
    b = story("CryptoPanic", 2, 5, "Bitcoin climbs above $80,000 as ETF inflows accelerate")
    assert not same_story(a, b)


def test_near_identical_titles_from_one_source_are_two_posts() -> None:
    a = story("CryptoPanic", 1, 0, "Bitcoin climbs above $70,000 as ETF inflows accelerate")
    b = story("CryptoPanic", 2, 5, "Bitcoin Climbs Above $70,000 As ETF Inflows Accelerate - report")
    assert not same_story(a, b)


def test_a_recurring_headline_on_another_day_is_another_story() -> None:
    a = story("CoinDesk", 1, 0, "Bitcoin price today")
    b = story("CryptoPanic", 2, 13 * 60, "Bitcoin price today")
    assert not same_story(a, b)


def test_different_stories_stay_apart() -> None:
    a = story("CoinDesk", 1, 0, "Solana outage halts block production for five hours")
    b = story("CryptoPanic", 2, 1, "Cardano upgrade goes live on mainnet after delay")
    assert not same_story(a, b)
    assert not same_story(story("CoinDesk", 3, 0, "ETH up"), story("CryptoPanic", 4, 0, "BTC up"))


def test_clusters_are_transitive_and_keep_copies_oldest_first() -> None:
    a = story("CoinDesk", 1, 0, "Story one", "https://n.example/1")
    b = story("CryptoPanic", 2, 10, "Story one")  # same title as a
    c = story("CryptoPanic", 3, 20, "Other words", "https://n.example/1")  # same URL as a
    d = story("CoinDesk", 4, 5, "Unrelated thing happened today")
    groups = sorted(cluster([a, b, c, d]), key=len)
    assert [s.id for s in groups[0]] == ["4"]
    assert [s.id for s in groups[1]] == ["3", "2", "1"]


def test_a_merged_item_names_both_sources_and_keeps_each_copy() -> None:
    cd = story("CoinDesk", 1, 0, "Story one", "https://n.example/1")
    cp = story("CryptoPanic", 2, 10, "Story one")
    item = _item(sorted([cd, cp], key=lambda s: s.published_at))
    assert item.sources == ["CryptoPanic", "CoinDesk"]
    assert item.published_at == cp.published_at  # the first report
    assert item.latest_at == cd.published_at
    assert item.url == "https://n.example/1"  # the publisher's link, not the aggregator's
    assert item.sentiment == "positive"
    assert item.votes == Votes(positive=3)
    assert [(c.source, c.id) for c in item.copies] == [("CryptoPanic", "2"), ("CoinDesk", "1")]


# --- the cursor -----------------------------------------------------------------------------------


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    cursor = paging.Cursor(
        "f1", before=1700000000.5, seen={"CoinDesk:1": 1.0}, answered={"ab": 2.0}, cryptopanic_page=3
    )
    text = paging.encode(cursor)
    assert text.replace("-", "").replace("_", "").isalnum()
    assert paging.decode(text, "f1") == cursor
    assert NewsRequest(cursor=text).cursor == text


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(
            json.dumps({"v": 2, "f": "f1", "b": None, "s": {}, "a": {}, "p": 1}).encode()
        ).decode(),
        base64.urlsafe_b64encode(json.dumps({"v": 1, "f": "f1", "b": -5, "s": {}, "a": {}, "p": 1}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"v": 1, "f": "f1", "b": None, "s": {}, "a": {}, "p": 0}).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"v": 1, "f": "f1", "b": None, "s": [], "a": {}, "p": 1}).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"v": 1, "f": "f1", "b": None, "s": {"k": "x"}, "a": {}, "p": 1}).encode()
        ).decode(),
        paging.encode(paging.Cursor("other-filters")),
    ],
)
def test_a_forged_or_foreign_cursor_is_refused_with_422(text: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        paging.decode(text.rstrip("="), "f1")
    assert raised.value.message.startswith("cursor: ")


def test_the_cursor_stays_bounded_however_much_was_seen() -> None:
    many = {f"CryptoPanic:{40_000_000 + i}": 1_772_000_000.0 + i for i in range(5000)}
    prints = {fingerprint(str(i)): 1_772_000_000.0 + i for i in range(5000)}
    text = paging.encode(paging.Cursor("f", before=1_772_000_000.0, seen=many, answered=prints))
    assert len(text) < 4096
    decoded = paging.decode(text, "f")
    assert len(decoded.seen) == paging.MAX_SEEN
    assert min(decoded.seen.values()) == 1_772_000_000 + 5000 - paging.MAX_SEEN  # the newest are kept
    assert decoded.seen == dict(sorted(many.items())[-paging.MAX_SEEN :])


# --- paging the merged feed -----------------------------------------------------------------------


def feed() -> tuple[list[Story], list[Story]]:
    """Return a CryptoPanic and a CoinDesk feed, newest first, with three stories told by both."""
    cryptopanic = [story("CryptoPanic", 100 + i, i * 10, f"CryptoPanic story number {i}") for i in range(30)]
    coindesk = [story("CoinDesk", 200 + i, i * 10 + 3, f"CoinDesk story number {i}") for i in range(30)]
    for i in (2, 9, 17):  # the same story on both, minutes apart
        coindesk[i] = story("CoinDesk", 200 + i, i * 10 + 3, f"CryptoPanic story number {i}")
    return cryptopanic, coindesk


def read(
    name: Literal["CryptoPanic", "CoinDesk"], stories: list[Story], cursor: paging.Cursor, size: int, page_size: int = 8
) -> SourceRead:
    """Return what a source gives one call: CoinDesk back from the cursor's time, CryptoPanic by pages."""
    out = SourceRead(name)
    if name == "CoinDesk":
        older = [s for s in stories if cursor.before is None or s.published_at.timestamp() <= cursor.before]
        got = older[:size]
        out.exhausted = len(got) < size
    else:
        start = (cursor.cryptopanic_page - 1) * page_size
        got = stories[start : start + 2 * page_size]
        out.pages = {s.key: cursor.cryptopanic_page + (i // page_size) for i, s in enumerate(got)}
        out.exhausted = start + 2 * page_size >= len(stories)
        out.last_page = cursor.cryptopanic_page + max(0, (len(got) - 1) // page_size)
    out.oldest = min((s.published_at for s in got), default=None)
    out.stories = [
        s
        for s in got
        if (cursor.before is None or s.published_at.timestamp() <= cursor.before) and s.key not in cursor.seen
    ]
    return out


@pytest.mark.parametrize("limit", [1, 4, 7, 50])
def test_pages_cover_every_story_once_newest_first(limit: int) -> None:
    cryptopanic, coindesk = feed()
    cursor: paging.Cursor | None = paging.Cursor("f")
    answered: list[list[Story]] = []
    for _ in range(200):
        assert cursor is not None
        reads = [read("CryptoPanic", cryptopanic, cursor, limit), read("CoinDesk", coindesk, cursor, limit + 5)]
        merged = merge_page(reads, cursor, limit)
        assert len(merged.groups) <= limit
        answered += merged.groups
        if merged.next_cursor is None:
            break
        cursor = paging.decode(paging.encode(merged.next_cursor), "f")  # through the wire form
    else:
        pytest.fail("paging never ended")
    keys = [s.key for g in answered for s in g]
    assert sorted(keys) == sorted(s.key for s in cryptopanic + coindesk)  # every story, once
    newest = [g[-1].published_at for g in answered]
    assert newest == sorted(newest, reverse=True)
    assert sum(len(g) == 2 for g in answered) == 3  # the three shared stories, merged


def test_a_story_is_not_answered_past_the_horizon_of_a_source_with_more_to_give() -> None:
    cryptopanic, coindesk = feed()
    cursor = paging.Cursor("f")
    # CoinDesk gives only its 3 newest (more to come); CryptoPanic gives 16: the page stops at CoinDesk's 3rd.
    reads = [read("CryptoPanic", cryptopanic, cursor, 20), read("CoinDesk", coindesk, cursor, 3)]
    merged = merge_page(reads, cursor, 50)
    horizon = coindesk[2].published_at
    assert merged.groups
    assert all(g[-1].published_at >= horizon for g in merged.groups)
    assert merged.next_cursor is not None


def test_the_last_page_has_no_cursor() -> None:
    cursor = paging.Cursor("f")
    only = [story("CoinDesk", 1, 0, "Only story")]
    merged = merge_page([read("CoinDesk", only, cursor, 10)], cursor, 10)
    assert [s.id for g in merged.groups for s in g] == ["1"]
    assert merged.next_cursor is None


def test_a_copy_found_on_a_later_page_is_not_answered_again() -> None:
    cursor = paging.Cursor("f")
    first = story("CoinDesk", 1, 0, "Exchange hacked for 40 million dollars overnight")
    filler = [story("CoinDesk", 2 + i, 1 + i, f"Filler {i}") for i in range(3)]
    merged = merge_page([read("CoinDesk", [first, *filler], cursor, 2)], cursor, 1)
    assert [s.id for g in merged.groups for s in g] == ["1"]
    assert merged.next_cursor is not None
    later = story("CryptoPanic", 9, 120, "Exchange Hacked For 40 Million Dollars Overnight")
    late_read = SourceRead("CryptoPanic", stories=[later], exhausted=True, oldest=later.published_at)
    again = merge_page([late_read], merged.next_cursor, 10)
    assert again.groups == []
