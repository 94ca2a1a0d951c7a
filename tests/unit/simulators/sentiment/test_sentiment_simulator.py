"""The sentiment simulator on the shared harness: one instance for a provider, settings, recorder, faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sentiment_sim import T0

from cerbero_mcp.simulators.engine import ManualClock, installed_simulators, start_simulators
from cerbero_mcp.simulators.sentiment.simulator import SPEC

SETTINGS = {
    "SENTIMENT_CRYPTOPANIC_URL", "SENTIMENT_COINDESK_URL", "SENTIMENT_LUNARCRUSH_URL", "CRYPTOPANIC_KEY",
    "COINDESK_API_KEY", "LUNARCRUSH_KEY",
}  # fmt: skip


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET `url` over a real socket; return (status, body)."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - loopback only
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_spec_is_installed_by_name() -> None:
    assert installed_simulators(["sentiment"]) == [SPEC]
    assert SPEC.venue == "sentiment"
    assert SPEC.envs == ("mainnet",)


def test_provider_runs_one_instance_with_exactly_its_settings() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        assert len(stack.instances) == 1
        assert stack.instance("sentiment", "testnet") is stack.instance("sentiment", "mainnet")
        assert set(stack.overrides) == SETTINGS
        url = stack.url("sentiment", "mainnet")
        assert stack.overrides["SENTIMENT_CRYPTOPANIC_URL"] == f"{url}/cryptopanic"
        assert stack.overrides["SENTIMENT_COINDESK_URL"] == f"{url}/coindesk"
        assert stack.overrides["SENTIMENT_LUNARCRUSH_URL"] == f"{url}/lunarcrush"
        creds = stack.credentials("sentiment", "mainnet")
        assert stack.overrides["CRYPTOPANIC_KEY"] == creds["cryptopanic_key"]
        assert stack.overrides["COINDESK_API_KEY"] == creds["coindesk_api_key"]
        assert stack.overrides["LUNARCRUSH_KEY"] == creds["lunarcrush_key"]
        assert len(set(creds.values())) == len(creds)


def test_generated_keys_look_like_the_sources_keys() -> None:
    creds = SPEC.credentials("mainnet")
    assert len(creds["cryptopanic_key"]) == 40
    assert int(creds["cryptopanic_key"], 16) >= 0
    assert len(creds["coindesk_api_key"]) == 64
    assert int(creds["coindesk_api_key"], 16) >= 0
    assert len(creds["lunarcrush_key"]) == 40
    assert creds["lunarcrush_key"].isalnum()
    assert SPEC.credentials("mainnet") != creds


def test_every_source_answers_through_the_settings_urls() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        o = stack.overrides
        cp = o["SENTIMENT_CRYPTOPANIC_URL"]
        status, body = fetch(
            f"{cp}/api/developer/v2/posts/?auth_token={o['CRYPTOPANIC_KEY']}&public=true&currencies=BTC"
        )
        assert status == 200
        page = json.loads(body)
        assert page["results"]
        assert page["next"].startswith(f"{o['SENTIMENT_CRYPTOPANIC_URL']}/api/developer/v2/posts/?")
        assert fetch(page["next"])[0] == 200  # the absolute next URL works as given
        status, body = fetch(f"{o['SENTIMENT_COINDESK_URL']}/news/v1/article/list?lang=EN&limit=3",
                             {"authorization": f"Apikey {o['COINDESK_API_KEY']}"})  # fmt: skip
        assert status == 200
        assert len(json.loads(body)["Data"]) == 3
        status, body = fetch(f"{o['SENTIMENT_LUNARCRUSH_URL']}/api4/public/coins/BTC/v1",
                             {"Authorization": f"Bearer {o['LUNARCRUSH_KEY']}"})  # fmt: skip
        assert status == 200
        assert json.loads(body)["data"]["symbol"] == "BTC"


def test_wrong_keys_get_each_sources_auth_error_over_the_wire() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        o = stack.overrides
        assert fetch(f"{o['SENTIMENT_CRYPTOPANIC_URL']}/api/developer/v2/posts/?auth_token=nope")[0] == 401
        assert fetch(f"{o['SENTIMENT_COINDESK_URL']}/news/v1/article/list", {"authorization": "Apikey nope"})[0] == 401
        assert (
            fetch(f"{o['SENTIMENT_LUNARCRUSH_URL']}/api4/public/coins/BTC/v1", {"Authorization": "Bearer x"})[0] == 401
        )


def test_recorder_masks_the_keys_and_faults_apply_per_source() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        o = stack.overrides
        control = stack.control("sentiment", "mainnet")
        fetch(f"{o['SENTIMENT_CRYPTOPANIC_URL']}/api/developer/v2/posts/?auth_token={o['CRYPTOPANIC_KEY']}")
        fetch(f"{o['SENTIMENT_COINDESK_URL']}/news/v1/article/list?api_key={o['COINDESK_API_KEY']}")
        fetch(
            f"{o['SENTIMENT_LUNARCRUSH_URL']}/api4/public/coins/ETH/v1",
            {"Authorization": f"Bearer {o['LUNARCRUSH_KEY']}"},
        )
        recorded: list[Any] = control.recorded()
        assert [r.path for r in recorded] == [
            "/cryptopanic/api/developer/v2/posts/",
            "/coindesk/news/v1/article/list",
            "/lunarcrush/api4/public/coins/ETH/v1",
        ]
        assert recorded[0].query_params["auth_token"] == "***"
        assert recorded[1].query_params["api_key"] == "***"
        dump = json.dumps([r.to_dict() for r in recorded])
        for key in ("CRYPTOPANIC_KEY", "COINDESK_API_KEY", "LUNARCRUSH_KEY"):
            assert o[key] not in dump
        control.inject("http_5xx", status=502, path_prefix="/coindesk", count=1)
        control.inject("rate_limit", path_prefix="/lunarcrush", count=1)
        assert fetch(f"{o['SENTIMENT_COINDESK_URL']}/news/v1/article/list?api_key={o['COINDESK_API_KEY']}")[0] == 502
        bearer = {"Authorization": f"Bearer {o['LUNARCRUSH_KEY']}"}
        assert fetch(f"{o['SENTIMENT_LUNARCRUSH_URL']}/api4/public/coins/ETH/v1", bearer)[0] == 429
        assert fetch(f"{o['SENTIMENT_LUNARCRUSH_URL']}/api4/public/coins/ETH/v1", bearer)[0] == 200
        assert fetch(f"{o['SENTIMENT_COINDESK_URL']}/news/v1/article/list?api_key={o['COINDESK_API_KEY']}")[0] == 200
        assert (
            fetch(f"{o['SENTIMENT_CRYPTOPANIC_URL']}/api/developer/v2/posts/?auth_token={o['CRYPTOPANIC_KEY']}")[0]
            == 200
        )


def test_the_rate_limit_switch_is_where_the_test_stack_looks_for_it() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        venue = stack.instance("sentiment", "mainnet").app.state.venue  # type: ignore[attr-defined]
        assert venue.rate_limit is True
        venue.rate_limit = False
        o = stack.overrides
        bearer = {"Authorization": f"Bearer {o['LUNARCRUSH_KEY']}"}
        codes = {fetch(f"{o['SENTIMENT_LUNARCRUSH_URL']}/api4/public/coins/BTC/v1", bearer)[0] for _ in range(15)}
        assert codes == {200}
