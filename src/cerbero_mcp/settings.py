"""One settings tree, read once from the environment and `.env`.

Every variable is a field; its description is the comment `.env.example` carries
(`scripts/gen_env_example.py` writes that file from the fields, and a test keeps them in step).
The platform's own fields are below. Each venue declares its settings in
`exchanges/<venue>/config.py` (see `cerbero_mcp.venue_settings`) and `Settings` composes them for
the venues in `cerbero_mcp.exchanges.VENUES`. Per-venue credentials come per environment with a
shared fallback: `DERIBIT_CLIENT_ID_TESTNET` falls back to `DERIBIT_CLIENT_ID`. URLs are per
environment: `<VENUE>_URL_TESTNET` / `<VENUE>_URL_LIVE`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, create_model, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cerbero_mcp.exchanges import PROVIDERS, VENUES
from cerbero_mcp.venue_settings import ProviderSettings, VenueSettings

Environment = Literal["testnet", "mainnet"]
ENVIRONMENTS: tuple[Environment, ...] = ("testnet", "mainnet")
MIN_TOKEN_LENGTH = 32
# Values copied from .env.example unchanged must never become live credentials.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "replace-me", "your-token-here", "xxx"})
AUDIT_OFF = "off"
# Values that look like "no audit" but are not the one explicit word for it.
_AMBIGUOUS_OFF = frozenset({"false", "no", "0", "none", "disabled", "disable", "null"})
# A URL setting: PUBLIC_URL, <VENUE>_URL_TESTNET / _LIVE, and any venue extra named like them.
_URL_FIELD = re.compile(r"(?:^|_)url(?:_|$)")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and what to fix."""


class UnknownSettingError(LookupError):
    """Code asked for a venue or venue setting that no declaration names (a bug, not a bad .env)."""


_ENV_SUFFIX: dict[Environment, str] = {"testnet": "testnet", "mainnet": "live"}


def _secret(description: str) -> Any:
    return Field(default=None, description=description)


class PlatformSettings(BaseSettings):
    """The platform's settings and the venue accessors; `compose_settings` adds the venues' fields."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        # A rejected value (a URL with a password in it) must not reach a log through the error's text.
        hide_input_in_errors=True,
    )
    # The declarations whose fields this class has, by venue name (set by compose_settings).
    venue_declarations: ClassVar[Mapping[str, VenueSettings]] = MappingProxyType({})
    # The read-only data providers' declarations, by provider name (set by compose_settings).
    provider_declarations: ClassVar[Mapping[str, ProviderSettings]] = MappingProxyType({})

    # --- server -----------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface to bind (0.0.0.0 in Docker).")
    port: int = Field(9000, ge=1, le=65535, description="TCP port to listen on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the server's JSON logs."
    )
    public_url: str | None = Field(None, description="URL the server is reached at (printed at start; optional).")
    data_dir: Path = Field(
        Path("data"),
        description="Directory of the server's own files: the audit log, its generated HMAC key and the state DB.",
    )

    # --- tokens -----------------------------------------------------------------------------
    testnet_token: SecretStr | None = _secret(
        "Bearer token that routes a request to each venue's testnet/paper (>= 32 characters)."
    )
    mainnet_token: SecretStr | None = _secret(
        "Bearer token that routes a request to each venue's mainnet/live (>= 32 characters)."
    )
    admin_token: SecretStr | None = _secret(
        "Bearer token for admin write actions; while unset those endpoints answer 403."
    )

    # --- audit ------------------------------------------------------------------------------
    audit_log_file: Path | Literal["off"] | None = Field(
        None,
        description="JSONL audit log of every write and admin action (unset: DATA_DIR/audit.jsonl; off: none).",
    )
    audit_hmac_key: SecretStr | None = _secret(
        "Key of the audit log's HMAC chain (unset: generated at first start into <audit log>.key, mode 600)."
    )
    audit_log_backup_days: int = Field(30, ge=1, le=3650, description="Days of rotated audit files to keep.")
    audit_fsync: bool = Field(True, description="fsync each audit record before the response returns (durability).")

    # --- health and MCP ---------------------------------------------------------------------
    ready_fails_on_degraded: bool = Field(
        False, description="Answer 503 on /health/ready unless every venue probe succeeds."
    )
    ready_probe_timeout_s: float = Field(2.0, gt=0, le=30, description="Seconds each readiness probe may take.")
    mcp_allowed_hosts: str = Field(
        "127.0.0.1:*,localhost:*,[::1]:*",
        description="Comma-separated Host values /mcp accepts (add your public host behind Traefik; * allows any).",
    )
    mcp_allowed_origins: str = Field(
        "http://127.0.0.1:*,http://localhost:*,http://[::1]:*",
        description="Comma-separated Origin values /mcp accepts from browsers (* allows any).",
    )
    # Issue 21 (MCP toolsets): checked against the installed toolsets when the app is built (ConfigError).
    mcp_toolsets: str = Field(
        "all",
        description="Comma-separated toolsets /mcp serves (deribit, bybit, ..., macro; all = every installed one);"
        " clients narrow them with /mcp/x/<toolset> or X-MCP-Toolsets. REST routes are not affected.",
    )

    # --- write safety -----------------------------------------------------------------------
    state_db: Path = Field(
        None,  # type: ignore[assignment]  # unset: derived from DATA_DIR by _state_db_under_data_dir
        description="SQLite file of the write-safety state and the audit chain's head (unset: DATA_DIR/state.db); "
        "a postgresql:// URL instead selects the state shared by several replicas (see STATE_DB_URL).",
    )
    kill_switch_on_start: bool = Field(
        False, description="Engage the kill switch for both environments at every start."
    )
    idempotency_ttl_s: int = Field(
        86400, ge=60, le=7 * 86400, description="Seconds a client_order_id's stored answer is replayed."
    )
    max_order_notional_usd: str = Field(
        "",
        description="Per-order notional cap in USD as scoped rules env.venue=value, e.g. mainnet.deribit=50000.",
    )
    max_order_qty: str = Field(
        "", description="Per-order quantity cap in venue units, as scoped rules, e.g. mainnet.deribit=100000."
    )
    max_orders_per_minute: str = Field(
        "", description="Orders per minute per bot tag, as scoped rules, e.g. mainnet.*=30,testnet.*=600."
    )
    symbol_allowlist: str = Field(
        "",
        description="Instruments each scope may trade (| separated), e.g. mainnet.deribit=BTC-PERPETUAL|ETH-PERPETUAL.",
    )
    # --- replicas: the shared state on PostgreSQL (issue 19, items 1-4; state_pg.py, audit_pg.py) ---
    state_db_url: SecretStr | None = _secret(
        "PostgreSQL URL of the state, audit and venue budgets shared by several replicas; STATE_DB=postgresql://… "
        "sets it too (unset: one process on the SQLite STATE_DB). Needs AUDIT_HMAC_KEY, the same on every replica."
    )
    replica_id: str = Field(
        "",
        max_length=200,
        description="This replica's name in the shared audit (one HMAC chain per replica) and in its pending "
        "idempotency keys (unset: the host name, a container's stays the same across its restarts).",
    )
    # --- replicas: the IBKR session owner (issue 19, items 5-6; session_owner.py) ---------------
    replica_url: str = Field(
        "",
        description="This replica's internal base URL the other replicas forward IBKR calls to when it owns the "
        "IBKR session (unset: http://<hostname>:<PORT>); used only with STATE_DB=postgresql://….",
    )
    replica_secret: SecretStr | None = _secret(
        "Shared secret replicas authenticate forwarded IBKR calls with (the same on every replica; required for "
        "IBKR on a replica that does not own the session; used only with STATE_DB=postgresql://…)."
    )
    ibkr_owner_poll_s: float = Field(
        1.0,
        gt=0.05,
        le=30,
        description="Seconds between a replica's IBKR session-owner lock attempts and heartbeats "
        "(a dead owner's session is taken over within about this).",
    )
    # --- risk desk gates (issue 20; parsed by exchanges/risk/rules.py, refused at start when malformed) ---
    max_total_notional_usd: str = Field(
        "",
        description="Cap on the environment's gross notional in USD across every venue, as scoped rules "
        "(env.venue=value; the venue part names the venue of the write), e.g. mainnet.*=250000.",
    )
    max_net_delta_usd: str = Field(
        "",
        description="Cap on |net delta| in USD per underlying across every venue, as scoped rules, "
        "e.g. mainnet.*=100000.",
    )
    pdt_guard: str = Field(
        "",
        description="Refuse the day trade that breaks FINRA's pattern-day-trader rule (margin accounts under $25,000), "
        "as scoped rules of true/false, e.g. mainnet.alpaca=true (a bare true means *=true).",
    )
    trading_windows: str = Field(
        "",
        description="When opening writes are allowed, as scoped rules of |-separated HH:MM-HH:MM windows and a time "
        "zone, e.g. mainnet.alpaca=09:35-15:55 America/New_York; reducing writes always pass.",
    )
    require_approval_above_usd: str = Field(
        "",
        description="Opening writes above this USD notional wait for an admin's approval (202 with an approval id), "
        "as scoped rules, e.g. mainnet.*=50000.",
    )
    approval_ttl_s: int = Field(
        900, ge=5, le=7 * 86400, description="Seconds an approval stays valid, from its request (pending or approved)."
    )
    risk_venue_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Seconds each venue has to answer a cross-venue read (portfolio, caps)."
    )

    # --- upstream transport -----------------------------------------------------------------
    upstream_connect_timeout_s: float = Field(5.0, gt=0, le=60, description="Seconds to open a connection to a venue.")
    upstream_read_timeout_s: float = Field(10.0, gt=0, le=120, description="Seconds to wait for a venue's answer.")
    upstream_pool_size: int = Field(100, ge=1, le=10000, description="Connections per (venue, environment) pool.")

    # --- HTTP limits ------------------------------------------------------------------------
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=1024**3, description="Largest request body accepted; a larger one answers 413 unread."
    )
    http_max_header_bytes: int = Field(
        64 * 1024, ge=4096, le=1024 * 1024, description="Largest request line plus headers; a larger one is refused."
    )
    http_header_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds a connection may take to send a request's headers, else it is closed."
    )
    http_keep_alive_s: int = Field(5, ge=1, le=300, description="Seconds an idle keep-alive connection stays open.")
    max_connections: int = Field(
        1000, ge=1, le=100000, description="Open connections served at once; a request over this answers 503."
    )
    mcp_max_streams: int = Field(100, ge=1, le=100000, description="Open GET /mcp event streams per server.")
    mcp_max_streams_per_token: int = Field(10, ge=1, le=100000, description="Open GET /mcp event streams per token.")
    mcp_stream_max_lifetime_s: float = Field(
        600.0, gt=0, le=86400, description="Seconds a GET /mcp event stream stays open before the server closes it."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Comma-separated proxy IPs/CIDRs whose X-Forwarded-For/-Proto are trusted (* trusts anyone).",
    )
    # --- OAuth 2.1 resource server and per-caller limits (issue 21, items 4-5; oauth.py, rate_limits.py) ---
    oauth_issuer: str | None = Field(
        None,
        description="Issuer (iss) of the JWT access tokens /mcp and the tools accept; set with OAUTH_JWKS_URL and "
        "OAUTH_AUDIENCE (all three or none; none: OAuth off, the static tokens only).",
    )
    oauth_jwks_url: str | None = Field(
        None, description="URL of the issuer's JWKS (its public signing keys, RS256/ES256), fetched and cached."
    )
    oauth_audience: str | None = Field(
        None,
        description="This server's URL as the tokens' audience (aud) and RFC 9728 resource, e.g. https://cerbero.example.com.",
    )
    oauth_jwks_ttl_s: float = Field(
        300.0, ge=10, le=86400, description="Seconds the issuer's JWKS is cached (an unknown kid refetches it sooner)."
    )
    oauth_leeway_s: float = Field(
        30.0, ge=0, le=300, description="Seconds of clock skew allowed on a JWT's exp and nbf."
    )
    rate_limit_per_bot: str = Field(
        "",
        description="Tool calls per bot tag per venue and environment, as scoped rules of <calls>/<window> "
        "(s, min, h), e.g. mainnet.*=60/min,*=10/s; a call over it answers 429 with Retry-After (per process).",
    )
    max_concurrent_calls_per_token: int = Field(
        # Every bot of an environment shares its static token: the cap bounds a runaway client, not normal fan-out.
        256,
        ge=1,
        le=100000,
        description="Tool calls one token may have in flight at once; one more answers 429.",
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # `FOO=` in .env (as .env.example ships) means "not set": the default applies.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("audit_log_file", mode="before")
    @classmethod
    def _audit_off_is_explicit(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word == AUDIT_OFF:
                return AUDIT_OFF
            if word in _AMBIGUOUS_OFF:
                raise ValueError(
                    f"{value!r} is not a path; to run without an audit log write AUDIT_LOG_FILE=off"
                    " (leave it blank for the default DATA_DIR/audit.jsonl)"
                )
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_credentials_in_urls(cls, value: Any, info: ValidationInfo) -> Any:
        # Userinfo in a URL would be shown by environment_info and the logs, and breaks private calls.
        name = info.field_name or ""
        if isinstance(value, str) and _URL_FIELD.search(name) and url_has_userinfo(value):
            venue = next((d for d in cls.venue_declarations.values() if name.startswith(f"{d.name}_")), None)
            if venue is None:
                raise ValueError("has credentials in it (user:password@host); remove them from the URL")
            where = ", ".join(f"{venue.name}_{c.name}".upper() for c in venue.credentials)
            raise ValueError(
                f"has credentials in it (user:password@host); put credentials in {venue.name.upper()}_<CRED>"
                f" variables ({where}), not in the URL"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _state_db_may_be_a_postgres_url(cls, data: Any) -> Any:
        # Issue 19: STATE_DB=postgresql://… selects the shared PostgreSQL state. The URL (it may carry a
        # password) moves to the secret STATE_DB_URL, so it is never shown as a path; STATE_DB falls back
        # to its default.
        if isinstance(data, dict):
            value = data.get("state_db")
            if isinstance(value, str) and value.startswith(("postgresql://", "postgres://")):
                data = {k: v for k, v in data.items() if k != "state_db"}
                data.setdefault("state_db_url", value)
            elif value not in (None, "") and data.get("state_db_url") not in (None, ""):
                # Which one the replicas share must never be a guess: one on a file would split the fleet.
                raise ValueError("STATE_DB names a file and STATE_DB_URL a PostgreSQL database: set only one of them")
        return data

    @field_validator("state_db", mode="before")
    @classmethod
    def _state_db_under_data_dir(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return Path(info.data.get("data_dir", "data")) / "state.db"
        return value

    # --- derived paths ----------------------------------------------------------------------
    @property
    def audit_path(self) -> Path | None:
        """Return the audit log's path: AUDIT_LOG_FILE, else DATA_DIR/audit.jsonl; None when turned off."""
        if self.audit_log_file == AUDIT_OFF:
            return None
        if isinstance(self.audit_log_file, Path):
            return self.audit_log_file
        return self.data_dir / "audit.jsonl"

    # --- access -----------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Self:
        """Build settings from an environment-style mapping only (no process env, no .env)."""
        return cls.model_validate({key.lower(): value for key, value in env.items()})

    def with_overrides(self, env: Mapping[str, str]) -> Self:
        """Return a copy with environment-style overrides applied (validated)."""
        # Only what was set: a value derived from another (STATE_DB from DATA_DIR) is derived again.
        data = self.model_dump(exclude_unset=True)
        data.update({key.lower(): value for key, value in env.items()})
        return type(self).model_validate(data)

    def venue_declaration(self, venue: str) -> VenueSettings:
        """Return the settings declaration of `venue`; raise UnknownSettingError if it has none."""
        try:
            return self.venue_declarations[venue]
        except KeyError:
            declared = ", ".join(self.venue_declarations) or "none"
            raise UnknownSettingError(
                f"no settings are declared for venue {venue!r} (declared: {declared}); a venue declares them"
                f" in cerbero_mcp/exchanges/<venue>/config.py and is listed in cerbero_mcp.exchanges.VENUES"
            ) from None

    def venue_url(self, venue: str, env: Environment) -> str:
        """Return the base URL of `venue` for `env` (`<VENUE>_URL_TESTNET` or `_LIVE`)."""
        self.venue_declaration(venue)
        return str(getattr(self, f"{venue}_url_{_ENV_SUFFIX[env]}")).rstrip("/")

    def venue_credentials(self, venue: str, env: Environment) -> dict[str, str]:
        """Return the credentials of `venue` for `env`, each falling back to its shared value."""
        found: dict[str, str] = {}
        for credential in self.venue_declaration(venue).credentials:
            name = credential.name
            value = getattr(self, f"{venue}_{name}_{_ENV_SUFFIX[env]}") or getattr(self, f"{venue}_{name}")
            if value is not None and value.get_secret_value().strip():
                found[name] = value.get_secret_value()
        return found

    def missing_credentials(self, venue: str, env: Environment) -> list[str]:
        """Return the variable names a private call of `venue` in `env` still needs."""
        have = self.venue_credentials(venue, env)
        suffix = _ENV_SUFFIX[env].upper()
        return [
            f"{venue.upper()}_{name.upper()}_{suffix} (or {venue.upper()}_{name.upper()})"
            for name in self.venue_declaration(venue).required_credentials
            if name not in have
        ]

    def max_leverage(self, venue: str) -> Decimal | None:
        """Return the leverage cap of `venue`, if one is set (None for a venue without settings)."""
        value = getattr(self, f"{venue}_max_leverage", None) if venue in self.venue_declarations else None
        return value if isinstance(value, Decimal) else None

    def venue_option(self, venue: str, name: str) -> Any:
        """Return the venue-specific setting `name` of `venue` (an extra of its config.py, e.g. ws_idle_timeout_s)."""
        declaration = self.venue_declaration(venue)
        if name not in declaration.extra_names:
            extras = ", ".join(declaration.extra_names) or "none"
            raise UnknownSettingError(
                f"venue {venue!r} declares no setting {name!r} (its extras: {extras});"
                f" declare it in cerbero_mcp/exchanges/{venue}/config.py"
            )
        return getattr(self, f"{venue}_{name}")

    def provider_option(self, provider: str, name: str) -> Any:
        """Return the setting `name` of data provider `provider` (declared in its config.py's PROVIDER_SETTINGS)."""
        declaration = self.provider_declarations.get(provider)
        if declaration is None:
            declared = ", ".join(self.provider_declarations) or "none"
            raise UnknownSettingError(
                f"no settings are declared for provider {provider!r} (declared: {declared}); a provider declares"
                f" them in cerbero_mcp/exchanges/<provider>/config.py and is listed in cerbero_mcp.exchanges.PROVIDERS"
            )
        if name not in declaration.setting_names:
            raise UnknownSettingError(
                f"provider {provider!r} declares no setting {name!r} (its settings:"
                f" {', '.join(declaration.setting_names) or 'none'})"
            )
        return getattr(self, name)

    def token_environment(self) -> dict[str, Environment]:
        """Return the bearer-token → environment table (only tokens that are set)."""
        table: dict[str, Environment] = {}
        if self.testnet_token is not None:
            table[self.testnet_token.get_secret_value()] = "testnet"
        if self.mainnet_token is not None:
            table[self.mainnet_token.get_secret_value()] = "mainnet"
        return table

    def check_serving(self) -> None:
        """Raise ConfigError unless the tokens are fit to serve real traffic."""
        missing = [
            name
            for name, value in (("TESTNET_TOKEN", self.testnet_token), ("MAINNET_TOKEN", self.mainnet_token))
            if value is None
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} must be set (random strings of at least {MIN_TOKEN_LENGTH} characters,"
                ' e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`), or run with --demo'
            )
        for name, value in (
            ("TESTNET_TOKEN", self.testnet_token),
            ("MAINNET_TOKEN", self.mainnet_token),
            ("ADMIN_TOKEN", self.admin_token),
        ):
            if value is None:
                continue
            secret = value.get_secret_value()
            if secret.strip().lower() in PLACEHOLDER_SECRETS:
                raise ConfigError(f"{name} is a placeholder value; set a real random token")
            if len(secret) < MIN_TOKEN_LENGTH:
                raise ConfigError(f"{name} is {len(secret)} characters; it must be at least {MIN_TOKEN_LENGTH}")
        tokens = [t.get_secret_value() for t in (self.testnet_token, self.mainnet_token, self.admin_token) if t]
        if len(set(tokens)) != len(tokens):
            raise ConfigError("TESTNET_TOKEN, MAINNET_TOKEN and ADMIN_TOKEN must all be different")


def url_has_userinfo(url: str) -> bool:
    """Return whether `url` carries a user name or password (`scheme://user:pass@host`)."""
    text = url.strip()
    authority = text.partition("://")[2] if "://" in text else text
    return "@" in re.split(r"[/?#]", authority, maxsplit=1)[0]


def compose_settings(
    declarations: Iterable[VenueSettings], providers: Iterable[ProviderSettings] = ()
) -> type[PlatformSettings]:
    """Return a Settings class: the platform fields plus the fields each venue and provider declaration adds."""
    by_venue: dict[str, VenueSettings] = {}
    by_provider: dict[str, ProviderSettings] = {}
    fields: dict[str, Any] = {}
    for declaration in declarations:
        if declaration.name in by_venue:
            raise ValueError(f"venue {declaration.name!r} is declared twice")
        by_venue[declaration.name] = declaration
        for name, definition in declaration.fields().items():
            if name in fields or name in PlatformSettings.model_fields:
                raise ValueError(f"{name.upper()} of venue {declaration.name!r} is already a setting")
            fields[name] = definition
    for provider in providers:
        if provider.name in by_provider or provider.name in by_venue:
            raise ValueError(f"provider {provider.name!r} is declared twice")
        by_provider[provider.name] = provider
        for name, definition in provider.fields().items():
            if name in fields or name in PlatformSettings.model_fields:
                raise ValueError(f"{name.upper()} of provider {provider.name!r} is already a setting")
            fields[name] = definition
    return create_model(
        "Settings",
        __base__=PlatformSettings,
        __module__=__name__,
        __doc__="Every setting of the server; field names are the lower-cased environment variables.",
        __namespace__={
            "venue_declarations": MappingProxyType(by_venue),
            "provider_declarations": MappingProxyType(by_provider),
        },
        **fields,
    )


def installed_declarations(venues: Iterable[str] = VENUES) -> tuple[VenueSettings, ...]:
    """Return `VENUE_SETTINGS` of `cerbero_mcp.exchanges.<venue>.config` for each venue."""
    found = []
    for venue in venues:
        declaration = getattr(importlib.import_module(f"cerbero_mcp.exchanges.{venue}.config"), "VENUE_SETTINGS", None)
        if not isinstance(declaration, VenueSettings) or declaration.name != venue:
            raise TypeError(
                f"cerbero_mcp.exchanges.{venue}.config must define VENUE_SETTINGS = VenueSettings({venue!r}, ...)"
            )
        found.append(declaration)
    return tuple(found)


def installed_provider_declarations(providers: Iterable[str] = PROVIDERS) -> tuple[ProviderSettings, ...]:
    """Return `PROVIDER_SETTINGS` of `cerbero_mcp.exchanges.<provider>.config` for each data provider."""
    found = []
    for provider in providers:
        module = importlib.import_module(f"cerbero_mcp.exchanges.{provider}.config")
        declaration = getattr(module, "PROVIDER_SETTINGS", None)
        if not isinstance(declaration, ProviderSettings) or declaration.name != provider:
            raise TypeError(
                f"cerbero_mcp.exchanges.{provider}.config must define"
                f" PROVIDER_SETTINGS = ProviderSettings({provider!r}, ...)"
            )
        found.append(declaration)
    return tuple(found)


# mypy cannot follow fields made at run time, so it checks every use of Settings against
# PlatformSettings: the platform fields are typed attributes, and venue settings are reached only
# through the typed accessors (venue_url, venue_credentials, missing_credentials, max_leverage,
# venue_option). At run time Settings is the composed class, one pydantic-settings model.
if TYPE_CHECKING:
    Settings = PlatformSettings
else:
    Settings = compose_settings(installed_declarations(), installed_provider_declarations())


def describe_validation_error(error: ValidationError) -> str:
    """Turn a settings ValidationError into lines that name each variable and what is wrong."""
    lines = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}" if item["loc"] else message)
    return "; ".join(lines)


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read settings from the process environment and `env_file`; raise ConfigError if invalid."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc
