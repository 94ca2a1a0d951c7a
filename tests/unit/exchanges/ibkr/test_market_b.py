"""IBKR market-data parsing as IBKR documents it (issue 13 items 8, 10, 12), without a venue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.ibkr import schemas as s
from cerbero_mcp.exchanges.ibkr.market import aggregate_bars, book_from_depth
from cerbero_mcp.exchanges.ibkr.tools import ticker_from_row
from cerbero_mcp.exchanges.ibkr.ws import _depth_rows

# A BookTrader ladder as IBKR pushes it on `sbd`: one row a price, highest first, asks above bids;
# the focus row (the last price) may print `size@price`, as ibind's users and other clients parse it.
LADDER = [
    {"row": 0, "focus": 0, "price": "227.33", "ask": "300"},
    {"row": 1, "focus": 0, "price": "227.32", "ask": "1,200"},
    {"row": 2, "focus": 1, "price": "100@227.31"},
    {"row": 3, "focus": 0, "price": "227.30", "bid": "500"},
    {"row": 4, "focus": 0, "price": "227.29", "bid": "2"},
]


def test_the_documented_ladder_becomes_a_book() -> None:
    rows = _depth_rows(LADDER)
    assert rows is not None
    book = book_from_depth("AAPL", rows, 10)
    assert [(lv.price, lv.size) for lv in book.bids] == [(Decimal("227.30"), 500), (Decimal("227.29"), 2)]
    assert [(lv.price, lv.size) for lv in book.asks] == [(Decimal("227.32"), 1200), (Decimal("227.33"), 300)]


def test_a_focus_row_with_a_size_at_its_price_is_a_level() -> None:
    # IBKR's template (tests/fixtures/ibkr/ws_sbd_price_ladder.txt) prints such a price "size @ price".
    rows = _depth_rows([{"row": 0, "focus": 1, "price": "3 @ 10.05", "bid": "7"}, {"row": 1, "price": "4@10.04"}])
    assert rows == [{"side": "bid", "price": Decimal("10.05"), "size": Decimal(7)}]


def test_depth_names_no_exchange_unless_asked() -> None:
    assert s.DepthRequest(instrument="AAPL").exchange is None
    assert s.DepthRequest(instrument="AAPL", exchange="ISLAND").exchange == "ISLAND"


def test_us_stock_sizes_are_lots_of_100_shares() -> None:
    row = {"conid": 265598, "84": "227.30", "86": "227.32", "88": "3", "85": "12.5", "31": "227.31"}
    ticker = ticker_from_row("AAPL", row, size_lot=Decimal(100))
    assert (ticker.bid_size, ticker.ask_size) == (Decimal(300), Decimal(1250))
    assert ticker.info["conid"] == 265598


def bar(hour: int, o: str, h: str, low: str, c: str, vol: str) -> v.Bar:
    ts = datetime(2026, 3, 2, hour, tzinfo=UTC)
    return v.Bar(ts=ts, open=Decimal(o), high=Decimal(h), low=Decimal(low), close=Decimal(c), volume=Decimal(vol))


def test_4h_bars_aggregate_into_12h_bars_on_utc_halves_of_the_day() -> None:
    four = [
        bar(12, "10", "12", "9", "11", "5"),
        bar(16, "11", "13", "10", "12", "6"),
        bar(20, "12", "12", "8", "9", "7"),
        bar(4, "20", "21", "19", "20", "1"),
    ]
    twelve = aggregate_bars(sorted(four, key=lambda b: b.ts), 43_200)
    assert [(b.ts.hour, b.open, b.high, b.low, b.close, b.volume) for b in twelve] == [
        (0, Decimal(20), Decimal(21), Decimal(19), Decimal(20), Decimal(1)),
        (12, Decimal(10), Decimal(13), Decimal(8), Decimal(9), Decimal(18)),
    ]
