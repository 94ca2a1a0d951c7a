"""The Alpaca simulator against the documented bodies (tests/fixtures/alpaca/): one option contract, the crypto
order book, the account's option levels, option condition codes, the asset's fields, closing crypto by either symbol.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from alpaca.data.historical.crypto import CryptoHistoricalDataClient
from alpaca.data.requests import CryptoLatestOrderbookRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.models import OptionContract
from alpaca.trading.requests import GetOptionContractsRequest
from alpaca_sim import Sim

from cerbero_mcp.simulators.engine import SimStack

FIXTURES = Path(__file__).parents[3] / "fixtures" / "alpaca"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def same_types(ours: dict[str, Any], documented: dict[str, Any]) -> None:
    """Every documented key is present with the documented JSON type (None matches anything)."""
    assert set(documented) <= set(ours), sorted(set(documented) - set(ours))
    for key, value in documented.items():
        if value is not None and ours[key] is not None:
            assert type(ours[key]) is type(value), (key, ours[key], value)


async def test_one_option_contract_by_symbol_or_id_has_the_documented_body(sim: Sim) -> None:
    listed = (await sim.ok("GET", "/v2/options/contracts", underlying_symbols="AAPL", limit=1))["option_contracts"][0]
    by_symbol = await sim.ok("GET", f"/v2/options/contracts/{listed['symbol']}")
    same_types(by_symbol, fixture("option_contract.json"))
    assert by_symbol == listed
    assert await sim.ok("GET", f"/v2/options/contracts/{listed['id']}") == listed
    status, body = await sim.error("GET", "/v2/options/contracts/AAPL200101C00100000")
    assert status == 404
    assert body["code"] == 40410000


async def test_the_crypto_order_book_has_the_documented_body(sim: Sim) -> None:
    books = await sim.ok("GET", "/v1beta3/crypto/us/latest/orderbooks", symbols="BTC/USD,ETH/USD")
    assert set(books["orderbooks"]) == {"BTC/USD", "ETH/USD"}
    book = books["orderbooks"]["BTC/USD"]
    documented = fixture("crypto_orderbooks.json")["orderbooks"]["BTC/USD"]
    assert set(book) == set(documented)
    assert book["t"].endswith("Z")
    for side in ("b", "a"):
        assert len(book[side]) > 1
        assert all(set(level) == {"p", "s"} and level["s"] > 0 for level in book[side])
        same_types(book[side][0], documented[side][0])
    bids, asks = [x["p"] for x in book["b"]], [x["p"] for x in book["a"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    status, _ = await sim.error("GET", "/v1beta3/crypto/us/latest/orderbooks", symbols="AAPL")
    assert status == 422  # as the other crypto data paths answer a symbol that is not a pair


async def test_the_account_types_its_option_levels_as_documented(sim: Sim) -> None:
    account = await sim.ok("GET", "/v2/account")
    same_types(account, fixture("account.json"))


async def test_option_condition_codes_are_one_string_as_documented(sim: Sim) -> None:
    chain = await sim.ok("GET", "/v1beta1/options/snapshots/AAPL", limit=3)
    documented = fixture("option_snapshot.json")["snapshots"]["AAPL240126P00050000"]
    for snap in chain["snapshots"].values():
        same_types(snap["latestQuote"], documented["latestQuote"])
        same_types(snap["latestTrade"], documented["latestTrade"])
    stock = await sim.ok("GET", "/v2/stocks/snapshots", symbols="AAPL")
    assert isinstance(stock["AAPL"]["latestTrade"]["c"], list)  # stock conditions stay a list, as documented


async def test_an_asset_carries_the_documented_fields(sim: Sim) -> None:
    asset = await sim.ok("GET", "/v2/assets/AAPL")
    documented = fixture("asset.json")
    same_types(asset, documented)
    assert Decimal(asset["last_price"]) > 0
    Decimal(asset["last_close_pct_change"])


async def test_a_crypto_position_closes_by_its_pair_or_its_legacy_symbol(sim: Sim) -> None:
    for path in ("/v2/positions/BTC%2FUSD", "/v2/positions/BTCUSD"):
        await sim.order(symbol="BTC/USD", qty="0.01", side="buy", type="market", time_in_force="gtc")
        closing = await sim.ok("DELETE", path)
        assert (closing["symbol"], closing["side"], closing["qty"]) == ("BTC/USD", "sell", "0.01")
        status, _ = await sim.error("GET", "/v2/positions/BTCUSD")
        assert status == 404


def test_alpaca_py_reads_one_option_contract_the_crypto_book_and_the_account(stack: SimStack) -> None:
    creds = stack.credentials("alpaca", "testnet")
    url = stack.url("alpaca", "testnet")
    trading = TradingClient(creds["key_id"], creds["secret_key"], paper=True, url_override=url)
    trading._retry = 0
    listed = trading.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["SPY"], limit=1))
    first = listed.option_contracts[0]  # type: ignore[union-attr]
    contract = trading.get_option_contract(first.symbol)
    assert isinstance(contract, OptionContract)
    assert (contract.symbol, contract.strike_price, contract.root_symbol) == (first.symbol, first.strike_price, "SPY")
    account = trading.get_account()
    assert account.options_approved_level is not None  # type: ignore[union-attr]
    data = CryptoHistoricalDataClient(creds["key_id"], creds["secret_key"], url_override=url)
    books = data.get_crypto_latest_orderbook(CryptoLatestOrderbookRequest(symbol_or_symbols="BTC/USD"))
    book = books["BTC/USD"]
    assert book.bids
    assert book.asks
    assert book.bids[0].price < book.asks[0].price
