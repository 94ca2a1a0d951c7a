"""Hyperliquid L1 action signing with the SDK's own pure functions, numbers on the wire, cloids and nonces.

The SDK's `sign_l1_action` does msgpack(action) + nonce + vault → keccak → phantom agent
`{source, connectionId}` → EIP-712 `Agent`. The SDK's `Exchange` decides mainnet by comparing its
base URL with the real mainnet URL, so an overridden URL would sign for the wrong chain: here the
environment is passed explicitly (source "a" mainnet, "b" testnet). The SDK's `Info`/`Exchange`
objects are never built (they do synchronous network I/O on construction).

Numbers: the wire wants prices and sizes as strings like the SDK's `float_to_wire` writes them (at
most 8 decimals, no trailing zeros, "100" not "100.0"); here they come from Decimals, never floats.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.utils.signing import sign_l1_action

from cerbero_mcp.common.clock import now

CLOID_PATTERN = re.compile(r"^0x[0-9a-fA-F]{32}$")
WIRE_DECIMALS = 8


def wire_number(value: Decimal) -> str:
    """Return a price or size as Hyperliquid's wire wants it (float_to_wire's text, from a Decimal)."""
    if not value.is_finite():
        raise ValueError(f"cannot send non-finite number {value}")
    if value != value.quantize(Decimal(1).scaleb(-WIRE_DECIMALS)):
        raise ValueError(f"{value} has more than {WIRE_DECIMALS} decimals")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def cloid_for(client_order_id: str) -> str:
    """Return the cloid (0x + 32 hex) of a client_order_id: itself if it is one, else a hash of it (deterministic)."""
    if CLOID_PATTERN.fullmatch(client_order_id):
        return client_order_id.lower()
    return "0x" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


def new_cloid() -> str:
    """Return a fresh random cloid, for an order sent without a client_order_id (so it can still be looked up)."""
    return "0x" + secrets.token_hex(16)


def wallet_of(private_key: str) -> LocalAccount:
    """Return the signing account of a private key (raises ValueError on a malformed key, without echoing it)."""
    try:
        account: LocalAccount = Account.from_key(private_key)
    except Exception:  # eth_account raises several types; none may carry the key into a log
        raise ValueError("HYPERLIQUID_PRIVATE_KEY is not a valid secp256k1 private key (0x + 64 hex)") from None
    return account


def sign(
    wallet: LocalAccount,
    action: dict[str, Any],
    nonce: int,
    *,
    mainnet: bool,
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> dict[str, Any]:
    """Return `{r, s, v}` for an L1 action (the SDK's sign_l1_action, chain chosen explicitly)."""
    signature: dict[str, Any] = sign_l1_action(wallet, action, vault_address, nonce, expires_after, mainnet)
    return signature


def exchange_body(
    action: dict[str, Any],
    nonce: int,
    signature: dict[str, Any],
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> dict[str, Any]:
    """Return the /exchange body as the SDK posts it (vaultAddress and expiresAfter always present)."""
    return {
        "action": action,
        "nonce": nonce,
        "signature": signature,
        "vaultAddress": vault_address,
        "expiresAfter": expires_after,
    }


class NonceSource:
    """Millisecond nonces, strictly increasing for one signer: concurrent actions never share one.

    Hyperliquid keeps each signer's highest nonces and refuses a reused or too-old one; two orders in
    the same millisecond would collide on a plain timestamp, so the next nonce is at least last + 1.
    `next()` has no await inside, so on one event loop it cannot interleave.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """Return a fresh nonce: now in ms, or one more than the previous if that is later."""
        self._last = max(int(now() * 1000), self._last + 1)
        return self._last
