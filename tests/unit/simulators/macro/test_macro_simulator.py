"""The macro simulator on the shared harness: one instance for a provider, settings, recorder, faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from macro_sim import T0

from cerbero_mcp.simulators.engine import ManualClock, installed_simulators, start_simulators
from cerbero_mcp.simulators.macro.simulator import SPEC

SETTINGS = {"MACRO_TREASURY_URL", "MACRO_FRED_URL", "MACRO_FINNHUB_URL", "MACRO_CFTC_URL", "FRED_API_KEY",
            "FINNHUB_API_KEY"}  # fmt: skip


def fetch(url: str) -> tuple[int, bytes]:
    """GET `url` over a real socket; return (status, body)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback only
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_spec_is_installed_by_name() -> None:
    assert installed_simulators(["macro"]) == [SPEC]
    assert SPEC.envs == ("mainnet",)


def test_provider_runs_one_instance_for_both_environments() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        assert len(stack.instances) == 1
        assert stack.instance("macro", "testnet") is stack.instance("macro", "mainnet")
        assert set(stack.overrides) == SETTINGS
        url = stack.url("macro", "mainnet")
        assert stack.overrides["MACRO_FRED_URL"] == f"{url}/fred"
        assert stack.overrides["MACRO_FINNHUB_URL"] == f"{url}/finnhub/api/v1"
        creds = stack.credentials("macro", "testnet")
        assert stack.overrides["FRED_API_KEY"] == creds["fred_api_key"]
        assert len(creds["fred_api_key"]) == 32
        assert creds["fred_api_key"].isalnum()
        assert creds["fred_api_key"] == creds["fred_api_key"].lower()


def test_a_provider_asked_for_one_environment_still_starts() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0), envs=["testnet"]) as stack:
        assert [i.config.env for i in stack.instances] == ["mainnet"]


def test_every_source_answers_through_the_settings_urls() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        o = stack.overrides
        status, body = fetch(f"{o['MACRO_TREASURY_URL']}/resource-center/data-chart-center/interest-rates/pages/xml"
                             "?data=daily_treasury_yield_curve&field_tdr_date_value_month=202603")  # fmt: skip
        assert status == 200
        assert body.count(b"<entry>") == 2
        status, body = fetch(f"{o['MACRO_FRED_URL']}/fred/series/observations?series_id=DGS10&file_type=json"
                             f"&api_key={o['FRED_API_KEY']}&limit=1")  # fmt: skip
        assert status == 200
        assert json.loads(body)["observations"][0]["date"] == "2018-01-02"
        status, body = fetch(f"{o['MACRO_FINNHUB_URL']}/quote?symbol=SPY&token={o['FINNHUB_API_KEY']}")
        assert status == 200
        assert json.loads(body)["c"] > 0
        status, body = fetch(f"{o['MACRO_CFTC_URL']}/resource/gpe5-46if.json?$limit=2")
        assert status == 200
        assert len(json.loads(body)) == 2


def test_recorder_masks_the_keys_and_faults_apply_per_source() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        o = stack.overrides
        control = stack.control("macro", "mainnet")
        fetch(f"{o['MACRO_FRED_URL']}/fred/series?series_id=DGS10&file_type=json&api_key={o['FRED_API_KEY']}")
        fetch(f"{o['MACRO_FINNHUB_URL']}/quote?symbol=SPY&token={o['FINNHUB_API_KEY']}")
        recorded: list[Any] = control.recorded()
        assert [r.path for r in recorded] == ["/fred/fred/series", "/finnhub/api/v1/quote"]
        assert recorded[0].query_params["api_key"] == "***"
        assert recorded[1].query_params["token"] == "***"
        assert o["FRED_API_KEY"] not in json.dumps([r.to_dict() for r in recorded])
        control.inject("http_5xx", status=502, path_prefix="/fred", count=1)
        assert (
            fetch(f"{o['MACRO_FRED_URL']}/fred/series?series_id=DGS10&file_type=json&api_key={o['FRED_API_KEY']}")[0]
            == 502
        )
        assert fetch(f"{o['MACRO_FINNHUB_URL']}/quote?symbol=SPY&token={o['FINNHUB_API_KEY']}")[0] == 200


def test_the_rate_limit_switch_is_where_the_test_stack_looks_for_it() -> None:
    with start_simulators([SPEC], clock=ManualClock(T0)) as stack:
        venue = stack.instance("macro", "mainnet").app.state.venue  # type: ignore[attr-defined]
        assert venue.rate_limit is True
        venue.rate_limit = False
        o = stack.overrides
        codes = {fetch(f"{o['MACRO_FINNHUB_URL']}/quote?symbol=DIA&token={o['FINNHUB_API_KEY']}")[0] for _ in range(65)}
        assert codes == {200}
