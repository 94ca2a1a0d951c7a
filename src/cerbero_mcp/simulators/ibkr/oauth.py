"""The IBKR simulator's side of first-party OAuth 1.0a: what the portal issues and what the server checks.

Written from the protocol (docs: ../shared/reference/ibkr.md), independently of the gateway's client
(`oauth.py`), so that a mistake in the client shows up as a 401 here instead of being mirrored.

- `generate_credentials(env)` plays the self-service portal: two RSA-2048 key pairs (the private
  halves written as PEM, mode 600, in a fresh temporary folder), a 9-letter consumer key, an access
  token, a random 32-byte secret encrypted (RSA PKCS#1 v1.5) with the public encryption key as the
  access token secret, the RFC 3526 group 14 prime (generator 2) and an account id.
- `OAuthServer` keeps only what IBKR keeps: the consumer key, the access token, the PUBLIC
  signature and encryption keys, the secret behind the access token secret (the "prepend") and the
  DH prime. It verifies the RSA-SHA256 signature of `POST /oauth/live_session_token` (base string
  with the prepend in front), answers the Diffie-Hellman exchange, and verifies the HMAC-SHA256
  signature of every later call with the live session token (LST) it derived.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import string
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# RFC 3526 group 14 (2048-bit MODP), generator 2 — fixed: generating DH parameters takes far too long.
RFC3526_PRIME_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF"
)
DH_GENERATOR = 2
REALM = "limited_poa"
TEST_REALM = "test_realm"  # only for IBKR's public test consumer TESTCONS
TIMESTAMP_WINDOW_S = 300.0  # oauth_timestamp must be within ±5 minutes of the simulator's clock
NONCE_MEMORY_S = 2 * TIMESTAMP_WINDOW_S
LST_TTL_S = 86_400.0
# ibind signs the URL without its query string and leaves query parameters out of the base string;
# another IBKR sample sorts them into the parameter list. IBKR's own rule is unconfirmed: one switch.
SIGN_QUERY_PARAMS = False
ACCOUNT_IDS = {"testnet": "DU1234567", "mainnet": "U7654321"}
_PAIR = re.compile(r'\s*([A-Za-z0-9_]+)\s*=\s*"([^"]*)"\s*')


class OAuthError(Exception):
    """A request the OAuth layer refuses; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 401) -> None:
        """Carry the message for `{"error": message}`."""
        super().__init__(message)
        self.message = message
        self.status = status


# --- the portal ---------------------------------------------------------------------------------


def _write_private(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def encrypt_secret(public_encryption_key: rsa.RSAPublicKey, secret: bytes) -> str:
    """Return the access token secret: base64 of the secret encrypted with RSA PKCS#1 v1.5."""
    return base64.b64encode(public_encryption_key.encrypt(secret, padding.PKCS1v15())).decode()


def generate_credentials(env: str) -> dict[str, str]:
    """Generate a consumer's keys (in a fresh temp folder) and what the IBKR portal would issue for them."""
    folder = Path(tempfile.mkdtemp(prefix=f"cerbero-ibkr-sim-{env}-"))
    sig_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    enc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig_path, enc_path = folder / "private_signature.pem", folder / "private_encryption.pem"
    _write_private(sig_path, sig_key)
    _write_private(enc_path, enc_key)
    _cleanup_at_exit(folder)
    return {
        "consumer_key": new_consumer_key(),
        "access_token": secrets.token_hex(10),
        "access_token_secret": encrypt_secret(enc_key.public_key(), secrets.token_bytes(32)),
        "signature_key_path": str(sig_path),
        "encryption_key_path": str(enc_path),
        "dh_prime": RFC3526_PRIME_HEX.lower(),
        "account_id": ACCOUNT_IDS.get(env, ACCOUNT_IDS["testnet"]),
    }


_FOLDERS: list[Path] = []


def _cleanup_at_exit(folder: Path) -> None:
    if not _FOLDERS:
        atexit.register(_remove_folders)
    _FOLDERS.append(folder)


def _remove_folders() -> None:
    for folder in _FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)


def new_consumer_key() -> str:
    """Return a 9-character upper-case consumer key."""
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(9))


# --- wire helpers ---------------------------------------------------------------------------------


def parse_authorization(header: str) -> tuple[str, dict[str, str]]:
    """Return (realm, params) of an `OAuth realm="…", k="v", …` header; OAuthError if malformed."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth" or not rest:
        raise OAuthError("missing OAuth authorization")
    params: dict[str, str] = {}
    for part in rest.split(","):
        m = _PAIR.fullmatch(part)
        if m is None:
            raise OAuthError("malformed OAuth authorization header")
        params[m.group(1)] = m.group(2)
    realm = params.pop("realm", None)
    if realm is None:
        raise OAuthError("OAuth realm missing")
    return realm, params


def base_string(method: str, url: str, params: Mapping[str, str], prepend: str = "") -> str:
    """Return the OAuth 1.0a signature base string (sorted `k=v`, quote_plus'ed), `prepend` in front."""
    pairs = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{prepend}{method.upper()}&{quote_plus(url)}&{quote_plus(pairs)}"


def shared_secret_bytes(k: int) -> bytes:
    """Return K big-endian, with one leading 0x00 when its bit length is a multiple of 8 (sign rule)."""
    raw = k.to_bytes(max((k.bit_length() + 7) // 8, 1), "big")
    return b"\x00" + raw if k.bit_length() % 8 == 0 else raw


def _signature_bytes(value: str) -> bytes:
    try:
        return base64.b64decode(unquote(value), validate=True)
    except ValueError:
        raise OAuthError("invalid signature") from None


# --- the server -----------------------------------------------------------------------------------


@dataclass
class LiveSession:
    """The live session token the server derived for the access token, and the session it opened."""

    lst: bytes
    expires_at: float
    session_id: str
    portfolio_primed: bool = False


@dataclass
class OAuthServer:
    """What IBKR holds for one first-party consumer, and the live session it issued."""

    consumer_key: str
    access_token: str
    signature_key: rsa.RSAPublicKey
    encryption_key: rsa.RSAPublicKey
    prepend: bytes
    dh_prime: int
    session: LiveSession | None = None
    nonces: dict[str, float] = field(default_factory=dict)
    minted: int = 0
    displaced: int = 0  # live sessions knocked off by a newer one (IBKR: one session per user)

    @classmethod
    def from_credentials(cls, creds: Mapping[str, str]) -> OAuthServer:
        """Bootstrap from the generated credentials: keep the public halves and the decrypted secret only."""
        missing = [k for k in ("consumer_key", "access_token", "access_token_secret", "signature_key_path",
                               "encryption_key_path") if not creds.get(k)]  # fmt: skip
        if missing:
            raise ValueError(f"IBKR simulator credentials lack {', '.join(missing)}")
        sig = _load_private(creds["signature_key_path"])
        enc = _load_private(creds["encryption_key_path"])
        prepend = enc.decrypt(base64.b64decode(creds["access_token_secret"]), padding.PKCS1v15())
        return cls(
            consumer_key=creds["consumer_key"],
            access_token=creds["access_token"],
            signature_key=sig.public_key(),
            encryption_key=enc.public_key(),
            prepend=prepend,
            dh_prime=int(creds.get("dh_prime") or RFC3526_PRIME_HEX, 16),
        )

    # --- checks shared by both signature methods ----------------------------------------------

    def _check(self, realm: str, params: Mapping[str, str], method: str, now: float) -> None:
        if realm != REALM and not (realm == TEST_REALM and params.get("oauth_consumer_key") == "TESTCONS"):
            raise OAuthError(f"invalid realm {realm!r}")
        for name in ("oauth_consumer_key", "oauth_nonce", "oauth_signature_method", "oauth_timestamp",
                     "oauth_token", "oauth_signature"):  # fmt: skip
            if not params.get(name):
                raise OAuthError(f"{name} missing")
        if not hmac.compare_digest(params["oauth_consumer_key"].encode(), self.consumer_key.encode()):
            raise OAuthError("invalid consumer")
        if not hmac.compare_digest(params["oauth_token"].encode(), self.access_token.encode()):
            raise OAuthError("invalid token")
        if params["oauth_signature_method"] != method:
            raise OAuthError(f"oauth_signature_method must be {method}")
        ts = params["oauth_timestamp"]
        if not ts.isdigit() or abs(int(ts) - now) > TIMESTAMP_WINDOW_S:
            raise OAuthError("invalid timestamp")
        nonce = params["oauth_nonce"]
        for old in [n for n, at in self.nonces.items() if at < now - NONCE_MEMORY_S]:
            del self.nonces[old]
        if nonce in self.nonces:
            raise OAuthError("nonce already used")
        self.nonces[nonce] = now

    # --- the live session token ---------------------------------------------------------------

    def mint(self, url: str, header: str, now: float) -> dict[str, object]:
        """Serve `POST /oauth/live_session_token`: verify the RSA signature, answer the DH exchange."""
        realm, params = parse_authorization(header)
        self._check(realm, params, "RSA-SHA256", now)
        challenge = params.get("diffie_hellman_challenge", "")
        signed = {k: v for k, v in params.items() if k != "oauth_signature"}
        base = base_string("POST", url, signed, prepend=self.prepend.hex())
        try:
            self.signature_key.verify(
                _signature_bytes(params["oauth_signature"]), base.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise OAuthError("invalid signature") from None
        try:
            a = int(challenge, 16)
        except ValueError:
            raise OAuthError("invalid diffie_hellman_challenge", 400) from None
        p = self.dh_prime
        if not 1 < a < p - 1:
            raise OAuthError("invalid diffie_hellman_challenge", 400)
        b = secrets.randbits(256) | 1
        k = pow(a, b, p)
        lst = hmac.new(shared_secret_bytes(k), self.prepend, hashlib.sha1).digest()
        expires = now + LST_TTL_S
        if self.live(now) is not None:
            # IBKR allows one session per user: the new one replaces a live one, whose LST stops working
            # (its next call is 401) — what two gateways on one login do to each other.
            self.displaced += 1
        self.session = LiveSession(lst, expires, secrets.token_hex(16))
        self.minted += 1
        return {
            "diffie_hellman_response": format(pow(DH_GENERATOR, b, p), "x"),
            "live_session_token_signature": hmac.new(lst, self.consumer_key.encode(), hashlib.sha1).hexdigest(),
            "live_session_token_expiration": int(expires * 1000),
        }

    def live(self, now: float) -> LiveSession | None:
        """Return the live session, or None when there is none or it expired."""
        s = self.session
        return s if s is not None and s.expires_at > now else None

    def verify(self, method: str, url: str, query: Mapping[str, str], header: str, now: float) -> LiveSession:
        """Check the HMAC-SHA256 OAuth header of a call to a protected resource; return the live session."""
        realm, params = parse_authorization(header)
        self._check(realm, params, "HMAC-SHA256", now)
        session = self.live(now)
        if session is None:
            raise OAuthError("live session token expired or not issued")
        signed = {k: v for k, v in params.items() if k != "oauth_signature"}
        if SIGN_QUERY_PARAMS:
            signed.update(query)
        base = base_string(method, url, signed)
        expected = hmac.new(session.lst, base.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _signature_bytes(params["oauth_signature"])):
            raise OAuthError("invalid signature")
        return session

    def expire(self) -> bool:
        """Expire the current live session token (a control route); return whether there was one."""
        had = self.session is not None
        self.session = None
        return had

    # --- the portal's key registration (rotation) ---------------------------------------------

    def register(self, signature_pem: str, encryption_pem: str, dh_prime_hex: str | None = None) -> dict[str, str]:
        """Accept new public keys, issue a new consumer key, access token and secret; old ones stop working."""
        sig = _load_public(signature_pem, "signature")
        enc = _load_public(encryption_pem, "encryption")
        prime = self.dh_prime
        if dh_prime_hex:
            try:
                prime = int(dh_prime_hex, 16)
            except ValueError:
                raise OAuthError("dh_prime must be hex", 400) from None
            if prime.bit_length() < 2048:
                raise OAuthError("dh_prime must have at least 2048 bits", 400)
        secret = secrets.token_bytes(32)
        self.consumer_key, self.access_token = new_consumer_key(), secrets.token_hex(10)
        self.signature_key, self.encryption_key, self.prepend, self.dh_prime = sig, enc, secret, prime
        self.session = None
        return {
            "consumer_key": self.consumer_key,
            "access_token": self.access_token,
            "access_token_secret": encrypt_secret(enc, secret),
        }


def _load_private(path: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def _load_public(pem: str, name: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise OAuthError(f"public {name} key is not a PEM public key", 400) from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise OAuthError(f"public {name} key must be RSA with at least 2048 bits", 400)
    return key
