"""Bearer token → environment, and the X-Bot-Tag rule, as one ASGI middleware.

    /, /health, /health/ready, /metrics, /openapi.json, /apidocs…   open
    /.well-known/oauth-protected-resource[/…]                      open (RFC 9728 metadata, when OAuth is on)
    /mcp-<venue>/…                                                  TESTNET_TOKEN | MAINNET_TOKEN | JWT, X-Bot-Tag
    /mcp, /mcp/…                                                    the same; X-Bot-Tag optional (derived)
    /admin/…                                                        any valid token (writes check ADMIN_TOKEN);
                                                                    a JWT needs cerbero:admin
    anything else                                                   any valid token (then 404)

The environment lands in `request.state.environment`; the actor (`testnet`, `mainnet`, `admin`) in
`request.state.actor` (the full list of state keys is on AuthMiddleware). Static tokens are compared
with `secrets.compare_digest`, every candidate each time; with OAuth on (oauth.py), any other bearer
that looks like a JWT is checked as an access token of the configured issuer. An OAuth token picks
its environment with X-Cerbero-Environment (testnet when absent) and needs that environment's scope.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from cerbero_mcp.common.errors import BadRequestError, CerberoError, ForbiddenError, UnauthorizedError
from cerbero_mcp.oauth import ENV_SCOPES, SCOPE_ADMIN, SCOPE_READ, OAuthVerifier, insufficient_scope, looks_like_jwt
from cerbero_mcp.responses import send_error
from cerbero_mcp.settings import Environment, Settings

OPEN_PATHS = frozenset(
    {"/", "/health", "/health/ready", "/metrics", "/openapi.json", "/apidocs", "/.well-known/oauth-protected-resource"}
)
# /internal/… is replica-to-replica (IBKR calls forwarded to the session owner, issue 19): no user token travels
# there; its route checks REPLICA_SECRET itself (exchanges/ibkr/relay.py).
OPEN_PREFIXES = ("/apidocs/", "/.well-known/oauth-protected-resource/", "/internal/")
BOT_TAG = re.compile(r"^[\x20-\x7e]{1,64}$")
# Picks the environment of an OAuth token holding both environment scopes (default testnet).
ENVIRONMENT_HEADER = "X-Cerbero-Environment"
# The scopes a 401 suggests: what an agent needs to read and trade on testnet.
DEFAULT_SCOPE = f"{SCOPE_READ} {ENV_SCOPES['testnet']}"


def is_open_path(path: str) -> bool:
    """Return whether `path` needs no token."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def is_mcp_transport_path(path: str) -> bool:
    """Return whether `path` is the MCP endpoint (`/mcp`, `/mcp/…`), where X-Bot-Tag may be absent."""
    return path == "/mcp" or path.startswith("/mcp/")


def is_tool_path(path: str) -> bool:
    """Return whether `path` is a tool route or the MCP endpoint (both need a trading token and a bot tag)."""
    return path == "/mcp" or path.startswith(("/mcp-", "/mcp/"))


class TokenTable:
    """The configured tokens, matched in constant time."""

    def __init__(self, settings: Settings) -> None:
        self._entries: list[tuple[bytes, str]] = []
        for token, actor in (
            (settings.testnet_token, "testnet"),
            (settings.mainnet_token, "mainnet"),
            (settings.admin_token, "admin"),
        ):
            if token is not None:
                self._entries.append((token.get_secret_value().encode(), actor))

    def actor_for(self, presented: str | None) -> str | None:
        """Return the actor of the presented token, or None when it matches no configured token."""
        if not presented:
            return None
        candidate = presented.encode()
        match: str | None = None
        for token, actor in self._entries:
            # No early exit: every configured token is compared, so timing says nothing about which.
            if secrets.compare_digest(candidate, token):
                match = actor
        return match


def bearer_from(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Return the bearer token of an ASGI header list, if any."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    """Return the first value of header `wanted` (lower-case bytes), decoded."""
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """Authenticate every non-open request and check X-Bot-Tag on tool routes.

    What it leaves in the request state (`scope["state"]`) for the layers after it:

        actor            testnet | mainnet | admin: the static token's role; for an OAuth token, `admin`
                         on /admin/… and the selected environment elsewhere (audit actors are these three)
        auth             static | oauth
        environment      on tool paths: the environment every upstream call of the request uses
        principal        OAuth only: `oauth:<16 hex>`, the hashed token id logs and audit carry (never the token)
        scopes           OAuth only: the token's scopes (tooling checks cerbero:read for read tools)
        bot_tag          the X-Bot-Tag, validated, whenever the request sent one
        bot_tag_derived  True on /mcp and /mcp/… when X-Bot-Tag is absent: `bot_tag` is then unset here
                         and the MCP endpoint derives it from the client (clientInfo.name, else User-Agent)
    """

    def __init__(self, app: ASGIApp, settings: Settings, oauth: OAuthVerifier | None = None) -> None:
        self.app = app
        self.tokens = TokenTable(settings)
        self.oauth = oauth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on or answer with the error envelope."""
        if scope["type"] != "http" or is_open_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            await self._authenticate(scope, state)
        except CerberoError as exc:
            await send_error(send, exc, state.get("request_id"))
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope, state: dict[str, object]) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        path: str = scope["path"]
        presented = bearer_from(headers)
        actor = self.tokens.actor_for(presented)
        if actor is None and presented is not None and self.oauth is not None and looks_like_jwt(presented):
            await self._authenticate_jwt(presented, path, headers, state)
        elif actor is None:
            raise self._unauthorized(presented)
        else:
            state["actor"], state["auth"] = actor, "static"
            if not is_tool_path(path):
                return
            if actor == "admin":
                raise UnauthorizedError(
                    "the admin token cannot call tools",
                    suggested_fix="use TESTNET_TOKEN or MAINNET_TOKEN to pick the environment",
                )
            asked = _asked_environment(headers)
            if asked is not None and asked != actor:
                # A caller that believes it is on one environment must never be served by the other.
                raise BadRequestError(
                    f"{ENVIRONMENT_HEADER} says {asked} but the bearer token is the {actor} token",
                    suggested_fix=f"drop {ENVIRONMENT_HEADER} (the static token picks the environment) or use"
                    f" the {asked} token",
                )
            state["environment"] = actor
        if is_tool_path(path):
            self._bot_tag(path, headers, state)

    async def _authenticate_jwt(
        self, token: str, path: str, headers: list[tuple[bytes, bytes]], state: dict[str, object]
    ) -> None:
        assert self.oauth is not None
        granted = await self.oauth.verify(token)
        state["auth"], state["principal"], state["scopes"] = "oauth", granted.principal, granted.scopes
        if path == "/admin" or path.startswith("/admin/"):
            if SCOPE_ADMIN not in granted.scopes:
                raise self._insufficient(SCOPE_ADMIN, "the admin routes need the cerbero:admin scope")
            state["actor"] = "admin"
            return
        # Fail safe: an OAuth token reaches mainnet (real money) only when the caller asks for it by name.
        env = _asked_environment(headers) or "testnet"
        state["actor"] = env
        if not is_tool_path(path):
            return
        if ENV_SCOPES[env] not in granted.scopes:
            fix = (
                f"send {ENVIRONMENT_HEADER}: mainnet (an OAuth token selects testnet unless asked)"
                if env == "testnet" and ENV_SCOPES["mainnet"] in granted.scopes
                else f"ask the authorization server for the {ENV_SCOPES[env]} scope"
            )
            raise self._insufficient(ENV_SCOPES[env], f"this token has no {ENV_SCOPES[env]} scope", fix)
        state["environment"] = env

    def _bot_tag(self, path: str, headers: list[tuple[bytes, bytes]], state: dict[str, object]) -> None:
        bot_tag = header(headers, b"x-bot-tag")
        if bot_tag is None and is_mcp_transport_path(path):
            # Many MCP clients cannot set headers: the endpoint names the bot after the client instead.
            state["bot_tag_derived"] = True
            return
        if bot_tag is None or not BOT_TAG.match(bot_tag):
            raise BadRequestError(
                "X-Bot-Tag header is required: 1-64 printable ASCII characters"
                if bot_tag is None
                else f"X-Bot-Tag must be 1-64 printable ASCII characters (got {len(bot_tag)})",
                suggested_fix="send X-Bot-Tag: <your bot's name>",
            )
        state["bot_tag"] = bot_tag

    def _unauthorized(self, presented: str | None) -> UnauthorizedError:
        message = "missing bearer token" if presented is None else "unknown bearer token"
        if self.oauth is None:
            return UnauthorizedError(
                message, suggested_fix="send Authorization: Bearer <TESTNET_TOKEN or MAINNET_TOKEN>"
            )
        config = self.oauth.config
        # RFC 6750 §3.1: no error code when the request carried no credentials at all.
        challenge = (
            config.challenge(scope=DEFAULT_SCOPE)
            if presented is None
            else config.challenge("invalid_token", message, scope=DEFAULT_SCOPE)
        )
        return UnauthorizedError(
            message,
            suggested_fix="send Authorization: Bearer <TESTNET_TOKEN, MAINNET_TOKEN or an OAuth access token>;"
            f" the authorization server is named at {config.metadata_url}",
            headers={"WWW-Authenticate": challenge},
        )

    def _insufficient(self, scope: str, message: str, fix: str | None = None) -> ForbiddenError:
        assert self.oauth is not None
        return insufficient_scope(self.oauth.config, scope, message, fix)


def _asked_environment(headers: list[tuple[bytes, bytes]]) -> Environment | None:
    value = header(headers, ENVIRONMENT_HEADER.lower().encode())
    if value is None:
        return None
    wanted = value.strip().lower()
    for env in ENV_SCOPES:
        if wanted == env:
            return env
    raise BadRequestError(
        f"{ENVIRONMENT_HEADER} must be testnet or mainnet (got {len(value)} characters)",
        suggested_fix=f"send {ENVIRONMENT_HEADER}: testnet or {ENVIRONMENT_HEADER}: mainnet, or leave it out",
    )
