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

import functools
import inspect
import json
import re
import typing
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, create_model

from cerbero_mcp.client_registry import ClientFactory, check_factory
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import BadRequestError, ForbiddenError
from cerbero_mcp.contracts import (
    VOCABULARY_RISK,
    BookFunc,
    LegsFunc,
    LookupFunc,
    Risk,
    Services,
    ToolContext,
    ToolFunc,
    ToolKind,
    ToolRequest,
    ToolResponse,
    ToolSpec,
    Transport,
    invalid_input,
    invalid_input_from,
    model_schema,
)
from cerbero_mcp.oauth import SCOPE_READ, OAuthVerifier, insufficient_scope
from cerbero_mcp.rate_limits import CallLimits

__all__ = [
    "ToolContext",
    "ToolRequest",
    "ToolResponse",
    "ToolSet",
    "ToolSpec",
    "execute_tool",
    "invalid_input",
    "invalid_input_from",
    "make_router",
    "utcnow",
]
ToolSetKind = Literal["venue", "provider"]
F = TypeVar("F", bound=ToolFunc)
TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
BOT_TAG_HEADER_DOC = {
    "name": "X-Bot-Tag",
    "in": "header",
    "required": True,
    "description": "Name of the calling bot (1-64 printable characters); recorded in logs and audit.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "example": "swagger"},
}


class ToolSet:
    """The tools of one venue (or read-only data provider), declared with `@tools.read` / `@tools.write`.

    A venue's `book` reads its account for the exposure arithmetic; every `opens` write needs it.
    Its `lookup` finds an order by client_order_id, so writes left unknown by a crash are reconciled.
    A provider (`kind="provider"`) is read-only: declaring a write on it is an error, and its one
    client serves both tokens.
    """

    def __init__(
        self,
        venue: str,
        *,
        description: str = "",
        client_factory: ClientFactory | None = None,
        admin_router: APIRouter | None = None,
        book: BookFunc | None = None,
        lookup: LookupFunc | None = None,
        kind: ToolSetKind = "venue",
    ) -> None:
        if not TOOL_NAME.match(venue):
            raise ValueError(f"venue name {venue!r} must be lower-case letters, digits and _")
        if client_factory is not None:  # a provider's factory takes no environment: fail at import
            check_factory(venue, client_factory, shared=kind == "provider")
        self.venue = venue
        self.description = description
        self.client_factory = client_factory
        self.admin_router = admin_router  # venue-specific admin routes (e.g. IBKR key rotation)
        self.book = book
        self.lookup = lookup  # reconciliation: find an order at the venue by its client_order_id
        self.kind = kind
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

        def decorator(func: F) -> F:
            self._add(_build_spec(self.venue, name, "read", func, None))
            return func

        return decorator

    def write(
        self,
        name: str,
        *,
        risk: Risk | None = None,
        legs: LegsFunc | None = None,
        target: str | None = None,
    ) -> Callable[[F], F]:
        """Declare a tool that changes state at the venue, and what it does to risk.

        `risk` is `opens` (places or enlarges exposure: give `legs`, every order it could place),
        `reduces` (cancels, closes) or `neutral`. The vocabulary's cancels and closes are `reduces`
        by definition and need no `risk`. `target` names the request field it acts on (audit).
        Anything missing or contradictory raises at import, so a forgotten declaration cannot
        become a hole in the gates.
        """
        qualified = f"{self.venue}.{name}"
        if self.kind == "provider":
            raise TypeError(f"{qualified}: a data provider is read-only; it cannot declare write tools")
        implied = VOCABULARY_RISK.get(name)
        if implied is not None and risk not in (None, implied):
            raise TypeError(f"{qualified} is {implied} by definition (the common vocabulary), not {risk}")
        declared: Risk | None = risk or implied
        if declared is None:
            raise TypeError(f"{qualified}: declare risk='opens' (with legs), 'reduces' or 'neutral'")
        if declared == "opens":
            if legs is None:
                raise TypeError(f"{qualified} opens risk: declare legs= (every order it could place)")
            if self.book is None:
                raise TypeError(f"{qualified} opens risk: ToolSet({self.venue!r}) needs book= to value its legs")
        elif legs is not None:
            raise TypeError(f"{qualified} is {declared}: legs apply to 'opens' writes only")

        def decorator(func: F) -> F:
            spec = _build_spec(self.venue, name, "write", func, target)
            # Issue 20: an opening write may be held for an admin's approval; its re-send names the approval.
            model = with_approval_id(spec.request_model) if declared == "opens" else spec.request_model
            self._add(
                ToolSpec(
                    **{
                        **spec.__dict__,
                        "request_model": model,
                        "risk": declared,
                        "legs": legs,
                        "book": self.book if legs else None,
                    }
                )
            )
            return func

        return decorator

    def _add(self, spec: ToolSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"tool {spec.venue}.{spec.name} is declared twice")
        self._specs[spec.name] = spec


APPROVAL_ID_PATTERN = r"^[0-9a-f]{32}$"


def with_approval_id(model: type[BaseModel]) -> type[BaseModel]:
    """Return `model` with an optional `approval_id` field (issue 20), named as the model is.

    A request field rather than a header: an agent over MCP can only send arguments, so a field is
    the one way both transports carry it, and it shows in both schemas.
    """
    if "approval_id" in model.model_fields:
        return model
    extended: type[BaseModel] = create_model(
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        __doc__=model.__doc__,
        approval_id=(
            str | None,
            Field(
                None,
                min_length=32,
                max_length=32,
                pattern=APPROVAL_ID_PATTERN,
                description="The approval this request was held for (REQUIRE_APPROVAL_ABOVE_USD): send the same "
                "request again with it once an admin approved it.",
            ),
        ),
    )
    return extended


def _build_spec(venue: str, name: str, kind: ToolKind, func: ToolFunc, target: str | None) -> ToolSpec:
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
    if not model_schema(request_model).get("examples"):
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
    )


async def execute_tool(spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
    """Run one tool the same way for every transport: per-caller limits first, writes through the write pipeline."""
    if ctx.admission is not None:
        async with ctx.admission():
            return await _run(spec, ctx, request)
    return await _run(spec, ctx, request)


async def _run(spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
    if spec.kind == "write":
        return await ctx.state.pipeline.run(spec, ctx, request)
    return await spec.func(ctx, request)


def data_timestamp_header(model: BaseModel) -> str | None:
    """Return the X-Data-Timestamp value of a response, if it carries one."""
    value = getattr(model, "data_timestamp", None)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return None


def tool_context(request: Request, spec: ToolSpec, transport: Transport) -> ToolContext:
    """Build the context of one call from what the auth middleware put on the request (see AuthMiddleware)."""
    state: Services = request.app.state.cerbero
    caller = request.state
    bot_tag = getattr(caller, "bot_tag", None)
    if not bot_tag:
        # /mcp without X-Bot-Tag: the MCP endpoint derives one before calling; never run a call unattributed.
        raise BadRequestError("this call has no bot tag", suggested_fix="send X-Bot-Tag: <your bot's name>")
    principal: str | None = getattr(caller, "principal", None)
    if spec.kind == "read" and getattr(caller, "auth", None) == "oauth":
        _require_read_scope(request, getattr(caller, "scopes", frozenset()))
    environment = caller.environment
    limits: CallLimits | None = getattr(request.app.state, "call_limits", None)
    return ToolContext(
        venue=spec.venue,
        tool=spec.name,
        environment=environment,
        request_id=caller.request_id,
        bot_tag=bot_tag,
        state=state,
        transport=transport,
        principal=principal,
        admission=None
        if limits is None
        # One token: an OAuth token by its hashed id; a static token is its environment's one token.
        else functools.partial(limits.admit, environment, spec.venue, bot_tag, principal or f"static:{environment}"),
    )


def _require_read_scope(request: Request, scopes: frozenset[str]) -> None:
    """Refuse a read tool to an OAuth token without cerbero:read (writes need only the environment's scope)."""
    if SCOPE_READ in scopes:
        return
    message = f"read tools need the {SCOPE_READ} scope"
    oauth: OAuthVerifier | None = getattr(request.app.state, "oauth", None)
    if oauth is not None:
        raise insufficient_scope(oauth.config, SCOPE_READ, message)
    raise ForbiddenError(message, details={"required_scope": SCOPE_READ})


# Every status a tool can answer besides 200, each with the one error envelope.
ERROR_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
ERROR_STATUSES: dict[int, str] = {
    400: "Bad request: the body is not a JSON object, or the venue refused the order (BAD_REQUEST, INVALID_ORDER).",
    401: "Missing or wrong bearer token (UNAUTHORIZED).",
    403: "Refused by a gate: limits, leverage cap, symbol allow-list, or a forbidden origin.",
    404: "Unknown order or instrument (ORDER_NOT_FOUND, NOT_FOUND).",
    409: "Idempotency conflict: the client_order_id was used with other parameters, or is in flight.",
    413: "Request body too large.",
    422: "Invalid input: the listed fields break the tool's schema (INVALID_INPUT).",
    423: "The kill switch is engaged: only reducing writes pass (KILL_SWITCH_ENGAGED).",
    429: "Rate limited, by the gateway or the venue (retryable; see Retry-After).",
    500: "Unhandled error (a bug: report it with the request_id).",
    502: "The venue answered an error or refused the credentials (UPSTREAM_ERROR).",
    503: "Not configured (missing credentials) or the audit log is unavailable.",
    504: "The venue did not answer in time (UPSTREAM_TIMEOUT; a write's outcome may be unknown).",
}
# A reference, not `"model": ErrorEnvelope`: FastAPI builds a pydantic field per status and route for a model
# (~1,900 per app, half of an app's build time); the server's OpenAPI adds the ErrorEnvelope component once.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": {"$ref": ERROR_ENVELOPE_REF}}}}
    for status, text in ERROR_STATUSES.items()
}


class JsonBodyRoute(APIRoute):
    """A tool route that reads its body as JSON whatever the Content-Type (curl -d sends a form type)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: a non-empty body must be a JSON object, then it is parsed as JSON."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            raw = await request.body()
            if not raw.strip():
                return await handler(request)
            try:
                parsed = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequestError(
                    f"request body is not valid JSON: {exc}",
                    suggested_fix="send a JSON object, e.g. -H 'Content-Type: application/json' -d '{}'",
                ) from exc
            if not isinstance(parsed, dict):
                raise BadRequestError(
                    f"the body must be a JSON object, not a JSON {_json_kind(parsed)}",
                    suggested_fix="send the tool's arguments as one JSON object, e.g. {} when there are none",
                )
            headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
            scope = {**request.scope, "headers": [*headers, (b"content-type", b"application/json")]}
            as_json = Request(scope, request.receive)
            as_json._body = raw  # already read from the channel: FastAPI reads it from here
            return await handler(as_json)

        return route


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def make_router(toolset: ToolSet) -> APIRouter:
    """Mount every tool of `toolset` as `POST /mcp-<venue>/tools/<name>`."""
    router = APIRouter(tags=[toolset.venue], route_class=JsonBodyRoute)
    for spec in toolset.specs:
        router.add_api_route(
            spec.path,
            _rest_endpoint(spec),
            methods=["POST"],
            operation_id=f"{spec.venue}-{spec.name}",
            summary=spec.summary,
            description=spec.description,
            response_model=spec.response_model,
            responses=ERROR_RESPONSES,
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
