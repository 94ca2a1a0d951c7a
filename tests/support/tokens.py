"""The bearer tokens every test app is built with, and the headers of an authenticated call."""

from __future__ import annotations

TESTNET = "t" * 24 + "-testnet-token-0001"
MAINNET = "m" * 24 + "-mainnet-token-0001"
ADMIN = "a" * 24 + "-admin-token-000001"


def auth(token: str = TESTNET, bot: str | None = "pytest") -> dict[str, str]:
    """Return the headers of an authenticated tool call."""
    headers = {"Authorization": f"Bearer {token}"}
    if bot is not None:
        headers["X-Bot-Tag"] = bot
    return headers
