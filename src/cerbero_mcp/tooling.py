"""The declarative tool registry: declare a tool once, serve it as REST, OpenAPI and MCP.

    tools = ToolSet("deribit", client_factory=DeribitClient.build)

    @tools.read("get_ticker")
    async def get_ticker(ctx: ToolContext, req: GetTickerRequest) -> Ticker:
        \"\"\"Return the best bid/ask, last and mark of one instrument.\"\"\"

The request and response models come from the function's annotations; the request model must carry
`examples` (they fill Swagger's try-it-out and the demo check). `make_router` mounts
`POST /mcp-<venue>/tools/<name>`; `mcp_endpoint` lists the same specs as `<venue>_<name>`.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cerbero_mcp.app_state import AppState
from cerbero_mcp.client_registry import ClientFactory
from cerbero_mcp.common.errors import InvalidInputError, NotConfiguredError
from cerbero_mcp.settings import Environment

if TYPE_CHECKING:
    from cerbero_mcp.write_pipeline import ExposureFunc

ToolKind = Literal["read", "write"]
TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
BOT_TAG_HEADER_DOC = {
    "name": "X-Bot-Tag",
    "in": "header",
    "required": True,
    "description": "Name of the calling bot (1-64 printable characters); recorded in logs and audit.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "example": "swagger"},
}


class ToolRequest(BaseModel):
    """Base of every tool's request model: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ToolResponse(BaseModel):
    """Base of every tool's response model: says when its data was observed."""

    data_timestamp: datetime = Field(description="When the venue data in this response was observed (UTC).")


@dataclass
class ToolContext:
    """What a tool function gets besides its request: who calls, which environment, the clients."""

    venue: str
    tool: str
    environment: Environment
    request_id: str
    bot_tag: str
    state: AppState
    transport: Literal["rest", "mcp"] = "rest"
    response_headers: dict[str, str] = field(default_factory=dict)

    async def client(self) -> Any:
        """Return this venue's client for the caller's environment."""
        return await self.state.registry.get(self.venue, self.environment)

    def require_credentials(self) -> dict[str, str]:
        """Return the venue credentials for this environment or raise NOT_CONFIGURED naming the variables."""
        settings = self.state.settings
        missing = settings.missing_credentials(self.venue, self.environment)
        if missing:
            raise NotConfiguredError(
                f"{self.venue} has no credentials for {self.environment}: set {', '.join(missing)}",
                details={"venue": self.venue, "environment": self.environment, "missing": missing},
                suggested_fix="add the variables to .env and restart, or call the venue's public tools",
            )
        return settings.venue_credentials(self.venue, self.environment)


ToolFunc = Callable[[ToolContext, Any], Awaitable[BaseModel]]
F = TypeVar("F", bound=ToolFunc)


@dataclass(frozen=True)
class ToolSpec:
    """One declared tool: everything the transports need to serve it."""

    venue: str
    name: str
    kind: ToolKind
    func: ToolFunc
    request_model: type[BaseModel]
    response_model: type[BaseModel]
    summary: str
    description: str
    target_field: str | None = None
    exposure: ExposureFunc | None = None
    reduces_risk: bool = False

    @property
    def mcp_name(self) -> str:
        """Return the MCP tool name, `<venue>_<tool>`."""
        return f"{self.venue}_{self.name}"

    @property
    def path(self) -> str:
        """Return the REST path of this tool."""
        return f"/mcp-{self.venue}/tools/{self.name}"

    def examples(self) -> list[dict[str, Any]]:
        """Return the request examples declared on the request model."""
        examples = self.request_model.model_json_schema().get("examples") or []
        return [dict(example) for example in examples]

    def parse(self, arguments: dict[str, Any] | None) -> BaseModel:
        """Validate raw arguments into the request model; failures are INVALID_INPUT with locations."""
        try:
            return self.request_model.model_validate(arguments or {})
        except ValidationError as exc:
            raise invalid_input_from(exc) from exc

    def target(self, request: BaseModel) -> str | None:
        """Return what a write acts on (for the audit record), from the declared field."""
        if self.target_field is None:
            return None
        value = getattr(request, self.target_field, None)
        return None if value is None else str(value)


def invalid_input(errors: Sequence[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> InvalidInputError:
    """Build INVALID_INPUT from pydantic error items, keeping each field location and message."""
    items = [
        {
            "loc": ".".join(str(part) for part in (*prefix, *item.get("loc", ()))),
            "msg": str(item.get("msg", "invalid")),
            "type": str(item.get("type", "value_error")),
        }
        for item in errors
    ]
    first = items[0] if items else {"loc": "body", "msg": "invalid"}
    summary = f"{first['loc'] or 'body'}: {first['msg']}"
    if len(items) > 1:
        summary += f" (and {len(items) - 1} more)"
    return InvalidInputError(
        f"invalid input: {summary}",
        details={"errors": items},
        suggested_fix="fix the listed fields; the tool's schema is in /apidocs and MCP tools/list",
    )


def invalid_input_from(exc: ValidationError, prefix: tuple[str, ...] = ()) -> InvalidInputError:
    """Build INVALID_INPUT from a pydantic ValidationError."""
    return invalid_input(exc.errors(include_url=False, include_input=False), prefix)


class ToolSet:
    """The tools of one venue, declared with `@tools.read(...)` / `@tools.write(...)`."""

    def __init__(
        self,
        venue: str,
        *,
        description: str = "",
        client_factory: ClientFactory | None = None,
        admin_router: APIRouter | None = None,
    ) -> None:
        if not TOOL_NAME.match(venue):
            raise ValueError(f"venue name {venue!r} must be lower-case letters, digits and _")
        self.venue = venue
        self.description = description
        self.client_factory = client_factory
        self.admin_router = admin_router  # venue-specific admin routes (e.g. IBKR key rotation)
        self._specs: dict[str, ToolSpec] = {}

    @property
    def specs(self) -> list[ToolSpec]:
        """Return the declared tools in declaration order."""
        return list(self._specs.values())

    def get(self, name: str) -> ToolSpec | None:
        """Return the tool called `name`, if declared."""
        return self._specs.get(name)

    def read(self, name: str) -> Callable[[F], F]:
        """Declare a read-only tool."""
        return self._declare(name, "read", None)

    def write(
        self,
        name: str,
        *,
        target: str | None = None,
        exposure: ExposureFunc | None = None,
        reduces_risk: bool = False,
    ) -> Callable[[F], F]:
        """Declare a tool that changes state at the venue.

        `target` names the request field it acts on (for the audit record); `exposure` tells the
        limits and the leverage cap what the order would do; `reduces_risk` lets it through an
        engaged kill switch (cancels and closes).
        """
        return self._declare(name, "write", target, exposure, reduces_risk)

    def _declare(
        self,
        name: str,
        kind: ToolKind,
        target: str | None,
        exposure: ExposureFunc | None = None,
        reduces_risk: bool = False,
    ) -> Callable[[F], F]:
        def decorator(func: F) -> F:
            self._specs_add(_build_spec(self.venue, name, kind, func, target, exposure, reduces_risk))
            return func

        return decorator

    def _specs_add(self, spec: ToolSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"tool {spec.venue}.{spec.name} is declared twice")
        self._specs[spec.name] = spec


def _build_spec(
    venue: str,
    name: str,
    kind: ToolKind,
    func: ToolFunc,
    target: str | None,
    exposure: ExposureFunc | None,
    reduces_risk: bool,
) -> ToolSpec:
    if not TOOL_NAME.match(name):
        raise ValueError(f"tool name {name!r} must be lower-case letters, digits and _")
    hints = typing.get_type_hints(func)
    params = list(inspect.signature(func).parameters)
    if len(params) != 2:
        raise TypeError(f"tool {venue}.{name} must take (ctx, request)")
    request_model = hints.get(params[1])
    response_model = hints.get("return")
    if not (isinstance(request_model, type) and issubclass(request_model, BaseModel)):
        raise TypeError(f"tool {venue}.{name}: annotate the request parameter with a pydantic model")
    if not (isinstance(response_model, type) and issubclass(response_model, BaseModel)):
        raise TypeError(f"tool {venue}.{name}: annotate the return type with a pydantic model")
    if not request_model.model_json_schema().get("examples"):
        raise TypeError(f"tool {venue}.{name}: {request_model.__name__} needs json_schema_extra examples")
    if target is not None and target not in request_model.model_fields:
        raise TypeError(f"tool {venue}.{name}: target {target!r} is not a field of {request_model.__name__}")
    doc = inspect.cleandoc(func.__doc__ or "")
    if not doc:
        raise TypeError(f"tool {venue}.{name} needs a docstring (its first line is the summary)")
    summary = doc.splitlines()[0].strip().rstrip(".")
    return ToolSpec(
        venue=venue,
        name=name,
        kind=kind,
        func=func,
        request_model=request_model,
        response_model=response_model,
        summary=summary,
        description=doc,
        target_field=target,
        exposure=exposure,
        reduces_risk=reduces_risk,
    )


async def execute_tool(spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
    """Run one tool the same way for every transport: writes go through the write pipeline."""
    if spec.kind == "write":
        return await ctx.state.pipeline.run(spec, ctx, request)
    return await spec.func(ctx, request)


def data_timestamp_header(model: BaseModel) -> str | None:
    """Return the X-Data-Timestamp value of a response, if it carries one."""
    value = getattr(model, "data_timestamp", None)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return None


def tool_context(request: Request, spec: ToolSpec, transport: Literal["rest", "mcp"]) -> ToolContext:
    """Build the context of one call from what the auth middleware put on the request."""
    state: AppState = request.app.state.cerbero
    return ToolContext(
        venue=spec.venue,
        tool=spec.name,
        environment=request.state.environment,
        request_id=request.state.request_id,
        bot_tag=request.state.bot_tag,
        state=state,
        transport=transport,
    )


def make_router(toolset: ToolSet) -> APIRouter:
    """Mount every tool of `toolset` as `POST /mcp-<venue>/tools/<name>`."""
    router = APIRouter(tags=[toolset.venue])
    for spec in toolset.specs:
        router.add_api_route(
            spec.path,
            _rest_endpoint(spec),
            methods=["POST"],
            operation_id=f"{spec.venue}-{spec.name}",
            summary=spec.summary,
            description=spec.description,
            response_model=spec.response_model,
            openapi_extra={
                "security": [{"BearerAuth": []}],
                "parameters": [BOT_TAG_HEADER_DOC],
                "x-tool-kind": spec.kind,
                "x-mcp-name": spec.mcp_name,
            },
        )
    return router


def _rest_endpoint(spec: ToolSpec) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, body: Any = None) -> Response:
        ctx = tool_context(request, spec, "rest")
        result = await execute_tool(spec, ctx, body if body is not None else spec.parse({}))
        headers = dict(ctx.response_headers)
        stamp = data_timestamp_header(result)
        if stamp:
            headers["X-Data-Timestamp"] = stamp
        # Serialised here (not by FastAPI's response_model) so the model is dumped once, not re-validated.
        return Response(result.model_dump_json(), media_type="application/json", headers=headers)

    required = any(field.is_required() for field in spec.request_model.model_fields.values())
    body_param = inspect.Parameter(
        "body",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[spec.request_model, Body(openapi_examples=_openapi_examples(spec))],
        default=inspect.Parameter.empty if required else None,
    )
    request_param = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    endpoint.__signature__ = inspect.Signature([request_param, body_param])  # type: ignore[attr-defined]
    endpoint.__name__ = f"{spec.venue}_{spec.name}"
    return endpoint


def _openapi_examples(spec: ToolSpec) -> dict[str, Any]:
    return {
        f"example{i + 1}" if i else "default": {"summary": spec.summary if not i else f"example {i + 1}", "value": ex}
        for i, ex in enumerate(spec.examples())
    }
