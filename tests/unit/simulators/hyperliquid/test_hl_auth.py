"""The Hyperliquid simulator verifies L1 signatures, signers, nonces, vaults and expiry from the bytes received."""

from __future__ import annotations

import json
import random

import eth_account
import pytest
from hl_sim import AGENT, AGENT_KEY, OWNER_KEY, T0_MS, Sim, make_app, open_sim, order_wire
from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action, sign_l1_action

from cerbero_mcp.simulators.engine import ManualClock
from cerbero_mcp.simulators.hyperliquid.signing import recover_signer

NOOP = {"type": "noop"}
VECTOR_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"


def test_sdk_published_vector_recovers_its_signer() -> None:
    # hyperliquid-python-sdk tests/signing_test.py: the order vector signed for mainnet
    action = {"type": "order", "orders": [order_wire(1, True, "100", "100")], "grouping": "na"}
    sig = {
        "r": "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
        "s": "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e",
        "v": 28,
    }
    assert recover_signer(action, sig, None, 0, None, mainnet=True) == "0x14791697260e4c9a71f18484c9f997b308e59325"
    assert recover_signer(action, sig, None, 0, None, mainnet=False) != "0x14791697260e4c9a71f18484c9f997b308e59325"


def test_recovery_agrees_with_the_sdk_on_random_actions() -> None:
    rng = random.Random(5)
    wallet = eth_account.Account.from_key(VECTOR_KEY)
    for _ in range(20):
        action = {"type": "order", "orders": [order_wire(rng.randrange(4), rng.random() < 0.5,
                                                         str(rng.randrange(1, 99999)), f"0.{rng.randrange(1, 999)}")],
                  "grouping": "na"}  # fmt: skip
        nonce = rng.randrange(1, 2**48)
        vault = None if rng.random() < 0.5 else "0x" + rng.randbytes(20).hex()
        expires = None if rng.random() < 0.5 else rng.randrange(1, 2**48)
        mainnet = rng.random() < 0.5
        sig = sign_l1_action(wallet, action, vault, nonce, expires, mainnet)
        wire = json.loads(json.dumps(action))  # what the simulator receives: key order preserved
        ours = recover_signer(wire, sig, vault, nonce, expires, mainnet=mainnet)
        theirs = recover_agent_or_user_from_l1_action(action, sig, vault, nonce, expires, mainnet)
        assert ours == theirs.lower() == wallet.address.lower()


async def test_agent_signature_is_accepted(sim: Sim) -> None:
    assert await sim.act(NOOP) == {"status": "ok", "response": {"type": "default"}}


async def test_account_own_key_also_works(sim: Sim) -> None:
    assert (await sim.act(NOOP, key=OWNER_KEY))["status"] == "ok"


async def test_unknown_signer_does_not_exist(sim: Sim) -> None:
    other = "0x" + "33" * 32
    body = await sim.act(NOOP, key=other)
    address = eth_account.Account.from_key(other).address.lower()
    assert body == {"status": "err", "response": f"User or API Wallet {address} does not exist."}


async def test_tampered_action_recovers_another_address(sim: Sim) -> None:
    signed = sim.signed({"type": "order", "orders": [order_wire(0, True, "90000", "0.001")], "grouping": "na"})
    signed["action"]["orders"][0]["p"] = "90001"
    body = (await sim.send(signed)).json()
    assert body["status"] == "err"
    assert body["response"].startswith("User or API Wallet 0x")
    assert AGENT.lower() not in body["response"]
    assert await sim.info({"type": "openOrders", "user": AGENT}) == []


async def test_reordered_keys_change_the_hash(sim: Sim) -> None:
    # the venue hashes the action in the order received, so a reordered object is another action
    signed = sim.signed({"type": "updateLeverage", "asset": 0, "isCross": True, "leverage": 5})
    signed["action"] = {"type": "updateLeverage", "isCross": True, "asset": 0, "leverage": 5}
    assert (await sim.send(signed)).json()["status"] == "err"


async def test_mainnet_signature_is_refused_by_the_testnet_instance(sim: Sim) -> None:
    body = await sim.act(NOOP, mainnet=True)
    assert body["status"] == "err"
    assert "does not exist" in body["response"]


async def test_testnet_signature_is_refused_by_the_mainnet_instance(clock: ManualClock) -> None:
    async for main in open_sim(make_app(clock, env="mainnet"), clock, mainnet=True):
        assert (await main.act(NOOP))["status"] == "ok"
        assert "does not exist" in (await main.act(NOOP, mainnet=False))["response"]


async def test_duplicate_nonce_is_refused(sim: Sim) -> None:
    assert (await sim.act(NOOP, nonce=T0_MS))["status"] == "ok"
    assert await sim.act(NOOP, nonce=T0_MS) == {"status": "err", "response": f"Invalid nonce: duplicate nonce {T0_MS}"}


async def test_same_nonce_from_another_signer_is_fine(sim: Sim) -> None:
    assert (await sim.act(NOOP, nonce=T0_MS))["status"] == "ok"
    assert (await sim.act(NOOP, nonce=T0_MS, key=OWNER_KEY))["status"] == "ok"


@pytest.mark.parametrize("offset", [-2 * 86_400_000 - 1, 86_400_000 + 1])
async def test_nonce_outside_the_time_window_is_refused(sim: Sim, offset: int) -> None:
    body = await sim.act(NOOP, nonce=T0_MS + offset)
    assert body["status"] == "err"
    assert body["response"].startswith("Invalid nonce")


async def test_nonce_below_the_hundred_kept_is_refused(sim: Sim) -> None:
    for i in range(100):
        assert (await sim.act(NOOP, nonce=T0_MS + 1000 + i))["status"] == "ok"
    body = await sim.act(NOOP, nonce=T0_MS + 999)
    assert body == {"status": "err", "response": f"Invalid nonce: nonce too low {T0_MS + 999} < {T0_MS + 1000}"}
    assert (await sim.act(NOOP, nonce=T0_MS + 1100))["status"] == "ok"


async def test_expired_action_is_refused(sim: Sim) -> None:
    assert (await sim.act(NOOP, expires=T0_MS + 1000))["status"] == "ok"
    body = await sim.act(NOOP, expires=T0_MS - 1)
    assert body["status"] == "err"
    assert "expire" in body["response"].lower()


async def test_unknown_vault_is_refused(sim: Sim) -> None:
    vault = "0x" + "44" * 20
    body = await sim.act(NOOP, vault=vault)
    assert body == {"status": "err", "response": f"Vault not registered: {vault}"}


async def test_signature_with_no_signer_cannot_be_recovered(sim: Sim) -> None:
    body = sim.signed(NOOP)
    body["signature"] = {"r": "0x0", "s": "0x0", "v": 27}
    assert (await sim.send(body)).json() == {"status": "err", "response": "Unable to recover signer."}


@pytest.mark.parametrize("signature", [None, {"r": "0x1", "s": "0x2"}, {"r": "zz", "s": "0x2", "v": 27}])
async def test_unusable_signature_is_422(sim: Sim, signature: object) -> None:
    body = sim.signed(NOOP)
    body["signature"] = signature
    r = await sim.send(body)
    assert r.status_code == 422
    assert r.text.startswith("Failed to deserialize the JSON body")


async def test_unknown_action_type_is_422(sim: Sim) -> None:
    r = await sim.send(sim.signed({"type": "launchRocket"}))
    assert r.status_code == 422


async def test_private_key_never_echoed(sim: Sim) -> None:
    body = await sim.act(NOOP, key="0x" + "55" * 32)
    assert ("55" * 32) not in json.dumps(body)
    assert AGENT_KEY[2:] not in json.dumps(body)
