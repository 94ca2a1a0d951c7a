"""The shared contracts of the tool layer: what a tool is, what it gets, and what a write does to risk.

Everything else builds on this module and nothing here imports anything of the app back (only
settings types, errors and pydantic), so the registry, the write pipeline, the app state and the
venues meet here without import cycles:

    contracts ◀── tooling (ToolSet, routers) ◀── venues' tools
        ▲     ◀── write_pipeline (gates)
        └──── app_state (holds the pipeline, the registry, the tool sets)

A write declares its **risk** (`opens`, `reduces`, `neutral`). An `opens` write also declares how
its **legs** are computed: every order it could place (brackets, OCO/OTO, combos, batches, and the
order an amend leaves behind). The limits and the leverage cap see every leg; the kill switch lets
through exactly the `reduces` writes and reduce-only orders.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError, NotConfiguredError
from cerbero_mcp.settings import Environment, Settings

ToolKind = Literal["read", "write"]
Risk = Literal["opens", "reduces", "neutral"]
Side = Literal["buy", "sell"]
Transport = Literal["rest", "mcp"]
# The common vocabulary's cancels and closes reduce risk on every venue: declared once, here.
VOCABULARY_RISK: Mapping[str, Risk] = {
    "cancel_order": "reduces",
    "cancel_all_orders": "reduces",
    "close_position": "reduces",
    "close_all_positions": "reduces",
}


class ToolRequest(BaseModel):
    """Base of every tool's request model: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def decimal_text(value: Decimal) -> str:
    """Return a Decimal in plain positional notation, trailing zeros stripped (`1E+2` → `100`, `-0` → `0`)."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("0", "-0") else text


def timestamp_text(value: datetime) -> str:
    """Return a datetime as ISO 8601 UTC with milliseconds and a Z (a naive one is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wire_form(value: Any) -> Any:
    """Return python-mode response data with every Decimal and datetime (nested, in dicts too) in wire form."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, dict):
        return {key: wire_form(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [wire_form(item) for item in value]
    return value


def _serialize_response(self: BaseModel, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
    data = handler(self)
    if not info.mode_is_json():
        return data
    # JSON mode has already turned Decimals into strings ("1E+2"): re-dump in python mode, then format.
    python = self.model_dump(
        mode="python",
        include=info.include,  # type: ignore[arg-type]  # the same include/exclude pydantic was given
        exclude=info.exclude,  # type: ignore[arg-type]
        by_alias=bool(info.by_alias),
        exclude_unset=info.exclude_unset,
        exclude_defaults=info.exclude_defaults,
        exclude_none=info.exclude_none,
    )
    return wire_form(python)


# No return annotation: pydantic then keeps each response model's own serialization schema (OpenAPI).
del _serialize_response.__annotations__["return"]


class ToolResponse(BaseModel):
    """Base of every tool's response model: says when its data was observed.

    One serializer writes every response on every transport: a Decimal in plain positional notation
    with trailing zeros stripped (`"100"`, `"0.000000000417"`), a datetime as ISO 8601 UTC with
    milliseconds and `Z`, also inside nested models and free-form `info` dicts.
    """

    data_timestamp: datetime = Field(description="When the venue data in this response was observed (UTC).")

    _wire_form = model_serializer(mode="wrap")(_serialize_response)


class ErrorBody(BaseModel):
    """The `error` object of the envelope."""

    type: str = Field(description="The error class, e.g. InvalidInputError.")
    code: str = Field(description="Stable machine-readable code, e.g. INVALID_INPUT, KILL_SWITCH_ENGAGED.")
    message: str = Field(description="What went wrong, for a human.")
    retryable: bool = Field(description="Whether the same call may succeed later unchanged.")
    suggested_fix: str | None = Field(None, description="What to change before calling again.")
    details: dict[str, Any] | None = Field(None, description="Machine-readable specifics (e.g. field errors).")


class ErrorEnvelope(BaseModel):
    """Every error answer of every tool: `{"error": {...}, "request_id", "data_timestamp"}`."""

    error: ErrorBody
    request_id: str | None = Field(description="The X-Request-Id of the call (also in the response header).")
    data_timestamp: str = Field(description="When the error was answered: ISO 8601 UTC with milliseconds and Z.")


# --- what a write does to risk -------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One order a write could place, as the limits and the leverage cap see it.

    `quantity` is in the venue's native units; `price` is the limit price when there is one (None:
    the venue's reference price values it). `reduce_only` legs can only shrink a position (bracket
    exits, reduce-only orders). Legs sharing a `one_of` group are alternatives (OCO): at most one
    of them fills, so the resulting exposure is the worst single choice, not their sum.
    """

    instrument: str
    side: Side
    quantity: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    one_of: str | None = None


@dataclass(frozen=True)
class PricedLeg:
    """A leg with its notional, in the exposure's unit."""

    leg: Leg
    notional: Decimal


@dataclass(frozen=True)
class Exposure:
    """What a write would do to the account: each leg's notional, the gross notional after, equity."""

    legs: tuple[PricedLeg, ...]
    resulting_notional: Decimal  # gross |notional| of the account after the opening legs fill (worst case)
    equity: Decimal
    unit: str = "USD"


LegsFunc = Callable[["ToolContext", Any], Awaitable[list[Leg]]]
BookFunc = Callable[["ToolContext", list[Leg]], Awaitable["Book"]]
ValueFunc = Callable[[str, Decimal, Decimal | None], Decimal]
# Reconciliation: ask the venue for the order a write with this client_order_id placed (the write's
# audited params); None when the venue does not know it. Answers a JSON-native summary of the order.
LookupFunc = Callable[["ToolContext", str, dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Book:
    """An account as the exposure arithmetic needs it, read from the venue by its `book` hook.

    `positions` are signed sizes in venue units by instrument; `value(instrument, size, price)`
    returns the |notional| of `size` units at `price` (None: the venue's reference price), in `unit`.
    """

    positions: Mapping[str, Decimal]
    equity: Decimal
    value: ValueFunc
    unit: str = "USD"


# --- the context of one call ---------------------------------------------------------------------


class ClientSource(Protocol):
    """Where venue clients come from (the app's ClientRegistry)."""

    async def get(self, venue: str, env: Environment) -> Any:
        """Return the client of (venue, env), building it on first use."""
        ...


class WriteRunner(Protocol):
    """What runs a write through its gates (the app's WritePipeline)."""

    async def run(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> BaseModel:
        """Execute one write."""
        ...


class Services(Protocol):
    """The per-app singletons a tool call reaches (implemented by AppState)."""

    @property
    def settings(self) -> Settings:
        """Return the settings."""
        ...

    @property
    def registry(self) -> ClientSource:
        """Return the client registry."""
        ...

    @property
    def pipeline(self) -> WriteRunner:
        """Return the write pipeline."""
        ...


@dataclass
class ToolContext:
    """What a tool function gets besides its request: who calls, which environment, the clients."""

    venue: str
    tool: str
    environment: Environment
    request_id: str
    bot_tag: str
    state: Services
    transport: Transport = "rest"
    response_headers: dict[str, str] = field(default_factory=dict)
    # The hashed id of an OAuth access token (`oauth:<hex>`, never the token) for the audit; None for static tokens.
    principal: str | None = None
    # Entered by execute_tool around the call: the per-caller rate limit and concurrency cap (rate_limits.py).
    admission: Callable[[], AbstractAsyncContextManager[None]] | None = None

    async def client(self) -> Any:
        """Return this venue's client for the caller's environment."""
        return await self.state.registry.get(self.venue, self.environment)

    async def venue_client(self, venue: str) -> Any:
        """Return another venue's client for the caller's environment (cross-venue data)."""
        return await self.state.registry.get(venue, self.environment)

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


def model_schema(model: type[BaseModel], mode: Literal["validation", "serialization"] = "validation") -> dict[str, Any]:
    """Return a model's JSON schema, built once per model, mode and day: treat it as read-only."""
    # Every app build (REST routes, MCP tools/list, examples) asks for ~400 schemas of ~140 models; pydantic
    # generates each anew (about 1 s per app). Some examples follow the clock's date (an option's expiry), so
    # the day is part of the key.
    return _model_schema(model, mode, utcnow().date())


@functools.lru_cache(maxsize=4096)
def _model_schema(model: type[BaseModel], mode: Literal["validation", "serialization"], day: date) -> dict[str, Any]:
    return model.model_json_schema(mode=mode)


def without_null_defaults(schema: Any) -> Any:
    """Return a JSON schema without `"default": null` (FastAPI's OpenAPI leaves it out)."""
    # FastAPI's OpenAPI omits `"default": null`; dropping it here too keeps one schema per tool on
    # both transports (an optional field is already said by its absence from `required`).
    if isinstance(schema, dict):
        return {k: without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [without_null_defaults(item) for item in schema]
    return schema


# Keywords whose values are data (instances), not schemas: a "title" inside them is content, kept as is.
_SCHEMA_DATA_KEYWORDS = frozenset({"examples", "example", "default", "const", "enum"})
# Keywords whose values map names (a property may be called "title") to schemas.
_SCHEMA_MAP_KEYWORDS = frozenset({"properties", "$defs", "definitions", "patternProperties"})


def without_titles(schema: Any) -> Any:
    """Return a JSON schema without pydantic's generated `title` keywords (the field and model names again)."""
    # An agent pays for every byte of tools/list: the titles are ~14 % of it and say nothing the property
    # names do not. Property names, examples and defaults that happen to be called "title" are kept.
    if isinstance(schema, list):
        return [without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_DATA_KEYWORDS:
            result[key] = value
        elif key in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            result[key] = {name: without_titles(sub) for name, sub in value.items()}
        else:
            result[key] = without_titles(value)
    return result


@dataclass(frozen=True)
class ToolSpec:
    """One declared tool: everything the transports and the write pipeline need to serve it."""

    venue: str
    name: str
    kind: ToolKind
    func: ToolFunc
    request_model: type[BaseModel]
    response_model: type[BaseModel]
    summary: str
    description: str
    target_field: str | None = None
    risk: Risk | None = None  # writes only
    legs: LegsFunc | None = None  # `opens` writes only
    book: BookFunc | None = None  # `opens` writes only: the venue's account reader

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
        examples = model_schema(self.request_model).get("examples") or []
        return [copy.deepcopy(example) for example in examples]

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

    def reduces(self, request: BaseModel) -> bool:
        """Return whether this call can only reduce risk: a `reduces` write or a reduce-only order."""
        return self.risk == "reduces" or (self.risk == "opens" and getattr(request, "reduce_only", False) is True)


class WriteGate(Protocol):
    """A check a write passes before the venue call; it refuses by raising a CerberoError."""

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Raise to refuse the write."""


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
