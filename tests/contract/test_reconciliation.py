"""After a crash, writes left unknown are reconciled by asking the venue for their client_order_id."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cerbero_mcp.common.audit import AuditLog
from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.simulators.engine.harness import SimStack
from cerbero_mcp.state_store import SqliteStateStore
from cerbero_mcp.write_pipeline import request_hash
from support.contract_venues import VenueContract
from support.stack import serve_gateway, sim_settings
from support.tokens import auth

IDS = itertools.count(1)


async def post(http: httpx.AsyncClient, url: str, venue: str, tool: str, body: dict[str, Any]) -> httpx.Response:
    """Call one tool with the testnet token."""
    return await http.post(f"{url}/mcp-{venue}/tools/{tool}", json=body, headers=auth(bot="reconcile"))


def leave_crash(state_dir: Path, stack: SimStack, venue: str, body: dict[str, Any]) -> None:
    """Leave what a kill between the intent and the venue's answer leaves: a pending key and its intent."""
    settings = sim_settings(stack, state_dir)
    spec = next(t for t in installed_toolsets() if t.venue == venue).get("place_order")
    assert spec is not None
    request = spec.parse(body)
    store = SqliteStateStore(settings.state_db)
    key = ("testnet", venue, "place_order", str(body["client_order_id"]))
    assert store.reserve(key, request_hash(spec, request), settings.idempotency_ttl_s)[0]
    store.close()
    assert settings.audit_log_file is not None
    assert settings.audit_hmac_key is not None
    audit = AuditLog(settings.audit_log_file, settings.audit_hmac_key.get_secret_value().encode(), fsync=False)
    audit.append(
        {
            "actor": "testnet",
            "exchange": venue,
            "action": "place_order",
            "phase": "intent",
            "outcome": "intent",
            "write_id": f"w-{body['client_order_id']}",
            "params": request.model_dump(mode="json"),
        }
    )
    audit.close()


@pytest.mark.parametrize("placed", [True, False], ids=["at-the-venue", "never-arrived"])
async def test_an_unknown_write_is_reconciled_with_the_venue_at_start(
    placed: bool, sim_stack: SimStack, tmp_path: Path, contract: VenueContract
) -> None:
    coid = f"recon-{contract.venue}-{next(IDS)}"
    async with httpx.AsyncClient(timeout=30) as http:
        with serve_gateway(sim_stack, tmp_path / "first") as first:
            ticker = await post(http, first.url, contract.venue, "get_ticker", {"instrument": contract.instrument})
            mid = (Decimal(ticker.json()["bid"]) + Decimal(ticker.json()["ask"])) / 2
            body = {
                "instrument": contract.instrument,
                "side": "buy",
                "type": "limit",
                "quantity": str(contract.small_quantity),
                "price": str(contract.resting_price(mid, "buy")),
                "client_order_id": coid,
            }
            if placed:  # the order went out and the venue has it; the crash lost the answer
                assert (await post(http, first.url, contract.venue, "place_order", body)).status_code == 200
        leave_crash(tmp_path / "second", sim_stack, contract.venue, body)
        with serve_gateway(sim_stack, tmp_path / "second") as second:
            replay = await post(http, second.url, contract.venue, "place_order", body)
    assert replay.status_code == 504, replay.text
    details = replay.json()["error"]["details"]
    assert details["recovered_after_restart"] is True
    found = details["found_at_venue"]
    if placed:
        assert found is not None
        assert found["instrument"] == contract.instrument
        assert found["order_id"] in replay.json()["error"]["message"]
    else:
        assert found is None
