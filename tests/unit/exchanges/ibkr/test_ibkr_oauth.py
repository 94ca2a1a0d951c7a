"""IBKR OAuth 1.0a: every pure function against ibind (the oracle), and the signer against a fake server.

The fake `/oauth/live_session_token` below implements the server side on its own (RSA verify of the
prepended base string, its own DH random, the sign-bit rule written as "prefix 0x00 when the top
bit is set"), so the signer is checked against an implementation that does not share its code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from ibind.oauth import oauth1a as ibind

from cerbero_mcp.common import clock
from cerbero_mcp.common.errors import NotConfiguredError, UpstreamAuthError
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.exchanges.ibkr.oauth import (
    LiveSessionToken,
    OAuthCredentials,
    OAuthSigner,
    compute_live_session_token,
    dh_challenge,
    hmac_sha256_signature,
    live_session_token_prepend,
    new_nonce,
    oauth_header,
    rsa_sha256_signature,
    signature_base_string,
    timestamp,
    validate_live_session_token,
)

# RFC 3526, 2048-bit MODP group 14; generator 2.
MODP_2048_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF"
)
PRIME = int(MODP_2048_HEX, 16)
CONSUMER_KEY = "CERBEROCK"
ACCESS_TOKEN = "a1b2c3d4e5f6a7b8c9d0"
LST_PATH = "/v1/api/oauth/live_session_token"
ACCOUNTS_PATH = "/v1/api/portfolio/accounts"


@dataclass(frozen=True)
class Keys:
    """One consumer's key material, as the operator and IBKR each hold it."""

    signature_pem: bytes
    encryption_pem: bytes
    signature_public: rsa.RSAPublicKey
    secret_plain: bytes  # the access token secret, decrypted (IBKR's side)
    secret_b64: str  # as the portal shows it: base64 of the RSA-encrypted secret


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_keys(seed: int) -> Keys:
    """Generate a signature key, an encryption key and an encrypted access token secret."""
    signature = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    secret_plain = random.Random(seed).randbytes(32)
    encrypted = encryption.public_key().encrypt(secret_plain, padding.PKCS1v15())
    return Keys(
        signature_pem=_pem(signature),
        encryption_pem=_pem(encryption),
        signature_public=signature.public_key(),
        secret_plain=secret_plain,
        secret_b64=base64.b64encode(encrypted).decode(),
    )


@pytest.fixture(scope="module")
def keys() -> Keys:
    """Return the key material most tests share."""
    return make_keys(1)


@pytest.fixture(scope="module")
def other_keys() -> Keys:
    """Return a second, unrelated consumer's key material."""
    return make_keys(2)


def credentials_for(keys: Keys, **overrides: Any) -> OAuthCredentials:
    """Return credentials built straight from key material."""
    values: dict[str, Any] = {
        "consumer_key": CONSUMER_KEY,
        "access_token": ACCESS_TOKEN,
        "access_token_secret": keys.secret_b64,
        "signature_key_pem": keys.signature_pem,
        "encryption_key_pem": keys.encryption_pem,
        "dh_prime_hex": MODP_2048_HEX.lower(),
    }
    values.update(overrides)
    return OAuthCredentials(**values)


def ibind_key(pem: bytes) -> Any:
    """Return the key in ibind's (pycryptodome) form."""
    return ibind.read_private_key(private_key_content=pem.decode())


def hand_lst(shared: int, prepend_hex: str, *, leading_zero: bool) -> str:
    """Compute the LST by hand from K, with or without the sign byte."""
    raw = shared.to_bytes((shared.bit_length() + 7) // 8, "big")
    key = b"\x00" + raw if leading_zero else raw
    return base64.b64encode(hmac.new(key, bytes.fromhex(prepend_hex), hashlib.sha1).digest()).decode()


def find_dh_pair(predicate: Callable[[int], bool]) -> tuple[str, str, int]:
    """Return (random hex, response hex, K) for the first deterministic seed whose K satisfies `predicate`."""
    response = pow(2, random.Random(-1).getrandbits(256), PRIME)
    for seed in range(5000):
        ours = random.Random(seed).getrandbits(256)
        shared = pow(response, ours, PRIME)
        if predicate(shared):
            return format(ours, "x"), format(response, "x"), shared
    raise AssertionError("no seed found")


# --- pure functions -------------------------------------------------------------------------


def test_prepend_is_hex_of_the_decrypted_secret_and_matches_ibind(keys: Keys) -> None:
    ours = live_session_token_prepend(keys.secret_b64, keys.encryption_pem)
    assert ours == keys.secret_plain.hex()
    assert ours == ibind.calculate_live_session_token_prepend(keys.secret_b64, ibind_key(keys.encryption_pem))


def test_prepend_refuses_a_secret_that_is_not_base64(keys: Keys) -> None:
    with pytest.raises(ValueError, match="not base64") as caught:
        live_session_token_prepend("not*base64!", keys.encryption_pem)
    assert "not*base64" not in str(caught.value)


def test_prepend_refuses_a_key_that_is_not_a_pem(keys: Keys) -> None:
    with pytest.raises(ValueError, match="encryption key is not an unencrypted PEM"):
        live_session_token_prepend(keys.secret_b64, b"garbage")


def test_base_string_without_prepend_is_exact_and_matches_ibind() -> None:
    params = {"oauth_token": "tok", "b": "2", "a": "x y/z", "oauth_consumer_key": "CK"}
    url = "https://api.ibkr.com/v1/api/portfolio/accounts"
    ours = signature_base_string("GET", url, params)
    assert ours == (
        "GET&https%3A%2F%2Fapi.ibkr.com%2Fv1%2Fapi%2Fportfolio%2Faccounts"
        "&a%3Dx+y%2Fz%26b%3D2%26oauth_consumer_key%3DCK%26oauth_token%3Dtok"
    )
    assert ours == ibind.generate_base_string(request_method="GET", request_url=url, request_headers=params)


def test_base_string_with_prepend_puts_it_in_front_of_everything_and_matches_ibind() -> None:
    params = {"oauth_token": "tok", "diffie_hellman_challenge": "abc", "oauth_signature_method": "RSA-SHA256"}
    url = "https://api.ibkr.com/v1/api/oauth/live_session_token"
    ours = signature_base_string("POST", url, params, prepend="00ff10")
    assert ours.startswith("00ff10POST&https%3A%2F%2Fapi.ibkr.com")
    assert ours == "00ff10" + signature_base_string("POST", url, params)
    assert ours == ibind.generate_base_string(
        request_method="POST", request_url=url, request_headers=params, prepend="00ff10"
    )


def test_rsa_signature_matches_ibind_and_verifies_with_the_public_key(keys: Keys) -> None:
    base = signature_base_string("POST", "https://x/oauth/live_session_token", {"a": "1"}, prepend="abcd")
    ours = rsa_sha256_signature(base, keys.signature_pem)
    assert ours == ibind.generate_rsa_sha_256_signature(base, ibind_key(keys.signature_pem))
    assert not set("+/=") & set(ours)  # quote_plus'ed
    keys.signature_public.verify(
        base64.b64decode(unquote_plus(ours)), base.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_dh_challenge_is_bare_hex_of_two_to_the_random_and_matches_ibind() -> None:
    random_hex = format(random.Random(7).getrandbits(256), "x")
    ours = dh_challenge(MODP_2048_HEX, random_hex)
    assert not ours.startswith("0x")
    assert int(ours, 16) == pow(2, int(random_hex, 16), PRIME)
    assert ours == ibind.generate_dh_challenge(MODP_2048_HEX, random_hex)


@pytest.mark.parametrize(
    ("case", "predicate", "needs_zero"),
    [
        pytest.param("full 2048-bit K", lambda k: k.bit_length() == 2048, True, id="2048-bit-K-gets-a-zero"),
        pytest.param("2040-bit K", lambda k: k.bit_length() == 2040, True, id="2040-bit-K-gets-a-zero"),
        pytest.param("K without a full top byte", lambda k: k.bit_length() % 8 != 0, False, id="other-K-gets-none"),
    ],
)
def test_live_session_token_follows_the_leading_zero_rule(
    keys: Keys, case: str, predicate: Callable[[int], bool], needs_zero: bool
) -> None:
    random_hex, response_hex, shared = find_dh_pair(predicate)
    assert (shared.bit_length() % 8 == 0) is needs_zero, case
    prepend = keys.secret_plain.hex()
    ours = compute_live_session_token(MODP_2048_HEX, random_hex, response_hex, prepend)
    assert ours == ibind.calculate_live_session_token(MODP_2048_HEX, random_hex, response_hex, prepend)
    assert ours == hand_lst(shared, prepend, leading_zero=needs_zero)
    if needs_zero:
        # The rule matters here: the naive big-endian bytes give another token.
        assert ours != hand_lst(shared, prepend, leading_zero=False)


def test_validate_accepts_ibkrs_signature_and_rejects_a_wrong_one() -> None:
    lst = base64.b64encode(bytes(range(20))).decode()
    signature = hmac.new(base64.b64decode(lst), CONSUMER_KEY.encode(), hashlib.sha1).hexdigest()
    assert validate_live_session_token(lst, signature, CONSUMER_KEY)
    assert ibind.validate_live_session_token(lst, signature, CONSUMER_KEY)
    wrong = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not validate_live_session_token(lst, wrong, CONSUMER_KEY)
    assert not ibind.validate_live_session_token(lst, wrong, CONSUMER_KEY)
    assert not validate_live_session_token(lst, signature, "OTHERCONS")
    assert not validate_live_session_token("%%not base64%%", signature, CONSUMER_KEY)
    assert not validate_live_session_token(lst, "", CONSUMER_KEY)


def test_hmac_signature_matches_ibind() -> None:
    lst = base64.b64encode(random.Random(3).randbytes(20)).decode()
    base = signature_base_string("GET", "https://api.ibkr.com/v1/api/tickle", {"oauth_nonce": "n"})
    ours = hmac_sha256_signature(base, lst)
    assert ours == ibind.generate_hmac_sha_256_signature(base, lst)
    expected = base64.b64encode(hmac.new(base64.b64decode(lst), base.encode(), hashlib.sha256).digest())
    assert ours == quote_plus(expected.decode())


def test_header_puts_realm_first_then_sorted_quoted_params() -> None:
    params = {
        "oauth_token": "t",
        "oauth_consumer_key": "CK",
        "diffie_hellman_challenge": "ab",
        "oauth_signature": "s%2B",
    }
    header = oauth_header(params)
    assert header == (
        'OAuth realm="limited_poa", diffie_hellman_challenge="ab", oauth_consumer_key="CK",'
        ' oauth_signature="s%2B", oauth_token="t"'
    )
    assert header == ibind.generate_authorization_header_string(params, "limited_poa")
    assert oauth_header({"realm": "x", "a": "1"}, realm="test_realm") == 'OAuth realm="test_realm", a="1"'


def test_nonce_and_timestamp_have_the_expected_shape() -> None:
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", nonce) for nonce in nonces)
    assert timestamp(1_700_000_000.9) == "1700000000"
    assert re.fullmatch(r"\d{10}", timestamp())


# --- credentials ----------------------------------------------------------------------------


def write_keys(tmp_path: Path, keys: Keys) -> dict[str, str]:
    """Write the private keys and return settings values pointing at them."""
    signature, encryption = tmp_path / "sig.pem", tmp_path / "enc.pem"
    signature.write_bytes(keys.signature_pem)
    encryption.write_bytes(keys.encryption_pem)
    return {
        "consumer_key": CONSUMER_KEY,
        "access_token": ACCESS_TOKEN,
        "access_token_secret": keys.secret_b64,
        "signature_key_path": str(signature),
        "encryption_key_path": str(encryption),
        "dh_prime": MODP_2048_HEX,
    }


def test_credentials_from_settings_read_the_keys_and_keep_secrets_out_of_repr(tmp_path: Path, keys: Keys) -> None:
    credentials = OAuthCredentials.from_settings_values(write_keys(tmp_path, keys))
    assert credentials.signature_key_pem == keys.signature_pem
    assert credentials.encryption_key_pem == keys.encryption_pem
    assert credentials.dh_prime_hex == MODP_2048_HEX.lower()
    assert credentials.realm == "limited_poa"
    text = repr(credentials)
    for secret in (keys.secret_b64, ACCESS_TOKEN, CONSUMER_KEY, "PRIVATE KEY"):
        assert secret not in text
    assert "secret" not in repr(LiveSessionToken(token="secret", expires_at_ms=1))


def test_credentials_use_the_test_realm_for_the_public_test_consumer(tmp_path: Path, keys: Keys) -> None:
    values = write_keys(tmp_path, keys) | {"consumer_key": "TESTCONS"}
    assert OAuthCredentials.from_settings_values(values).realm == "test_realm"


@pytest.mark.parametrize(
    ("name", "setting"),
    [("signature_key_path", "IBKR_SIGNATURE_KEY_PATH"), ("encryption_key_path", "IBKR_ENCRYPTION_KEY_PATH")],
)
def test_credentials_with_a_missing_key_file_name_the_setting_and_path(
    tmp_path: Path, keys: Keys, name: str, setting: str
) -> None:
    values = write_keys(tmp_path, keys) | {name: str(tmp_path / "nope.pem")}
    with pytest.raises(NotConfiguredError) as caught:
        OAuthCredentials.from_settings_values(values)
    assert setting in caught.value.message
    assert str(tmp_path / "nope.pem") in caught.value.message


def test_credentials_with_a_file_that_is_no_key_say_so_without_its_content(tmp_path: Path, keys: Keys) -> None:
    values = write_keys(tmp_path, keys)
    Path(values["signature_key_path"]).write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n")
    with pytest.raises(NotConfiguredError, match=r"IBKR_SIGNATURE_KEY_PATH .* not an unencrypted PEM RSA") as caught:
        OAuthCredentials.from_settings_values(values)
    assert "c2VjcmV0" not in str(caught.value.to_dict())


def test_credentials_missing_values_are_named(tmp_path: Path, keys: Keys) -> None:
    values = write_keys(tmp_path, keys)
    del values["dh_prime"]
    values["access_token"] = " "
    with pytest.raises(NotConfiguredError) as caught:
        OAuthCredentials.from_settings_values(values)
    assert caught.value.details is not None
    assert caught.value.details["missing"] == ["IBKR_ACCESS_TOKEN", "IBKR_DH_PRIME"]


# --- the fake IBKR server -------------------------------------------------------------------


def parse_header(value: str) -> dict[str, str]:
    """Split an `OAuth k="v", …` header into its pairs."""
    assert value.startswith("OAuth ")
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


def sign_byte_rule(value: int) -> bytes:
    """Return `value` as a signed big-endian byte string (a 0x00 in front when the top bit is set)."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return b"\x00" + raw if raw[0] & 0x80 else raw


class FakeIBKR:
    """The server side of first-party OAuth, written independently of the code under test."""

    def __init__(self, keys: Keys, *, lifetime_ms: int = 24 * 3600 * 1000) -> None:
        self.keys = keys
        self.lifetime_ms = lifetime_ms
        self.tamper_lst_signature = False
        self.sign_query = False
        self.mints = 0
        self.lst: bytes | None = None
        self.mint_requests: list[dict[str, Any]] = []

    async def live_session_token(self, request: web.Request) -> web.Response:
        """Verify the RSA-signed, prepended request and answer the DH exchange."""
        params = parse_header(request.headers.get("Authorization", "OAuth "))
        self.mint_requests.append(
            {"params": dict(params), "body": await request.read(), "user_agent": request.headers.get("User-Agent")}
        )
        if params.pop("realm", None) != "limited_poa":
            return web.json_response({"error": "bad realm"}, status=401)
        signature = params.pop("oauth_signature", "")
        if (
            params.get("oauth_consumer_key") != CONSUMER_KEY
            or params.get("oauth_token") != ACCESS_TOKEN
            or params.get("oauth_signature_method") != "RSA-SHA256"
            or abs(int(params.get("oauth_timestamp", "0")) - clock.now()) > 300
            or not params.get("oauth_nonce")
        ):
            return web.json_response({"error": "bad oauth parameters"}, status=401)
        pairs = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        base = f"{self.keys.secret_plain.hex()}POST&{quote_plus(str(request.url))}&{quote_plus(pairs)}"
        try:
            self.keys.signature_public.verify(
                base64.b64decode(unquote_plus(signature)), base.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return web.json_response({"error": "invalid signature"}, status=401)
        server_random = random.SystemRandom().getrandbits(256)
        shared = pow(int(params["diffie_hellman_challenge"], 16), server_random, PRIME)
        self.lst = hmac.new(sign_byte_rule(shared), self.keys.secret_plain, hashlib.sha1).digest()
        lst_signature = hmac.new(self.lst, CONSUMER_KEY.encode(), hashlib.sha1).hexdigest()
        if self.tamper_lst_signature:
            lst_signature = "0" * 40
        self.mints += 1
        return web.json_response(
            {
                "diffie_hellman_response": format(pow(2, server_random, PRIME), "x"),
                "live_session_token_signature": lst_signature,
                "live_session_token_expiration": int(clock.now() * 1000) + self.lifetime_ms,
            }
        )

    async def accounts(self, request: web.Request) -> web.Response:
        """Answer only a request signed HMAC-SHA256 with the newest LST."""
        params = parse_header(request.headers.get("Authorization", "OAuth "))
        params.pop("realm", None)
        signature = params.pop("oauth_signature", "")
        if self.lst is None or params.get("oauth_signature_method") != "HMAC-SHA256":
            return web.json_response({"error": "not authenticated"}, status=401)
        if self.sign_query:
            params.update(request.query)
        url = str(request.url.with_query(None))
        pairs = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        base = f"GET&{quote_plus(url)}&{quote_plus(pairs)}"
        expected = quote_plus(base64.b64encode(hmac.new(self.lst, base.encode(), hashlib.sha256).digest()).decode())
        if not hmac.compare_digest(expected, signature):
            return web.json_response({"error": "invalid signature"}, status=401)
        return web.json_response([{"id": "DU111", "accountId": "DU111"}, {"id": "DU222", "accountId": "DU222"}])


@dataclass
class Served:
    """A running fake and a transport pointed at it."""

    fake: FakeIBKR
    http: UpstreamHTTP


@pytest.fixture
async def served(keys: Keys) -> AsyncIterator[Served]:
    """Serve the fake on loopback under /v1/api and return it with a transport."""
    fake = FakeIBKR(keys)
    app = web.Application()
    app.router.add_post(LST_PATH, fake.live_session_token)
    app.router.add_get(ACCOUNTS_PATH, fake.accounts)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    http = UpstreamHTTP("ibkr", str(server.make_url("/v1/api")))
    try:
        yield Served(fake, http)
    finally:
        await http.aclose()
        await server.close()


async def get_accounts(served: Served, signer: OAuthSigner, query: dict[str, str] | None = None) -> int:
    """Call the signed accounts route and return the status."""
    header = await signer.authorization_header("GET", "/portfolio/accounts", query)
    response = await served.http.request("GET", "/portfolio/accounts", params=query, headers={"Authorization": header})
    return response.status


# --- the signer -----------------------------------------------------------------------------


async def test_mint_gets_a_validated_token_the_server_shares(served: Served, keys: Keys) -> None:
    signer = OAuthSigner(credentials_for(keys), served.http)
    lst = await signer.mint()
    assert served.fake.lst is not None
    assert base64.b64decode(lst.token) == served.fake.lst
    assert lst.expires_at_ms > clock.now() * 1000
    request = served.fake.mint_requests[-1]
    assert request["body"] == b""
    assert request["user_agent"] == "cerbero-mcp"
    assert "oauth_version" not in request["params"]
    assert request["params"]["oauth_signature_method"] == "RSA-SHA256"
    assert re.fullmatch(r"[0-9a-f]+", request["params"]["diffie_hellman_challenge"])
    assert await get_accounts(served, signer) == 200


async def test_mint_agrees_with_the_server_across_many_dh_exchanges(served: Served, keys: Keys) -> None:
    # About half of these have a K whose top byte is full (MODP 14's top bits are set): both sides are hit.
    signer = OAuthSigner(credentials_for(keys), served.http)
    for _ in range(16):
        lst = await signer.mint()
        assert base64.b64decode(lst.token) == served.fake.lst


@pytest.mark.parametrize("tamper", ["access token secret (prepend)", "signature key"])
async def test_a_tampered_prepend_or_signature_gets_401_as_upstream_auth_error(
    served: Served, keys: Keys, other_keys: Keys, tamper: str
) -> None:
    if tamper == "signature key":
        credentials = credentials_for(keys, signature_key_pem=other_keys.signature_pem)
    else:
        encrypted = serialization.load_pem_private_key(keys.encryption_pem, None).public_key()
        assert isinstance(encrypted, rsa.RSAPublicKey)
        wrong_secret = base64.b64encode(encrypted.encrypt(b"another secret", padding.PKCS1v15())).decode()
        credentials = credentials_for(keys, access_token_secret=wrong_secret)
    signer = OAuthSigner(credentials, served.http)
    with pytest.raises(UpstreamAuthError, match=r"HTTP 401") as caught:
        await signer.mint()
    assert caught.value.details is not None
    assert caught.value.details["status"] == 401
    assert served.fake.mints == 0


async def test_a_wrong_lst_signature_fails_validation_without_leaking_the_token(served: Served, keys: Keys) -> None:
    served.fake.tamper_lst_signature = True
    signer = OAuthSigner(credentials_for(keys), served.http)
    with pytest.raises(UpstreamAuthError, match="IBKR live session token failed validation") as caught:
        await signer.live_session_token()
    assert served.fake.lst is not None
    leaked = str(caught.value.to_dict()) + repr(caught.value)
    assert base64.b64encode(served.fake.lst).decode() not in leaked
    assert keys.secret_plain.hex() not in leaked
    assert served.fake.lst.hex() not in leaked
    assert repr(signer).endswith("has_token=False)")


async def test_the_cached_token_is_reused_and_concurrent_callers_share_one_mint(served: Served, keys: Keys) -> None:
    signer = OAuthSigner(credentials_for(keys), served.http)
    tokens = await asyncio.gather(*(signer.live_session_token() for _ in range(5)))
    assert len({token.token for token in tokens}) == 1
    assert await signer.live_session_token() == tokens[0]
    for _ in range(3):
        assert await get_accounts(served, signer) == 200
    assert served.fake.mints == 1


async def test_the_token_is_reminted_inside_the_margin(served: Served, keys: Keys) -> None:
    now = [clock.now()]
    signer = OAuthSigner(credentials_for(keys), served.http, clock=lambda: now[0], remint_margin_s=600)
    first = await signer.live_session_token()
    now[0] = first.expires_at_ms / 1000 - 601
    assert await signer.live_session_token() is first
    assert served.fake.mints == 1
    now[0] = first.expires_at_ms / 1000 - 599
    second = await signer.live_session_token()
    assert served.fake.mints == 2
    assert second.token != first.token


async def test_invalidate_forces_a_new_mint(served: Served, keys: Keys) -> None:
    signer = OAuthSigner(credentials_for(keys), served.http)
    first = await signer.live_session_token()
    signer.invalidate()
    second = await signer.live_session_token()
    assert served.fake.mints == 2
    assert second.token != first.token
    assert await get_accounts(served, signer) == 200


async def test_replace_credentials_forgets_the_token(served: Served, keys: Keys) -> None:
    signer = OAuthSigner(credentials_for(keys), served.http)
    await signer.live_session_token()
    signer.replace_credentials(credentials_for(keys, access_token_secret=keys.secret_b64 + "\n"))
    await signer.live_session_token()
    assert served.fake.mints == 2


async def test_query_params_are_signed_only_when_switched_on(served: Served, keys: Keys) -> None:
    query = {"b": "2", "a": "1"}
    default = OAuthSigner(credentials_for(keys), served.http)
    assert await get_accounts(served, default, query) == 200  # ibind's way: the URL without them
    served.fake.sign_query = True
    assert await get_accounts(served, default, query) == 401
    signing = OAuthSigner(credentials_for(keys), served.http, sign_query_params=True)
    assert await get_accounts(served, signing, query) == 200


async def test_the_request_header_does_not_sign_the_realm(served: Served, keys: Keys) -> None:
    signer = OAuthSigner(credentials_for(keys), served.http)
    lst = await signer.live_session_token()
    url = served.http.url("/portfolio/accounts")
    params = parse_header(await signer.authorization_header("GET", url))
    assert next(iter(params)) == "realm"
    signature = params.pop("oauth_signature")
    params.pop("realm")
    assert signature == hmac_sha256_signature(signature_base_string("GET", url, params), lst.token)
