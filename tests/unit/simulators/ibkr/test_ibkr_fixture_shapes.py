"""The IBKR simulator answers each endpoint in the shape IBKR documents (tests/fixtures/ibkr).

One scenario runs the simulator in-process on loopback (as `start_simulators` serves it to every
test) and calls each documented endpoint through the production client's signed transport, keeping
the raw answers; each documented body is then compared with the simulator's answer to the same
endpoint: every documented key must be there with the same JSON type (arrays element by element).
When they disagree the documentation wins and the simulator is what needs fixing.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect

from cerbero_mcp.exchanges.ibkr.client import IbkrClient
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import start_simulators
from cerbero_mcp.simulators.ibkr.simulator import SPEC
from support.fixtures import FIXTURES, load_fixture, load_template, shape_differences

AAPL, MSFT = 265598, 272093
DOCUMENTED = sorted(p.stem for p in (FIXTURES / "ibkr").glob("*.json"))
DEPTH = "ws_sbd_price_ladder"  # a documented message template (placeholders), see load_template
# Fields IBKR's own answers carry only sometimes: ibind's recording of the same endpoint has
# `chartAnnotations` for AAPL and not for BBVA.
CONDITIONAL = frozenset({"chartAnnotations"})
# Objects IBKR keys by data (account ids, asset classes): their values are compared, not their keys.
MAPS = frozenset({"acctProps", "aliases", "chartPeriods"})
# IBKR's trading guide shows these answers as one object, its endpoint reference (and ibind) as a
# one-element array (`iserver_reply_confirmed_reference`): the guide's object is compared with the
# array's element, the reference's array with the array.
ONE_ELEMENT = frozenset(
    {"iserver_account_orders_placed", "iserver_reply_confirmed", "iserver_account_order_modify", "portfolio2_positions"}
)


async def confirmed(client: IbkrClient, answer: Any, answers: dict[str, Any]) -> Any:
    """Confirm order questions until the acknowledgement; keep the first question asked."""
    for _ in range(10):
        first = answer[0] if isinstance(answer, list) and answer else answer
        if not (isinstance(first, dict) and "messageIds" in first):
            return answer
        answers.setdefault("iserver_account_orders_question", answer)
        answer = await client.call("POST", f"/iserver/reply/{first['id']}", json_body={"confirmed": True}, write=True)
        answers["iserver_reply_confirmed"] = answers["iserver_reply_confirmed_reference"] = answer
    raise AssertionError("the simulator kept asking questions")


async def drive(client: IbkrClient) -> dict[str, Any]:
    """Call every documented endpoint; return the simulator's raw answers by fixture name."""
    answers: dict[str, Any] = {}
    account = await client.account_id()
    answers["iserver_accounts"] = await client.call("GET", "/iserver/accounts")
    answers["portfolio_accounts"] = await client.call("GET", "/portfolio/accounts")
    answers["trsrv_stocks"] = await client.call("GET", "/trsrv/stocks", params={"symbols": "AAPL"})
    answers["iserver_secdef_search"] = await client.call(
        "GET", "/iserver/secdef/search", params={"symbol": "AAPL", "secType": "STK"}
    )
    answers["iserver_contract_info_and_rules"] = await client.call("GET", f"/iserver/contract/{AAPL}/info-and-rules")
    snapshot = {"conids": f"{AAPL},{MSFT}", "fields": "31,7059,84,88,86,85"}
    answers["iserver_marketdata_snapshot_preflight"] = await client.call(
        "GET", "/iserver/marketdata/snapshot", params=snapshot
    )
    answers["iserver_marketdata_snapshot"] = await client.call("GET", "/iserver/marketdata/snapshot", params=snapshot)
    answers["iserver_marketdata_history"] = await client.call(
        "GET", "/iserver/marketdata/history", params={"conid": AAPL, "period": "1w", "bar": "1d"}
    )
    quote = answers["iserver_marketdata_snapshot"][0]
    bid = Decimal(str(quote["84"]).lstrip("C").replace(",", ""))
    cent = Decimal("0.01")
    # Through the market by more than IBKR's 3 % precaution: IBKR's documented question, then a fill.
    through = {
        "conid": AAPL,
        "side": "BUY",
        "orderType": "LMT",
        "price": float((bid * Decimal("1.05")).quantize(cent)),  # a float: the JSON number IBKR wants
        "quantity": 1,
        "tif": "GTC",
        "cOID": "fixture-shapes-through",
    }
    first = await client.call("POST", f"/iserver/account/{account}/orders", json_body={"orders": [through]}, write=True)
    await confirmed(client, first, answers)
    resting = {**through, "price": float((bid * Decimal("0.95")).quantize(cent)), "cOID": "fixture-shapes-resting"}
    placed = await client.call(
        "POST", f"/iserver/account/{account}/orders", json_body={"orders": [resting]}, write=True
    )
    placed = await confirmed(client, placed, {})
    answers["iserver_account_orders_placed"] = placed
    order_id = str((placed[0] if isinstance(placed, list) else placed)["order_id"])
    answers["iserver_account_order_status"] = await client.call("GET", f"/iserver/account/order/status/{order_id}")
    await client.call("GET", "/iserver/account/orders")  # IBKR's pre-flight: the first answer may be empty
    listed = await client.call("GET", "/iserver/account/orders")
    # Like for like: IBKR's documented row is a filled order, ibind's recorded rows are working limits.
    rows = listed.get("orders") or []
    answers["iserver_account_orders"] = {**listed, "orders": [r for r in rows if r.get("status") == "Filled"]}
    answers["iserver_account_orders_rows"] = [r for r in rows if r.get("status") != "Filled"]
    modified = await client.call(
        "POST",
        f"/iserver/account/{account}/order/{order_id}",
        json_body={**resting, "price": float((bid * Decimal("0.95")).quantize(cent) - cent)},
        write=True,
    )
    answers["iserver_account_order_modify"] = await confirmed(client, modified, {})
    answers["iserver_account_order_cancel"] = await client.call(
        "DELETE", f"/iserver/account/{account}/order/{order_id}", write=True
    )
    answers["iserver_account_trades"] = await client.call("GET", "/iserver/account/trades", params={"days": 1})
    await client.call("POST", f"/portfolio/{account}/positions/invalidate")
    answers["portfolio_positions_page"] = await client.call("GET", f"/portfolio/{account}/positions/0")
    answers["portfolio2_positions"] = await client.call("GET", f"/portfolio2/{account}/positions")
    answers["portfolio_summary"] = await client.call("GET", f"/portfolio/{account}/summary")
    answers["portfolio_ledger"] = await client.call("GET", f"/portfolio/{account}/ledger")
    return answers


async def ladder_message(ws_url: str, access_token: str, session: str, account: str) -> Any:
    """Subscribe to AAPL's BookTrader price ladder on the socket; return the first `sbd` message as sent."""
    url = f"{ws_url}?oauth_token={quote(access_token, safe='')}"
    async with connect(url, additional_headers={"Cookie": f"api={session}"}) as ws:
        async with asyncio.timeout(15):
            while True:
                message = json.loads(await ws.recv())
                if message.get("message") == "waiting for session":
                    await ws.send(json.dumps({"session": session}))
                elif message.get("topic") == "sts" and (message.get("args") or {}).get("authenticated"):
                    await ws.send(f"sbd+{account}+{AAPL}")
                elif str(message.get("topic", "")).startswith("sbd+") and "data" in message:
                    return message


async def collect() -> dict[str, Any]:
    with start_simulators([SPEC], envs=("testnet",)) as stack:
        # Shapes are tested here; IBKR's pacing and penalty box are tested on their own instances.
        for instance in stack.instances:
            instance.app.state.venue.rate_limit = False
        settings = Settings.from_mapping(stack.overrides)
        client = await IbkrClient.build(settings, "testnet")
        try:
            answers = await drive(client)
            ws_url = stack.url("ibkr", "testnet").replace("http://", "ws://") + "/v1/api/ws"
            token = settings.venue_credentials("ibkr", "testnet")["access_token"]
            answers[DEPTH] = await ladder_message(ws_url, token, await client.session_id(), await client.account_id())
            return answers
        finally:
            await client.aclose()


@pytest.fixture(scope="module")
def answers() -> dict[str, Any]:
    return asyncio.run(collect())


def test_every_documented_fixture_is_compared(answers: dict[str, Any]) -> None:
    assert set(DOCUMENTED) | {DEPTH} <= set(answers)


def test_simulator_price_ladder_has_the_documented_shape(answers: dict[str, Any]) -> None:
    message = answers[DEPTH]
    differences = shape_differences(load_template("ibkr", f"{DEPTH}.txt"), message)
    assert differences == [], "the simulator's sbd message differs from IBKR's documented one:\n" + "\n".join(
        differences
    )
    assert message["data"], "an empty ladder shows no row shape"
    # Each documented row holds a price and at most one size, under `bid` or `ask`.
    assert all(not {"bid", "ask"} <= set(row) for row in message["data"])


@pytest.mark.parametrize("name", DOCUMENTED)
def test_simulator_answer_has_the_documented_shape(name: str, answers: dict[str, Any]) -> None:
    documented, actual = load_fixture("ibkr", name), answers[name]
    if name in ONE_ELEMENT and isinstance(documented, dict) and isinstance(actual, list) and len(actual) == 1:
        actual = actual[0]
    differences = shape_differences(documented, actual, conditional=CONDITIONAL, maps=MAPS)
    assert differences == [], f"{name}: the simulator differs from IBKR's documented answer:\n" + "\n".join(differences)
