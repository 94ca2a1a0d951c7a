"""A Hyperliquid client on a fake transport answering with the documented fixtures, and a minimal tool context."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient
from support.fixtures import FIXTURES

# The SDK's signing test key (hyperliquid-python-sdk tests/signing_test.py); its address is the account.
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
INFO_ROUTES: dict[str, str] = {
    "meta": "meta",
    "spotMeta": "spot_meta",
    "allMids": "all_mids",
    "l2Book": "l2_book",
    "candleSnapshot": "candle_snapshot",
    "clearinghouseState": "clearinghouse_state",
    "spotClearinghouseState": "spot_clearinghouse_state",
    "frontendOpenOrders": "frontend_open_orders",
    "orderStatus": "order_status",
    "fundingHistory": "funding_history",
    "predictedFundings": "predicted_fundings",
    "userFills": "user_fills",
    "metaAndAssetCtxs": "meta_and_asset_ctxs",
    "spotMetaAndAssetCtxs": "spot_meta_and_asset_ctxs",
}
EXCHANGE_ROUTES: dict[str, str] = {
    "order": "order_resting",
    "batchModify": "order_resting",
    "cancel": "cancel_success",
    "updateLeverage": "action_default",
    "scheduleCancel": "action_default",
}


def raw_fixture(name: str) -> bytes:
    """Return a fixture file's bytes."""
    return (FIXTURES / "hyperliquid" / f"{name}.json").read_bytes()


class FakeTransport(UpstreamHTTP):
    """Answers /info by request type and /exchange by action type with documented bodies; records every request."""

    def __init__(self) -> None:
        super().__init__("hyperliquid", "http://127.0.0.1:9")
        self.sent: list[tuple[str, dict[str, Any], bool]] = []
        self.overrides: dict[str, tuple[int, bytes]] = {}

    async def request(  # type: ignore[override]
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        **_: Any,
    ) -> UpstreamResponse:
        body = json.loads(data or b"{}")
        self.sent.append((path, body, idempotent))
        key = str(body.get("type") if path == "/info" else body["action"]["type"])
        if key in self.overrides:
            status, payload = self.overrides[key]
        else:
            name = INFO_ROUTES.get(key) if path == "/info" else EXCHANGE_ROUTES.get(key)
            status, payload = (200, raw_fixture(name)) if name else (200, b"null")
        return UpstreamResponse(status=status, headers={}, body=payload, url=path, elapsed_ms=1.0)

    def actions(self) -> list[dict[str, Any]]:
        """Return the /exchange bodies sent."""
        return [body for path, body, _ in self.sent if path == "/exchange"]


def documented_client(environment: str = "testnet") -> tuple[HyperliquidClient, FakeTransport]:
    """Return a client signing with the SDK's test key, on the fake transport."""
    transport = FakeTransport()
    client = HyperliquidClient(transport, environment, ADDRESS, KEY)  # type: ignore[arg-type]
    return client, transport


class Ctx:
    """The part of a ToolContext the Hyperliquid tools use."""

    environment = "testnet"
    venue = "hyperliquid"

    def __init__(self, client: HyperliquidClient) -> None:
        self._client = client

    async def client(self) -> HyperliquidClient:
        return self._client

    def require_credentials(self) -> dict[str, str]:
        return {}
