"""IBKR key rotation on a running gateway: start → portal → confirm works without restart; bad keys roll back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cerbero_mcp.common.audit import AuditQuery
from cerbero_mcp.simulators.engine.harness import SimStack, start_simulators
from cerbero_mcp.simulators.ibkr.simulator import SPEC
from support.stack import Gateway, serve_gateway
from support.tokens import ADMIN, TESTNET, auth


@pytest.fixture
def own_stack() -> Iterator[SimStack]:
    """A private IBKR simulator: rotation changes its credentials, so it is not shared."""
    with start_simulators([SPEC], envs=("testnet",)) as stack:
        yield stack


@pytest.fixture
def own_gateway(own_stack: SimStack, tmp_path: Path) -> Iterator[Gateway]:
    """The app against the private simulator."""
    with serve_gateway(own_stack, tmp_path) as served:
        yield served


def read(path: Path) -> bytes:
    """Read a key file (small, local)."""
    return path.read_bytes()


def admin(path: str) -> str:
    """Return an admin route of the testnet keys."""
    return f"/admin/ibkr/{path}?env=testnet"


async def test_rotation_confirm_works_without_restart_and_bad_keys_roll_back(
    own_gateway: Gateway, own_stack: SimStack
) -> None:
    sim = own_stack.url("ibkr", "testnet")
    key_path = Path(own_stack.credentials("ibkr", "testnet")["signature_key_path"])
    async with httpx.AsyncClient(base_url=own_gateway.url, timeout=30) as http:
        trading = auth(TESTNET)
        assert (await http.post("/mcp-ibkr/tools/get_account", json={}, headers=trading)).status_code == 200
        refused = await http.post(admin("rotate-keys/start"), headers=auth(TESTNET, None))
        assert refused.status_code == 403

        # a failed confirm: keys swapped in, LST refused, old keys restored, trading goes on
        started = (await http.post(admin("rotate-keys/start"), headers=auth(ADMIN, None))).json()
        assert started["public_signature_pem"].startswith("-----BEGIN PUBLIC KEY-----")
        old_key = read(key_path)
        bad = await http.post(
            admin("rotate-keys/confirm"),
            json={"consumer_key": "WRONGKEY1", "access_token": "nope", "access_token_secret": "bm9wZQ=="},
            headers=auth(ADMIN, None),
        )
        assert bad.status_code == 502, bad.text
        assert "old keys were restored" in bad.json()["error"]["message"]
        assert read(key_path) == old_key
        assert (await http.post("/mcp-ibkr/tools/get_account", json={}, headers=trading)).status_code == 200

        # a good rotation: register the new public keys at the "portal", confirm, trade without restart
        started = (await http.post(admin("rotate-keys/start"), headers=auth(ADMIN, None))).json()
        portal = await http.post(
            f"{sim}/__ibkr__/register",
            json={
                "public_signature_key": started["public_signature_pem"],
                "public_encryption_key": started["public_encryption_pem"],
            },
        )
        assert portal.status_code == 200, portal.text
        tokens = portal.json()
        confirmed = await http.post(
            admin("rotate-keys/confirm"),
            json={k: tokens[k] for k in ("consumer_key", "access_token", "access_token_secret")},
            headers=auth(ADMIN, None),
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["running_client_updated"] is True
        assert read(key_path) != old_key
        account = await http.post("/mcp-ibkr/tools/get_account", json={}, headers=trading)
        assert account.status_code == 200, account.text
        saved = json.loads((key_path.parent / "ibkr_credentials_testnet.json").read_text())
        assert saved["consumer_key"] == tokens["consumer_key"]
        assert oct((key_path.parent / "ibkr_credentials_testnet.json").stat().st_mode & 0o777) == "0o600"

        health = await http.post(admin("health"), headers=auth(ADMIN, None))
        assert health.status_code == 200
        assert health.json()["authenticated"] is True

        # abort removes staged files
        await http.post(admin("rotate-keys/start"), headers=auth(ADMIN, None))
        aborted = (await http.post(admin("rotate-keys/abort"), headers=auth(ADMIN, None))).json()
        assert sorted(aborted["removed"]) == sorted(
            [
                key_path.name + ".new",
                Path(own_stack.credentials("ibkr", "testnet")["encryption_key_path"]).name + ".new",
            ]
        )

    # Through the log's own query: it spans the file rotated away if the run crossed midnight.
    records = own_gateway.app.state.cerbero.audit.query(AuditQuery(limit=10_000))
    actions = [record["action"] for record in records if record.get("phase") != "intent"]
    assert actions.count("admin.ibkr.rotate_keys.confirm") == 2
    intents = [record["action"] for record in records if record.get("phase") == "intent"]
    assert intents.count("admin.ibkr.rotate_keys.confirm") == 2  # each written before the action
    assert "admin.ibkr.rotate_keys.abort" in actions
