"""build_app(settings): the one FastAPI app — middleware, error envelope, tool routes, /mcp, health."""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from cerbero_mcp import __version__, admin
from cerbero_mcp.apidocs import add_apidocs
from cerbero_mcp.app_state import AppState
from cerbero_mcp.audit_pg import PgAuditLog
from cerbero_mcp.auth import AuthMiddleware
from cerbero_mcp.client_registry import ClientRegistry, ProbeableClient
from cerbero_mcp.common.audit import AuditLog
from cerbero_mcp.common.audit_keys import KEY_FILE_SUFFIX, key_file_for, load_or_create_key
from cerbero_mcp.common.audit_trail import AuditTrail
from cerbero_mcp.common.errors import (
    BadRequestError,
    CerberoError,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    UnauthorizedError,
)
from cerbero_mcp.common.pacing import use_shared_backend
from cerbero_mcp.common.private_files import loose_mode
from cerbero_mcp.common.redaction import redact_url
from cerbero_mcp.contracts import ErrorEnvelope, without_null_defaults
from cerbero_mcp.exchanges.risk.gates import risk_gates
from cerbero_mcp.exchanges.risk.rules import RiskRules
from cerbero_mcp.gates import KillSwitchGate, LeverageCapGate, LimitsGate
from cerbero_mcp.http_limits import BodyLimitMiddleware
from cerbero_mcp.limits import OrderLimits
from cerbero_mcp.mcp_endpoint import MCPEndpoint
from cerbero_mcp.mcp_toolsets import MCP_PATHS
from cerbero_mcp.metrics import Metrics
from cerbero_mcp.middleware import RequestContextMiddleware
from cerbero_mcp.oauth import METADATA_PATH, OAuthVerifier
from cerbero_mcp.rate_limits import CallLimits
from cerbero_mcp.recovery import reconcile, recover_after_restart
from cerbero_mcp.responses import error_envelope, now_iso
from cerbero_mcp.session_owner import session_owner_running
from cerbero_mcp.settings import ENVIRONMENTS, ConfigError, Settings
from cerbero_mcp.state_pg import (
    SCHEMA_VERSION,
    PostgresPacingBackend,
    PostgresStateStore,
    settings_dsn,
    settings_replica_id,
)
from cerbero_mcp.state_store import SqliteStateStore, StateStore, StoreNotWritableError
from cerbero_mcp.tooling import ToolSet, invalid_input, make_router
from cerbero_mcp.write_pipeline import Idempotency, WritePipeline

startup_log = logging.getLogger("mcp.startup")
SWAGGER_UI = {
    "persistAuthorization": True,
    "displayRequestDuration": True,
    "filter": True,
    "tryItOutEnabled": True,
    "tagsSorter": "alpha",
    "operationsSorter": "alpha",
}
DESCRIPTION = (
    "One authenticated gateway to trading venues for bots and LLM agents. "
    "Authorize with `TESTNET_TOKEN` (testnet/paper) or `MAINNET_TOKEN` (live): the token picks the "
    "environment of every call. Tool calls also need `X-Bot-Tag`. The same tools are served over MCP "
    "at `/mcp` (streamable HTTP) as `<venue>_<tool>`."
)


def build_app(
    settings: Settings,
    toolsets: Sequence[ToolSet] | None = None,
    *,
    audit: AuditTrail | None = None,
    store: StateStore | None = None,
) -> FastAPI:
    """Build the app for `settings` serving `toolsets` (default: every installed venue)."""
    if toolsets is None:
        from cerbero_mcp.exchanges.registry import installed_toolsets

        toolsets = installed_toolsets()
    state_store, audit_log, sink_lines = open_sinks(settings, audit=audit, store=store)
    limits = OrderLimits.from_settings(settings)
    limits_gate = LimitsGate(limits, state_store)
    risk_rules = RiskRules.from_settings(settings)  # issue 20: a bad rule stops the start (ConfigError)
    # Issue 21: both parse their settings here, so a bad value stops the start (ConfigError).
    oauth = OAuthVerifier.from_settings(settings)
    call_limits = CallLimits.from_settings(settings)
    registry = ClientRegistry(settings)
    for toolset in toolsets:
        if toolset.client_factory is not None:
            # A provider has no testnet: one client, built once, serves both tokens.
            registry.register(toolset.venue, toolset.client_factory, shared=toolset.kind == "provider")
    metrics = Metrics()
    state = AppState(
        settings=settings,
        registry=registry,
        audit=audit_log,
        metrics=metrics,
        toolsets=list(toolsets),
        pipeline=WritePipeline(
            audit_log,
            [limits_gate, LeverageCapGate(), *risk_gates(risk_rules, state_store)],
            Idempotency(state_store, settings.idempotency_ttl_s, wait_s=settings.upstream_read_timeout_s + 5),
            limits_gate,
            before_idempotency=[KillSwitchGate(state_store)],
            metrics=metrics,
        ),
        store=state_store,
    )
    mcp = MCPEndpoint(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for line in [*venue_lines(settings), *sink_lines]:
            startup_log.log(line.level, line.message, extra={"fields": line.fields})
        # Replicas elect the IBKR session owner first: reconciling an IBKR order must not open a second session.
        owner_election = session_owner_running(settings)
        await owner_election.__aenter__()
        recovery = await recover_after_restart(state.pipeline, state_store, settings.idempotency_ttl_s)
        lookups = {t.venue: t.lookup for t in state.toolsets if t.lookup is not None}
        await reconcile(state.pipeline, state_store, state, lookups, recovery, settings.ready_probe_timeout_s)
        if recovery.unknown or recovery.freed or recovery.closed_intents:
            startup_log.warning("writes interrupted by the last stop were resolved: %s", recovery.to_dict())
        if settings.kill_switch_on_start:
            await engage_on_start(state, state_store)
        if oauth is not None:
            await oauth.keys.warm()  # async, before the first token; a failure is retried on the first JWT
        # Issue 19: with the state in PostgreSQL, every venue pacer of this process spends the fleet's budget.
        shared_pacing = isinstance(state_store, PostgresStateStore)
        previous_pacing = None
        if isinstance(state_store, PostgresStateStore):
            previous_pacing = use_shared_backend(PostgresPacingBackend(state_store.pool))
        async with mcp.running():
            try:
                yield
            finally:
                if oauth is not None:
                    await oauth.keys.aclose()
                await registry.aclose()
                if shared_pacing:
                    use_shared_backend(previous_pacing)
                await owner_election.__aexit__(None, None, None)
                audit_log.close()
                state_store.close()

    app = FastAPI(
        title="Cerbero MCP",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by add_apidocs, with its assets on this gateway (no CDN)
        redoc_url=None,
        lifespan=lifespan,
    )
    add_apidocs(app, SWAGGER_UI)
    app.state.cerbero = state
    app.state.call_limits = call_limits  # read by tooling.tool_context on every tool call (REST and MCP)
    app.state.oauth = oauth
    for toolset in toolsets:
        app.include_router(make_router(toolset))
        if toolset.admin_router is not None:
            app.include_router(toolset.admin_router)
    app.include_router(admin.router)
    _add_health_routes(app, state)
    _add_root_route(app)
    if oauth is not None:
        _add_oauth_metadata_routes(app, oauth)
    for mcp_path in MCP_PATHS:  # /mcp, /mcp/readonly, /mcp/x/<toolsets>[/readonly] (issue 21)
        app.router.routes.append(
            Route(mcp_path, endpoint=mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
        )
    _add_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    known = {(spec.venue, spec.name) for spec in state.tool_specs()}
    # Added last = outermost: the request id exists before auth answers anything.
    app.add_middleware(AuthMiddleware, settings=settings, oauth=oauth)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics, known_tools=known)
    return app


async def engage_on_start(state: AppState, store: StateStore) -> None:
    """Engage the kill switch of both environments (KILL_SWITCH_ON_START) and audit it."""
    for env in ("testnet", "mainnet"):
        store.set_kill_switch(env, True, "KILL_SWITCH_ON_START", "startup")
    await state.audit.aappend(
        {
            "request_id": "startup",
            "actor": "admin",
            "bot_tag": None,
            "exchange": None,
            "action": "admin.kill_switch",
            "target": "both",
            "params": {"env": "both", "engaged": True, "reason": "KILL_SWITCH_ON_START"},
            "outcome": "ok",
            "error_code": None,
            "duration_ms": 0.0,
        }
    )


@dataclass(frozen=True)
class StartupLine:
    """One start-up log line about a venue, a sink or a store (names and paths, never secret values)."""

    level: int
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


def venue_lines(settings: Settings) -> list[StartupLine]:
    """Describe each venue and environment: configured or the variables it misses, and its URL (userinfo masked)."""
    lines = []
    for venue in settings.venue_declarations:
        for env in ENVIRONMENTS:
            missing = settings.missing_credentials(venue, env)
            url = redact_url(settings.venue_url(venue, env))
            state = "configured" if not missing else f"NOT configured (public tools only; set {', '.join(missing)})"
            lines.append(
                StartupLine(
                    logging.INFO,
                    f"venue {venue} {env}: {state}; URL {url}",
                    {"venue": venue, "environment": env, "configured": not missing, "missing": missing, "url": url},
                )
            )
    for provider, declaration in settings.provider_declarations.items():
        # A provider's keys are optional one by one: say which are unset (those sources' tools answer 503).
        unset = [
            name.upper()
            for name in declaration.setting_names
            if name.endswith(("_key", "_token")) and settings.provider_option(provider, name) is None
        ]
        state = "every key set" if not unset else f"unset: {', '.join(unset)} (tools needing them answer 503)"
        lines.append(
            StartupLine(
                logging.INFO,
                f"provider {provider}: {state}",
                {"provider": provider, "unset": unset},
            )
        )
    return lines


def open_sinks(
    settings: Settings, *, audit: AuditTrail | None = None, store: StateStore | None = None
) -> tuple[StateStore, AuditTrail, list[StartupLine]]:
    """Open the state DB and the audit log (chained to the DB's head) and describe each in a start-up line.

    Raises ConfigError, naming the variable to fix, when either cannot be written.
    """
    lines: list[StartupLine] = []
    dsn = settings_dsn(settings)
    if store is None and dsn is not None:
        # Issue 19: several replicas share the state, the audit and the venue budgets in PostgreSQL.
        store = _open_postgres(dsn, settings)
        owned = True
        state_line = StartupLine(
            logging.INFO,
            f"state DB: PostgreSQL {store.dsn_shown} (schema v{SCHEMA_VERSION}; replica {store.replica_id})",
            {"sink": "state_db", "path": store.dsn_shown, "writable": True, "replica_id": store.replica_id},
        )
    elif store is None:
        store = _open_state_db(settings.state_db)
        owned = True
        db = settings.state_db
        loose = {} if str(db) == ":memory:" else _loose_files([db, *(Path(f"{db}{end}") for end in ("-wal", "-shm"))])
        state_line = StartupLine(
            logging.WARNING if loose else logging.INFO,
            f"state DB: {_shown(db)} (writable){_loose_note(loose)}",
            {"sink": "state_db", "path": _shown(db), "writable": True, "loose_modes": loose},
        )
    else:
        owned = False
        state_line = StartupLine(
            logging.INFO, "state DB: provided by the caller", {"sink": "state_db", "path": None, "writable": None}
        )
    try:
        if audit is None and isinstance(store, PostgresStateStore) and settings.audit_path is not None:
            audit, audit_lines = _open_pg_audit(settings, store)  # the state is shared: so is the audit
        elif audit is None:
            audit, audit_lines = _open_audit(settings, store)
        else:
            audit_lines = _describe_given_audit(audit)
    except BaseException:
        if owned:
            store.close()
        raise
    lines.extend(audit_lines)
    lines.append(state_line)
    return store, audit, lines


def _open_postgres(dsn: str, settings: Settings) -> PostgresStateStore:
    # The message carries the DSN with its user and password masked (state_pg.redact_dsn), never the DSN.
    try:
        return PostgresStateStore(dsn, replica_id=settings_replica_id(settings))
    except StoreNotWritableError as exc:
        raise ConfigError(f"STATE_DB: {exc}; check the URL, the server and the user's rights") from None


def _open_pg_audit(settings: Settings, store: PostgresStateStore) -> tuple[AuditTrail, list[StartupLine]]:
    if settings.audit_hmac_key is None:
        # A key file per replica would sign each chain with its own key: verify checks every chain with one.
        raise ConfigError(
            "AUDIT_HMAC_KEY must be set with STATE_DB=postgresql://… (the same on every replica: each replica"
            " verifies every replica's chain with it); or AUDIT_LOG_FILE=off to run with no audit at all"
        )
    key = settings.audit_hmac_key.get_secret_value().encode()
    audit = PgAuditLog(store.pool, key, store.replica_id, backup_days=settings.audit_log_backup_days)
    seq, _ = audit.head
    problems = [finding.code for finding in audit.opening_findings]
    message = f"audit log: PostgreSQL table audit_records, chain of replica {store.replica_id} at seq {seq}"
    if problems:
        message += f"; found on opening: {', '.join(problems)} (see /admin/audit/verify)"
    fields = {"sink": "audit_log", "enabled": True, "path": None, "writable": True, "seq": seq, "found": problems}
    return audit, [
        StartupLine(logging.WARNING if problems else logging.INFO, message, fields),
        StartupLine(
            logging.INFO, "audit HMAC key: from AUDIT_HMAC_KEY", {"sink": "audit_hmac_key", "source": "AUDIT_HMAC_KEY"}
        ),
    ]


def _open_state_db(path: Path) -> SqliteStateStore:
    fix = "point STATE_DB (or DATA_DIR) at a writable directory"
    reason = None if str(path) == ":memory:" else _unwritable_reason(path)
    if reason is not None:
        raise ConfigError(f"STATE_DB {path} is not writable: {reason}; {fix}")
    try:
        return SqliteStateStore(path)
    except StoreNotWritableError as exc:
        raise ConfigError(f"STATE_DB {path} is not writable ({exc}); {fix}") from exc


def _open_audit(settings: Settings, store: StateStore) -> tuple[AuditLog, list[StartupLine]]:
    path = settings.audit_path
    if path is None:
        off = (
            "audit log: OFF (AUDIT_LOG_FILE=off): writes and admin actions are NOT audited,"
            " and /admin/audit/verify answers ok=false"
        )
        return AuditLog(None, None), [
            StartupLine(logging.WARNING, off, {"sink": "audit_log", "enabled": False, "path": None, "writable": None}),
            StartupLine(
                logging.WARNING, "audit HMAC key: none (audit is off)", {"sink": "audit_hmac_key", "source": None}
            ),
        ]
    named = "AUDIT_LOG_FILE" if isinstance(settings.audit_log_file, Path) else "DATA_DIR/audit.jsonl"
    fix = "point AUDIT_LOG_FILE or DATA_DIR at a writable directory (AUDIT_LOG_FILE=off runs with no audit at all)"
    reason = _unwritable_reason(path)
    if reason is not None:
        raise ConfigError(f"audit log {path} ({named}) is not writable: {reason}; {fix}")
    if settings.audit_hmac_key is not None:
        key = settings.audit_hmac_key.get_secret_value().encode()
        key_line = StartupLine(
            logging.INFO, "audit HMAC key: from AUDIT_HMAC_KEY", {"sink": "audit_hmac_key", "source": "AUDIT_HMAC_KEY"}
        )
    else:
        key, key_line = _key_from_file(key_file_for(path))
    try:
        audit = AuditLog(
            path,
            key,
            backup_days=settings.audit_log_backup_days,
            fsync=settings.audit_fsync,
            head_store=store,
        )
    except OSError as exc:
        raise ConfigError(f"audit log {path} ({named}) is not writable: {exc.strerror or exc}; {fix}") from exc
    seq, _ = audit.head
    problems = [finding.code for finding in audit.opening_findings]
    message = f"audit log: {_shown(path)} (writable; chain at seq {seq})"
    if problems:
        message += f"; found on opening: {', '.join(problems)} (see /admin/audit/verify)"
    # The live file, the rotated ones and the .torn side file (the key file has its own line).
    siblings = (p for p in path.parent.glob(f"{glob.escape(path.name)}.*") if not p.name.endswith(KEY_FILE_SUFFIX))
    loose = _loose_files([path, *sorted(siblings)])
    message += _loose_note(loose)
    fields = {"sink": "audit_log", "enabled": True, "path": _shown(path), "writable": True, "seq": seq}
    audit_line = StartupLine(
        logging.WARNING if problems or loose else logging.INFO,
        message,
        {**fields, "found": problems, "loose_modes": loose},
    )
    return audit, [audit_line, key_line]


def _key_from_file(key_path: Path) -> tuple[bytes, StartupLine]:
    try:
        key, created = load_or_create_key(key_path)
        mode = stat.S_IMODE(key_path.stat().st_mode)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"audit HMAC key file {key_path}: {why}; fix the file or its directory, or set AUDIT_HMAC_KEY"
        ) from exc
    message = (
        f"audit HMAC key: key file {_shown(key_path)} ({'generated now' if created else 'existing'}, mode {mode:o})"
    )
    if mode & 0o077:
        message += ": readable by other users, chmod 600 it"
    fields = {"sink": "audit_hmac_key", "source": "file", "path": _shown(key_path), "created": created}
    return key, StartupLine(logging.WARNING if mode & 0o077 else logging.INFO, message, {**fields, "mode": f"{mode:o}"})


def _loose_files(paths: Sequence[Path]) -> dict[str, str]:
    """Return name → octal mode of each existing file in `paths` that its group or others may access."""
    return {path.name: f"{mode:o}" for path in paths if (mode := loose_mode(path)) is not None}


def _loose_note(loose: dict[str, str]) -> str:
    """Return the start-up line's warning about data files other users may read ('' when none)."""
    if not loose:
        return ""
    files = ", ".join(f"{name} (mode {mode})" for name, mode in loose.items())
    return f"; readable by other users: {files}, chmod 600 them"


def _describe_given_audit(audit: AuditTrail) -> list[StartupLine]:
    if not isinstance(audit, AuditLog):
        return [
            StartupLine(
                logging.INFO,
                "audit log: provided by the caller",
                {"sink": "audit_log", "enabled": audit.enabled, "path": None, "writable": None},
            )
        ]
    if audit.path is None:
        return [
            StartupLine(
                logging.WARNING,
                "audit log: OFF (provided by the caller): writes and admin actions are NOT audited",
                {"sink": "audit_log", "enabled": False, "path": None, "writable": None},
            )
        ]
    return [
        StartupLine(
            logging.INFO,
            f"audit log: {_shown(audit.path)} (provided by the caller)",
            {"sink": "audit_log", "enabled": True, "path": _shown(audit.path), "writable": True},
        ),
        StartupLine(
            logging.INFO, "audit HMAC key: provided by the caller", {"sink": "audit_hmac_key", "source": "caller"}
        ),
    ]


def _unwritable_reason(path: Path) -> str | None:
    """Return why `path` cannot be created or appended to (None when it can)."""
    if path.is_dir():
        return f"{path} is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else f"{path} is not writable by this user"
    ancestor = path.parent
    while not ancestor.exists() and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create files in {ancestor}"
    return None


def _shown(path: Path | str) -> str:
    return str(path) if str(path) == ":memory:" else str(Path(path).absolute())


def _openapi(app: FastAPI) -> dict[str, Any]:
    from cerbero_mcp.common.clock import utcnow

    # Some request examples follow the clock (Deribit's next quarterly expiry): rebuild once a UTC day.
    today = utcnow().date()
    if app.openapi_schema is None or getattr(app.state, "openapi_date", None) != today:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            openapi_version=app.openapi_version,
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "BearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "TESTNET_TOKEN or MAINNET_TOKEN (admin writes: ADMIN_TOKEN); with OAuth on, a JWT"
                " access token (X-Cerbero-Environment: mainnet to leave testnet).",
            }
        }
        # The tool routes' body examples were copied from their models when the app was built; the
        # models' schemas just generated carry today's: copy those over, in order.
        models = schema["components"].get("schemas", {})
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                model = models.get(str(content.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1], {})
                examples, fresh = content.get("examples", {}), model.get("examples") or []
                if examples and len(examples) == len(fresh):
                    for example, value in zip(examples.values(), fresh, strict=True):
                        example["value"] = value
        _document_error_envelope(schema)
        app.openapi_schema = schema
        app.state.openapi_date = today
    return app.openapi_schema


def _document_error_envelope(schema: dict[str, Any]) -> None:
    """Document every 422 with the error envelope (never FastAPI's HTTPValidationError, which is never sent)."""
    models = schema["components"].setdefault("schemas", {})
    models.pop("HTTPValidationError", None)
    models.pop("ValidationError", None)
    # The tool routes refer to the envelope (tooling.ERROR_RESPONSES); it is documented here once.
    envelope_schema = without_null_defaults(
        ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    )
    models.update(envelope_schema.pop("$defs", {}))
    models["ErrorEnvelope"] = envelope_schema
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            invalid = operation.get("responses", {}).get("422")
            if invalid is not None and "HTTPValidationError" in str(invalid.get("content")):
                operation["responses"]["422"] = {"description": "Invalid input (INVALID_INPUT)", "content": envelope}


def _add_health_routes(app: FastAPI, state: AppState) -> None:
    @app.get("/health", tags=["health"], operation_id="health")
    async def health() -> dict[str, Any]:
        """Report liveness, version and uptime."""
        return {
            "status": "ok",
            "version": __version__,
            "uptime_s": round(time.monotonic() - state.started_monotonic, 3),
            "data_timestamp": now_iso(),
        }

    @app.get("/health/ready", tags=["health"], operation_id="health-ready")
    async def ready() -> Response:
        """Probe every venue client in use and report ready, degraded or not_ready."""
        report = await readiness(state)
        failing = "audit" in report or (report["status"] != "ready" and state.settings.ready_fails_on_degraded)
        return JSONResponse(report, status_code=503 if failing else 200)

    @app.get("/metrics", tags=["health"], operation_id="metrics", response_class=Response)
    async def metrics() -> Response:
        """Expose Prometheus metrics."""
        return Response(state.metrics.render(), media_type=state.metrics.content_type)


def _add_oauth_metadata_routes(app: FastAPI, oauth: OAuthVerifier) -> None:
    async def metadata(request: Request) -> JSONResponse:
        """Serve the RFC 9728 protected resource metadata (where an agent finds the authorization server)."""
        return JSONResponse(oauth.config.metadata(), headers={"Cache-Control": "public, max-age=3600"})

    # RFC 9728 §3.1 inserts the well-known path before the resource's own path (/mcp → …/mcp): serve both forms.
    app.router.routes.append(Route(METADATA_PATH, endpoint=metadata, methods=["GET"], include_in_schema=False))
    app.router.routes.append(
        Route(f"{METADATA_PATH}/{{rest:path}}", endpoint=metadata, methods=["GET"], include_in_schema=False)
    )


def _add_root_route(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def root() -> dict[str, Any]:
        """Point a first visitor (no token needed) at the docs, the health check and the MCP endpoint."""
        return {
            "name": "cerbero-mcp",
            "version": __version__,
            "docs": "/apidocs",
            "openapi": "/openapi.json",
            "health": "/health",
            "mcp": "/mcp",
            "tools": "POST /mcp-<venue>/tools/<tool> with Authorization: Bearer <token> and X-Bot-Tag",
        }


async def readiness(state: AppState) -> dict[str, Any]:
    """Probe each cached client (bounded by READY_PROBE_TIMEOUT_S) and summarise."""
    timeout = state.settings.ready_probe_timeout_s
    cached = state.registry.cached()

    async def probe(key: tuple[str, str], client: Any) -> dict[str, Any]:
        venue, env = key
        started = time.perf_counter()
        record: dict[str, Any] = {"venue": venue, "environment": env}
        if not isinstance(client, ProbeableClient):
            return {**record, "status": "ok", "detail": "no probe"}
        try:
            await asyncio.wait_for(client.probe(), timeout)
        except TimeoutError:
            return {**record, "status": "failed", "detail": f"no answer within {timeout:g} s"}
        except CerberoError as exc:
            return {**record, "status": "failed", "detail": exc.code}
        except Exception as exc:
            return {**record, "status": "failed", "detail": type(exc).__name__}
        return {**record, "status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 3)}

    checks = await asyncio.gather(*(probe(key, client) for key, client in cached.items()))
    failed = sum(1 for check in checks if check["status"] != "ok")
    if failed == 0:
        status = "ready"
    elif failed < len(checks):
        status = "degraded"
    else:
        status = "not_ready"
    report: dict[str, Any] = {"status": status, "checks": list(checks), "data_timestamp": now_iso()}
    sink = state.pipeline.sink
    if not await sink.healthy():
        # No write may go out unaudited: a failing audit log makes the server not ready, whatever the venues say.
        report["status"] = "not_ready"
        report["audit"] = {"status": "failed", "detail": sink.failure}
    return report


def _envelope_response(error: CerberoError, request: Request) -> JSONResponse:
    headers = dict(error.headers)
    if isinstance(error, UnauthorizedError):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="cerbero-mcp"')
    return JSONResponse(
        error_envelope(error, getattr(request.state, "request_id", None)),
        status_code=error.status,
        headers=headers,
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CerberoError)
    async def on_cerbero_error(request: Request, exc: CerberoError) -> JSONResponse:
        return _envelope_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(item.get("type") == "json_invalid" for item in errors):
            detail = next(item for item in errors if item.get("type") == "json_invalid")
            return _envelope_response(
                BadRequestError(
                    f"request body is not valid JSON: {detail.get('ctx', {}).get('error', 'parse error')}",
                    suggested_fix="send a JSON object with Content-Type: application/json",
                ),
                request,
            )
        return _envelope_response(invalid_input(errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: CerberoError
        if exc.status_code == 404:
            error = NotFoundError(
                f"no route {request.method} {request.url.path}",
                suggested_fix="tools are POST /mcp-<venue>/tools/<tool>; see /apidocs",
            )
        elif exc.status_code == 405:
            error = MethodNotAllowedError(
                f"method {request.method} is not allowed on {request.url.path}",
                suggested_fix="tools are called with POST",
            )
        elif exc.status_code == 403:
            error = ForbiddenError(str(exc.detail))
        else:
            error = BadRequestError(str(exc.detail))
        return _envelope_response(error, request)
