"""The venue base layer: the client base, the error table and the standard tools every venue registers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.contracts import ToolContext
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.base import (
    ErrorTable,
    VenueClient,
    VenueProfile,
    default_capabilities,
    register_standard_tools,
    venue_request,
)
from cerbero_mcp.exchanges.deribit import errors as deribit_errors
from cerbero_mcp.exchanges.deribit.client import DeribitClient
from cerbero_mcp.exchanges.ibkr import errors as ibkr_errors
from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.settings import Settings
from cerbero_mcp.tooling import ToolSet

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)

# --- error table -----------------------------------------------------------------------------------

TABLE = ErrorTable(
    "toy",
    exact={42: errors.RateLimitError, "E_AUTH": errors.UpstreamAuthError},
    broad={"not found": errors.OrderNotFoundError, "contract not found": errors.InvalidInputError},
)


def test_the_longest_fragment_wins_whatever_the_declaration_order() -> None:
    assert TABLE.classify("Contract NOT FOUND for XYZ") is errors.InvalidInputError
    assert TABLE.classify("order 7 not found") is errors.OrderNotFoundError


def test_an_exact_code_beats_a_fragment() -> None:
    assert TABLE.classify("contract not found", code=42) is errors.RateLimitError
    assert TABLE.classify("contract not found", code="E_AUTH") is errors.UpstreamAuthError
    assert TABLE.classify("contract not found", code=43) is errors.InvalidInputError


def test_without_a_match_the_status_decides() -> None:
    assert TABLE.classify("boom", status=503) is errors.UpstreamError
    assert TABLE.classify("boom", status=500) is errors.UpstreamError
    assert TABLE.classify("boom", status=400) is errors.InvalidOrderError
    assert TABLE.classify("boom") is errors.InvalidOrderError
    assert TABLE.classify("boom", status=400, default=errors.UpstreamError) is errors.UpstreamError
    assert TABLE.classify("not found", status=503) is errors.OrderNotFoundError


def test_the_error_names_the_venue_and_keeps_the_note_out_of_the_match() -> None:
    error = TABLE.error("rejected", code=7, note="not found", details={"venue_code": 7})
    assert isinstance(error, errors.InvalidOrderError)
    assert error.message == "toy: rejected (not found)"
    assert error.details == {"venue": "toy", "venue_code": 7}


def test_deribit_table_keeps_its_mapping() -> None:
    funds = deribit_errors.to_error(10009, "not_enough_funds", {"reason": "margin", "other": 1})
    assert isinstance(funds, errors.InsufficientFundsError)
    assert funds.message == "deribit: not_enough_funds (margin)"
    assert funds.details == {"venue": "deribit", "venue_code": 10009, "venue_data": {"reason": "margin"}}
    assert isinstance(deribit_errors.to_error(11050, "order_not_found"), errors.InvalidOrderError)
    assert isinstance(deribit_errors.to_error(1, "invalid_price: too far"), errors.InvalidOrderError)
    assert isinstance(deribit_errors.to_error(1, "instrument_not_found"), errors.InvalidInputError)
    assert isinstance(deribit_errors.to_error(1, "internal", http_status=502), errors.UpstreamError)
    assert isinstance(deribit_errors.to_error(1, "odd"), errors.InvalidOrderError)


def test_ibkr_table_keeps_its_mapping() -> None:
    assert isinstance(ibkr_errors.to_error("OrderID 999 not found"), errors.OrderNotFoundError)
    assert isinstance(ibkr_errors.to_error("Contract not found: conid 1"), errors.InvalidInputError)
    assert isinstance(ibkr_errors.to_error("Insufficient buying power"), errors.InsufficientFundsError)
    assert isinstance(ibkr_errors.to_error("no bridge"), errors.UpstreamError)
    server = ibkr_errors.to_error("HTTP 500", status=500)
    assert isinstance(server, errors.UpstreamError)
    assert server.details == {"venue": "ibkr", "status": 500}
    assert isinstance(ibkr_errors.to_error("odd", default=errors.UpstreamError), errors.UpstreamError)
    assert ibkr_errors.to_error("odd").details == {"venue": "ibkr"}


def test_ibkr_refuses_questions_that_signal_a_problem_and_confirms_formalities() -> None:
    refused = ibkr_errors.refused_question(["This order exceeds your margin"], ["o1"])
    assert isinstance(refused, errors.InsufficientFundsError)
    assert refused.details == {"venue": "ibkr", "message_ids": ["o1"]}
    assert isinstance(ibkr_errors.refused_question(["Not permitted for this account"], []), errors.InvalidOrderError)
    assert ibkr_errors.refused_question(["You are submitting an order without market data"], ["o354"]) is None


# --- client ----------------------------------------------------------------------------------------


class ToyClient(VenueClient):
    """A venue client with nothing of its own (it borrows Deribit's settings)."""

    venue = "deribit"
    setup_hint = "set them"

    async def probe(self) -> None:
        """Answer."""


def test_the_transport_comes_from_settings() -> None:
    settings = Settings.from_mapping(
        {
            "DERIBIT_URL_TESTNET": "http://127.0.0.1:1/api/v2/",
            "UPSTREAM_CONNECT_TIMEOUT_S": "1.5",
            "UPSTREAM_READ_TIMEOUT_S": "2.5",
            "UPSTREAM_POOL_SIZE": "7",
        }
    )
    http = ToyClient.transport(settings, "testnet")
    assert (http.venue, http.base_url) == ("deribit", "http://127.0.0.1:1/api/v2")
    assert (http.connect_timeout_s, http.read_timeout_s, http._pool_size) == (1.5, 2.5, 7)


async def test_a_client_without_credentials_raises_not_configured_naming_them() -> None:
    client = await ToyClient.build(Settings.from_mapping({}), "mainnet")
    assert client.environment == "mainnet"
    with pytest.raises(errors.NotConfiguredError) as raised:
        client.require_credentials()
    assert "DERIBIT_CLIENT_ID_LIVE (or DERIBIT_CLIENT_ID)" in raised.value.message
    assert raised.value.details is not None
    assert raised.value.details["missing"] == client.missing
    assert raised.value.suggested_fix == "set them"
    await client.aclose()


async def test_a_client_with_credentials_passes_the_check() -> None:
    settings = Settings.from_mapping({"DERIBIT_CLIENT_ID": "id", "DERIBIT_CLIENT_SECRET": "secret"})
    client = await ToyClient.build(settings, "testnet")
    client.require_credentials()
    assert client.missing == []


async def test_aclose_closes_the_pool() -> None:
    client = ToyClient(UpstreamHTTP("deribit", "http://127.0.0.1:1"), "testnet")
    session = client.http._ensure_session()
    await client.aclose()
    assert session.closed


async def test_the_venue_clients_build_on_the_base() -> None:
    settings = Settings.from_mapping({"DERIBIT_CLIENT_ID": "id", "DERIBIT_CLIENT_SECRET": "s"})
    deribit = await DeribitClient.build(settings, "testnet")
    assert deribit.http.base_url == settings.venue_url("deribit", "testnet")
    assert deribit.missing == []
    ibkr = await IbkrClient.build(settings, "testnet")
    assert ibkr.http._default_headers == {"User-Agent": "cerbero-mcp"}
    with pytest.raises(errors.NotConfiguredError) as raised:
        ibkr.require_signer()
    assert "IBKR_CONSUMER_KEY_TESTNET" in raised.value.message
    assert raised.value.suggested_fix is not None
    assert "ibkr_oauth_setup.py" in raised.value.suggested_fix
    await deribit.aclose()
    await ibkr.aclose()


# --- standard tools --------------------------------------------------------------------------------


@dataclass
class State:
    """The part of the app state a read tool reaches."""

    settings: Settings
    registry: Any = None
    pipeline: Any = None


def context(settings: Settings, venue: str = "deribit") -> ToolContext:
    """Return a tool context for `venue` on testnet."""
    return ToolContext(venue=venue, tool="t", environment="testnet", request_id="r", bot_tag="b", state=State(settings))


class Market:
    """Canned candles and a canned book, recording what the tools asked for."""

    def __init__(self) -> None:
        self.bars_asked: list[v.BarsRequest] = []
        self.books_asked: list[tuple[str, int]] = []

    async def fetch_bars(self, ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
        """Return `limit` rising hourly candles."""
        self.bars_asked.append(req)
        bars = [
            v.Bar(
                ts=T0 + timedelta(hours=i),
                open=Decimal(100 + i),
                high=Decimal(101 + i),
                low=Decimal(99 + i),
                close=Decimal(100 + i),
                volume=Decimal(1),
            )
            for i in range(req.limit)
        ]
        return v.Bars(
            instrument=req.instrument, resolution=req.resolution, bars=bars, has_more=False, data_timestamp=T0
        )

    async def fetch_book(self, ctx: ToolContext, instrument: str, depth: int) -> v.OrderBook:
        """Return a book with more size on the bid."""
        self.books_asked.append((instrument, depth))
        return v.OrderBook(
            instrument=instrument,
            bids=[v.BookLevel(price=Decimal(99), size=Decimal(3))],
            asks=[v.BookLevel(price=Decimal(101), size=Decimal(1))],
            data_timestamp=T0,
        )


def profile(market: Market) -> VenueProfile:
    """Return a profile on `market` (Toy Exchange, instrument TOY-1)."""
    return VenueProfile(
        title="Toy Exchange",
        example_instrument="TOY-1",
        fetch_bars=market.fetch_bars,
        fetch_book=market.fetch_book,
        capabilities=default_capabilities(post_only=False, streaming=True),
        info={"note": "toy"},
    )


def test_registration_declares_the_standard_tools_with_the_venues_models() -> None:
    tools = ToolSet("toy_venue")
    register_standard_tools(tools, profile(Market()))
    specs = {spec.name: spec for spec in tools.specs}
    assert list(specs) == [
        "environment_info",
        "get_orderbook",
        "get_bars",
        "get_indicators",
        "get_orderbook_imbalance",
    ]
    assert specs["get_bars"].request_model.__name__ == "ToyVenueBarsRequest"
    assert issubclass(specs["get_bars"].request_model, v.BarsRequest)
    assert specs["get_orderbook"].request_model.__name__ == "ToyVenueOrderBookRequest"
    assert specs["get_indicators"].request_model.__name__ == "ToyVenueIndicatorsRequest"
    assert specs["get_orderbook_imbalance"].request_model.__name__ == "ToyVenueImbalanceRequest"
    assert specs["environment_info"].request_model is v.EnvironmentInfoRequest
    assert specs["environment_info"].summary.startswith("Say which Toy Exchange environment")
    for spec in specs.values():
        assert spec.kind == "read"
        assert all(example.get("instrument", "TOY-1") == "TOY-1" for example in spec.examples())
        assert spec.examples()


def test_a_venue_request_refuses_unknown_fields_and_keeps_the_common_rules() -> None:
    model = venue_request("toy", v.BarsRequest, {"instrument": "TOY-1"})
    assert model.__name__ == "ToyBarsRequest"
    assert model.model_json_schema()["examples"] == [{"instrument": "TOY-1"}]
    with pytest.raises(ValueError, match="extra"):
        model.model_validate({"instrument": "TOY-1", "nope": 1})
    with pytest.raises(ValueError, match="start must be before end"):
        model.model_validate({"instrument": "TOY-1", "start": T0, "end": T0})


def test_request_and_response_schema_names_are_unique_across_installed_venues() -> None:
    by_name: dict[str, type] = {}
    for toolset in installed_toolsets():
        for spec in toolset.specs:
            for model in (spec.request_model, spec.response_model):
                assert by_name.setdefault(model.__name__, model) is model, f"{model.__name__} twice"
    assert {"DeribitBarsRequest", "IbkrBarsRequest", "DeribitImbalanceRequest", "IbkrIndicatorsRequest"} <= set(by_name)


async def test_get_indicators_fetches_the_lookback_and_keeps_the_latest_points() -> None:
    market = Market()
    tools = register_standard_tools(ToolSet("deribit"), profile(market))
    ctx = context(Settings.from_mapping({}))
    req = v.IndicatorsRequest(instrument="TOY-1", indicators=[{"name": "sma", "params": {"period": 3}}], lookback=50)
    result = await tools.get_indicators(ctx, req)
    assert [(r.instrument, r.limit, r.resolution) for r in market.bars_asked] == [("TOY-1", 50, "1h")]
    assert isinstance(result, v.Indicators)
    assert result.timestamps == [T0 + timedelta(hours=49)]
    assert result.indicators[0].outputs
    bars = await tools.get_bars(ctx, v.BarsRequest(instrument="TOY-1", limit=3))
    assert isinstance(bars, v.Bars)
    assert len(bars.bars) == 3


async def test_the_imbalance_and_the_book_read_the_venues_book() -> None:
    market = Market()
    tools = register_standard_tools(ToolSet("deribit"), profile(market))
    ctx = context(Settings.from_mapping({}))
    imbalance = await tools.get_orderbook_imbalance(ctx, v.ImbalanceRequest(instrument="TOY-1", levels=5))
    book = await tools.get_orderbook(ctx, v.OrderBookRequest(instrument="TOY-1", depth=3))
    assert market.books_asked == [("TOY-1", 20), ("TOY-1", 3)]
    assert isinstance(imbalance, v.Imbalance)
    assert imbalance.volume_imbalance == pytest.approx(0.5)
    assert imbalance.mid == Decimal(100)
    assert isinstance(book, v.OrderBook)


async def test_environment_info_reports_the_venue_settings_and_profile() -> None:
    settings = Settings.from_mapping({"DERIBIT_URL_TESTNET": "http://127.0.0.1:9/api/v2", "DERIBIT_MAX_LEVERAGE": "3"})
    tools = register_standard_tools(ToolSet("deribit"), profile(Market()))
    info = await tools.environment_info(context(settings), v.EnvironmentInfoRequest())
    assert isinstance(info, v.EnvironmentInfo)
    assert (info.venue, info.environment, info.base_url) == ("deribit", "testnet", "http://127.0.0.1:9/api/v2")
    assert info.credentials_configured is False
    assert info.missing_credentials == settings.missing_credentials("deribit", "testnet")
    assert info.max_leverage == Decimal(3)
    assert info.capabilities["post_only"] is False
    assert info.capabilities["streaming"] is True
    assert info.capabilities["get_bars"] is True
    assert info.info == {"note": "toy"}
