"""The IBKR simulator as IBKR documents it (issue 13 items 6-10, 12): parentId, trails, sizes, listings, depth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from test_ibkr_simulator import AAPL, ACCT, BASE, MSFT, T0, Consumer, Sim, lmt, make_app, next_topic, session_of

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.ibkr.simulator import SPEC


@pytest.fixture(scope="module")
def creds() -> dict[str, str]:
    return SPEC.credentials("testnet")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def ready(creds: dict[str, str], clock: ManualClock) -> AsyncIterator[Sim]:
    # Pacing is another item's subject: off here, so a frozen clock can call what it needs.
    app = make_app(creds, clock, rate_limit=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        sim = Sim(http, Consumer(dict(creds), clock), app)
        await sim.start()
        sim.auto_remint = True
        await sim.orders()  # the live-orders pre-flight (IBKR's first answer may be empty)
        yield sim


def option_near(sim: Sim, low: float, high: float) -> Any:
    """Return a listed AAPL option whose price is between low and high."""
    market = sim.venue.market
    for c in market.options("AAPL", sim.c.clock.now()):
        if low < float(market.model.mid(c.symbol, sim.c.clock.now())) < high:
            return c
    raise AssertionError("no option in range")


async def test_parent_id_naming_an_earlier_request_is_refused(ready: Sim) -> None:
    mid = ready.mid()
    assert (await ready.place(lmt("BUY", 1, mid * 0.9, cOID="oto-parent")))[0]["order_status"] == "Submitted"
    answer = await ready.place(lmt("SELL", 1, mid * 1.1, parentId="oto-parent"))
    assert "does not match the cOID of a parent order in this request" in answer["error"]
    both = await ready.place(lmt("BUY", 1, mid * 0.9, cOID="oto-2"), lmt("SELL", 1, mid * 1.1, parentId="oto-2"))
    assert [row["order_status"] for row in both] == ["Submitted", "PreSubmitted"]


async def test_trailing_orders_need_trailing_amt_and_trailing_type(ready: Sim) -> None:
    trail = {"conid": AAPL, "orderType": "TRAIL", "side": "SELL", "quantity": 1, "tif": "GTC"}
    assert "trailingAmt and trailingType" in (await ready.place({**trail, "auxPrice": 2}))["error"]
    assert "trailingAmt and trailingType" in (await ready.place({**trail, "trailingAmt": 2}))["error"]
    refused = await ready.place({**trail, "trailingAmt": 2, "trailingType": "amt", "auxPrice": 2})
    assert "not auxPrice" in refused["error"]
    placed = await ready.place({**trail, "trailingAmt": 2, "trailingType": "amt"})
    row = (await ready.orders())[int(placed[0]["order_id"])]
    assert (row["trailingAmount"], row["trailingType"]) == ("2", "amt")


async def test_us_stock_bid_and_ask_sizes_are_in_lots_of_100(ready: Sim) -> None:
    q = {"conids": str(AAPL), "fields": "84,88,86,85"}
    await ready.ok("GET", "/iserver/marketdata/snapshot", params=q)
    row = (await ready.ok("GET", "/iserver/marketdata/snapshot", params=q))[0]
    book = ready.venue.engine.book("AAPL", 1)
    assert Decimal(row["88"]) * 100 == book.bids()[0][1]
    assert Decimal(row["85"]) * 100 == book.asks()[0][1]


async def test_search_answers_foreign_listings_first_and_trsrv_says_which_is_us(ready: Sim) -> None:
    found = await ready.ok("GET", "/iserver/secdef/search", params={"symbol": "AAPL"})
    assert [(hit["conid"], hit["description"]) for hit in found] == [("38708077", "MEXI"), (str(AAPL), "NASDAQ")]
    stocks = await ready.ok("GET", "/trsrv/stocks", params={"symbols": "MSFT"})
    assert [(c["conid"], c["isUS"]) for c in stocks["MSFT"][0]["contracts"]] == [(38708867, False), (MSFT, True)]
    foreign = await ready.place({**lmt("BUY", 1, ready.mid() * 0.9), "conid": 38708077})
    assert "No trading permission for MEXI" in foreign["error"]


async def test_increments_are_per_contract_and_published_in_info_and_rules(ready: Sim) -> None:
    rules = (await ready.ok("GET", f"/iserver/contract/{AAPL}/info-and-rules"))["rules"]
    assert rules["incrementRules"] == [{"lowerEdge": 0.0, "increment": 0.0001}, {"lowerEdge": 1.0, "increment": 0.01}]
    option = option_near(ready, 6.0, 60.0)
    rules = (await ready.ok("GET", f"/iserver/contract/{option.conid}/info-and-rules"))["rules"]
    assert rules["incrementRules"] == [{"lowerEdge": 0.0, "increment": 0.01}, {"lowerEdge": 3.0, "increment": 0.05}]
    buy = {"conid": option.conid, "orderType": "LMT", "side": "BUY", "quantity": 1, "tif": "GTC"}
    assert "price increment (0.05)" in (await ready.place({**buy, "price": 5.01}))["error"]
    assert (await ready.place({**buy, "price": 5.05}))[0]["order_status"] == "Submitted"
    assert (await ready.place({**buy, "price": 2.51}))[0]["order_status"] == "Submitted"


@pytest.fixture
def ws_client(creds: dict[str, str], clock: ManualClock) -> Iterator[tuple[TestClient, Consumer]]:
    import secrets

    app = make_app(creds, clock, heartbeat_s=0.3, smd_interval_s=0.05, rate_limit=False)
    with TestClient(app, base_url="http://testserver") as client:
        consumer = Consumer(dict(creds), clock, base="http://testserver")
        dh_random = secrets.randbits(256)
        url, headers = consumer.lst_request(dh_random)
        consumer.lst, valid = consumer.finish(client.post(url, headers=headers).json(), dh_random)
        assert valid
        for method, path, body in (("POST", "/iserver/auth/ssodh/init", {"publish": True, "compete": True}),
                                   ("GET", "/iserver/accounts", None)):  # fmt: skip
            url, headers = consumer.signed(method, path)
            assert client.request(method, url, headers=headers, json=body).status_code == 200
        yield client, consumer


def test_depth_rows_are_a_price_ladder_with_bid_or_ask_sizes(ws_client: tuple[TestClient, Consumer]) -> None:
    client, consumer = ws_client
    client.cookies.set("api", session_of(client, consumer))
    with client.websocket_connect(f"/v1/api/ws?oauth_token={consumer.creds['access_token']}") as ws:
        next_topic(ws, "act")
        ws.send_text(f"sbd+{ACCT}+{AAPL}")  # no exchange: all deep exchanges
        depth = next_topic(ws, f"sbd+{ACCT}+{AAPL}")
        rows = depth["data"]
        assert [row["row"] for row in rows] == list(range(20))
        assert all(set(row) in ({"row", "focus", "price", "ask"}, {"row", "focus", "price", "bid"}) for row in rows)
        assert ["ask" in row for row in rows] == [True] * 10 + [False] * 10
        prices = [Decimal(row["price"]) for row in rows]
        assert prices == sorted(prices, reverse=True)
        assert {row["focus"] for row in rows} <= {0, 1}
        ws.send_text(f"ubd+{ACCT}")
        ws.send_text(f"sbd+{ACCT}+{AAPL}+SMART")
        assert next_topic(ws, f"sbd+{ACCT}+{AAPL}+SMART")["data"]
