"""OAuth 2.1 resource server: JWT access tokens checked against the issuer's JWKS (off by default).

With OAUTH_ISSUER, OAUTH_JWKS_URL and OAUTH_AUDIENCE set (all three or none), a bearer token that
is not one of the static tokens is read as a JWT access token (RFC 9068):

    header   alg RS256 or ES256 only (never none, never HS*), kid names the JWKS key
    keys     the issuer's JWKS, fetched through the shared aiohttp transport, cached OAUTH_JWKS_TTL_S;
             an unknown kid refetches it at once (at most once per `refresh_interval_s`) for a rotated key
    claims   iss == OAUTH_ISSUER, aud contains OAUTH_AUDIENCE (this server's URL), exp and nbf on the
             process clock with OAUTH_LEEWAY_S of leeway
    scopes   `scope` (space separated) or `scp` (a list): cerbero:read, cerbero:testnet, cerbero:mainnet,
             cerbero:admin

The token itself is never logged or stored: callers are named by `principal`, a hash of its `jti`
(or of the token when it has none). A JWKS that cannot be fetched answers 503 AUTH_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl

from cerbero_mcp.common import clock
from cerbero_mcp.common.errors import AuthUnavailableError, CerberoError, ForbiddenError, UnauthorizedError
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.settings import ConfigError, Environment, Settings

log = logging.getLogger("mcp.oauth")

SCOPE_READ = "cerbero:read"
SCOPE_ADMIN = "cerbero:admin"
ENV_SCOPES: dict[Environment, str] = {"testnet": "cerbero:testnet", "mainnet": "cerbero:mainnet"}
SCOPES_SUPPORTED = (SCOPE_READ, ENV_SCOPES["testnet"], ENV_SCOPES["mainnet"], SCOPE_ADMIN)
# Asymmetric only: an HS* token would be checked with a public key as its secret, and `none` with nothing.
ALGORITHMS: dict[str, tuple[str, str | None]] = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}
METADATA_PATH = "/.well-known/oauth-protected-resource"
MAX_JWKS_BYTES = 256 * 1024


@dataclass(frozen=True)
class OAuthConfig:
    """The three OAuth settings and the knobs around them, checked once at start."""

    issuer: str
    jwks_url: str
    audience: str
    jwks_ttl_s: float
    leeway_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthConfig | None:
        """Return the config, None when OAuth is off; ConfigError when only some of the three are set."""
        values = {
            "OAUTH_ISSUER": settings.oauth_issuer,
            "OAUTH_JWKS_URL": settings.oauth_jwks_url,
            "OAUTH_AUDIENCE": settings.oauth_audience,
        }
        given = {name: value.strip() for name, value in values.items() if value and value.strip()}
        if not given:
            return None
        if len(given) != len(values):
            missing = ", ".join(name for name in values if name not in given)
            raise ConfigError(
                f"OAuth needs OAUTH_ISSUER, OAUTH_JWKS_URL and OAUTH_AUDIENCE together; {missing} unset"
                " (set all three, or none to turn OAuth off)"
            )
        for name in ("OAUTH_JWKS_URL", "OAUTH_AUDIENCE"):
            parts = urlsplit(given[name])
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"{name} must be an http(s) URL, got {given[name]!r}")
        return cls(
            issuer=given["OAUTH_ISSUER"],
            jwks_url=given["OAUTH_JWKS_URL"],
            audience=given["OAUTH_AUDIENCE"],
            jwks_ttl_s=settings.oauth_jwks_ttl_s,
            leeway_s=settings.oauth_leeway_s,
        )

    @property
    def metadata_url(self) -> str:
        """Return this resource's RFC 9728 metadata URL (the well-known path inserted before the audience's path)."""
        return str(build_resource_metadata_url(AnyHttpUrl(self.audience)))

    def metadata(self) -> dict[str, Any]:
        """Return the RFC 9728 protected resource metadata document."""
        document = ProtectedResourceMetadata(
            resource=AnyHttpUrl(self.audience),
            authorization_servers=[AnyHttpUrl(self.issuer)],
            scopes_supported=list(SCOPES_SUPPORTED),
            bearer_methods_supported=["header"],
            resource_signing_alg_values_supported=None,
            resource_name="Cerbero MCP",
        )
        body = document.model_dump(mode="json", exclude_none=True)
        # pydantic's URL type adds a trailing "/" to a bare origin; clients compare `resource` to the audience.
        body["resource"] = self.audience
        body["authorization_servers"] = [self.issuer]
        return body

    def challenge(self, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
        """Return a `WWW-Authenticate: Bearer …` value naming the metadata URL (RFC 6750 §3, RFC 9728 §5.1)."""
        parts = ['realm="cerbero-mcp"', f'resource_metadata="{self.metadata_url}"']
        if error is not None:
            parts.append(f'error="{error}"')
        if description is not None:
            parts.append(f'error_description="{_quotable(description)}"')
        if scope is not None:
            parts.append(f'scope="{scope}"')
        return "Bearer " + ", ".join(parts)


def insufficient_scope(config: OAuthConfig, scope: str, message: str, fix: str | None = None) -> ForbiddenError:
    """Return the 403 for an OAuth token without `scope`, with its `insufficient_scope` challenge (RFC 6750 §3.1)."""
    return ForbiddenError(
        message,
        suggested_fix=fix or f"ask the authorization server for the {scope} scope",
        details={"required_scope": scope},
        headers={"WWW-Authenticate": config.challenge("insufficient_scope", message, scope=scope)},
    )


def _quotable(text: str) -> str:
    # A quoted-string may not carry `"` or `\` unescaped; the descriptions are ours, so plain ASCII suffices.
    return "".join(ch for ch in text if 0x20 <= ord(ch) < 0x7F and ch not in '"\\')


@dataclass(frozen=True)
class AccessToken:
    """What a valid JWT grants: its scopes and a hashed id for logs and audit (never the token)."""

    principal: str
    scopes: frozenset[str]
    subject_hash: str | None

    def environments(self) -> list[Environment]:
        """Return the environments the token's scopes allow, testnet first."""
        return [env for env, scope in ENV_SCOPES.items() if scope in self.scopes]


def principal_of(token: str, claims: dict[str, Any]) -> str:
    """Return `oauth:<16 hex>`: a hash of the token's jti (or of the token itself when it has none)."""
    jti = claims.get("jti")
    material = f"jti:{claims.get('iss')}:{jti}" if isinstance(jti, str) and jti else f"token:{token}"
    return "oauth:" + hashlib.sha256(material.encode()).hexdigest()[:16]


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """Return the scopes of `scope` (RFC 9068: space separated) or `scp` (a list, as some issuers send)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(item for item in scp if isinstance(item, str))
    if isinstance(scp, str):
        return frozenset(scp.split())
    return frozenset()


@dataclass(frozen=True)
class SigningKey:
    """One usable public key of the issuer's JWKS, with what its JWK says about it."""

    key: jwt.PyJWK
    kty: str
    crv: str | None
    alg: str | None

    def accepts(self, alg: str) -> bool:
        """Return whether a token signed with `alg` may be checked with this key (the key decides, not the token)."""
        kty, crv = ALGORITHMS[alg]
        return self.kty == kty and (crv is None or self.crv == crv) and self.alg in (None, alg)


def looks_like_jwt(token: str) -> bool:
    """Return whether `token` has the three dot-separated parts of a JWS compact serialisation."""
    return token.count(".") == 2 and all(token.split("."))


class JWKSCache:
    """The issuer's signing keys by kid: fetched lazily under a lock, kept for a TTL, refetched on an unknown kid."""

    def __init__(self, config: OAuthConfig, transport: UpstreamHTTP, *, refresh_interval_s: float = 10.0) -> None:
        self.config = config
        self.transport = transport
        self.refresh_interval_s = refresh_interval_s
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._refetched_at: float | None = None  # the last refetch an unknown kid caused
        self._failed_at: float | None = None  # the last fetch that failed
        self._failure: AuthUnavailableError | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    def _fresh(self) -> bool:
        return self._fetched_at is not None and clock.now() - self._fetched_at < self.config.jwks_ttl_s

    async def key(self, kid: str) -> SigningKey | None:
        """Return the key `kid`, fetching the JWKS when stale or (rate limited) when the kid is unknown."""
        if not self._fresh():
            async with self._lock:
                if not self._fresh():  # another caller may have fetched while this one waited
                    await self._fetch()
        found = self._keys.get(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._keys.get(kid)
            if found is not None:
                return found
            now = clock.now()
            # Random kids must not turn this server into a JWKS hammer: one refetch per interval.
            if self._refetched_at is not None and now - self._refetched_at < self.refresh_interval_s:
                return None
            self._refetched_at = now
            await self._fetch()
            return self._keys.get(kid)

    async def warm(self) -> None:
        """Fetch the keys at start; a failure is logged, and the first token fetches again."""
        try:
            async with self._lock:
                await self._fetch()
        except CerberoError as exc:
            log.warning("OAuth JWKS not fetched at start (%s): %s; retried on the first JWT", exc.code, exc.message)

    async def _fetch(self) -> None:
        now = clock.now()
        if (
            self._failure is not None
            and self._failed_at is not None
            and now - self._failed_at < self.refresh_interval_s
        ):
            # An issuer that is down is asked again once per interval, not once per incoming token.
            raise self._failure
        try:
            await self._fetch_now()
        except AuthUnavailableError as exc:
            self._failed_at, self._failure = now, exc
            raise
        self._failed_at = self._failure = None

    async def _fetch_now(self) -> None:
        self.fetches += 1
        url = self.config.jwks_url
        try:
            response = await self.transport.request("GET", url, headers={"Accept": "application/json"})
        except CerberoError as exc:
            raise _unavailable(f"the OAuth issuer's JWKS could not be fetched ({exc.code})") from exc
        if response.status != 200:
            raise _unavailable(f"the OAuth issuer's JWKS answered HTTP {response.status}")
        if len(response.body) > MAX_JWKS_BYTES:
            raise _unavailable(f"the OAuth issuer's JWKS is larger than {MAX_JWKS_BYTES} bytes")
        try:
            document = response.json()
        except CerberoError as exc:
            raise _unavailable("the OAuth issuer's JWKS is not JSON") from exc
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise _unavailable("the OAuth issuer's JWKS has no `keys` list")
        parsed: dict[str, SigningKey] = {}
        for item in keys:
            if not isinstance(item, dict) or not isinstance(item.get("kid"), str):
                continue
            if item.get("use", "sig") != "sig" or item.get("kty") not in ("RSA", "EC"):
                continue
            try:
                crv, alg = item.get("crv"), item.get("alg")
                parsed[item["kid"]] = SigningKey(
                    jwt.PyJWK(item),
                    item["kty"],
                    crv if isinstance(crv, str) else None,
                    alg if isinstance(alg, str) else None,
                )
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                log.warning("OAuth JWKS key %r skipped: not a usable RSA or EC public key", item["kid"][:64])
        self._keys = parsed
        self._fetched_at = clock.now()

    async def aclose(self) -> None:
        """Close the transport's pool."""
        await self.transport.aclose()


def _unavailable(message: str) -> AuthUnavailableError:
    return AuthUnavailableError(
        message, suggested_fix="retry shortly; the operator should check OAUTH_JWKS_URL and the issuer"
    )


class OAuthVerifier:
    """Check JWT access tokens for this resource server."""

    def __init__(self, config: OAuthConfig, keys: JWKSCache) -> None:
        self.config = config
        self.keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthVerifier | None:
        """Return the verifier for the OAuth settings, None when OAuth is off."""
        config = OAuthConfig.from_settings(settings)
        if config is None:
            return None
        transport = UpstreamHTTP(
            "oauth",
            config.jwks_url,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            read_timeout_s=settings.upstream_read_timeout_s,
            pool_size=4,
        )
        return cls(config, JWKSCache(config, transport))

    def invalid(self, description: str) -> UnauthorizedError:
        """Return the 401 for a JWT that is not valid, with its `invalid_token` challenge."""
        return UnauthorizedError(
            f"invalid access token: {description}",
            suggested_fix=f"get a fresh access token from the authorization server (see {self.config.metadata_url})",
            headers={"WWW-Authenticate": self.config.challenge("invalid_token", description)},
        )

    async def verify(self, token: str) -> AccessToken:
        """Return what a valid token grants; UnauthorizedError (401) when it is not valid, 503 when keys are unknown."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise self.invalid("not a JWT") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise self.invalid(f"algorithm {str(alg)[:16]!r} is not accepted (RS256 or ES256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise self.invalid("the token header names no key (kid)")
        key = await self.keys.key(kid)
        if key is None:
            raise self.invalid("signed by a key the issuer does not publish")
        # The key decides the algorithm, not the token: an RS256 header on an EC key is refused.
        if not key.accepts(alg):
            raise self.invalid("the token's algorithm does not match its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key.key,
                algorithms=[alg],
                audience=self.config.audience,
                issuer=self.config.issuer,
                # Time is checked below on the process clock (pinned in tests), not on time.time().
                options={
                    "require": ["exp", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError as exc:
            raise self.invalid("the token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise self.invalid("the token is from another issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise self.invalid(f"the token has no {exc.claim} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise self.invalid("the signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise self.invalid("the token cannot be decoded") from exc
        self._check_times(claims)
        subject = claims.get("sub")
        return AccessToken(
            principal=principal_of(token, claims),
            scopes=scopes_of(claims),
            subject_hash=hashlib.sha256(subject.encode()).hexdigest()[:16] if isinstance(subject, str) else None,
        )

    def _check_times(self, claims: dict[str, Any]) -> None:
        now, leeway = clock.now(), self.config.leeway_s
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise self.invalid("the exp claim is not a number")
        if now > exp + leeway:
            raise self.invalid("the token has expired")
        if nbf is not None:
            if not isinstance(nbf, int | float) or isinstance(nbf, bool):
                raise self.invalid("the nbf claim is not a number")
            if now + leeway < nbf:
                raise self.invalid("the token is not valid yet")
