"""Set up IBKR first-party OAuth 1.0a: generate the keys and DH parameters, then check the filled `.env`.

    uv run python scripts/ibkr_oauth_setup.py [--dir DIR] [--force] [--dh-bits BITS]
    uv run python scripts/ibkr_oauth_setup.py --check [--env testnet|mainnet] [--env-file .env]

The first form writes, in DIR (default `data/ibkr`):

    private_signature.pem   RSA 2048 private key, mode 600     keep; IBKR_SIGNATURE_KEY_PATH
    private_encryption.pem  RSA 2048 private key, mode 600     keep; IBKR_ENCRYPTION_KEY_PATH
    public_signature.pem    its public half                    upload in the IBKR portal
    public_encryption.pem   its public half                    upload in the IBKR portal
    dhparam.pem             2048-bit DH parameters, generator 2 upload; its prime is IBKR_DH_PRIME

and prints what to upload and the `.env` lines to fill. Existing files are never overwritten
without `--force`. The portal then shows the consumer key, access token and access token secret.

`--check` loads the settings, mints a live session token against IBKR_URL_TESTNET (or _LIVE),
validates it, and lists the account ids `GET /portfolio/accounts` returns with the token.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cerbero_mcp.common.errors import CerberoError, NotConfiguredError, UpstreamAuthError, UpstreamError
from cerbero_mcp.common.http import UpstreamHTTP, raise_for_transport_status
from cerbero_mcp.exchanges.ibkr.oauth import OAuthCredentials, OAuthSigner
from cerbero_mcp.settings import ConfigError, Environment, Settings, load_settings

DEFAULT_DIR = Path("data/ibkr")
RSA_BITS = 2048
DH_BITS = 2048
MIN_DH_BITS = 512  # the smallest cryptography generates; only tests go below DH_BITS
DH_GENERATOR = 2
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
ACCOUNTS_PATH = "/portfolio/accounts"


@dataclass(frozen=True)
class Paths:
    """Where the setup writes each file."""

    private_signature: Path
    private_encryption: Path
    public_signature: Path
    public_encryption: Path
    dhparam: Path

    @classmethod
    def in_dir(cls, directory: Path) -> Paths:
        """Return the file names the setup uses inside `directory`."""
        return cls(
            private_signature=directory / "private_signature.pem",
            private_encryption=directory / "private_encryption.pem",
            public_signature=directory / "public_signature.pem",
            public_encryption=directory / "public_encryption.pem",
            dhparam=directory / "dhparam.pem",
        )

    def all(self) -> tuple[Path, ...]:
        """Return every file, private keys first."""
        return (
            self.private_signature,
            self.private_encryption,
            self.public_signature,
            self.public_encryption,
            self.dhparam,
        )

    def uploads(self) -> tuple[Path, ...]:
        """Return the files to upload in the IBKR portal."""
        return (self.public_signature, self.public_encryption, self.dhparam)


# --- generation -----------------------------------------------------------------------------


def generate(directory: Path, dh_bits: int = DH_BITS, force: bool = False) -> Paths:
    """Write both RSA key pairs and the DH parameters in `directory`; FileExistsError unless `force`."""
    paths = Paths.in_dir(directory.expanduser().resolve())
    existing = [path for path in paths.all() if path.exists()]
    if existing and not force:
        raise FileExistsError(
            "refusing to overwrite " + ", ".join(str(path) for path in existing) + " (use --force to replace them)"
        )
    # Everything is generated before anything is written, so a slow or failed DH run leaves no half set.
    signature_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    encryption_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    dhparam_pem = generate_dh_parameters_pem(dh_bits)
    paths.dhparam.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(paths.private_signature, _private_pem(signature_key), PRIVATE_MODE)
    _write(paths.private_encryption, _private_pem(encryption_key), PRIVATE_MODE)
    _write(paths.public_signature, _public_pem(signature_key), PUBLIC_MODE)
    _write(paths.public_encryption, _public_pem(encryption_key), PUBLIC_MODE)
    _write(paths.dhparam, dhparam_pem, PUBLIC_MODE)
    return paths


def generate_dh_parameters_pem(bits: int) -> bytes:
    """Return PEM `DH PARAMETERS` (PKCS#3) with generator 2 and a `bits`-bit safe prime."""
    try:
        from cryptography.hazmat.primitives.asymmetric import dh

        with warnings.catch_warnings():
            # cryptography deprecates finite-field DH; IBKR's live session token needs exactly that.
            warnings.simplefilter("ignore")
            parameters = dh.generate_parameters(generator=DH_GENERATOR, key_size=bits)
            return parameters.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3)
    except (ImportError, AttributeError, NotImplementedError, UnsupportedAlgorithm):
        return _openssl_dhparam(bits)


def _openssl_dhparam(bits: int) -> bytes:
    # The fallback for a cryptography that no longer offers finite-field DH.
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("cannot generate DH parameters: this cryptography has no DH and openssl is not installed")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "dhparam.pem"
        subprocess.run([openssl, "dhparam", "-2", "-out", str(out), str(bits)], check=True, capture_output=True)
        return out.read_bytes()


def read_dh_prime(dhparam_path: Path) -> str:
    """Return the prime of a PEM `DH PARAMETERS` file in hex (no 0x); ValueError unless its generator is 2."""
    prime, generator = _parse_dhparam(dhparam_path.read_bytes())
    if generator != DH_GENERATOR:
        raise ValueError(f"{dhparam_path} has generator {generator}; IBKR needs generator 2")
    return format(prime, "x")


def _parse_dhparam(pem: bytes) -> tuple[int, int]:
    # DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER, privateValueLength INTEGER OPTIONAL }
    # Parsed by hand so reading the prime does not depend on cryptography keeping finite-field DH.
    text = pem.decode("ascii")
    begin, end = "-----BEGIN DH PARAMETERS-----", "-----END DH PARAMETERS-----"
    if begin not in text or end not in text:
        raise ValueError("not a PEM DH PARAMETERS file")
    der = base64.b64decode("".join(text.split(begin, 1)[1].split(end, 1)[0].split()))
    tag, body, _ = _der_item(der, 0)
    if tag != 0x30:
        raise ValueError("DH PARAMETERS is not a DER sequence")
    numbers: list[int] = []
    offset = 0
    while offset < len(body) and len(numbers) < 2:
        tag, value, offset = _der_item(body, offset)
        if tag != 0x02:
            raise ValueError("DH PARAMETERS holds something other than integers")
        numbers.append(int.from_bytes(value, "big", signed=True))
    if len(numbers) != 2:
        raise ValueError("DH PARAMETERS lacks the prime or the generator")
    return numbers[0], numbers[1]


def _der_item(data: bytes, offset: int) -> tuple[int, bytes, int]:
    # One DER tag-length-value: returns the tag, the value and the offset after it.
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[offset : offset + length], offset + length


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _write(path: Path, data: bytes, mode: int) -> None:
    # Written beside the target with its final mode from the first byte, then renamed over it.
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.unlink(missing_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(scratch, mode)  # the umask may have taken bits away; set exactly this mode
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


# --- what to do next ------------------------------------------------------------------------


def env_lines(paths: Paths, dh_prime_hex: str) -> list[str]:
    """Return the `.env` lines to fill: key paths and the DH prime set, the portal values left blank."""
    return [
        f"IBKR_SIGNATURE_KEY_PATH={paths.private_signature}",
        f"IBKR_ENCRYPTION_KEY_PATH={paths.private_encryption}",
        f"IBKR_DH_PRIME={dh_prime_hex}",
        "IBKR_CONSUMER_KEY=",
        "IBKR_ACCESS_TOKEN=",
        "IBKR_ACCESS_TOKEN_SECRET=",
    ]


def instructions(paths: Paths, dh_prime_hex: str) -> str:
    """Return the text printed after generation: what to upload, what to keep, what to put in `.env`."""
    lines = [
        f"Wrote the IBKR OAuth files in {paths.dhparam.parent}.",
        "",
        "1. In the IBKR portal (Settings → OAuth / self-service first-party OAuth registration) upload:",
        *(f"     {path}" for path in paths.uploads()),
        "   Never upload or share the private keys:",
        f"     {paths.private_signature}  (mode 600)",
        f"     {paths.private_encryption}  (mode 600)",
        "2. The portal then shows a consumer key (9 characters), an access token and an access token",
        "   secret (base64, ends in '='). Add these lines to .env and fill the last three:",
        "",
        *(f"   {line}" for line in env_lines(paths, dh_prime_hex)),
        "",
        "   (Per environment: IBKR_<NAME>_TESTNET / IBKR_<NAME>_LIVE override the shared values.",
        "    The paths are as seen from this machine: in a container, use the path it is mounted at.)",
        "3. Check it: uv run python scripts/ibkr_oauth_setup.py --check --env testnet",
    ]
    return "\n".join(lines)


# --- the check ------------------------------------------------------------------------------


async def check(settings: Settings, env: Environment) -> list[str]:
    """Mint and validate an LST for `env`, then return the account ids of `GET /portfolio/accounts`."""
    missing = settings.missing_credentials("ibkr", env)
    if missing:
        raise NotConfiguredError(f"IBKR OAuth is not configured for {env}: set {', '.join(missing)}")
    credentials = OAuthCredentials.from_settings_values(settings.venue_credentials("ibkr", env))
    http = UpstreamHTTP(
        "ibkr",
        settings.venue_url("ibkr", env),
        connect_timeout_s=settings.upstream_connect_timeout_s,
        read_timeout_s=settings.upstream_read_timeout_s,
    )
    try:
        signer = OAuthSigner(credentials, http)
        await signer.mint()
        header = await signer.authorization_header("GET", ACCOUNTS_PATH)
        response = await http.request(
            "GET", ACCOUNTS_PATH, headers={"Authorization": header, "User-Agent": signer.user_agent}
        )
        if response.status in (401, 403):
            raise UpstreamAuthError(
                f"IBKR minted the live session token but refused GET {ACCOUNTS_PATH} signed with it"
                f" (HTTP {response.status})"
            )
        raise_for_transport_status(response, "ibkr")
        if response.status != 200:
            raise UpstreamError(f"IBKR answered GET {ACCOUNTS_PATH} with HTTP {response.status}")
        return _account_ids(response.json())
    finally:
        await http.aclose()


def _account_ids(body: Any) -> list[str]:
    if not isinstance(body, list):
        raise UpstreamError(f"IBKR answered GET {ACCOUNTS_PATH} with something other than a list")
    ids: list[str] = []
    for item in body:
        if isinstance(item, dict):
            account = cast(dict[str, Any], item)
            value = account.get("accountId") or account.get("id")
            if value:
                ids.append(str(value))
    return ids


# --- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the setup (or the check) and return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"where to write the files (default {DEFAULT_DIR})"
    )
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument(
        "--dh-bits",
        type=int,
        default=DH_BITS,
        help=f"DH prime size (default {DH_BITS}); anything smaller is for tests only, IBKR needs {DH_BITS}",
    )
    parser.add_argument("--check", action="store_true", help="mint a live session token with the filled .env")
    parser.add_argument("--env", choices=("testnet", "mainnet"), default="testnet", help="environment to check")
    parser.add_argument("--env-file", default=".env", help="settings file for --check (default .env)")
    args = parser.parse_args(argv)

    if args.dh_bits < MIN_DH_BITS:
        parser.error(f"--dh-bits must be at least {MIN_DH_BITS}")
    if args.check:
        return _run_check(args.env_file, cast(Environment, args.env))

    if args.dh_bits < DH_BITS:
        print(f"warning: {args.dh_bits}-bit DH parameters are for tests only; IBKR needs {DH_BITS}", file=sys.stderr)
    print(f"Generating two RSA {RSA_BITS} key pairs and {args.dh_bits}-bit DH parameters", end="")
    print(" (this can take a minute or more)…" if args.dh_bits >= DH_BITS else "…", flush=True)
    try:
        paths = generate(args.dir, args.dh_bits, args.force)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(instructions(paths, read_dh_prime(paths.dhparam)))
    return 0


def _run_check(env_file: str, env: Environment) -> int:
    try:
        settings = load_settings(env_file)
        accounts = asyncio.run(check(settings, env))
    except ConfigError as exc:
        print(f"error: settings: {exc}", file=sys.stderr)
        return 1
    except CerberoError as exc:
        fix = f" — {exc.suggested_fix}" if exc.suggested_fix else ""
        print(f"error: {exc.message}{fix}", file=sys.stderr)
        return 1
    print(f"IBKR {env}: live session token minted and validated.")
    print("Accounts: " + (", ".join(accounts) if accounts else "(none returned)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
