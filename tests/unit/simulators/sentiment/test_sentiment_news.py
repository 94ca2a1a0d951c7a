"""The shared news catalogue as both sources serve it: duplicates across sources, hostile text, time and seed."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
from sentiment_sim import T0, T1, Sim, make_app, open_sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.sentiment import news


async def cryptopanic_all(sim: Sim, **params: str) -> list[dict[str, Any]]:
    body = (await sim.cryptopanic(**params)).json()
    posts = list(body["results"])
    while body["next"]:
        body = (await sim.follow(body["next"])).json()
        posts.extend(body["results"])
    return posts


async def coindesk_since(sim: Sim, since: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = (await sim.coindesk(limit="100")).json()["Data"]
    while page:
        out.extend(a for a in page if a["PUBLISHED_ON"] >= since)
        if page[-1]["PUBLISHED_ON"] < since:
            break
        page = (await sim.coindesk(limit="100", to_ts=str(page[-1]["PUBLISHED_ON"] - 1))).json()["Data"]
    return out


def squash(title: str) -> str:
    return " ".join(title.split())


async def test_the_same_stories_appear_in_both_sources_under_different_ids(sim: Sim) -> None:
    posts = await cryptopanic_all(sim)
    articles = await coindesk_since(sim, T0 - 7 * 86_400)
    by_url = {a["URL"]: a for a in articles}
    shared = [(p, by_url[p["original_url"]]) for p in posts if p["original_url"] in by_url]
    assert [(p, a) for p, a in shared if p["original_url"].startswith("https://")]
    assert len(shared) >= 20
    near = 0
    for post, article in shared:
        assert post["id"] != article["ID"]
        assert squash(post["title"]) == squash(article["TITLE"])
        near += post["title"] != article["TITLE"]
        # CryptoPanic lists the outlet's story a little after the outlet published it
        published = datetime.strptime(post["published_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        assert published == article["PUBLISHED_ON"]
    assert 0 < near < len(shared), "some duplicates differ only by whitespace"
    only_cp = [p for p in posts if p["original_url"] not in by_url]
    assert only_cp, "and each source has stories of its own"
    cp_urls = {p["original_url"] for p in posts}
    assert [a for a in articles if a["URL"] not in cp_urls]


def hostile_stories(seed: int, now: float, days: int = 7) -> list[news.Story]:
    return [s for s in news.stories_back(seed, now, now - days * 86_400) if s.hostile]


def test_every_kind_of_hostile_text_is_in_a_week_of_news() -> None:
    kinds = {s.hostile for s in hostile_stories(1, T0)}
    assert kinds == set(news.HOSTILE_KINDS)


async def test_hostile_text_reaches_the_wire_intact(sim: Sim) -> None:
    posts = await cryptopanic_all(sim)
    articles = await coindesk_since(sim, T0 - 7 * 86_400)
    texts = [p["title"] for p in posts] + [a["TITLE"] + (a["BODY"] or "") for a in articles]
    urls = [p["original_url"] for p in posts] + [a["URL"] for a in articles]

    def any_text(test: Any) -> bool:
        return any(test(t) for t in texts)

    assert any_text(lambda t: any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in t))
    assert any_text(lambda t: "\x1b[" in t)
    assert any_text(lambda t: any(c in t for c in "\u200b\u200d\ufeff"))
    assert any_text(lambda t: "\u202e" in t)
    assert any_text(lambda t: "ignore previous instructions" in t.lower())
    assert any_text(lambda t: "<script>" in t)
    assert max(len(p["title"]) for p in posts) > 5_000
    assert max(len(a["BODY"]) for a in articles) > 50_000
    assert any(u.startswith("javascript:") for u in urls)
    assert any(u.startswith("data:") for u in urls)


async def test_most_news_is_ordinary(sim: Sim) -> None:
    posts = await cryptopanic_all(sim)
    plain = [p for p in posts if p["title"].isprintable() and len(p["title"]) < 200]
    assert len(plain) > 0.6 * len(posts)


@pytest.mark.parametrize("at", [T0, T1])
async def test_nothing_published_after_now_at_two_pinned_dates(at: float) -> None:
    clock = ManualClock(at)
    async for sim in open_sim(make_app(clock, rate_limit=False), clock):
        posts = await cryptopanic_all(sim, regions="en,de,es")
        assert posts
        for p in posts:
            created = datetime.strptime(p["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
            assert created <= at
        articles = (await sim.coindesk(limit="100")).json()["Data"]
        assert articles
        assert all(a["PUBLISHED_ON"] <= at for a in articles)
        assert articles[0]["PUBLISHED_ON"] > at - 6 * 3600
        later = [s for s in news.stories_back(sim.app.state.venue.seed, at + 86_400, at) if s.published > at]
        assert later, "the catalogue does have later stories; they are just not served yet"


async def test_same_seed_same_answers_other_seed_other_news(clock: ManualClock) -> None:
    answers = []
    for seed in (7, 7, 8):
        async for sim in open_sim(make_app(clock, seed=seed, rate_limit=False), clock):
            cp = (await sim.cryptopanic()).json()
            cd = (await sim.coindesk(limit="50")).json()
            lc = (await sim.lunarcrush("coins/ETH/time-series/v2")).json()
            answers.append((cp, cd, lc))
    assert answers[0] == answers[1]
    assert answers[0][0] != answers[2][0]
    assert answers[0][1] != answers[2][1]
    assert answers[0][2] != answers[2][2]


async def test_a_story_once_out_never_changes(sim: Sim, clock: ManualClock) -> None:
    before = {a["ID"]: a for a in (await sim.coindesk(limit="100")).json()["Data"]}
    clock.advance(2 * 86_400)
    back = (await sim.coindesk(limit="100", to_ts=str(int(T0)))).json()["Data"]
    assert {a["ID"]: a for a in back} == before


def test_history_starts_at_the_catalogue_start() -> None:
    assert news.stories_in_hour(1, int(news.HISTORY_START // 3600) - 1) == ()
    first_week = list(news.stories_back(1, news.HISTORY_START + 7 * 86_400))
    assert first_week
    assert all(s.published >= news.HISTORY_START for s in first_week)
