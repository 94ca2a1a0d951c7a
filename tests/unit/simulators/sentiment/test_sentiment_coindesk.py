"""CoinDesk Data API: the article list, paging back by to_ts, filters, keys, errors and limits."""

from __future__ import annotations

from typing import Any

import pytest
from sentiment_sim import T0, Sim

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.sentiment import coindesk

ARTICLE_KEYS = {
    "TYPE", "ID", "GUID", "PUBLISHED_ON", "PUBLISHED_ON_NS", "IMAGE_URL", "TITLE", "SUBTITLE", "AUTHORS", "URL",
    "SOURCE_ID", "BODY", "KEYWORDS", "LANG", "UPVOTES", "DOWNVOTES", "SCORE", "SENTIMENT", "STATUS", "CREATED_ON",
    "UPDATED_ON", "SOURCE_DATA", "CATEGORY_DATA",
}  # fmt: skip


async def articles(sim: Sim, **params: str) -> list[dict[str, Any]]:
    r = await sim.coindesk(**params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["Err"] == {}
    data: list[dict[str, Any]] = body["Data"]
    return data


async def test_default_list_is_ten_newest_english_articles(sim: Sim) -> None:
    data = await articles(sim)
    assert len(data) == coindesk.DEFAULT_LIMIT
    times = [a["PUBLISHED_ON"] for a in data]
    assert times == sorted(times, reverse=True)
    assert times[0] <= T0
    for a in data:
        assert set(a) == ARTICLE_KEYS
        assert a["TYPE"] == "121"
        assert a["LANG"] == "EN"
        assert a["STATUS"] == "ACTIVE"
        assert a["SENTIMENT"] in ("POSITIVE", "NEGATIVE", "NEUTRAL")
        assert a["SOURCE_DATA"]["TYPE"] == "120"
        assert a["SOURCE_DATA"]["ID"] == a["SOURCE_ID"]
        assert all(c["TYPE"] == "122" and c["NAME"] == c["CATEGORY"] for c in a["CATEGORY_DATA"])
        assert a["SCORE"] == a["UPVOTES"] - a["DOWNVOTES"]
        assert isinstance(a["KEYWORDS"], str)


async def test_to_ts_pages_back_without_gaps_or_repeats(sim: Sim) -> None:
    newest = await articles(sim, limit="100")
    page = await articles(sim, limit="7")
    seen = list(page)
    while len(seen) < len(newest):
        page = await articles(sim, limit="7", to_ts=str(page[-1]["PUBLISHED_ON"] - 1))
        assert page
        seen.extend(page)
    assert [a["ID"] for a in seen[: len(newest)]] == [a["ID"] for a in newest]
    back = await articles(sim, limit="100", to_ts=str(int(T0) - 5 * 86_400))
    assert back
    assert all(a["PUBLISHED_ON"] <= T0 - 5 * 86_400 for a in back)


async def test_to_ts_in_the_future_is_now(sim: Sim) -> None:
    assert await articles(sim, to_ts=str(int(T0) + 86_400)) == await articles(sim)


@pytest.mark.parametrize("category", ["BTC", "ETH", "REGULATION"])
async def test_categories_filter(sim: Sim, category: str) -> None:
    data = await articles(sim, limit="50", categories=category)
    assert data
    assert all(category in {c["CATEGORY"] for c in a["CATEGORY_DATA"]} for a in data)


async def test_exclude_categories_filter(sim: Sim) -> None:
    data = await articles(sim, limit="50", exclude_categories="BTC,MARKET")
    assert data
    assert all(not {"BTC", "MARKET"} & {c["CATEGORY"] for c in a["CATEGORY_DATA"]} for a in data)


async def test_source_ids_by_key_or_id(sim: Sim) -> None:
    by_key = await articles(sim, limit="20", source_ids="coindesk,theblock")
    assert by_key
    assert {a["SOURCE_DATA"]["SOURCE_KEY"] for a in by_key} <= {"coindesk", "theblock"}
    by_id = await articles(sim, limit="20", source_ids="5,45")
    assert [a["ID"] for a in by_id] == [a["ID"] for a in by_key]


async def test_spanish_articles_with_lang_es(sim: Sim) -> None:
    data = await articles(sim, lang="ES", limit="5")
    assert data
    assert {a["LANG"] for a in data} == {"ES"}


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"), ({"lang": "XX"}, "lang"),
     ({"to_ts": "yesterday"}, "to_ts")],
)  # fmt: skip
async def test_malformed_parameter_is_400_with_err(sim: Sim, params: dict[str, str], param: str) -> None:
    r = await sim.coindesk(**params)
    assert r.status_code == 400
    body = r.json()
    assert body["Data"] == {}
    assert body["Err"]["type"] == coindesk.ERR_BAD_PARAM
    assert body["Err"]["other_info"]["param"] == param
    assert isinstance(body["Err"]["message"], str)


async def test_unknown_source_is_404(sim: Sim) -> None:
    r = await sim.coindesk(source_ids="nosuchsource")
    assert r.status_code == 404
    assert r.json()["Err"]["other_info"] == {"param": "source_ids", "values": ["nosuchsource"]}


@pytest.mark.parametrize("header", [True, False])
async def test_wrong_key_is_401_in_header_or_parameter(sim: Sim, header: bool) -> None:
    r = await sim.coindesk(key="f" * 64, header=header)
    assert r.status_code == 401
    assert r.json() == {
        "Data": {},
        "Err": {"type": coindesk.ERR_UNAUTHORIZED, "message": coindesk.UNAUTHORIZED_MESSAGE, "other_info": {}},
    }


async def test_key_as_parameter_and_no_key_are_served(sim: Sim) -> None:
    assert await articles(sim, key=None) == await articles(sim)
    r = await sim.coindesk(header=False)
    assert r.status_code == 200


async def test_wrong_authorization_scheme_is_401(sim: Sim) -> None:
    r = await sim.http.get("/coindesk/news/v1/article/list", headers={"authorization": "Bearer whatever"})
    assert r.status_code == 401


async def test_per_second_limit_then_429_and_next_second_served(limited: Sim, clock: ManualClock) -> None:
    per_second = coindesk.RATE_LIMITS[0][1]
    for _ in range(per_second):
        assert (await limited.coindesk()).status_code == 200
    r = await limited.coindesk()
    assert r.status_code == 429
    assert r.json()["Err"] == {"type": coindesk.ERR_RATE_LIMIT, "message": coindesk.RATE_LIMIT_MESSAGE,
                               "other_info": {}}  # fmt: skip
    assert r.headers["Retry-After"] == "1"
    clock.advance(1.0)
    assert (await limited.coindesk()).status_code == 200


async def test_anonymous_calls_have_a_lower_limit(limited: Sim) -> None:
    anonymous = coindesk.ANONYMOUS_LIMITS[0][1]
    for _ in range(anonymous):
        assert (await limited.coindesk(key=None)).status_code == 200
    assert (await limited.coindesk(key=None)).status_code == 429
    assert (await limited.coindesk()).status_code == 200  # the key has its own budget


async def test_minute_limit(limited: Sim, clock: ManualClock) -> None:
    per_second, per_minute = coindesk.RATE_LIMITS[0][1], coindesk.RATE_LIMITS[1][1]
    clock.set(T0 - T0 % 60)
    served = 0
    for second in range(60):
        clock.set(T0 - T0 % 60 + second)
        for _ in range(per_second):
            if (await limited.coindesk()).status_code == 200:
                served += 1
    assert served == per_minute
