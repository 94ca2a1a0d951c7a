"""JWT access tokens checked against a JWKS served on loopback: every way a token can be wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import jwt
import pytest

from cerbero_mcp.common.clock import SkippingClock
from cerbero_mcp.common.errors import AuthUnavailableError, UnauthorizedError
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.oauth import JWKSCache, OAuthConfig, OAuthVerifier, principal_of, scopes_of
from cerbero_mcp.settings import ConfigError, Settings
from support.oauth_issuer import AUDIENCE, ISSUER, LoopbackIssuer, ec_key, oauth_env, rsa_key, serving_issuer


@pytest.fixture(scope="module")
def issuer() -> Iterator[LoopbackIssuer]:
    """One issuer (RSA rsa-1, EC ec-1) for the module: key generation is the slow part."""
    with serving_issuer() as served:
        yield served


@pytest.fixture
async def verifier(issuer: LoopbackIssuer) -> AsyncIterator[OAuthVerifier]:
    """A verifier of the issuer's tokens with a fresh JWKS cache."""
    found = OAuthVerifier.from_settings(Settings.from_mapping(oauth_env(issuer)))
    assert found is not None
    yield found
    await found.keys.aclose()


async def test_valid_rsa_and_ec_tokens_are_accepted_with_their_scopes(
    issuer: LoopbackIssuer, verifier: OAuthVerifier
) -> None:
    for kid in ("rsa-1", "ec-1"):
        granted = await verifier.verify(issuer.token("cerbero:read cerbero:testnet", kid=kid))
        assert granted.scopes == frozenset({"cerbero:read", "cerbero:testnet"})
        assert granted.environments() == ["testnet"]
        assert granted.principal.startswith("oauth:")
        assert len(granted.principal) == len("oauth:") + 16


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": -120}, "expired"),
        ({"nbf": 600}, "not valid yet"),
        ({"aud": "https://another.example"}, "another audience"),
        ({"iss": "https://evil.example/"}, "another issuer"),
        ({"exp": None}, "no exp claim"),
        ({"aud": None}, "no aud claim"),
    ],
)
async def test_wrong_claims_are_401(
    issuer: LoopbackIssuer, verifier: OAuthVerifier, claims: dict[str, int | str | None], reason: str
) -> None:
    from cerbero_mcp.common import clock

    now = int(clock.now())
    relative = {k: now + v if k in ("exp", "nbf") and isinstance(v, int) else v for k, v in claims.items()}
    with pytest.raises(UnauthorizedError) as caught:
        await verifier.verify(issuer.token(**relative))
    assert reason in caught.value.message
    challenge = caught.value.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert 'resource_metadata="http://127.0.0.1:9000/.well-known/oauth-protected-resource"' in challenge


async def test_expiry_has_a_small_leeway(issuer: LoopbackIssuer, verifier: OAuthVerifier) -> None:
    from cerbero_mcp.common import clock

    # 10 s past exp is inside the default 30 s leeway; 60 s is not.
    await verifier.verify(issuer.token(exp=int(clock.now()) - 10))
    with pytest.raises(UnauthorizedError, match="expired"):
        await verifier.verify(issuer.token(exp=int(clock.now()) - 60))


async def test_token_signed_by_another_key_with_the_same_kid_is_401(
    issuer: LoopbackIssuer, verifier: OAuthVerifier
) -> None:
    forged = issuer.token(kid="rsa-1", key=rsa_key())
    with pytest.raises(UnauthorizedError, match="signature does not verify"):
        await verifier.verify(forged)


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_alg_none_and_hmac_are_refused(issuer: LoopbackIssuer, verifier: OAuthVerifier, alg: str) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": 2**40, "scope": "cerbero:testnet"}
    if alg == "none":
        token = jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})
    else:
        # The classic confusion attack: the issuer's *public* key used as an HMAC secret.
        secret = str(issuer.jwks()["keys"][0]["n"]).encode()
        token = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(UnauthorizedError, match="not accepted"):
        await verifier.verify(token)


async def test_rs256_header_on_an_ec_key_is_refused(issuer: LoopbackIssuer, verifier: OAuthVerifier) -> None:
    token = issuer.token(kid="ec-1", key=rsa_key(), alg="RS256")
    with pytest.raises(UnauthorizedError, match="does not match its key"):
        await verifier.verify(token)


async def test_unknown_kid_refetches_once_and_picks_up_the_rotated_key() -> None:
    with serving_issuer() as issuer:
        settings = Settings.from_mapping(oauth_env(issuer))
        verifier = OAuthVerifier.from_settings(settings)
        assert verifier is not None
        try:
            await verifier.verify(issuer.token())
            assert issuer.fetches == 1
            await verifier.verify(issuer.token())  # cached: no second fetch
            assert issuer.fetches == 1
            issuer.add("rsa-2", rsa_key())  # the issuer rotates: the new key is published
            granted = await verifier.verify(issuer.token(kid="rsa-2"))
            assert granted.scopes
            assert issuer.fetches == 2
            # A burst of made-up kids refetches at most once per interval (the first one above used it).
            issuer.add("ghost", ec_key(), publish=False)
            for _ in range(3):
                with pytest.raises(UnauthorizedError, match="does not publish"):
                    await verifier.verify(issuer.token(kid="ghost"))
            assert issuer.fetches == 2
        finally:
            await verifier.keys.aclose()


async def test_jwks_down_is_503_auth_unavailable_not_500(session_clock: SkippingClock) -> None:
    with serving_issuer() as issuer:
        issuer.fail = True
        verifier = OAuthVerifier.from_settings(Settings.from_mapping(oauth_env(issuer)))
        assert verifier is not None
        try:
            with pytest.raises(AuthUnavailableError) as caught:
                await verifier.verify(issuer.token())
            assert caught.value.status == 503
            assert caught.value.retryable
            issuer.fail = False
            fetches = issuer.fetches
            with pytest.raises(AuthUnavailableError):  # a down issuer is not asked again at once
                await verifier.verify(issuer.token())
            assert issuer.fetches == fetches
            session_clock.skip(verifier.keys.refresh_interval_s)
            await verifier.verify(issuer.token())  # recovers once the interval has passed
        finally:
            await verifier.keys.aclose()


async def test_jwks_unreachable_is_503() -> None:
    config = OAuthConfig(ISSUER, "http://127.0.0.1:9/jwks.json", AUDIENCE, 300.0, 30.0)
    cache = JWKSCache(config, UpstreamHTTP("oauth", config.jwks_url, connect_timeout_s=2, read_timeout_s=2))
    try:
        with pytest.raises(AuthUnavailableError):
            await cache.key("rsa-1")
    finally:
        await cache.aclose()


def test_all_three_settings_or_none() -> None:
    assert OAuthConfig.from_settings(Settings.from_mapping({})) is None
    with pytest.raises(ConfigError, match="OAUTH_JWKS_URL, OAUTH_AUDIENCE unset"):
        OAuthConfig.from_settings(Settings.from_mapping({"OAUTH_ISSUER": ISSUER}))
    with pytest.raises(ConfigError, match="OAUTH_AUDIENCE must be an http"):
        OAuthConfig.from_settings(
            Settings.from_mapping({"OAUTH_ISSUER": ISSUER, "OAUTH_JWKS_URL": "https://a/j", "OAUTH_AUDIENCE": "cerb"})
        )


def test_metadata_document_and_challenge() -> None:
    config = OAuthConfig(ISSUER, "https://auth.example.test/jwks", "https://cerbero.example.com/mcp", 300.0, 30.0)
    assert config.metadata_url == "https://cerbero.example.com/.well-known/oauth-protected-resource/mcp"
    document = config.metadata()
    assert document["resource"] == "https://cerbero.example.com/mcp"
    assert document["authorization_servers"] == [ISSUER]
    assert document["scopes_supported"] == ["cerbero:read", "cerbero:testnet", "cerbero:mainnet", "cerbero:admin"]
    assert document["bearer_methods_supported"] == ["header"]
    assert config.challenge("insufficient_scope", 'no "read"', scope="cerbero:read") == (
        'Bearer realm="cerbero-mcp", resource_metadata="https://cerbero.example.com/.well-known/'
        'oauth-protected-resource/mcp", error="insufficient_scope", error_description="no read", scope="cerbero:read"'
    )


def test_principal_hashes_the_jti_or_the_token_never_shows_either() -> None:
    token = "aaa.bbb.ccc"
    with_jti = principal_of(token, {"iss": ISSUER, "jti": "id-123"})
    without = principal_of(token, {"iss": ISSUER})
    assert with_jti != without
    assert "id-123" not in with_jti
    assert token not in without
    assert principal_of("other.token.x", {"iss": ISSUER, "jti": "id-123"}) == with_jti  # the id, not the token


def test_scopes_from_scope_or_scp() -> None:
    assert scopes_of({"scope": "cerbero:read  cerbero:testnet"}) == {"cerbero:read", "cerbero:testnet"}
    assert scopes_of({"scp": ["cerbero:admin", 3]}) == {"cerbero:admin"}
    assert scopes_of({}) == frozenset()
