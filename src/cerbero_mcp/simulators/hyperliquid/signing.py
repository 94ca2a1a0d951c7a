"""Recover the signer of an L1 action from the body received (hyperliquid.gitbook.io, "Signing").

Written from the documented scheme, not from any client: the action is msgpack-encoded in the key
order it arrived in (JSON objects keep their order when parsed), followed by the nonce as 8
big-endian bytes, a vault marker (0x00, or 0x01 and the 20 address bytes) and, only when
`expiresAfter` is set, 0x00 and its 8 bytes. Keccak-256 of that is the `connectionId` of a phantom
agent `{source: "a" (mainnet) | "b" (testnet), connectionId}`, signed as EIP-712 `Agent(string
source, bytes32 connectionId)` in the domain `Exchange`/`1`/chainId 1337/zero contract.
"""

from __future__ import annotations

from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs; only packb is used
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

DOMAIN = {
    "chainId": 1337,
    "name": "Exchange",
    "verifyingContract": "0x0000000000000000000000000000000000000000",
    "version": "1",
}
TYPES = {
    "Agent": [{"name": "source", "type": "string"}, {"name": "connectionId", "type": "bytes32"}],
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
}


class BadSignature(Exception):
    """The signature object does not have the shape {r, s, v} (the venue cannot deserialize it)."""


class Unrecoverable(Exception):
    """The signature has the right shape but no signer can be recovered from it."""


def connection_id(action: Any, vault: str | None, nonce: int, expires_after: int | None) -> bytes:
    """Return keccak256 of the msgpack'd action, nonce, vault and expiry as the venue hashes them."""
    data = msgpack.packb(action)
    data += nonce.to_bytes(8, "big")
    if vault is None:
        data += b"\x00"
    else:
        data += b"\x01" + bytes.fromhex(vault.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(keccak(data))


def recover_signer(
    action: Any, signature: Any, vault: str | None, nonce: int, expires_after: int | None, *, mainnet: bool
) -> str:
    """Return the lower-case address that signed the action for this chain (BadSignature / Unrecoverable if not)."""
    if not isinstance(signature, dict):
        raise BadSignature("signature must be an object")
    try:
        r = int(str(signature["r"]), 16)
        s = int(str(signature["s"]), 16)
        v = int(signature["v"])
    except (KeyError, ValueError, TypeError):
        raise BadSignature("signature needs r, s (hex) and v") from None
    try:
        cid = connection_id(action, vault, nonce, expires_after)
    except (ValueError, TypeError, OverflowError):
        raise BadSignature("the action cannot be hashed") from None
    message = {
        "domain": DOMAIN,
        "types": TYPES,
        "primaryType": "Agent",
        "message": {"source": "a" if mainnet else "b", "connectionId": cid},
    }
    try:
        address: str = Account.recover_message(encode_typed_data(full_message=message), vrs=(v, r, s))
    except Exception as exc:  # eth_keys raises several types for an invalid point; all mean "no signer"
        raise Unrecoverable(str(exc)) from None
    return address.lower()
