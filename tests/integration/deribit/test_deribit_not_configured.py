"""Without credentials Deribit still serves public data; private tools answer 503 naming the variables."""

from __future__ import annotations

from pathlib import Path

import httpx

from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine.harness import SimStack
from support.live_server import live_server
from support.tokens import MAINNET, TESTNET, auth


async def test_public_tools_work_and_private_ones_name_the_missing_settings(
    sim_stack: SimStack, tmp_path: Path
) -> None:
    urls = {k: v for k, v in sim_stack.overrides.items() if k.startswith("DERIBIT_URL_")}
    settings = Settings.from_mapping(
        {"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, "DATA_DIR": str(tmp_path), **urls}
    )
    with live_server(build_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            ticker = await http.post(
                "/mcp-deribit/tools/get_ticker", json={"instrument": "BTC-PERPETUAL"}, headers=auth()
            )
            account = await http.post("/mcp-deribit/tools/get_account", json={"currency": "BTC"}, headers=auth())
            order = await http.post(
                "/mcp-deribit/tools/place_order",
                json={"instrument": "BTC-PERPETUAL", "side": "buy", "type": "market", "quantity": "10"},
                headers=auth(),
            )
            info = await http.post("/mcp-deribit/tools/environment_info", json={}, headers=auth())
    assert ticker.status_code == 200
    assert account.status_code == 503
    error = account.json()["error"]
    assert error["code"] == "NOT_CONFIGURED"
    assert "DERIBIT_CLIENT_ID_TESTNET (or DERIBIT_CLIENT_ID)" in error["message"]
    assert order.status_code == 503
    assert info.json()["credentials_configured"] is False
    assert info.json()["missing_credentials"] == [
        "DERIBIT_CLIENT_ID_TESTNET (or DERIBIT_CLIENT_ID)",
        "DERIBIT_CLIENT_SECRET_TESTNET (or DERIBIT_CLIENT_SECRET)",
    ]
