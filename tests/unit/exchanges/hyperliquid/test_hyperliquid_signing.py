"""Signing, wire numbers, cloids and nonces, with the SDK as the oracle."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hyperliquid.utils.signing import (
    OrderRequest,
    order_request_to_order_wire,
    order_wires_to_order_action,
    recover_agent_or_user_from_l1_action,
    sign_l1_action,
)
from hyperliquid.utils.types import Cloid

from cerbero_mcp.exchanges.hyperliquid.orders import order_action, order_wire
from cerbero_mcp.exchanges.hyperliquid.rules import Asset
from cerbero_mcp.exchanges.hyperliquid.signing import NonceSource, cloid_for, sign, wallet_of, wire_number
from unit.exchanges.hyperliquid.hl_documented import ADDRESS, KEY, documented_client

SDK_VECTOR_R = "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e"
SDK_VECTOR_S = "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e"
BTC = Asset(asset_id=0, coin="BTC", name="BTC", sz_decimals=5, spot=False)


def test_sdk_published_vector_reproduces() -> None:
    action = {
        "type": "order",
        "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": {"limit": {"tif": "Gtc"}}}],
        "grouping": "na",
    }
    signature = sign(wallet_of(KEY), action, 0, mainnet=True)
    assert signature == {"r": SDK_VECTOR_R, "s": SDK_VECTOR_S, "v": 28}
    assert recover_agent_or_user_from_l1_action(action, signature, None, 0, None, True) == ADDRESS


def _random_order(rng: random.Random) -> tuple[Decimal, Decimal, bool, str | None]:
    price = Decimal(rng.randint(1, 99999))
    size = Decimal(rng.randint(1, 10**5)).scaleb(-5)
    return price, size, rng.random() < 0.5, (cloid_for(f"id-{rng.random()}") if rng.random() < 0.5 else None)


@pytest.mark.parametrize("seed", range(20))
def test_order_wire_equals_the_sdks_on_random_orders(seed: int) -> None:
    rng = random.Random(seed)
    price, size, is_buy, cloid = _random_order(rng)
    ours, _ = order_wire(
        BTC,
        "buy" if is_buy else "sell",
        size,
        order_type="limit",
        price=price,
        stop_price=None,
        mid=None,
        slippage=Decimal("0.05"),
        cloid=cloid,
    )
    request: OrderRequest = {
        "coin": "BTC",
        "is_buy": is_buy,
        "sz": float(size),
        "limit_px": float(price),
        "order_type": {"limit": {"tif": "Gtc"}},
        "reduce_only": False,
    }
    if cloid is not None:
        request["cloid"] = Cloid(cloid)
    sdk = order_request_to_order_wire(request, 0)
    assert ours == sdk
    assert list(ours) == list(sdk)  # key order is part of the signed msgpack
    assert order_action([ours]) == order_wires_to_order_action([sdk])


def test_trigger_wire_equals_the_sdks() -> None:
    ours, _ = order_wire(
        BTC,
        "sell",
        Decimal("0.001"),
        order_type="stop_limit",
        price=Decimal("39000"),
        stop_price=Decimal("40000"),
        mid=None,
        slippage=Decimal("0.05"),
        reduce_only=True,
        tpsl="sl",
    )
    sdk = order_request_to_order_wire(
        {
            "coin": "BTC",
            "is_buy": False,
            "sz": 0.001,
            "limit_px": 39000.0,
            "order_type": {"trigger": {"triggerPx": 40000.0, "isMarket": False, "tpsl": "sl"}},
            "reduce_only": True,
        },
        0,
    )
    assert ours == sdk


@pytest.mark.parametrize("environment", ["testnet", "mainnet"])
@pytest.mark.parametrize("seed", range(5))
async def test_sent_action_recovers_the_signer_with_the_sdk_for_its_own_chain(environment: str, seed: int) -> None:
    client, transport = documented_client(environment)
    rng = random.Random(seed)
    price, size, is_buy, cloid = _random_order(rng)
    wire, _ = order_wire(
        BTC,
        "buy" if is_buy else "sell",
        size,
        order_type="limit",
        price=price,
        stop_price=None,
        mid=None,
        slippage=Decimal("0.05"),
        cloid=cloid,
    )
    await client.order([wire])
    body = transport.actions()[-1]
    mainnet = environment == "mainnet"
    recovered = recover_agent_or_user_from_l1_action(
        body["action"], body["signature"], None, body["nonce"], None, mainnet
    )
    assert recovered == ADDRESS
    # The same bytes checked for the other chain recover some other address: a URL never picks the chain.
    other = recover_agent_or_user_from_l1_action(
        body["action"], body["signature"], None, body["nonce"], None, not mainnet
    )
    assert other != ADDRESS
    assert body["signature"] == sign_l1_action(wallet_of(KEY), body["action"], None, body["nonce"], None, mainnet)
    assert body["vaultAddress"] is None
    assert body["expiresAfter"] is None
    await client.aclose()


def test_wire_number_matches_float_to_wire_text() -> None:
    assert wire_number(Decimal("100.0")) == "100"
    assert wire_number(Decimal("0.00010000")) == "0.0001"
    assert wire_number(Decimal("-0")) == "0"
    assert wire_number(Decimal("1E+3")) == "1000"
    with pytest.raises(ValueError, match="more than 8 decimals"):
        wire_number(Decimal("0.000000001"))


def test_cloid_is_deterministic_16_bytes_and_a_cloid_is_kept() -> None:
    derived = cloid_for("demo-limit-1")
    assert derived == cloid_for("demo-limit-1") != cloid_for("demo-limit-2")
    assert Cloid(derived).to_raw() == derived  # the SDK's own validation: 0x + 32 hex
    given = "0x" + "AB" * 16
    assert cloid_for(given) == given.lower()


def test_nonces_are_unique_even_within_one_millisecond() -> None:
    source = NonceSource()
    nonces = [source.next() for _ in range(1000)]
    assert len(set(nonces)) == 1000
    assert nonces == sorted(nonces)


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="not a valid") as caught:
        wallet_of("0xnot-a-key-secret")
    assert "not-a-key-secret" not in str(caught.value)
