"""get_social's pure parts: the series window and bounds, and where each "now" figure comes from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges.sentiment.parsing import CoinNow
from cerbero_mcp.exchanges.sentiment.schemas import SocialPoint, SocialRequest
from cerbero_mcp.exchanges.sentiment.social import coin_path, now_of, window

NOW = datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)


def coin(**values: float | int | None) -> CoinNow:
    """Return a coin whose unnamed metrics are missing."""
    base: dict[str, object] = {
        "generated": NOW - timedelta(minutes=5),
        "id": "1",
        "name": "Bitcoin",
        "symbol": "BTC",
        "galaxy_score": None,
        "alt_rank": None,
        "sentiment": None,
        "social_volume_24h": None,
        "social_dominance": None,
        "interactions_24h": None,
        "price": 100000.0,
        "market_cap": None,
    }
    base.update(values)
    return CoinNow(**base)  # type: ignore[arg-type]


def test_the_default_windows_end_now_and_start_on_a_bucket() -> None:
    start, end = window(None, NOW, "hour")
    assert end == NOW.replace(second=0)
    assert start == datetime(2026, 2, 27, 12, tzinfo=UTC)
    start, _ = window(None, NOW, "day")
    assert start == datetime(2026, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(("bucket", "days"), [("hour", 32), ("day", 367)])
def test_a_series_longer_than_its_bound_is_refused(bucket: str, days: int) -> None:
    with pytest.raises(InvalidInputError) as raised:
        window(NOW - timedelta(days=days), NOW, bucket)
    assert raised.value.details is not None
    assert raised.value.details["bucket"] == bucket


def test_the_longest_allowed_series_passes() -> None:
    start, end = window(NOW.replace(minute=0, second=0) - timedelta(days=31), NOW.replace(minute=0, second=0), "hour")
    assert end - start == timedelta(days=31)


def test_start_after_end_is_refused_by_the_request_model() -> None:
    with pytest.raises(ValueError, match="start must be before end"):
        SocialRequest(coin="BTC", start=NOW, end=NOW - timedelta(hours=1))


def test_symbols_go_upper_case_and_ids_unchanged() -> None:
    assert coin_path("btc") == "BTC"
    assert coin_path("2") == "2"


def test_now_takes_the_coin_endpoint_first_then_the_list_then_the_latest_bucket() -> None:
    listed = coin(sentiment=79, social_volume_24h=97995, interactions_24h=96447578, galaxy_score=1.0)
    latest = SocialPoint(
        time=NOW.replace(minute=0, second=0),
        sentiment=50,
        social_dominance=9.5,
        interactions=1000,
        posts_active=20,
        alt_rank=7,
    )
    now = now_of(coin(galaxy_score=67.6), listed, latest, NOW)
    assert now.galaxy_score == 67.6  # the coin endpoint's, not the list's
    assert (now.sentiment, now.social_volume_24h, now.interactions_24h) == (79, 97995, 96447578)
    assert now.from_coins_list == ["sentiment", "social_volume_24h", "interactions_24h"]
    assert now.social_dominance == 9.5
    assert now.alt_rank == 7
    assert now.from_latest_bucket == ["alt_rank", "social_dominance"]
    assert (now.interactions_1h, now.posts_active_1h) == (1000, 20)
    assert now.observed_at == NOW - timedelta(minutes=5)  # when LunarCrush generated it
    assert now.source.name == "LunarCrush"


def test_a_figure_no_endpoint_sends_stays_null() -> None:
    now = now_of(coin(), None, None, NOW)
    assert now.sentiment is None
    assert now.social_volume_24h is None
    assert now.from_coins_list == []
    assert now.from_latest_bucket == []
    assert now.latest_bucket_at is None
