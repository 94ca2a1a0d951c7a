"""The MCP endpoint (`/mcp`, streamable HTTP) built from the same ToolSpecs as the REST routes.

Tool `<venue>_<tool>` has the request model's JSON schema as `inputSchema` and the response
model's as `outputSchema`; `tools/call` runs the same function through the same write pipeline
and returns `structuredContent`. A failure comes back as `isError` with the envelope's code and
message. The server is stateless (every POST stands alone), so any replica can answer any call
and the bearer of each HTTP request — not of a session — picks the environment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from cerbero_mcp import __version__
from cerbero_mcp.app_state import AppState
from cerbero_mcp.common.errors import CerberoError, NotFoundError, UnhandledError
from cerbero_mcp.responses import error_envelope
from cerbero_mcp.tooling import ToolSpec, execute_tool, tool_context

error_log = logging.getLogger("mcp.error")
INSTRUCTIONS = (
    "Trading tools for several venues. Tool names are <venue>_<tool>. The bearer token of the HTTP "
    "request picks testnet or mainnet. Prices and sizes are decimal strings or numbers in the venue's "
    "native units; read environment_info first to learn a venue's capabilities."
)


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """Return the JSON schema a tool's arguments must satisfy."""
    schema: dict[str, Any] = _without_null_defaults(spec.request_model.model_json_schema(mode="validation"))
    return schema


def output_schema(spec: ToolSpec) -> dict[str, Any]:
    """Return the JSON schema of a tool's structured result."""
    schema: dict[str, Any] = _without_null_defaults(spec.response_model.model_json_schema(mode="serialization"))
    return schema


def _without_null_defaults(schema: Any) -> Any:
    # FastAPI's OpenAPI omits `"default": null`; dropping it here too keeps one schema per tool on
    # both transports (an optional field is already said by its absence from `required`).
    if isinstance(schema, dict):
        return {k: _without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_without_null_defaults(item) for item in schema]
    return schema


def list_tools(specs: list[ToolSpec]) -> list[types.Tool]:
    """Describe every ToolSpec as an MCP tool."""
    tools = []
    for spec in specs:
        read_only = spec.kind == "read"
        tools.append(
            types.Tool(
                name=spec.mcp_name,
                title=f"{spec.venue}: {spec.summary}",
                description=spec.description,
                input_schema=input_schema(spec),
                output_schema=output_schema(spec),
                annotations=types.ToolAnnotations(
                    title=spec.summary,
                    read_only_hint=read_only,
                    destructive_hint=not read_only,
                    idempotent_hint=read_only,
                    open_world_hint=True,
                ),
            )
        )
    return tools


class MCPEndpoint:
    """An ASGI app for `/mcp` whose session manager lives inside the app's lifespan."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._by_name = {spec.mcp_name: spec for spec in state.tool_specs()}
        self._tools = list_tools(state.tool_specs())
        self.server: Server[Any] = Server(
            "cerbero-mcp",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
        )
        self._manager: StreamableHTTPSessionManager | None = None

    def _security(self) -> TransportSecuritySettings:
        settings = self.state.settings
        hosts = [h.strip() for h in settings.mcp_allowed_hosts.split(",") if h.strip()]
        origins = [o.strip() for o in settings.mcp_allowed_origins.split(",") if o.strip()]
        if "*" in hosts:
            # Behind a proxy that already pins the Host (Traefik rule), the check can be left to it.
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=["*"] if "*" in origins else origins,
        )

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
        await self._manager.handle_request(scope, receive, send)

    async def _on_list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self._tools)

    async def _on_call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        request = ctx.request
        if not isinstance(request, Request):
            raise RuntimeError("MCP tool calls are served over HTTP only")
        request_id = request.state.request_id
        spec = self._by_name.get(params.name)
        try:
            if spec is None:
                raise NotFoundError(
                    f"unknown tool {params.name!r}", suggested_fix="call tools/list for the available tools"
                )
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
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(payload, separators=(",", ":")))],
            structured_content=payload,
        )


def _error_result(error: CerberoError, request_id: str | None) -> types.CallToolResult:
    envelope = error_envelope(error, request_id)
    return types.CallToolResult(
        content=[types.TextContent(text=f"{error.code}: {error.message}")],
        structured_content=envelope,
        is_error=True,
    )
