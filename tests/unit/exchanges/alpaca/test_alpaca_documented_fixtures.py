"""Alpaca's production parsing on the documented bodies (tests/fixtures/alpaca): every tool reads them right."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.alpaca import extras, tools
from cerbero_mcp.exchanges.alpaca import schemas as s
from cerbero_mcp.exchanges.alpaca.mapping import parse_time, to_order
from support.fixtures import load_fixture
from unit.exchanges.alpaca.alpaca_documented import DocumentedClient


def test_the_market_order_answer_maps_to_an_open_order_with_decimal_quantities() -> None:
    order = to_order(load_fixture("alpaca", "order_create"))
    assert order.order_id == "61e69015-8549-4bfd-b9c3-01e75843f47d"
    assert order.client_order_id == "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4"
    assert (order.side, order.type, order.status, order.time_in_force) == ("buy", "market", "open", "day")
    assert order.quantity == Decimal(1)
    assert order.filled_quantity == Decimal(0)
    assert order.created_at == datetime(2021, 3, 16, 18, 38, 1, 942282, tzinfo=UTC)
    assert order.info["order_class"] == "simple"


def test_the_replace_answer_names_the_order_it_replaces() -> None:
    raw = load_fixture("alpaca", "order_replace")
    order = to_order(raw)
    assert order.order_id == raw["id"]
    assert order.info["replaces"] == raw["replaces"]


def test_a_stop_order_maps_to_stop_market() -> None:
    (raw,) = load_fixture("alpaca", "orders")
    assert to_order(raw).type == "stop_market"


def test_clock_times_with_offsets_and_nanoseconds_parse_to_utc() -> None:
    clock = load_fixture("alpaca", "clock")
    assert parse_time(clock["timestamp"]) == datetime(2022, 5, 16, 20, 32, 24, 143735, tzinfo=UTC)
    assert parse_time(clock["next_open"]) == datetime(2022, 5, 17, 13, 30, tzinfo=UTC)


async def test_get_clock_reads_the_documented_clock(ctx: Any) -> None:
    clock = await extras.get_clock(ctx, s.AlpacaClockRequest())
    assert clock.is_open is False
    assert clock.next_close == datetime(2022, 5, 17, 20, 0, tzinfo=UTC)


async def test_get_calendar_turns_new_york_times_into_utc_sessions(ctx: Any) -> None:
    calendar = await extras.get_calendar(ctx, s.CalendarRequest(start=date(2022, 5, 16), end=date(2022, 5, 17)))
    first = calendar.days[0]
    assert first.date == date(2022, 5, 16)
    assert first.open == datetime(2022, 5, 16, 13, 30, tzinfo=UTC)  # 09:30 EDT
    assert first.session_open == datetime(2022, 5, 16, 8, 0, tzinfo=UTC)  # 04:00 EDT
    assert first.early_close is False


def test_an_early_close_is_flagged() -> None:
    day = extras.to_trading_day({"date": "2026-11-27", "open": "09:30", "close": "13:00"})
    assert day is not None
    assert day.early_close is True
    assert day.close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 13:00 EST


async def test_get_account_reports_buying_powers_and_the_pattern_day_trader_facts(ctx: Any) -> None:
    raw = load_fixture("alpaca", "account")
    account = await tools.get_account(ctx, s.AlpacaAccountRequest())
    assert account.equity == Decimal(str(raw["equity"]))
    assert account.available == Decimal(str(raw["buying_power"]))
    assert account.info["daytrading_buying_power"] == Decimal(str(raw["daytrading_buying_power"]))
    assert account.info["pattern_day_trader"] is raw["pattern_day_trader"]
    assert account.info["daytrade_count"] == raw["daytrade_count"]
    positions = load_fixture("alpaca", "positions")
    assert account.unrealized_pnl == sum(Decimal(str(p["unrealized_pl"])) for p in positions)


async def test_get_positions_maps_sides_and_sizes(ctx: Any) -> None:
    raw = load_fixture("alpaca", "positions")
    result = await tools.get_positions(ctx, s.AlpacaPositionsRequest())
    assert [p.instrument for p in result.positions] == [row["symbol"] for row in raw]
    first = result.positions[0]
    assert first.side == raw[0]["side"]
    assert first.size == abs(Decimal(str(raw[0]["qty"])))
    assert first.average_price == Decimal(str(raw[0]["avg_entry_price"]))


async def test_get_activities_reads_fills_and_non_trade_activities(ctx: Any) -> None:
    result = await extras.get_activities(ctx, s.AlpacaActivitiesRequest(activity_types=["FILL", "CSD"], page_size=4))
    kinds = [a.activity_type for a in result.activities]
    assert kinds == ["CSD", "CSD", "FILL", "CSD"]
    fill = result.activities[2]
    assert (fill.instrument, fill.side, fill.quantity, fill.price) == ("GOOGL", "buy", Decimal(9), Decimal("2630.95"))
    assert result.activities[0].net_amount == Decimal("33324.35")
    # A full page may have a next one: the token is the last activity's id.
    assert result.next_page_token == result.activities[-1].activity_id


async def test_get_bars_reads_the_multi_symbol_body_oldest_first(ctx: Any) -> None:
    raw = load_fixture("alpaca", "stock_bars_multi")["bars"]["AAPL"]
    from cerbero_mcp.exchanges.alpaca.market import fetch_bars

    bars = await fetch_bars(ctx, v.BarsRequest(instrument="AAPL", resolution="1d", limit=5))
    assert [b.close for b in bars.bars] == [Decimal(str(row["c"])) for row in raw][-5:]
    assert bars.bars == sorted(bars.bars, key=lambda b: b.ts)


async def test_get_snapshot_reads_trade_quote_and_bars(ctx: Any) -> None:
    raw = load_fixture("alpaca", "stock_snapshot")["AAPL"]
    result = await extras.get_snapshot(ctx, s.AlpacaSnapshotRequest(instruments=["AAPL", "NOPE"]))
    (snap,) = result.snapshots
    assert snap.latest_trade is not None
    assert snap.latest_trade.price == Decimal(str(raw["latestTrade"]["p"]))
    assert snap.latest_quote is not None
    assert snap.latest_quote.bid == Decimal(str(raw["latestQuote"]["bp"]))
    assert snap.daily_bar is not None
    assert snap.daily_bar.close == Decimal(str(raw["dailyBar"]["c"]))
    assert result.missing == ["NOPE"]


async def test_get_ticker_of_a_crypto_pair_reads_the_crypto_snapshot(documented: DocumentedClient, ctx: Any) -> None:
    raw = load_fixture("alpaca", "crypto_snapshot")["snapshots"]["ETH/USD"]
    ticker = await tools.get_ticker(ctx, s.AlpacaTickerRequest(instrument="ETH/USD"))
    assert ticker.last == Decimal(str(raw["latestTrade"]["p"]))
    assert ticker.bid == Decimal(str(raw["latestQuote"]["bp"]))
    assert documented.calls[-1][1] == "/v1beta3/crypto/us/snapshots"


async def test_get_option_chain_reads_greeks_and_implied_volatility(ctx: Any) -> None:
    chain = await extras.get_option_chain(ctx, s.AlpacaOptionChainRequest(underlying="AAPL"))
    (option,) = chain.options
    assert option.symbol == "AAPL240503P00155000"
    assert (option.expiry, option.right, option.strike) == (date(2024, 5, 3), "put", Decimal(155))
    assert option.greeks is not None
    assert option.greeks.delta == Decimal("-0.06962352623019707")
    assert option.implied_volatility == Decimal("0.4584478444465036")
    assert (option.bid, option.ask) == (Decimal("0.32"), Decimal("0.35"))
    assert chain.next_page_token is None


async def test_the_crypto_book_is_read_from_the_orderbooks_body(ctx: Any) -> None:
    from cerbero_mcp.exchanges.alpaca.market import fetch_book

    book = await fetch_book(ctx, "BTC/USD", 10)
    assert book.bids[0].price == Decimal("27511.78083")
    assert book.asks[0].size == Decimal("0.2632414")


async def test_a_stock_book_is_the_nbbo_as_one_level(ctx: Any) -> None:
    from cerbero_mcp.exchanges.alpaca.market import fetch_book

    book = await fetch_book(ctx, "AAPL", 10)
    assert [level.price for level in book.bids] == [Decimal("161.19")]
    assert [level.price for level in book.asks] == [Decimal("161.2")]


async def test_cancel_all_reports_each_order_of_the_207(ctx: Any) -> None:
    result = await tools.cancel_all_orders(ctx, s.AlpacaCancelAllRequest())
    assert result.cancelled == 1
    assert [(r.status, r.cancelled) for r in result.results] == [(200, True), (404, False)]
    assert result.results[1].message == "order not found"


async def test_close_all_reports_each_position_of_the_207(ctx: Any) -> None:
    raw = load_fixture("alpaca", "close_all_207")
    result = await extras.close_all_positions(ctx, s.AlpacaCloseAllRequest())
    assert [r.instrument for r in result.results] == [row["symbol"] for row in raw]
    assert result.results[0].order is not None
    assert result.results[0].order.order_id == raw[0]["body"]["id"]
