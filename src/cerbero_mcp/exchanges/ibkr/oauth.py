"""First-party OAuth 1.0a for the IBKR Client Portal Web API: the live session token and request signing.

Minting the live session token (LST), `POST /oauth/live_session_token`, no body, signed RSA-SHA256:

    prepend   = hex(RSA PKCS#1 v1.5 decrypt(encryption key, base64-decode(access token secret)))
    challenge = hex(2^a mod p)            a: 256 random bits; p: the operator's DH prime; no "0x"
    base      = prepend + "POST&" + quote_plus(url) + "&" + quote_plus(sorted "k=v" joined by "&")
    IBKR answers diffie_hellman_response B, live_session_token_signature and
    live_session_token_expiration (epoch milliseconds)
    K         = B^a mod p as big-endian bytes, with one leading 0x00 when K.bit_length() % 8 == 0
    LST       = base64(HMAC-SHA1(key=K bytes, msg=bytes.fromhex(prepend)))
    check       hex(HMAC-SHA1(key=base64-decode(LST), msg=consumer key)) == live_session_token_signature

Every later request carries an `OAuth realm="limited_poa", …` header signed HMAC-SHA256 with the
LST as key over the same base string without the prepend. Three details are easy to get wrong and
each costs a 401: the prepend goes in front of the whole base string, the access token secret is
base64 (decode it before decrypting), and K's leading zero byte (Java's `BigInteger.toByteArray`
sign rule; without it about one LST in 256 — with a prime whose top bits are set, one in two — is wrong).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cerbero_mcp.common import clock as process_clock
from cerbero_mcp.common.errors import NotConfiguredError, UpstreamAuthError, UpstreamError
from cerbero_mcp.common.http import UpstreamHTTP, UpstreamResponse, raise_for_transport_status

VENUE = "ibkr"
LST_PATH = "/oauth/live_session_token"
DEFAULT_REALM = "limited_poa"
# The public test consumer is the one consumer that signs in a different realm.
TEST_CONSUMER_KEY = "TESTCONS"
TEST_REALM = "test_realm"
DH_GENERATOR = 2
DH_RANDOM_BITS = 256
NONCE_LENGTH = 16
_NONCE_ALPHABET = string.ascii_letters + string.digits

# The settings each credential comes from, for messages that tell the operator what to fix.
SETTING_NAMES: dict[str, str] = {
    "consumer_key": "IBKR_CONSUMER_KEY",
    "access_token": "IBKR_ACCESS_TOKEN",
    "access_token_secret": "IBKR_ACCESS_TOKEN_SECRET",
    "signature_key_path": "IBKR_SIGNATURE_KEY_PATH",
    "encryption_key_path": "IBKR_ENCRYPTION_KEY_PATH",
    "dh_prime": "IBKR_DH_PRIME",
}

log = logging.getLogger("mcp.ibkr.oauth")


# --- the pure functions -----------------------------------------------------------------------


def live_session_token_prepend(access_token_secret_b64: str, encryption_key_pem: bytes) -> str:
    """Return the prepend: hex of the access token secret decrypted (RSA PKCS#1 v1.5) with the encryption key."""
    ciphertext = _b64decode(access_token_secret_b64, "the access token secret")
    key = _rsa_private_key(encryption_key_pem, "the encryption key")
    try:
        plaintext = key.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError:
        raise ValueError("the access token secret cannot be decrypted with the encryption key") from None
    return plaintext.hex()


def signature_base_string(method: str, url: str, params: Mapping[str, str], prepend: str = "") -> str:
    """Return prepend + METHOD & quote_plus(url) & quote_plus(the sorted k=v pairs joined by &)."""
    pairs = "&".join(f"{key}={value}" for key, value in sorted(params.items()))
    return f"{prepend}{method.upper()}&{quote_plus(url)}&{quote_plus(pairs)}"


def rsa_sha256_signature(base_string: str, signature_key_pem: bytes) -> str:
    """Return quote_plus(base64(RSA-SHA256 PKCS#1 v1.5 signature of the base string))."""
    key = _rsa_private_key(signature_key_pem, "the signature key")
    signature = key.sign(base_string.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return quote_plus(base64.b64encode(signature).decode("ascii"))


def dh_challenge(dh_prime_hex: str, dh_random_hex: str) -> str:
    """Return hex(2^random mod prime), without "0x"."""
    prime = _hex_int(dh_prime_hex, "the DH prime")
    return format(pow(DH_GENERATOR, _hex_int(dh_random_hex, "the DH random"), prime), "x")


def compute_live_session_token(dh_prime_hex: str, dh_random_hex: str, dh_response_hex: str, prepend_hex: str) -> str:
    """Return the LST: base64(HMAC-SHA1(key=K bytes, msg=prepend bytes)), K = response^random mod prime."""
    shared = pow(
        _hex_int(dh_response_hex, "the DH response"),
        _hex_int(dh_random_hex, "the DH random"),
        _hex_int(dh_prime_hex, "the DH prime"),
    )
    digest = hmac.new(_twos_complement_bytes(shared), bytes.fromhex(prepend_hex), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def validate_live_session_token(lst_b64: str, signature_hex: str, consumer_key: str) -> bool:
    """Return whether hex(HMAC-SHA1(key=LST, msg=consumer key)) equals IBKR's signature (constant time)."""
    try:
        key = base64.b64decode(lst_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(key, consumer_key.encode("utf-8"), hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature_hex.strip().lower().encode("utf-8"))


def hmac_sha256_signature(base_string: str, lst_b64: str) -> str:
    """Return quote_plus(base64(HMAC-SHA256(key=LST bytes, msg=base string)))."""
    digest = hmac.new(base64.b64decode(lst_b64), base_string.encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def oauth_header(params: Mapping[str, str], realm: str = DEFAULT_REALM) -> str:
    """Return `OAuth realm="…", k="v", …`: realm first (it is not signed), then the params sorted by name."""
    pairs = [f'realm="{realm}"'] + [f'{key}="{value}"' for key, value in sorted(params.items()) if key != "realm"]
    return "OAuth " + ", ".join(pairs)


def new_nonce() -> str:
    """Return a fresh random nonce of 16 letters and digits."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def timestamp(now: float | None = None) -> str:
    """Return the OAuth timestamp: whole epoch seconds (10 digits) of `now`, default the process clock's."""
    return str(int(process_clock.now() if now is None else now))


def _twos_complement_bytes(value: int) -> bytes:
    # Big-endian with room for a sign bit, as Java's BigInteger.toByteArray: one leading 0x00 exactly
    # when value.bit_length() is a multiple of 8 (bit_length // 8 + 1 bytes covers both cases).
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _hex_int(value: str, what: str) -> int:
    try:
        return int(value.strip(), 16)
    except ValueError:
        raise ValueError(f"{what} is not a hexadecimal number") from None


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64 text") from None


def _rsa_private_key(pem: bytes, what: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's message is dropped on purpose: nothing of the key material may travel on.
        raise ValueError(f"{what} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{what} is not an RSA private key")
    return key


# --- credentials and the token ----------------------------------------------------------------


@dataclass(frozen=True)
class OAuthCredentials:
    """What one IBKR consumer signs with; every secret is kept out of the repr."""

    consumer_key: str = field(repr=False)
    access_token: str = field(repr=False)
    access_token_secret: str = field(repr=False)  # base64, as the IBKR portal shows it
    signature_key_pem: bytes = field(repr=False)
    encryption_key_pem: bytes = field(repr=False)
    dh_prime_hex: str = field(repr=False)
    realm: str = DEFAULT_REALM

    @classmethod
    def from_settings_values(cls, values: Mapping[str, str]) -> OAuthCredentials:
        """Build credentials from settings values (the key paths are read); problems → NotConfiguredError."""
        missing = [SETTING_NAMES[name] for name in SETTING_NAMES if not str(values.get(name) or "").strip()]
        if missing:
            raise NotConfiguredError(
                f"IBKR OAuth is not configured: set {', '.join(missing)}",
                details={"venue": VENUE, "missing": missing},
                suggested_fix="run scripts/ibkr_oauth_setup.py and fill the .env lines it prints",
            )
        signature_key_pem = _read_private_key(values["signature_key_path"], SETTING_NAMES["signature_key_path"])
        encryption_key_pem = _read_private_key(values["encryption_key_path"], SETTING_NAMES["encryption_key_path"])
        dh_prime_hex = values["dh_prime"].strip().lower().removeprefix("0x")
        try:
            prime = _hex_int(dh_prime_hex, SETTING_NAMES["dh_prime"])
        except ValueError as exc:
            raise NotConfiguredError(str(exc), details={"venue": VENUE, "setting": SETTING_NAMES["dh_prime"]}) from None
        if prime < 5:
            raise NotConfiguredError(
                "IBKR_DH_PRIME is not a Diffie-Hellman prime",
                details={"venue": VENUE, "setting": SETTING_NAMES["dh_prime"]},
            )
        access_token_secret = "".join(values["access_token_secret"].split())
        try:
            _b64decode(access_token_secret, SETTING_NAMES["access_token_secret"])
        except ValueError as exc:
            raise NotConfiguredError(
                str(exc), details={"venue": VENUE, "setting": SETTING_NAMES["access_token_secret"]}
            ) from None
        consumer_key = values["consumer_key"].strip()
        realm = values.get("realm") or (TEST_REALM if consumer_key == TEST_CONSUMER_KEY else DEFAULT_REALM)
        return cls(
            consumer_key=consumer_key,
            access_token=values["access_token"].strip(),
            access_token_secret=access_token_secret,
            signature_key_pem=signature_key_pem,
            encryption_key_pem=encryption_key_pem,
            dh_prime_hex=dh_prime_hex,
            realm=realm,
        )


def _read_private_key(path_value: str, setting: str) -> bytes:
    path = Path(path_value.strip()).expanduser()
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise NotConfiguredError(
            f"{setting} points to {path}, which cannot be read ({exc.strerror or type(exc).__name__})",
            details={"venue": VENUE, "setting": setting, "path": str(path)},
            suggested_fix=f"set {setting} to the path of the private key PEM file (see scripts/ibkr_oauth_setup.py)",
        ) from None
    try:
        _rsa_private_key(pem, "the file")
    except ValueError:
        raise NotConfiguredError(
            f"{setting} points to {path}, which is not an unencrypted PEM RSA private key",
            details={"venue": VENUE, "setting": setting, "path": str(path)},
        ) from None
    return pem


@dataclass(frozen=True)
class LiveSessionToken:
    """A minted live session token and when IBKR says it expires."""

    token: str = field(repr=False)  # base64
    expires_at_ms: int

    def seconds_left(self, now: float) -> float:
        """Return how many seconds remain at epoch time `now`."""
        return self.expires_at_ms / 1000.0 - now


# --- the signer ---------------------------------------------------------------------------------


class OAuthSigner:
    """Mint, cache and re-mint the LST of one IBKR consumer, and sign requests with it."""

    def __init__(
        self,
        credentials: OAuthCredentials,
        http: UpstreamHTTP,
        *,
        clock: Callable[[], float] = process_clock.now,
        sign_query_params: bool = False,
        remint_margin_s: float = 600.0,
        user_agent: str = "cerbero-mcp",
    ) -> None:
        self._credentials = credentials
        self._http = http
        self._clock = clock
        self.sign_query_params = sign_query_params
        self.remint_margin_s = remint_margin_s
        self.user_agent = user_agent
        self._lst: LiveSessionToken | None = None
        self._prepend: tuple[OAuthCredentials, str] | None = None
        self._lock = asyncio.Lock()
        self.mints = 0

    @property
    def credentials(self) -> OAuthCredentials:
        """Return the credentials in use."""
        return self._credentials

    def __repr__(self) -> str:
        return f"OAuthSigner(base_url={self._http.base_url!r}, has_token={self._lst is not None})"

    async def live_session_token(self) -> LiveSessionToken:
        """Return the cached LST, minting a new one when none is held or less than the margin is left."""
        current = self._lst
        if current is not None and self._fresh(current):
            return current
        async with self._lock:
            # Another task may have minted while this one waited for the lock.
            current = self._lst
            if current is not None and self._fresh(current):
                return current
            return await self._mint()

    async def mint(self) -> LiveSessionToken:
        """Mint a new LST now (one mint at a time), validate it and cache it."""
        async with self._lock:
            return await self._mint()

    def invalidate(self) -> None:
        """Forget the LST, so the next request mints a new one (after IBKR answered 401)."""
        self._lst = None

    def replace_credentials(self, credentials: OAuthCredentials) -> None:
        """Sign with new credentials from now on (key rotation); the old LST is forgotten."""
        self._credentials = credentials
        self._prepend = None
        self._lst = None

    async def authorization_header(self, method: str, url: str, query: Mapping[str, str] | None = None) -> str:
        """Return the HMAC-SHA256 `Authorization` value for one request, minting the LST if needed.

        `url` is a path under the base URL or a full URL; its query string, like `query`, is signed
        only when `sign_query_params` is set (ibind's default, and this one's, is not to).
        """
        lst = await self.live_session_token()
        credentials = self._credentials
        full_url, _, query_string = self._http.url(url).partition("?")
        oauth_params = {
            "oauth_consumer_key": credentials.consumer_key,
            "oauth_nonce": new_nonce(),
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": timestamp(),
            "oauth_token": credentials.access_token,
        }
        signed: dict[str, str] = {}
        if self.sign_query_params:
            signed.update(parse_qsl(query_string, keep_blank_values=True))
            signed.update(query or {})
        signed.update(oauth_params)
        base_string = signature_base_string(method, full_url, signed)
        oauth_params["oauth_signature"] = hmac_sha256_signature(base_string, lst.token)
        return oauth_header(oauth_params, credentials.realm)

    def _fresh(self, token: LiveSessionToken) -> bool:
        return token.seconds_left(self._clock()) > self.remint_margin_s

    async def _mint(self) -> LiveSessionToken:
        credentials = self._credentials
        prepend = self._prepend_for(credentials)
        dh_random = format(secrets.randbits(DH_RANDOM_BITS), "x")
        url = self._http.url(LST_PATH)
        params = {
            "diffie_hellman_challenge": dh_challenge(credentials.dh_prime_hex, dh_random),
            "oauth_consumer_key": credentials.consumer_key,
            "oauth_nonce": new_nonce(),
            "oauth_signature_method": "RSA-SHA256",
            "oauth_timestamp": timestamp(),
            "oauth_token": credentials.access_token,
        }
        base_string = signature_base_string("POST", url, params, prepend)
        params["oauth_signature"] = rsa_sha256_signature(base_string, credentials.signature_key_pem)
        headers = {
            "Authorization": oauth_header(params, credentials.realm),
            "User-Agent": self.user_agent,
            "Accept": "*/*",
        }
        response = await self._http.request("POST", LST_PATH, headers=headers)
        dh_response, signature, expires_at_ms = _parse_mint_response(response)
        prime = int(credentials.dh_prime_hex, 16)
        if not 1 < int(dh_response, 16) < prime - 1:
            raise UpstreamError(
                "IBKR sent a degenerate diffie_hellman_response", details={"venue": VENUE, "status": response.status}
            )
        token = compute_live_session_token(credentials.dh_prime_hex, dh_random, dh_response, prepend)
        if not validate_live_session_token(token, signature, credentials.consumer_key):
            raise UpstreamAuthError(
                "IBKR live session token failed validation: HMAC-SHA1 of the computed token and the consumer key"
                " does not match live_session_token_signature",
                details={"venue": VENUE},
                suggested_fix="check IBKR_ACCESS_TOKEN_SECRET, IBKR_ENCRYPTION_KEY_PATH and IBKR_DH_PRIME"
                " belong to this consumer key",
            )
        lst = LiveSessionToken(token=token, expires_at_ms=expires_at_ms)
        self.mints += 1
        # A rotation during the mint made this token the old consumer's: hand it out, never cache it.
        if self._credentials is credentials:
            self._lst = lst
        log.info(
            "minted IBKR live session token",
            extra={
                "fields": {
                    "venue": VENUE,
                    "base_url": self._http.base_url,
                    "expires_at": datetime.fromtimestamp(expires_at_ms / 1000, UTC).isoformat(),
                }
            },
        )
        return lst

    def _prepend_for(self, credentials: OAuthCredentials) -> str:
        if self._prepend is not None and self._prepend[0] is credentials:
            return self._prepend[1]
        try:
            prepend = live_session_token_prepend(credentials.access_token_secret, credentials.encryption_key_pem)
        except ValueError as exc:
            raise NotConfiguredError(
                f"IBKR OAuth credentials are unusable: {exc}",
                details={"venue": VENUE},
                suggested_fix="check IBKR_ACCESS_TOKEN_SECRET and IBKR_ENCRYPTION_KEY_PATH",
            ) from None
        self._prepend = (credentials, prepend)
        return prepend


def _parse_mint_response(response: UpstreamResponse) -> tuple[str, str, int]:
    """Return (diffie_hellman_response, live_session_token_signature, expiration ms) or raise the common error."""
    if response.status in (401, 403):
        raise UpstreamAuthError(
            f"IBKR refused the live session token request (HTTP {response.status})",
            details={"venue": VENUE, "status": response.status, **_upstream_error_text(response)},
            suggested_fix="check IBKR_CONSUMER_KEY, IBKR_ACCESS_TOKEN, IBKR_ACCESS_TOKEN_SECRET and both keys;"
            " a wrong encryption key or secret gives a wrong prepend and this answer",
        )
    raise_for_transport_status(response, VENUE)
    if 400 <= response.status < 500:
        raise UpstreamAuthError(
            f"IBKR rejected the live session token request (HTTP {response.status})",
            details={"venue": VENUE, "status": response.status, **_upstream_error_text(response)},
        )
    if not 200 <= response.status < 300:
        raise UpstreamError(
            f"IBKR answered the live session token request with HTTP {response.status}",
            details={"venue": VENUE, "status": response.status},
        )
    body = response.json()
    try:
        dh_response = str(body["diffie_hellman_response"]).strip()
        signature = str(body["live_session_token_signature"]).strip()
        expires_at_ms = int(body["live_session_token_expiration"])
        int(dh_response, 16)
    except (TypeError, KeyError, ValueError):
        raise UpstreamError(
            "IBKR's live session token answer lacks a valid diffie_hellman_response,"
            " live_session_token_signature or live_session_token_expiration",
            details={"venue": VENUE, "status": response.status},
        ) from None
    return dh_response, signature, expires_at_ms


def _upstream_error_text(response: UpstreamResponse) -> dict[str, Any]:
    # IBKR explains a refusal in {"error": "..."}; its text names the problem and carries no secret of ours.
    try:
        body = response.json()
    except UpstreamError:
        return {}
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return {"upstream_error": body["error"][:200]}
    return {}
