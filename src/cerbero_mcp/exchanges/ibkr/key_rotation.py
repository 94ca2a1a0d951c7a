"""IBKR key rotation without a restart: stage new keys, confirm (validated by minting an LST), or abort.

start    new RSA signature and encryption key pairs are written beside the current ones as
         `<key>.new` (mode 600); the public halves are returned for upload in the IBKR portal.
confirm  with the consumer key, access token and secret the portal gave for the new keys: the
         current keys are kept as `<key>.old`, the staged ones swapped in with `os.replace`
         (atomic), and an LST is minted with the new set. On success the running client uses
         them at once and the new tokens are saved to `ibkr_credentials_<env>.json` (mode 600)
         beside the keys, which take precedence over `.env` at the next start. On failure the
         old keys are put back and the error says why: trading goes on with the old set.
abort    the staged files are removed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cerbero_mcp.admin import AdminDep, StateDep, admin_intent, audit_admin_action
from cerbero_mcp.common.errors import CerberoError, InvalidInputError, NotConfiguredError, UpstreamAuthError
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.ibkr.oauth import OAuthCredentials, OAuthSigner
from cerbero_mcp.settings import Environment, Settings

KEY_SETTINGS = {"signature_key_path": "IBKR_SIGNATURE_KEY_PATH", "encryption_key_path": "IBKR_ENCRYPTION_KEY_PATH"}
TOKEN_FIELDS = ("consumer_key", "access_token", "access_token_secret")
EnvQuery = Annotated[Literal["testnet", "mainnet"], Query(description="Which environment's keys.")]


def credentials_file(settings: Settings, env: Environment) -> Path | None:
    """Return where rotated tokens of `env` are kept (beside the signature key), if keys are configured."""
    path = settings.venue_credentials("ibkr", env).get("signature_key_path")
    return Path(path).parent / f"ibkr_credentials_{env}.json" if path else None


def rotated_values(settings: Settings, env: Environment) -> dict[str, str]:
    """Return the IBKR credentials of `env`, with tokens saved by a confirmed rotation taking precedence."""
    values = settings.venue_credentials("ibkr", env)
    saved = credentials_file(settings, env)
    if saved is not None and saved.exists():
        stored = json.loads(saved.read_text())
        values.update({k: str(stored[k]) for k in TOKEN_FIELDS if stored.get(k)})
    return values


@dataclass(frozen=True)
class KeyPaths:
    """The current key files of one environment and their staged and backup names."""

    signature: Path
    encryption: Path

    @property
    def current(self) -> tuple[Path, Path]:
        """Return the live key paths."""
        return self.signature, self.encryption

    @staticmethod
    def staged(path: Path) -> Path:
        """Return the staged name of a key file."""
        return path.with_name(path.name + ".new")

    @staticmethod
    def backup(path: Path) -> Path:
        """Return the backup name of a key file."""
        return path.with_name(path.name + ".old")


def key_paths(settings: Settings, env: Environment) -> KeyPaths:
    """Return the key paths of `env`; NOT_CONFIGURED names the missing settings."""
    values = settings.venue_credentials("ibkr", env)
    missing = [setting for name, setting in KEY_SETTINGS.items() if not values.get(name)]
    if missing:
        raise NotConfiguredError(f"ibkr key rotation needs {', '.join(missing)} for {env}")
    return KeyPaths(Path(values["signature_key_path"]), Path(values["encryption_key_path"]))


def _write_private_key(path: Path) -> str:
    """Write a new RSA-2048 private key (mode 600) and return its public half as PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


def start(paths: KeyPaths) -> dict[str, str]:
    """Stage new key pairs beside the current ones; return the public halves to upload."""
    return {
        "public_signature_pem": _write_private_key(KeyPaths.staged(paths.signature)),
        "public_encryption_pem": _write_private_key(KeyPaths.staged(paths.encryption)),
    }


def abort(paths: KeyPaths) -> list[str]:
    """Remove staged keys; return the names removed."""
    removed = []
    for path in paths.current:
        staged = KeyPaths.staged(path)
        if staged.exists():
            staged.unlink()
            removed.append(staged.name)
    return removed


def swap_in(paths: KeyPaths) -> None:
    """Back up the current keys and move the staged ones in (each move atomic)."""
    for path in paths.current:
        if not KeyPaths.staged(path).exists():
            raise InvalidInputError("no staged keys: call rotate-keys/start first")
    for path in paths.current:
        os.replace(path, KeyPaths.backup(path))
        os.replace(KeyPaths.staged(path), path)


def roll_back(paths: KeyPaths) -> None:
    """Put the backed-up keys back (the failed new ones are discarded)."""
    for path in paths.current:
        backup = KeyPaths.backup(path)
        if backup.exists():
            os.replace(backup, path)


def forget_backups(paths: KeyPaths) -> None:
    """Remove the backups once the new keys are proven."""
    for path in paths.current:
        KeyPaths.backup(path).unlink(missing_ok=True)


def save_tokens(target: Path, tokens: dict[str, str]) -> None:
    """Write the rotated tokens (mode 600), atomically."""
    temporary = target.with_name(target.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(tokens, handle)
    os.replace(temporary, target)


class ConfirmRequest(BaseModel):
    """What the IBKR portal gave for the uploaded keys."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"consumer_key": "ABCDEFGHI", "access_token": "…", "access_token_secret": "…"}]
        },
    )
    consumer_key: str = Field(min_length=1, max_length=64)
    access_token: str = Field(min_length=1, max_length=512)
    access_token_secret: str = Field(min_length=1, max_length=4096, description="Base64, as the portal shows it.")


router = APIRouter(prefix="/admin/ibkr", tags=["admin"])
SECURITY: dict[str, Any] = {"security": [{"BearerAuth": []}]}


@router.post("/rotate-keys/start", operation_id="admin-ibkr-rotate-start", openapi_extra=SECURITY)
async def rotate_start(request: Request, env: EnvQuery, state: StateDep, actor: AdminDep) -> dict[str, Any]:
    """Generate new signature and encryption key pairs beside the current ones; return the public keys."""
    started = await admin_intent(request, state, "ibkr.rotate_keys.start", target=env, params={"env": env})
    paths = key_paths(state.settings, env)
    public = start(paths)
    await audit_admin_action(
        request, state, "ibkr.rotate_keys.start", target=env, params={"env": env}, outcome="ok", started=started
    )
    return {
        "env": env,
        **public,
        "staged": [KeyPaths.staged(p).name for p in paths.current],
        "next": "upload both public keys in the IBKR portal, then POST rotate-keys/confirm with the new "
        "consumer key, access token and access token secret",
    }


@router.post("/rotate-keys/confirm", operation_id="admin-ibkr-rotate-confirm", openapi_extra=SECURITY)
async def rotate_confirm(
    request: Request, env: EnvQuery, body: ConfirmRequest, state: StateDep, actor: AdminDep
) -> dict[str, Any]:
    """Swap the staged keys in, prove them by minting an LST, and roll back automatically if that fails."""
    started = await admin_intent(request, state, "ibkr.rotate_keys.confirm", target=env, params={"env": env})
    settings = state.settings
    paths = key_paths(settings, env)
    swap_in(paths)
    values = {**rotated_values(settings, env), **body.model_dump()}
    try:
        credentials = OAuthCredentials.from_settings_values(values)
        http = UpstreamHTTP("ibkr", settings.venue_url("ibkr", env), read_timeout_s=settings.upstream_read_timeout_s)
        try:
            await OAuthSigner(credentials, http).mint()
        finally:
            await http.aclose()
    except CerberoError as exc:
        roll_back(paths)
        await audit_admin_action(
            request,
            state,
            "ibkr.rotate_keys.confirm",
            target=env,
            params={"env": env},
            outcome="error",
            error_code=exc.code,
            started=started,
        )
        raise UpstreamAuthError(
            f"the new IBKR keys did not mint a live session token ({exc.message}); the old keys were restored "
            "and trading continues with them",
            details={"env": env, "rolled_back": True},
            suggested_fix="check the consumer key, access token and secret match the uploaded keys",
        ) from exc
    forget_backups(paths)
    target = credentials_file(settings, env)
    if target is not None:
        save_tokens(target, body.model_dump())
    client = state.registry.cached().get(("ibkr", env))
    if client is not None:
        client.replace_credentials(credentials)
    await audit_admin_action(
        request, state, "ibkr.rotate_keys.confirm", target=env, params={"env": env}, outcome="ok", started=started
    )
    return {"env": env, "rotated": True, "running_client_updated": client is not None}


@router.post("/rotate-keys/abort", operation_id="admin-ibkr-rotate-abort", openapi_extra=SECURITY)
async def rotate_abort(request: Request, env: EnvQuery, state: StateDep, actor: AdminDep) -> dict[str, Any]:
    """Remove staged keys."""
    started = await admin_intent(request, state, "ibkr.rotate_keys.abort", target=env, params={"env": env})
    removed = abort(key_paths(state.settings, env))
    await audit_admin_action(
        request, state, "ibkr.rotate_keys.abort", target=env, params={"env": env}, outcome="ok", started=started
    )
    return {"env": env, "removed": removed}


@router.post("/health", operation_id="admin-ibkr-health", openapi_extra=SECURITY)
async def ibkr_health(request: Request, env: EnvQuery, state: StateDep, actor: AdminDep) -> dict[str, Any]:
    """Mint a live session token and call /tickle with it."""
    started = await admin_intent(request, state, "ibkr.health", target=env, params={"env": env})
    client = await state.registry.get("ibkr", env)
    signer = client.require_signer()
    token = await signer.mint()
    tickle = await client.tickle()
    await audit_admin_action(
        request, state, "ibkr.health", target=env, params={"env": env}, outcome="ok", started=started
    )
    status = (tickle.get("iserver") or {}).get("authStatus") or {}
    return {
        "env": env,
        "live_session_token_expires_at_ms": token.expires_at_ms,
        "authenticated": bool(status.get("authenticated")),
        "connected": bool(status.get("connected")),
    }
