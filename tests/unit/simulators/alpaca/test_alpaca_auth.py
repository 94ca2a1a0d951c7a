"""The Alpaca simulator's header auth, environments, data host, rate limit and settings; alpaca-py as client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from alpaca_sim import CREDS, T0, Sim, make_app, open_sim

from cerbero_mcp.simulators.alpaca.auth import LIMIT_PER_MIN
from cerbero_mcp.simulators.engine import ManualClock, SimStack


def trading_client(
    stack: SimStack, env: str, *, key_env: str | None = None, secret: str | None = None
) -> TradingClient:
    """Return alpaca-py's own TradingClient pointed at an instance (no retries: a 429 must not sleep)."""
    creds = stack.credentials("alpaca", key_env or env)
    client = TradingClient(creds["key_id"], secret or creds["secret_key"], paper=env == "testnet",
                           url_override=stack.url("alpaca", env))  # fmt: skip
    client._retry = 0
    return client


# --- the SDK as the client --------------------------------------------------------------------------


def test_alpaca_py_trading_client_is_accepted_end_to_end(stack: SimStack) -> None:
    client = trading_client(stack, "testnet")
    account = client.get_account()
    assert account.status == "ACTIVE"
    assert account.buying_power == "100000"
    order = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY,
                                                   time_in_force=TimeInForce.DAY, client_order_id="sdk-1"))  # fmt: skip
    assert order.status == OrderStatus.PENDING_NEW  # the answer acknowledges; the fill shows on GET
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
    assert order.client_order_id == "sdk-1"
    assert client.get_order_by_client_id("sdk-1").id == order.id
    [pos] = client.get_all_positions()
    assert (pos.symbol, pos.qty) == ("AAPL", "3")
    limit = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY, limit_price=100,
                                                  time_in_force=TimeInForce.GTC))  # fmt: skip
    assert client.get_order_by_id(limit.id).status == OrderStatus.NEW
    canceled = client.cancel_orders()
    assert [(c.id, c.status) for c in canceled] == [(limit.id, 200)]
    assert client.get_clock().is_open is True


def test_tampered_secret_and_the_other_environments_key_are_refused(stack: SimStack) -> None:
    with pytest.raises(APIError) as bad_secret:
        trading_client(stack, "testnet", secret="x" * 40).get_account()
    assert bad_secret.value.status_code == 401
    assert '"code":40110000' in str(bad_secret.value)
    with pytest.raises(APIError) as live_on_paper:
        trading_client(stack, "testnet", key_env="mainnet").get_account()
    assert live_on_paper.value.status_code == 401
    with pytest.raises(APIError) as paper_on_live:
        trading_client(stack, "mainnet", key_env="testnet").get_account()
    assert paper_on_live.value.status_code == 401
    assert trading_client(stack, "mainnet").get_account().status == "ACTIVE"


def test_one_data_host_accepts_both_environments_keys(stack: SimStack) -> None:
    data_url = stack.overrides["ALPACA_DATA_URL"]
    assert data_url == stack.url("alpaca", "testnet")
    for env in ("testnet", "mainnet"):
        creds = stack.credentials("alpaca", env)
        client = StockHistoricalDataClient(creds["key_id"], creds["secret_key"], url_override=data_url)
        quote = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
        assert quote["AAPL"].ask_price > quote["AAPL"].bid_price
    tampered = StockHistoricalDataClient(creds["key_id"], "y" * 40, url_override=data_url)
    tampered._retry = 0
    with pytest.raises(APIError) as exc:
        tampered.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
    assert exc.value.status_code == 401
    assert str(exc.value) == '{"message":"unauthorized"}'


def test_alpaca_py_follows_bar_pages_to_a_null_token(stack: SimStack) -> None:
    creds = stack.credentials("alpaca", "testnet")
    url = stack.url("alpaca", "testnet")
    client = StockHistoricalDataClient(creds["key_id"], creds["secret_key"], url_override=url)
    start, end = datetime(2026, 2, 16, tzinfo=UTC), datetime.fromtimestamp(T0, UTC)
    # two weeks of extended-session minutes for two symbols: more than one 10000-bar page
    bars = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Minute,
                                                  start=start, end=end))  # fmt: skip
    pages = stack.control("alpaca", "testnet").recorded("/v2/stocks/bars")
    assert len(pages) >= 2
    aapl, msft = bars["AAPL"], bars["MSFT"]
    assert len(aapl) == len(msft) > 10_000 // 2
    stamps = [b.timestamp for b in aapl]
    assert stamps == sorted(set(stamps))  # no bar lost or repeated across the page boundary
    capped = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Hour,
                                                    start=start, end=end, limit=25))  # fmt: skip
    assert sum(len(v) for v in capped.data.values()) == 25


def test_settings_overrides_point_each_environment_at_its_instance(stack: SimStack) -> None:
    o = stack.overrides
    assert o["ALPACA_URL_TESTNET"] == stack.url("alpaca", "testnet")
    assert o["ALPACA_URL_LIVE"] == stack.url("alpaca", "mainnet")
    assert o["ALPACA_API_KEY_ID_TESTNET"].startswith("PK")
    assert o["ALPACA_API_KEY_ID_LIVE"].startswith("AK")
    assert o["ALPACA_SECRET_KEY_TESTNET"] != o["ALPACA_SECRET_KEY_LIVE"]
    assert (o["ALPACA_DATA_URL"], o["ALPACA_DATA_FEED"]) == (stack.url("alpaca", "testnet"), "iex")


# --- headers and the rate limit ----------------------------------------------------------------------


async def test_missing_headers_are_401(sim: Sim) -> None:
    r = await sim.http.get("/v2/account")
    assert (r.status_code, r.json()) == (401, {"code": 40110000, "message": "request is not authorized"})
    r = await sim.http.get("/v2/account", headers={"APCA-API-KEY-ID": CREDS["key_id"]})
    assert r.status_code == 401
    r = await sim.http.get("/v2/stocks/AAPL/snapshot")
    assert (r.status_code, r.json()) == (401, {"message": "unauthorized"})


async def test_rate_limit_answers_429_with_its_headers(sim: Sim, clock: ManualClock) -> None:
    first = await sim.call("GET", "/v2/clock")
    assert first.headers["X-RateLimit-Limit"] == str(LIMIT_PER_MIN)
    assert first.headers["X-RateLimit-Remaining"] == str(LIMIT_PER_MIN - 1)
    reset = int(first.headers["X-RateLimit-Reset"])
    assert T0 < reset <= T0 + 60
    for _ in range(LIMIT_PER_MIN - 1):
        r = await sim.call("GET", "/v2/clock")
    assert r.headers["X-RateLimit-Remaining"] == "0"
    over = await sim.call("GET", "/v2/clock")
    assert over.status_code == 429
    assert over.json() == {"code": 42910000, "message": "rate limit exceeded"}
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert over.headers["X-RateLimit-Reset"] == str(reset)
    # market data counts apart from trading
    assert (await sim.call("GET", "/v2/stocks/AAPL/snapshot")).status_code == 200
    clock.set(reset)
    again = await sim.call("GET", "/v2/clock")
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == str(LIMIT_PER_MIN - 1)


async def test_rate_limit_switch_off_keeps_the_headers(clock: ManualClock) -> None:
    async for s in open_sim(make_app(clock, rate_limit=False), clock):
        for _ in range(LIMIT_PER_MIN + 5):
            r = await s.call("GET", "/v2/clock")
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Remaining"] == str(LIMIT_PER_MIN - 1)
