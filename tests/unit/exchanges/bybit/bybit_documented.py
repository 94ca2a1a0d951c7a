"""A Bybit client that answers with the documented fixtures (tests/fixtures/bybit), and a minimal tool context."""

from __future__ import annotations

from typing import Any

from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.bybit.client import BybitClient
from support.fixtures import load_fixture

# (path, category) → fixture; None matches any category.
ROUTES: dict[tuple[str, str | None], str] = {
    ("/v5/market/time", None): "market_time",
    ("/v5/market/instruments-info", "linear"): "instruments_linear",
    ("/v5/market/instruments-info", "option"): "instruments_option",
    ("/v5/market/instruments-info", "spot"): "instruments_spot",
    ("/v5/market/tickers", "inverse"): "tickers_inverse",
    ("/v5/market/tickers", "option"): "tickers_option",
    ("/v5/market/tickers", "spot"): "tickers_spot",
    ("/v5/market/orderbook", None): "orderbook",
    ("/v5/market/kline", None): "kline",
    ("/v5/market/funding/history", None): "funding_history",
    ("/v5/market/open-interest", None): "open_interest",
    ("/v5/order/create", None): "order_create",
    ("/v5/order/create-batch", None): "order_create_batch",
    ("/v5/order/realtime", None): "order_realtime",
    ("/v5/order/amend", None): "order_amend",
    ("/v5/order/cancel", None): "order_cancel",
    ("/v5/order/cancel-all", None): "order_cancel_all",
    ("/v5/position/list", None): "position_list",
    ("/v5/position/trading-stop", None): "position_trading_stop",
    ("/v5/account/wallet-balance", None): "wallet_balance",
    ("/v5/execution/list", None): "execution_list",
}
EMPTY = {"retCode": 0, "retMsg": "OK", "result": {"list": []}, "retExtInfo": {}, "time": 1}


class DocumentedClient(BybitClient):
    """Answers every call with Bybit's documented example for its path (and category), recording the calls."""

    def __init__(self) -> None:
        super().__init__(UpstreamHTTP("bybit", "http://127.0.0.1:9"), "testnet", "key", "secret")
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.overrides: dict[tuple[str, str | None], Any] = {}

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        *,
        signed: bool = False,
        write: bool = False,
        category: str | None = None,
    ) -> dict[str, Any]:
        """Return the documented envelope for (path, category), or an empty list when none is documented."""
        self.calls.append((method, path, params))
        cat = params.get("category")
        for key in ((path, cat), (path, None)):
            if key in self.overrides:
                found: dict[str, Any] = self.overrides[key]
                return found
            if key in ROUTES:
                documented: dict[str, Any] = load_fixture("bybit", ROUTES[key])
                return documented
        return dict(EMPTY)


class Ctx:
    """The part of a ToolContext the Bybit tools use."""

    environment = "testnet"
    venue = "bybit"

    def __init__(self, client: BybitClient) -> None:
        self._client = client

    async def client(self) -> BybitClient:
        return self._client

    def require_credentials(self) -> dict[str, str]:
        return {}
