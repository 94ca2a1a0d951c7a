"""The MCP endpoint (`/mcp`, streamable HTTP) built from the same ToolSpecs as the REST routes.

Tool `<venue>_<tool>` has the request model's JSON schema as `inputSchema` and the response
model's as `outputSchema`; `tools/call` runs the same function through the same write pipeline
and returns `structuredContent`. A failure comes back as `isError` with the envelope's code and
message. The server is stateless (every POST stands alone), so any replica can answer any call
and the bearer of each HTTP request — not of a session — picks the environment.

The same transport is served on `/mcp`, `/mcp/readonly`, `/mcp/x/<toolsets>` and
`/mcp/x/<toolsets>/readonly` (see `mcp_toolsets`): each request's path and X-MCP-* headers pick the
toolsets it lists and may call, and the `instructions` of its initialize name them with the
environment of its token. Without X-Bot-Tag the bot tag is derived from the MCP client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from cerbero_mcp import __version__
from cerbero_mcp.app_state import AppState
from cerbero_mcp.common.errors import (
    BadRequestError,
    CerberoError,
    ForbiddenError,
    RateLimitError,
    UnhandledError,
)
from cerbero_mcp.contracts import model_schema, without_null_defaults, without_titles
from cerbero_mcp.http_limits import StreamSlots
from cerbero_mcp.mcp_toolsets import (
    Selection,
    ToolsetCatalog,
    check_tool_name,
    client_name_from,
    derived_bot_tag,
    instructions,
    tool_annotations,
)
from cerbero_mcp.responses import error_body, error_envelope, send_error
from cerbero_mcp.tooling import ToolSpec, execute_tool, tool_context
from cerbero_mcp.write_pipeline import REPLAY_HEADER

error_log = logging.getLogger("mcp.error")
REPLAY_NOTE = (
    "idempotent replay: this is the stored answer of an earlier call with the same client_order_id;"
    " nothing was sent to the venue this time"
)


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """Return the JSON schema a tool's arguments must satisfy."""
    schema: dict[str, Any] = without_titles(without_null_defaults(model_schema(spec.request_model, "validation")))
    return schema


def output_schema(spec: ToolSpec) -> dict[str, Any]:
    """Return the JSON schema of a tool's structured result."""
    schema: dict[str, Any] = without_titles(without_null_defaults(model_schema(spec.response_model, "serialization")))
    return schema


def list_tools(specs: list[ToolSpec]) -> list[types.Tool]:
    """Describe every ToolSpec as an MCP tool; a name an MCP client could refuse fails at start."""
    return [
        types.Tool(
            name=check_tool_name(spec.mcp_name),
            title=f"{spec.venue}: {spec.summary}",
            description=spec.description,
            input_schema=input_schema(spec),
            output_schema=output_schema(spec),
            annotations=tool_annotations(spec),
        )
        for spec in specs
    ]


class MCPEndpoint:
    """An ASGI app for `/mcp` whose session manager lives inside the app's lifespan."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        tools = {tool.name: tool for tool in list_tools(state.tool_specs())}
        # Raises ConfigError on an unknown MCP_TOOLSETS name: build_app fails before serving anything.
        self.catalog = ToolsetCatalog(state.toolsets, state.settings.mcp_toolsets, tools)
        self.server: Server[Any] = Server(
            "cerbero-mcp",
            version=__version__,
            # Replaced per request by `_per_request` (token environment, toolsets on); this is the default.
            instructions=instructions(None, self.catalog.default, self.catalog),
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
        )
        self.server.middleware.append(self._per_request)
        self._manager: StreamableHTTPSessionManager | None = None
        self.streams = StreamSlots(state.settings.mcp_max_streams, state.settings.mcp_max_streams_per_token)

    def _security(self) -> TransportSecuritySettings:
        # Host and Origin are checked by `_refusal` (a port-less Host matches `name:*`, refusals are
        # the error envelope); the SDK's own check would answer 421/403 in plain text, so it is off.
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)

    def _refusal(self, headers: Headers) -> tuple[int, CerberoError] | None:
        """Return (status, error) when Host or Origin is not allowed on /mcp (the DNS-rebinding check)."""
        settings = self.state.settings
        hosts = _split(settings.mcp_allowed_hosts)
        host = headers.get("host", "")
        if "*" not in hosts and not any(host_matches(host, pattern) for pattern in hosts):
            suggested = ",".join([*hosts, f"{split_host(host)[0] or '<your host>'}:*"])
            return 421, BadRequestError(
                f"Host {host!r} is not allowed on /mcp (MCP_ALLOWED_HOSTS={settings.mcp_allowed_hosts})",
                suggested_fix=f"add the public host to MCP_ALLOWED_HOSTS, e.g. MCP_ALLOWED_HOSTS={suggested}"
                " (or * behind a proxy that already pins the Host)",
                details={"setting": "MCP_ALLOWED_HOSTS", "host": host},
            )
        origins = _split(settings.mcp_allowed_origins)
        origin = headers.get("origin")
        if origin and "*" not in origins and not any(origin_matches(origin, pattern) for pattern in origins):
            return 403, ForbiddenError(
                f"Origin {origin!r} is not allowed on /mcp (MCP_ALLOWED_ORIGINS={settings.mcp_allowed_origins})",
                suggested_fix=f"add it to MCP_ALLOWED_ORIGINS, e.g. MCP_ALLOWED_ORIGINS={origin}",
                details={"setting": "MCP_ALLOWED_ORIGINS", "origin": origin},
            )
        return None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run a fresh session manager for the duration of the app's lifespan."""
        # A session manager can run once only; a new one per lifespan lets tests restart the app.
        manager = StreamableHTTPSessionManager(
            app=self.server, stateless=True, json_response=True, security_settings=self._security()
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the HTTP request to the MCP session manager."""
        if self._manager is None:
            raise RuntimeError("the MCP endpoint is served only while the app's lifespan runs")
        refusal = self._refusal(Headers(scope=scope)) if scope["type"] == "http" else None
        if refusal is not None:
            status, error = refusal
            await _send_refusal(send, status, error, scope.get("state", {}).get("request_id"))
            return
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            try:
                state["mcp_selection"] = self._selection(scope)
            except CerberoError as exc:
                await send_error(send, exc, state.get("request_id"))
                return
            if not state.get("bot_tag"):
                # No X-Bot-Tag: the User-Agent until the JSON-RPC body names the client (`_per_request`).
                state["bot_tag"] = derived_bot_tag(Headers(scope=scope).get("user-agent"))
                state["bot_tag_derived"] = True
        if scope["type"] == "http" and scope["method"] == "GET":
            await self._serve_stream(self._manager, scope, receive, send)
            return
        await self._manager.handle_request(scope, receive, send)

    async def _serve_stream(
        self, manager: StreamableHTTPSessionManager, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve a GET /mcp event stream within the per-server and per-token caps and its maximum lifetime."""
        settings = self.state.settings
        state = scope.get("state", {})
        token = str(state.get("actor") or "anonymous")
        refused = self.streams.acquire(token)
        if refused is not None:
            error = RateLimitError(refused, suggested_fix="close an open GET /mcp stream, or retry later")
            await send_error(send, error, state.get("request_id"))
            return
        started = ended = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, ended
            started = started or message["type"] == "http.response.start"
            ended = ended or (message["type"] == "http.response.body" and not message.get("more_body", False))
            await send(message)

        try:
            # An idle stream would otherwise hold a connection (and a slot) for as long as the client likes.
            with anyio.move_on_after(settings.mcp_stream_max_lifetime_s):
                await manager.handle_request(scope, receive, tracking_send)
            if started and not ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.streams.release(token)

    def _selection(self, scope: Scope) -> Selection:
        """Return the toolsets and mode a request's path and X-MCP-* headers select."""
        path_params: dict[str, Any] = scope.get("path_params") or {}
        toolsets = path_params.get("toolsets")
        readonly = str(scope.get("path", "")).rstrip("/").endswith("/readonly")
        return self.catalog.select(toolsets if isinstance(toolsets, str) else None, readonly, Headers(scope=scope))

    async def _per_request(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Name the bot after the MCP client, and tell this caller its own environment and toolsets."""
        request = ctx.request
        if not isinstance(request, Request):
            return await call_next(ctx)
        state = request.state
        if getattr(state, "bot_tag_derived", False):
            info = ctx.session.client_params.client_info if ctx.session.client_params is not None else None
            name = client_name_from(ctx.method, ctx.params, info)
            if name is not None:
                state.bot_tag = derived_bot_tag(name)
        result = await call_next(ctx)
        if ctx.method in ("initialize", "server/discover") and isinstance(result, dict):
            environment = getattr(state, "environment", None)
            result["instructions"] = instructions(environment, self._selection_of(request), self.catalog)
        return result

    def _selection_of(self, request: Request) -> Selection:
        selection = getattr(request.state, "mcp_selection", None)
        return selection if isinstance(selection, Selection) else self.catalog.default

    async def _on_list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        request = ctx.request
        selection = self._selection_of(request) if isinstance(request, Request) else self.catalog.default
        return types.ListToolsResult(tools=self.catalog.tools(selection))

    async def _on_call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        request = ctx.request
        if not isinstance(request, Request):
            raise RuntimeError("MCP tool calls are served over HTTP only")
        request_id = request.state.request_id
        try:
            spec = self.catalog.spec_for(params.name, self._selection_of(request))
            request.state.venue, request.state.tool = spec.venue, spec.name
            call = tool_context(request, spec, "mcp")
            result = await execute_tool(spec, call, spec.parse(params.arguments))
        except CerberoError as exc:
            return _error_result(exc, request_id)
        except Exception:
            # Same rule as REST: the client learns only that it failed and the id to report.
            error_log.exception("unhandled error in MCP tool %s", params.name)
            return _error_result(UnhandledError("internal error; the request id identifies it"), request_id)
        payload = result.model_dump(mode="json")
        content = [types.TextContent(text=json.dumps(payload, separators=(",", ":")))]
        if call.response_headers.get(REPLAY_HEADER) == "true":
            # What REST says with `Idempotent-Replay: true`: the stored answer of an earlier call, no venue call.
            content.append(types.TextContent(text=REPLAY_NOTE))
            return types.CallToolResult(content=content, structured_content=payload, _meta={"idempotent_replay": True})
        return types.CallToolResult(content=content, structured_content=payload)


def _split(values: str) -> list[str]:
    return [value.strip() for value in values.split(",") if value.strip()]


def split_host(host: str) -> tuple[str, str | None]:
    """Split `name[:port]` (or `[v6]:port`) into the lower-cased name and the port, if any."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else None
    name, colon, port = host.rpartition(":")
    if colon and (port.isdigit() or port == "*") and ":" not in name:
        return name, port
    return host, None


def host_matches(host: str, pattern: str) -> bool:
    """Return whether Host `host` matches `name`, `name:*` (any port or none) or `name:port`."""
    name, port = split_host(host)
    want_name, want_port = split_host(pattern)
    if not name or name != want_name:
        return False
    if want_port in (None, "*"):
        return True
    # An explicit port also matches a Host without one when it is the scheme's default (behind TLS: 443).
    return port == want_port or (port is None and want_port in ("80", "443"))


def origin_matches(origin: str, pattern: str) -> bool:
    """Return whether Origin `scheme://host[:port]` matches `pattern`, port-less as host_matches does."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    want_scheme, want_sep, want_rest = pattern.strip().lower().partition("://")
    return bool(sep and want_sep) and scheme == want_scheme and host_matches(rest.rstrip("/"), want_rest.rstrip("/"))


async def _send_refusal(send: Send, status: int, error: CerberoError, request_id: str | None) -> None:
    body = error_body(error, request_id)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _error_result(error: CerberoError, request_id: str | None) -> types.CallToolResult:
    envelope = error_envelope(error, request_id)
    return types.CallToolResult(
        content=[types.TextContent(text=f"{error.code}: {error.message}")],
        structured_content=envelope,
        is_error=True,
    )
