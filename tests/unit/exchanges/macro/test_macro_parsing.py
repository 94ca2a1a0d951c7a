"""The production parsing and error tables on the sources' documented bodies (tests/fixtures/macro/)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from cerbero_mcp.common.errors import NotFoundError, RateLimitError, UpstreamAuthError, UpstreamError
from cerbero_mcp.common.http import UpstreamResponse
from cerbero_mcp.exchanges.macro.errors import CFTC_ERRORS, FINNHUB_ERRORS, FRED_ERRORS, error_of
from cerbero_mcp.exchanges.macro.parsing import (
    DISAGGREGATED_CLASSES,
    TFF_CLASSES,
    fred_value,
    parse_cot_rows,
    parse_finnhub_calendar,
    parse_finnhub_quote,
    parse_fred_observations,
    parse_fred_series,
    parse_treasury_feed,
    tenor_of,
)
from support.fixtures import FIXTURES

MACRO = FIXTURES / "macro"


def body(name: str) -> bytes:
    """Return a fixture's bytes."""
    return (MACRO / name).read_bytes()


def decoded(name: str) -> object:
    """Return a JSON fixture decoded as the transport decodes it (`UpstreamResponse.json()`)."""
    return json.loads(body(name))


# --- Treasury ------------------------------------------------------------------------------------------


def test_treasury_feed_fixture_parses_every_tenor_by_element_name() -> None:
    days = parse_treasury_feed(body("treasury_daily_yield_curve.xml"))
    assert [day.day for day in days] == [date(2020, 7, 1), date(2020, 7, 2)]
    first = days[0]
    assert [item.tenor for item in first.yields] == [
        "1M", "2M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y"
    ]  # fmt: skip
    assert first.get("10Y") == 0.69
    assert first.get("30Y") == 1.43
    assert days[1].get("7Y") == 0.5


def test_treasury_feed_ignores_added_fields_and_tolerates_missing_tenors() -> None:
    days = parse_treasury_feed(body("treasury_daily_yield_curve.xml"))
    labels = {item.tenor for item in days[0].yields}
    assert "4M" not in labels  # the 2020 feed predates BC_4MONTH
    assert not any("DISPLAY" in label for label in labels)  # BC_30YEARDISPLAY is not a tenor
    added = body("treasury_daily_yield_curve.xml").replace(
        b'<d:BC_2MONTH m:type="Edm.Double">0.12</d:BC_2MONTH>',
        b'<d:BC_1_5MONTH m:type="Edm.Double">0.11</d:BC_1_5MONTH><d:BC_4MONTH m:type="Edm.Double" m:null="true" />',
    )
    day = parse_treasury_feed(added)[0]
    assert day.get("1.5M") == 0.11
    assert day.get("2M") is None
    assert day.get("4M") is None


def test_treasury_tenor_labels() -> None:
    assert tenor_of("BC_1_5MONTH") == ("1.5M", 1.5 / 12)
    assert tenor_of("BC_10YEAR") == ("10Y", 10.0)
    assert tenor_of("BC_30YEARDISPLAY") is None
    assert tenor_of("NEW_DATE") is None


def test_treasury_feed_with_a_dtd_or_not_atom_is_refused() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaa">]><feed xmlns="http://www.w3.org/2005/Atom"/>'
    with pytest.raises(UpstreamError, match="DTD"):
        parse_treasury_feed(evil)
    with pytest.raises(UpstreamError, match="not the Atom feed"):
        parse_treasury_feed(b"<html><body>maintenance</body></html>")
    with pytest.raises(UpstreamError, match="well-formed"):
        parse_treasury_feed(b"<feed")


def test_treasury_wrong_namespace_is_not_read_as_a_tenor() -> None:
    # Parsing is by namespace and element name: a BC_ field outside the OData data namespace is no tenor.
    text = body("treasury_daily_yield_curve.xml").replace(
        b'<d:BC_1MONTH m:type="Edm.Double">0.12</d:BC_1MONTH>',
        b'<x:BC_1MONTH xmlns:x="urn:other">9.99</x:BC_1MONTH>',
    )
    assert parse_treasury_feed(text)[0].get("1M") is None


# --- FRED ----------------------------------------------------------------------------------------------


def test_fred_observations_fixture_values_are_numbers_from_strings() -> None:
    page = parse_fred_observations(decoded("fred_series_observations.json"))
    assert [(p.day, p.value) for p in page.points] == [
        (date(1929, 1, 1), 1065.9), (date(1930, 1, 1), 975.5), (date(1931, 1, 1), 912.1)
    ]  # fmt: skip
    assert (page.count, page.offset, page.limit, page.units) == (84, 0, 100000, "lin")


def test_fred_missing_value_dot_is_null_not_zero() -> None:
    payload = decoded("fred_series_observations.json")
    assert isinstance(payload, dict)
    payload["observations"][1]["value"] = "."
    page = parse_fred_observations(payload)
    assert page.points[1].value is None
    assert page.points[0].value == 1065.9
    assert fred_value(".") is None
    with pytest.raises(UpstreamError):
        fred_value(4.5)  # FRED sends strings; a number means the body is not FRED's


def test_fred_series_fixture() -> None:
    info = parse_fred_series(decoded("fred_series.json"))
    assert (info.series_id, info.title, info.frequency) == ("GNPCA", "Real Gross National Product", "Annual")
    assert info.units == "Billions of Chained 2009 Dollars"
    assert info.last_updated == "2013-07-31 09:26:16-05"


def response(status: int, payload: object, headers: dict[str, str] | None = None) -> UpstreamResponse:
    """Return an upstream answer carrying `payload` as JSON."""
    return UpstreamResponse(status, headers or {}, json.dumps(payload).encode(), "http://source/x", 1.0)


def test_fred_error_fixture_unregistered_key_is_upstream_auth() -> None:
    error = error_of(FRED_ERRORS, response(400, decoded("fred_error.json")))
    assert isinstance(error, UpstreamAuthError)
    assert "api_key is not registered" in error.message


def test_fred_unknown_series_is_not_found_and_429_keeps_retry_after() -> None:
    unknown = {"error_code": 400, "error_message": "Bad Request.  The series does not exist."}
    assert isinstance(error_of(FRED_ERRORS, response(400, unknown)), NotFoundError)
    with pytest.raises(RateLimitError) as caught:
        error_of(FRED_ERRORS, response(429, {"error_code": 429}, {"Retry-After": "20"}))
    assert caught.value.headers["Retry-After"] == "20"
    with pytest.raises(UpstreamError):
        error_of(FRED_ERRORS, response(500, {"error_code": 500, "error_message": "Internal Server Error"}))


def test_error_messages_never_carry_the_key() -> None:
    key = "abcdefghijklmnopqrstuvwxyz123456"
    error = error_of(FRED_ERRORS, response(400, {"error_message": f"Bad Request. api_key {key} is invalid"}),
                     secrets=(key,))  # fmt: skip
    assert key not in error.message
    assert "***" in error.message


# --- Finnhub -------------------------------------------------------------------------------------------


def test_finnhub_quote_fixture_unix_seconds() -> None:
    quote = parse_finnhub_quote("AAPL", decoded("finnhub_quote.json"))
    assert quote.observed_at == datetime.fromtimestamp(1714500000, UTC) == datetime(2024, 4, 30, 18, 0, tzinfo=UTC)
    assert (quote.last, quote.change, quote.change_pct, quote.previous_close) == (189.1, 1.2, 0.64, 187.9)


def test_finnhub_all_zero_quote_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        parse_finnhub_quote("NOPE", {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0})


def test_finnhub_calendar_fixture() -> None:
    events = parse_finnhub_calendar(decoded("finnhub_economic_calendar.json"))
    first, second = events
    assert first.time == datetime(2026, 5, 21, 12, 30, tzinfo=UTC)
    assert first.event == "Building Permits Prel"
    assert (first.actual, first.estimate, first.previous, first.impact) == (1.442, 1.39, 1.363, "high")
    assert (second.actual, second.estimate, second.previous) == (None, None, None)


def test_finnhub_errors() -> None:
    assert isinstance(error_of(FINNHUB_ERRORS, response(401, {"error": "Invalid API key"})), UpstreamAuthError)
    denied = {"error": "You don't have access to this resource."}
    assert isinstance(error_of(FINNHUB_ERRORS, response(403, denied)), UpstreamAuthError)


# --- CFTC ----------------------------------------------------------------------------------------------


def test_cot_tff_fixture_nets_per_class() -> None:
    (row,) = parse_cot_rows(decoded("cftc_tff_row.json"), TFF_CLASSES)
    assert (row.report_date, row.code, row.open_interest) == (date(2025, 8, 5), "232741", 163900)
    nets = {name: position.net for name, position in row.classes.items()}
    assert nets == {
        "dealer": 69127 - 2137,
        "asset_manager": 40337 - 101819,
        "leveraged_funds": 19628 - 30092,
        "other_reportables": 4541 - 600,
        "nonreportables": 21761 - 20746,
    }
    assert row.classes["dealer"].spread == 166
    assert row.classes["nonreportables"].spread is None


def test_cot_disaggregated_fixture_reads_the_double_underscore_swap_fields() -> None:
    rows = parse_cot_rows(decoded("cftc_disaggregated_rows.json"), DISAGGREGATED_CLASSES)
    assert [row.report_date for row in rows] == [date(2026, 9, 22), date(2026, 9, 29)]  # oldest first
    latest = rows[-1]
    assert latest.classes["swap_dealers"].short == 244539
    assert latest.classes["swap_dealers"].spread == 25796
    assert latest.classes["managed_money"].net == 131711 - 11393 == 120318
    assert latest.classes["producer_merchant"].net == -21263


def test_cot_row_without_a_class_leaves_it_out() -> None:
    rows = decoded("cftc_disaggregated_rows.json")
    assert isinstance(rows, list)
    del rows[0]["swap__positions_short_all"]
    parsed = parse_cot_rows(rows[:1], DISAGGREGATED_CLASSES)[0]
    assert "swap_dealers" not in parsed.classes
    assert "managed_money" in parsed.classes


def test_cftc_socrata_errors() -> None:
    malformed = {"code": "query.compiler.malformed", "error": True, "message": "Could not parse SoQL query"}
    assert error_of(CFTC_ERRORS, response(400, malformed)).code == "BAD_REQUEST"
    token = {"code": "permission_denied", "error": True, "message": "Invalid app_token specified"}
    assert isinstance(error_of(CFTC_ERRORS, response(403, token)), UpstreamAuthError)
