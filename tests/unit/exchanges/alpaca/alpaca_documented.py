"""An Alpaca client that answers with the documented fixtures (tests/fixtures/alpaca), and a minimal tool context."""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.alpaca.client import AlpacaClient
from support.fixtures import load_fixture

# (method, path) → fixture.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v2/account"): "account",
    ("GET", "/v2/positions"): "positions",
    ("GET", "/v2/orders"): "orders",
    ("POST", "/v2/orders"): "order_create",
    ("DELETE", "/v2/orders"): "cancel_all_207",
    ("DELETE", "/v2/positions"): "close_all_207",
    ("GET", "/v2/clock"): "clock",
    ("GET", "/v2/calendar"): "calendar",
    ("GET", "/v2/account/activities"): "activities",
    ("GET", "/v2/assets/AAPL"): "asset",
    ("GET", "/v2/stocks/bars"): "stock_bars_multi",
    ("GET", "/v2/stocks/snapshots"): "stock_snapshot",
    ("GET", "/v1beta3/crypto/us/snapshots"): "crypto_snapshot",
    ("GET", "/v1beta3/crypto/us/bars"): "crypto_bars",
    ("GET", "/v1beta3/crypto/us/latest/orderbooks"): "crypto_orderbooks",
    ("GET", "/v1beta1/options/snapshots"): "option_snapshot",
}


class DocumentedClient(AlpacaClient):
    """Answers every call with Alpaca's documented example for its method and path, recording the calls."""

    def __init__(self) -> None:
        super().__init__(UpstreamHTTP("alpaca", "http://127.0.0.1:9"), "testnet", "key", "secret")
        self.calls: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
        self.overrides: dict[tuple[str, str], Any] = {}

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        *,
        data: bool = False,
        write: bool = False,
    ) -> Any:
        """Return the documented body for (method, path); prefix matches for option chains and contracts."""
        self.calls.append((method, path, params, body))
        key = (method, path)
        if key in self.overrides:
            return self.overrides[key]
        if key in ROUTES:
            return load_fixture("alpaca", ROUTES[key])
        if path.startswith("/v1beta1/options/snapshots/"):
            return load_fixture("alpaca", "option_chain")
        if path.startswith("/v2/options/contracts/"):
            return load_fixture("alpaca", "option_contract")
        if path.startswith("/v2/orders/") and method == "GET":
            return load_fixture("alpaca", "order_by_id")
        if path.startswith("/v2/orders/") and method == "PATCH":
            return load_fixture("alpaca", "order_replace")
        return None


class Ctx:
    """The part of a ToolContext the Alpaca tools use."""

    environment = "testnet"
    venue = "alpaca"

    def __init__(self, client: AlpacaClient) -> None:
        self._client = client

    async def client(self) -> AlpacaClient:
        return self._client

    def require_credentials(self) -> dict[str, str]:
        return {"api_key_id": "key", "secret_key": "secret"}
