"""CryptoPanic: v2 and v1 posts, paging by absolute `next` URLs, filters, tokens, plans and the per-second limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sentiment_sim import BASE, CP_V1, CP_V2, CREDS, T0, Sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.sentiment import cryptopanic

ISO = "%Y-%m-%dT%H:%M:%SZ"


def ts(text: str) -> float:
    return datetime.strptime(text, ISO).replace(tzinfo=UTC).timestamp()


async def all_pages(sim: Sim, **params: str) -> list[dict[str, Any]]:
    """Follow `next` from the first page to the end; return every post."""
    r = await sim.cryptopanic(**params)
    assert r.status_code == 200, r.text
    body = r.json()
    posts = list(body["results"])
    pages = 1
    while body["next"] is not None:
        r = await sim.follow(body["next"])
        assert r.status_code == 200, r.text
        body = r.json()
        posts.extend(body["results"])
        pages += 1
        assert pages < 100
    return posts


async def test_v2_posts_have_the_documented_fields(sim: Sim) -> None:
    r = await sim.cryptopanic()
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["previous"] is None
    assert len(body["results"]) == cryptopanic.PAGE_SIZE
    for post in body["results"]:
        assert isinstance(post["id"], int)
        assert post["kind"] in ("news", "media")
        assert set(post["source"]) == {"title", "region", "domain", "type"}
        assert post["url"].startswith(f"https://cryptopanic.com/news/{post['id']}/")
        assert set(post["votes"]) == {"negative", "positive", "important", "liked", "disliked", "lol", "toxic",
                                      "saved", "comments"}  # fmt: skip
        assert all(set(i) == {"code", "title", "slug", "url"} for i in post["instruments"])
        assert ts(post["published_at"]) <= ts(post["created_at"]) <= T0
        assert 0 <= post["panic_score"] <= 100


async def test_developer_plan_posts_carry_only_five_fields(sim: Sim) -> None:
    body = (await sim.cryptopanic(token=CREDS["cryptopanic_developer_key"])).json()
    assert body["results"]
    for post in body["results"]:
        assert set(post) == set(cryptopanic.DEVELOPER_FIELDS)


async def test_v1_posts_use_currencies_and_count(sim: Sim) -> None:
    body = (await sim.cryptopanic(path=CP_V1)).json()
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] > len(body["results"]) == cryptopanic.PAGE_SIZE
    for post in body["results"]:
        assert "currencies" in post
        assert "instruments" not in post
        assert post["domain"] == post["source"]["domain"]
        assert post["source"]["path"] is None


async def test_next_is_absolute_and_ends_in_null_with_newest_first_and_no_repeats(sim: Sim) -> None:
    first = (await sim.cryptopanic(currencies="BTC")).json()
    assert first["next"].startswith(f"{BASE}{CP_V2}?")
    assert "auth_token=" in first["next"]
    assert "currencies=BTC" in first["next"]
    assert "page=2" in first["next"]
    posts = await all_pages(sim, currencies="BTC")
    ids = [p["id"] for p in posts]
    assert len(ids) == len(set(ids)) > cryptopanic.PAGE_SIZE
    times = [ts(p["published_at"]) for p in posts]
    assert times == sorted(times, reverse=True)
    assert T0 - times[-1] <= cryptopanic.WINDOW_DAYS * 86_400
    assert T0 - times[-1] > (cryptopanic.WINDOW_DAYS - 1) * 86_400  # several days of history


async def test_previous_points_back_and_a_page_past_the_end_is_404(sim: Sim) -> None:
    second = (await sim.cryptopanic(page="2")).json()
    assert second["previous"] is not None
    assert "page=" not in second["previous"]
    first = (await sim.follow(second["previous"])).json()
    assert first["results"] == (await sim.cryptopanic()).json()["results"]
    r = await sim.cryptopanic(page="999")
    assert r.status_code == 404
    assert r.json() == {"detail": "Invalid page."}
    assert (await sim.cryptopanic(page="0")).status_code == 404


async def test_currency_filter_keeps_only_posts_tagged_with_one_of_them(sim: Sim) -> None:
    posts = await all_pages(sim, currencies="eth,SOL")
    assert posts
    assert all({"ETH", "SOL"} & {i["code"] for i in p["instruments"]} for p in posts)
    everything = await all_pages(sim)
    assert len(everything) > len(posts)


@pytest.mark.parametrize("kind", ["news", "media"])
async def test_kind_filter(sim: Sim, kind: str) -> None:
    posts = await all_pages(sim, kind=kind)
    assert posts
    assert {p["kind"] for p in posts} == {kind}


async def test_regions_default_to_english_and_can_be_widened(sim: Sim) -> None:
    english = await all_pages(sim)
    assert {p["source"]["region"] for p in english} == {"en"}
    wider = await all_pages(sim, regions="en,de,es")
    assert {p["source"]["region"] for p in wider} >= {"en", "de"}
    german = await all_pages(sim, regions="de")
    assert german
    assert {p["source"]["region"] for p in german} == {"de"}


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("bullish", lambda v: v["positive"] >= 3 and v["positive"] >= 2 * v["negative"]),
        ("bearish", lambda v: v["negative"] >= 3 and v["negative"] >= 2 * v["positive"]),
        ("important", lambda v: v["important"] >= 2),
        ("lol", lambda v: v["lol"] >= 1),
        ("saved", lambda v: v["saved"] >= 1),
        ("hot", lambda v: v["positive"] + v["important"] + v["liked"] + v["comments"] >= 4),
    ],
)
async def test_vote_filters_select_by_votes(sim: Sim, name: str, check: Any) -> None:
    posts = await all_pages(sim, filter=name)
    assert posts
    assert all(check(p["votes"]) for p in posts)
    assert len(posts) < len(await all_pages(sim))


async def test_rising_is_the_last_day_only(sim: Sim) -> None:
    posts = await all_pages(sim, filter="rising")
    assert posts
    assert all(T0 - ts(p["created_at"]) <= 86_400 for p in posts)


@pytest.mark.parametrize("params", [{"filter": "moon"}, {"kind": "tweets"}])
async def test_unknown_filter_or_kind_is_400(sim: Sim, params: dict[str, str]) -> None:
    r = await sim.cryptopanic(**params)
    assert r.status_code == 400
    assert r.json()["status"] == "Incomplete"


@pytest.mark.parametrize("token", [None, "", "0" * 40])
async def test_missing_or_unknown_token_is_401(sim: Sim, token: str | None) -> None:
    r = await sim.cryptopanic(token=token)
    assert r.status_code == 401
    assert r.json() == cryptopanic.TOKEN_NOT_FOUND


async def test_nothing_is_listed_before_cryptopanic_has_it(sim: Sim, clock: ManualClock) -> None:
    before = (await sim.cryptopanic()).json()["results"]
    clock.advance(6 * 3600)
    after = await all_pages(sim)
    newer = [p for p in after if ts(p["created_at"]) > T0]
    assert newer, "six hours later there are new posts"
    assert all(ts(p["created_at"]) <= T0 + 6 * 3600 for p in after)
    assert {p["id"] for p in before} <= {p["id"] for p in after}


async def test_two_calls_a_second_per_token_then_429(limited: Sim, clock: ManualClock) -> None:
    for _ in range(cryptopanic.RATE_LIMIT_PER_S):
        assert (await limited.cryptopanic()).status_code == 200
    r = await limited.cryptopanic()
    assert r.status_code == 429
    assert r.json() == cryptopanic.RATE_LIMITED
    assert int(r.headers["Retry-After"]) >= 1
    # another token has its own budget; a second later the first one is served again
    assert (await limited.cryptopanic(token=CREDS["cryptopanic_developer_key"])).status_code == 200
    clock.advance(1.0)
    assert (await limited.cryptopanic()).status_code == 200


async def test_rate_limit_switch_off_serves_everything(sim: Sim) -> None:
    for _ in range(10):
        assert (await sim.cryptopanic()).status_code == 200
