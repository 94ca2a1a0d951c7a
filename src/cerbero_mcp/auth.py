"""Bearer token → environment, and the X-Bot-Tag rule, as one ASGI middleware.

    /, /health, /health/ready, /metrics, /openapi.json, /apidocs…   open
    /mcp-<venue>/…, /mcp                                            TESTNET_TOKEN | MAINNET_TOKEN, X-Bot-Tag
    /admin/…                                                        any valid token (writes check ADMIN_TOKEN)
    anything else                                                   any valid token (then 404)

The environment lands in `request.state.environment`; the actor (`testnet`, `mainnet`, `admin`) in
`request.state.actor`. Tokens are compared with `secrets.compare_digest`, every candidate each time.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from cerbero_mcp.common.errors import BadRequestError, CerberoError, UnauthorizedError
from cerbero_mcp.responses import send_error
from cerbero_mcp.settings import Settings

OPEN_PATHS = frozenset({"/", "/health", "/health/ready", "/metrics", "/openapi.json", "/apidocs"})
OPEN_PREFIXES = ("/apidocs/",)
BOT_TAG = re.compile(r"^[\x20-\x7e]{1,64}$")


def is_open_path(path: str) -> bool:
    """Return whether `path` needs no token."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


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
    """Authenticate every non-open request and check X-Bot-Tag on tool routes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.tokens = TokenTable(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on or answer with the error envelope."""
        if scope["type"] != "http" or is_open_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            self._authenticate(scope, state)
        except CerberoError as exc:
            await send_error(send, exc, state.get("request_id"))
            return
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope, state: dict[str, object]) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        path: str = scope["path"]
        presented = bearer_from(headers)
        actor = self.tokens.actor_for(presented)
        if actor is None:
            raise UnauthorizedError(
                "missing bearer token" if presented is None else "unknown bearer token",
                suggested_fix="send Authorization: Bearer <TESTNET_TOKEN or MAINNET_TOKEN>",
            )
        state["actor"] = actor
        if not is_tool_path(path):
            return
        if actor == "admin":
            raise UnauthorizedError(
                "the admin token cannot call tools",
                suggested_fix="use TESTNET_TOKEN or MAINNET_TOKEN to pick the environment",
            )
        state["environment"] = actor
        bot_tag = header(headers, b"x-bot-tag")
        if bot_tag is None or not BOT_TAG.match(bot_tag):
            raise BadRequestError(
                "X-Bot-Tag header is required: 1-64 printable ASCII characters"
                if bot_tag is None
                else f"X-Bot-Tag must be 1-64 printable ASCII characters (got {len(bot_tag)})",
                suggested_fix="send X-Bot-Tag: <your bot's name>",
            )
        state["bot_tag"] = bot_tag
