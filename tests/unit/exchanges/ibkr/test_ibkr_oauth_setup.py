"""scripts/ibkr_oauth_setup.py: the generated files, the printed .env lines, and --check against a fake IBKR.

The fake here uses ibind for the server-side token maths (the DH exchange is symmetric, so ibind's
client routine computes the server's LST too) and cryptography to verify the RSA signature.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import importlib.util
import re
import secrets
import stat
import sys
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from ibind.oauth import oauth1a as ibind

from cerbero_mcp.common.errors import NotConfiguredError, UpstreamAuthError
from cerbero_mcp.settings import Settings

SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "ibkr_oauth_setup.py"
CONSUMER_KEY = "SETUPCONS"
ACCESS_TOKEN = "setup-access-token"


def load_script() -> ModuleType:
    """Import the script as a module."""
    spec = importlib.util.spec_from_file_location("ibkr_oauth_setup", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


setup = load_script()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Run generate() once with small DH parameters (512 bits: tests only)."""
    return setup.generate(tmp_path_factory.mktemp("ibkr") / "keys", dh_bits=512)


def test_generate_writes_the_five_files_with_private_keys_mode_600(generated: Any) -> None:
    for path in generated.all():
        assert path.is_file()
    for path in (generated.private_signature, generated.private_encryption):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(generated.dhparam.parent.stat().st_mode) == 0o700
    assert not list(generated.dhparam.parent.glob(".*.tmp"))


def test_generated_public_keys_are_the_halves_of_the_private_keys(generated: Any) -> None:
    for private_path, public_path in (
        (generated.private_signature, generated.public_signature),
        (generated.private_encryption, generated.public_encryption),
    ):
        private = serialization.load_pem_private_key(private_path.read_bytes(), None)
        public = serialization.load_pem_public_key(public_path.read_bytes())
        assert isinstance(private, rsa.RSAPrivateKey)
        assert isinstance(public, rsa.RSAPublicKey)
        assert private.key_size == 2048
        assert public.public_numbers() == private.public_key().public_numbers()
    assert generated.private_signature.read_bytes() != generated.private_encryption.read_bytes()


def test_dhparam_has_generator_2_and_env_lines_carry_its_prime_and_the_paths(generated: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography deprecates finite-field DH
        numbers = serialization.load_pem_parameters(generated.dhparam.read_bytes()).parameter_numbers()
    assert numbers.g == 2
    assert numbers.p.bit_length() == 512
    prime_hex = setup.read_dh_prime(generated.dhparam)
    assert int(prime_hex, 16) == numbers.p
    lines = setup.env_lines(generated, prime_hex)
    assert f"IBKR_SIGNATURE_KEY_PATH={generated.private_signature}" in lines
    assert f"IBKR_ENCRYPTION_KEY_PATH={generated.private_encryption}" in lines
    assert f"IBKR_DH_PRIME={format(numbers.p, 'x')}" in lines
    assert {"IBKR_CONSUMER_KEY=", "IBKR_ACCESS_TOKEN=", "IBKR_ACCESS_TOKEN_SECRET="} <= set(lines)
    assert all(Path(line.split("=", 1)[1]).is_absolute() for line in lines if "_PATH=" in line)


def test_generate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    first = setup.generate(tmp_path, dh_bits=512)
    before = {path: path.read_bytes() for path in first.all()}
    with pytest.raises(FileExistsError, match="--force"):
        setup.generate(tmp_path, dh_bits=512)
    assert {path: path.read_bytes() for path in first.all()} == before
    second = setup.generate(tmp_path, dh_bits=512, force=True)
    assert second.private_signature.read_bytes() != before[first.private_signature]
    assert stat.S_IMODE(second.private_signature.stat().st_mode) == 0o600


def test_generate_refuses_when_only_one_file_exists(tmp_path: Path) -> None:
    (tmp_path / "dhparam.pem").write_text("mine")
    with pytest.raises(FileExistsError, match=r"dhparam\.pem"):
        setup.generate(tmp_path, dh_bits=512)
    assert not (tmp_path / "private_signature.pem").exists()


def test_main_prints_uploads_and_env_lines_then_refuses_a_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup.main(["--dir", str(tmp_path), "--dh-bits", "512"]) == 0
    out, err = capsys.readouterr()
    assert "tests only" in err
    upload_block = out.split("upload:", 1)[1].split("Never upload", 1)[0]
    assert {Path(p).name for p in upload_block.split()} == {
        "public_signature.pem",
        "public_encryption.pem",
        "dhparam.pem",
    }
    assert f"IBKR_DH_PRIME={setup.read_dh_prime(tmp_path / 'dhparam.pem')}" in out
    assert "BEGIN" not in out
    assert setup.main(["--dir", str(tmp_path), "--dh-bits", "512"]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err


# --- --check --------------------------------------------------------------------------------


class FakeIBKR:
    """A live-session-token endpoint and a signed /portfolio/accounts, keyed to the generated files."""

    def __init__(self, paths: Any, prime_hex: str, secret_plain: bytes) -> None:
        public = serialization.load_pem_public_key(paths.public_signature.read_bytes())
        assert isinstance(public, rsa.RSAPublicKey)
        self.public = public
        self.prime_hex = prime_hex
        self.secret_plain = secret_plain
        self.lst: str | None = None

    @staticmethod
    def _params(request: web.Request) -> tuple[dict[str, str], str]:
        params = dict(re.findall(r'(\w+)="([^"]*)"', request.headers.get("Authorization", "")))
        params.pop("realm", None)
        return params, params.pop("oauth_signature", "")

    async def live_session_token(self, request: web.Request) -> web.Response:
        """Verify the prepended RSA signature, then answer the DH exchange."""
        params, signature = self._params(request)
        base = ibind.generate_base_string("POST", str(request.url), params, prepend=self.secret_plain.hex())
        try:
            self.public.verify(
                base64.b64decode(unquote_plus(signature)), base.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return web.json_response({"error": "invalid signature"}, status=401)
        server_random = format(secrets.randbits(256), "x")
        self.lst = ibind.calculate_live_session_token(
            self.prime_hex, server_random, params["diffie_hellman_challenge"], self.secret_plain.hex()
        )
        digest = hmac.new(base64.b64decode(self.lst), CONSUMER_KEY.encode(), hashlib.sha1).hexdigest()
        return web.json_response(
            {
                "diffie_hellman_response": ibind.generate_dh_challenge(self.prime_hex, server_random),
                "live_session_token_signature": digest,
                "live_session_token_expiration": 4_102_444_800_000,
            }
        )

    async def accounts(self, request: web.Request) -> web.Response:
        """Answer only when signed with the LST."""
        params, signature = self._params(request)
        base = ibind.generate_base_string("GET", str(request.url), params)
        if self.lst is None or signature != ibind.generate_hmac_sha_256_signature(base, self.lst):
            return web.json_response({"error": "invalid signature"}, status=401)
        return web.json_response([{"id": "DU1234567", "accountId": "DU1234567", "desc": "secret-ish detail"}])


@pytest.fixture
async def ibkr_url(generated: Any) -> AsyncIterator[tuple[str, FakeIBKR]]:
    """Serve the fake on loopback."""
    secret_plain = b"the decrypted access token secret"
    fake = FakeIBKR(generated, setup.read_dh_prime(generated.dhparam), secret_plain)
    app = web.Application()
    app.router.add_post("/v1/api/oauth/live_session_token", fake.live_session_token)
    app.router.add_get("/v1/api/portfolio/accounts", fake.accounts)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/v1/api")), fake
    finally:
        await server.close()


def check_values(paths: Any, url: str, secret_plain: bytes) -> dict[str, str]:
    """Return the .env values an operator fills after the portal step (testnet values)."""
    public = serialization.load_pem_public_key(paths.public_encryption.read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    secret_b64 = base64.b64encode(public.encrypt(secret_plain, padding.PKCS1v15())).decode()
    return {
        "IBKR_URL_TESTNET": url,
        "IBKR_CONSUMER_KEY_TESTNET": CONSUMER_KEY,
        "IBKR_ACCESS_TOKEN_TESTNET": ACCESS_TOKEN,
        "IBKR_ACCESS_TOKEN_SECRET_TESTNET": secret_b64,
        "IBKR_SIGNATURE_KEY_PATH": str(paths.private_signature),
        "IBKR_ENCRYPTION_KEY_PATH": str(paths.private_encryption),
        "IBKR_DH_PRIME": setup.read_dh_prime(paths.dhparam),
    }


def check_settings(paths: Any, url: str, secret_plain: bytes) -> Settings:
    """Return settings built from `check_values`."""
    return Settings.from_mapping(check_values(paths, url, secret_plain))


async def test_check_mints_a_token_and_lists_account_ids(generated: Any, ibkr_url: tuple[str, FakeIBKR]) -> None:
    url, fake = ibkr_url
    accounts = await setup.check(check_settings(generated, url, fake.secret_plain), "testnet")
    assert accounts == ["DU1234567"]
    assert fake.lst is not None


async def test_check_with_a_wrong_secret_reports_upstream_auth(generated: Any, ibkr_url: tuple[str, FakeIBKR]) -> None:
    url, _ = ibkr_url
    with pytest.raises(UpstreamAuthError, match="HTTP 401"):
        await setup.check(check_settings(generated, url, b"not the secret IBKR holds"), "testnet")


async def test_check_without_credentials_for_the_env_names_the_variables(
    generated: Any, ibkr_url: tuple[str, FakeIBKR]
) -> None:
    url, fake = ibkr_url
    with pytest.raises(NotConfiguredError, match="IBKR_CONSUMER_KEY_LIVE"):
        await setup.check(check_settings(generated, url, fake.secret_plain), "mainnet")


async def test_main_check_prints_account_ids_only(
    generated: Any, ibkr_url: tuple[str, FakeIBKR], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, fake = ibkr_url
    env_file = tmp_path / ".env"
    values = check_values(generated, url, fake.secret_plain)
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    # main() runs its own event loop, so it goes to a thread while this loop serves the fake.
    code = await asyncio.to_thread(setup.main, ["--check", "--env", "testnet", "--env-file", str(env_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Accounts: DU1234567" in out
    assert "secret-ish" not in out
    assert fake.lst is not None
    assert fake.lst not in out + err
