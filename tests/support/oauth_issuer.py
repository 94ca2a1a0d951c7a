"""A test OAuth issuer: RSA and EC key pairs made in the test, a JWKS served on loopback, tokens minted on demand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cerbero_mcp.common import clock
from support.live_server import live_server

ISSUER = "https://auth.example.test/"
AUDIENCE = "http://127.0.0.1:9000"
ALL_SCOPES = "cerbero:read cerbero:testnet cerbero:mainnet"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key() -> rsa.RSAPrivateKey:
    """Return a fresh 2048-bit RSA private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    """Return a fresh P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    """Return the public JWK of `key` named `kid`."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        alg = "RS256"
    else:
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        alg = "ES256"
    return {**jwk, "kid": kid, "use": "sig", "alg": alg}


@dataclass
class LoopbackIssuer:
    """Signing keys by kid, the published JWKS (what the server can fetch) and a fetch counter."""

    url: str = ""
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    fetches: int = 0
    fail: bool = False

    @property
    def jwks_url(self) -> str:
        """Return the URL the JWKS is served at."""
        return f"{self.url}/jwks.json"

    def add(self, kid: str, key: PrivateKey, *, publish: bool = True) -> None:
        """Hold `key` as `kid`, published in the JWKS unless told otherwise."""
        self.keys[kid] = key
        if publish and kid not in self.published:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        """Return the JWKS document as served now."""
        return {"keys": [public_jwk(self.keys[kid], kid) for kid in self.published]}

    def token(
        self,
        scope: str = ALL_SCOPES,
        *,
        kid: str = "rsa-1",
        key: PrivateKey | None = None,
        alg: str | None = None,
        **claims: Any,
    ) -> str:
        """Return a signed access token; claims default to a valid one for AUDIENCE, overridable (None drops)."""
        now = int(clock.now())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "agent-user",
            "exp": now + 300,
            "iat": now,
            "nbf": now - 5,
            "jti": uuid.uuid4().hex,
            "scope": scope,
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        signer = key if key is not None else self.keys[kid]
        algorithm = alg or ("RS256" if isinstance(signer, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(body, signer, algorithm=algorithm, headers={"kid": kid})

    def app(self) -> Starlette:
        """Return the issuer's ASGI app: GET /jwks.json."""

        async def jwks(request: Request) -> Response:
            self.fetches += 1
            if self.fail:
                return Response("down", status_code=503)
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/jwks.json", jwks)])


@contextmanager
def serving_issuer() -> Iterator[LoopbackIssuer]:
    """Yield an issuer with one RSA (rsa-1) and one EC (ec-1) key, its JWKS served on a loopback port."""
    issuer = LoopbackIssuer()
    issuer.add("rsa-1", rsa_key())
    issuer.add("ec-1", ec_key())
    with live_server(issuer.app()) as url:
        issuer.url = url
        yield issuer


def oauth_env(issuer: LoopbackIssuer) -> dict[str, str]:
    """Return the settings that turn OAuth on against `issuer`."""
    return {"OAUTH_ISSUER": ISSUER, "OAUTH_JWKS_URL": issuer.jwks_url, "OAUTH_AUDIENCE": AUDIENCE}
