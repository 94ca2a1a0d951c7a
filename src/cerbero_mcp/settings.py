"""One settings tree, read once from the environment and `.env`.

Every variable is a field below; its description is the comment `.env.example` carries
(`scripts/gen_env_example.py` writes that file from this module, and a test keeps them in step).
Per-venue credentials come per environment with a shared fallback: `DERIBIT_CLIENT_ID_TESTNET`
falls back to `DERIBIT_CLIENT_ID`. URLs are per environment: `<VENUE>_URL_TESTNET` / `<VENUE>_URL_LIVE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["testnet", "mainnet"]
ENVIRONMENTS: tuple[Environment, ...] = ("testnet", "mainnet")
MIN_TOKEN_LENGTH = 32
# Values copied from .env.example unchanged must never become live credentials.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "replace-me", "your-token-here", "xxx"})


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and what to fix."""


@dataclass(frozen=True)
class VenueDef:
    """What settings a venue has: its default URLs and the names of its credentials."""

    name: str
    url_testnet: str
    url_live: str
    credentials: tuple[str, ...]
    # Credentials a private call cannot do without (the others are optional extras).
    required: tuple[str, ...]


VENUE_DEFS: dict[str, VenueDef] = {
    "deribit": VenueDef(
        "deribit",
        "https://test.deribit.com/api/v2",
        "https://www.deribit.com/api/v2",
        ("client_id", "client_secret"),
        ("client_id", "client_secret"),
    ),
    "bybit": VenueDef(
        "bybit",
        "https://api-testnet.bybit.com",
        "https://api.bybit.com",
        ("api_key", "api_secret"),
        ("api_key", "api_secret"),
    ),
    "hyperliquid": VenueDef(
        "hyperliquid",
        "https://api.hyperliquid-testnet.xyz",
        "https://api.hyperliquid.xyz",
        ("private_key", "account_address"),
        ("private_key",),
    ),
    "alpaca": VenueDef(
        "alpaca",
        "https://paper-api.alpaca.markets",
        "https://api.alpaca.markets",
        ("api_key", "api_secret"),
        ("api_key", "api_secret"),
    ),
    "ibkr": VenueDef(
        "ibkr",
        "https://api.ibkr.com/v1/api",
        "https://api.ibkr.com/v1/api",
        (
            "consumer_key",
            "access_token",
            "access_token_secret",
            "signature_key_path",
            "encryption_key_path",
            "dh_prime",
            "account_id",
        ),
        (
            "consumer_key",
            "access_token",
            "access_token_secret",
            "signature_key_path",
            "encryption_key_path",
            "dh_prime",
        ),
    ),
}

_ENV_SUFFIX: dict[Environment, str] = {"testnet": "testnet", "mainnet": "live"}


def _secret(description: str) -> Any:
    return Field(default=None, description=description)


class Settings(BaseSettings):
    """Every setting of the server; field names are the lower-cased environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- server -----------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface to bind (0.0.0.0 in Docker).")
    port: int = Field(9000, ge=1, le=65535, description="TCP port to listen on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the server's JSON logs."
    )
    public_url: str | None = Field(None, description="URL the server is reached at (printed at start; optional).")

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
    audit_log_file: Path | None = Field(
        None, description="JSONL audit log of every write and admin action (unset: no audit file)."
    )
    audit_hmac_key: SecretStr | None = _secret(
        "Key of the audit log's HMAC chain; required when AUDIT_LOG_FILE is set."
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

    # --- write safety -----------------------------------------------------------------------
    state_db: Path = Field(
        Path("data/state.db"),
        description="SQLite file of the write-safety state (kill switch, idempotency, order rate).",
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

    # --- upstream transport -----------------------------------------------------------------
    upstream_connect_timeout_s: float = Field(5.0, gt=0, le=60, description="Seconds to open a connection to a venue.")
    upstream_read_timeout_s: float = Field(10.0, gt=0, le=120, description="Seconds to wait for a venue's answer.")
    upstream_pool_size: int = Field(100, ge=1, le=10000, description="Connections per (venue, environment) pool.")

    # --- deribit ----------------------------------------------------------------------------
    deribit_url_testnet: str = Field(VENUE_DEFS["deribit"].url_testnet, description="Deribit testnet API base.")
    deribit_url_live: str = Field(VENUE_DEFS["deribit"].url_live, description="Deribit live API base.")
    deribit_client_id: SecretStr | None = _secret("Deribit API client id (both environments).")
    deribit_client_id_testnet: SecretStr | None = _secret("Deribit testnet client id (overrides the shared one).")
    deribit_client_id_live: SecretStr | None = _secret("Deribit live client id (overrides the shared one).")
    deribit_client_secret: SecretStr | None = _secret("Deribit API client secret (both environments).")
    deribit_client_secret_testnet: SecretStr | None = _secret("Deribit testnet client secret.")
    deribit_client_secret_live: SecretStr | None = _secret("Deribit live client secret.")
    deribit_max_leverage: Decimal | None = Field(
        None, gt=0, description="Refuse Deribit orders whose resulting notional/equity exceeds this."
    )

    # --- bybit ------------------------------------------------------------------------------
    bybit_url_testnet: str = Field(VENUE_DEFS["bybit"].url_testnet, description="Bybit testnet API base.")
    bybit_url_live: str = Field(VENUE_DEFS["bybit"].url_live, description="Bybit live API base.")
    bybit_api_key: SecretStr | None = _secret("Bybit API key (both environments).")
    bybit_api_key_testnet: SecretStr | None = _secret("Bybit testnet API key.")
    bybit_api_key_live: SecretStr | None = _secret("Bybit live API key.")
    bybit_api_secret: SecretStr | None = _secret("Bybit API secret (both environments).")
    bybit_api_secret_testnet: SecretStr | None = _secret("Bybit testnet API secret.")
    bybit_api_secret_live: SecretStr | None = _secret("Bybit live API secret.")
    bybit_max_leverage: Decimal | None = Field(None, gt=0, description="Leverage cap for Bybit orders.")

    # --- hyperliquid ------------------------------------------------------------------------
    hyperliquid_url_testnet: str = Field(
        VENUE_DEFS["hyperliquid"].url_testnet, description="Hyperliquid testnet API base."
    )
    hyperliquid_url_live: str = Field(VENUE_DEFS["hyperliquid"].url_live, description="Hyperliquid live API base.")
    hyperliquid_private_key: SecretStr | None = _secret("Hyperliquid signer private key, 0x-hex (both environments).")
    hyperliquid_private_key_testnet: SecretStr | None = _secret("Hyperliquid testnet signer private key.")
    hyperliquid_private_key_live: SecretStr | None = _secret("Hyperliquid live signer private key.")
    hyperliquid_account_address: SecretStr | None = _secret(
        "Hyperliquid account address when the signer is an API wallet (both environments)."
    )
    hyperliquid_account_address_testnet: SecretStr | None = _secret("Hyperliquid testnet account address.")
    hyperliquid_account_address_live: SecretStr | None = _secret("Hyperliquid live account address.")
    hyperliquid_max_leverage: Decimal | None = Field(None, gt=0, description="Leverage cap for Hyperliquid orders.")

    # --- alpaca -----------------------------------------------------------------------------
    alpaca_url_testnet: str = Field(VENUE_DEFS["alpaca"].url_testnet, description="Alpaca paper trading API base.")
    alpaca_url_live: str = Field(VENUE_DEFS["alpaca"].url_live, description="Alpaca live trading API base.")
    alpaca_data_url_testnet: str = Field(
        "https://data.alpaca.markets", description="Alpaca market-data API base used with the testnet token."
    )
    alpaca_data_url_live: str = Field(
        "https://data.alpaca.markets", description="Alpaca market-data API base used with the mainnet token."
    )
    alpaca_api_key: SecretStr | None = _secret("Alpaca API key id (both environments).")
    alpaca_api_key_testnet: SecretStr | None = _secret("Alpaca paper API key id.")
    alpaca_api_key_live: SecretStr | None = _secret("Alpaca live API key id.")
    alpaca_api_secret: SecretStr | None = _secret("Alpaca API secret key (both environments).")
    alpaca_api_secret_testnet: SecretStr | None = _secret("Alpaca paper API secret key.")
    alpaca_api_secret_live: SecretStr | None = _secret("Alpaca live API secret key.")
    alpaca_max_leverage: Decimal | None = Field(None, gt=0, description="Leverage cap for Alpaca orders.")

    # --- ibkr -------------------------------------------------------------------------------
    ibkr_url_testnet: str = Field(VENUE_DEFS["ibkr"].url_testnet, description="IBKR Client Portal API base (paper).")
    ibkr_url_live: str = Field(VENUE_DEFS["ibkr"].url_live, description="IBKR Client Portal API base (live).")
    ibkr_consumer_key: SecretStr | None = _secret("IBKR OAuth consumer key, 9 characters (both environments).")
    ibkr_consumer_key_testnet: SecretStr | None = _secret("IBKR paper consumer key.")
    ibkr_consumer_key_live: SecretStr | None = _secret("IBKR live consumer key.")
    ibkr_access_token: SecretStr | None = _secret("IBKR OAuth access token (both environments).")
    ibkr_access_token_testnet: SecretStr | None = _secret("IBKR paper access token.")
    ibkr_access_token_live: SecretStr | None = _secret("IBKR live access token.")
    ibkr_access_token_secret: SecretStr | None = _secret("IBKR OAuth access token secret, base64 (both environments).")
    ibkr_access_token_secret_testnet: SecretStr | None = _secret("IBKR paper access token secret.")
    ibkr_access_token_secret_live: SecretStr | None = _secret("IBKR live access token secret.")
    ibkr_signature_key_path: SecretStr | None = _secret(
        "Path of the private RSA signature key PEM (both environments)."
    )
    ibkr_signature_key_path_testnet: SecretStr | None = _secret("Path of the paper signature key PEM.")
    ibkr_signature_key_path_live: SecretStr | None = _secret("Path of the live signature key PEM.")
    ibkr_encryption_key_path: SecretStr | None = _secret(
        "Path of the private RSA encryption key PEM (both environments)."
    )
    ibkr_encryption_key_path_testnet: SecretStr | None = _secret("Path of the paper encryption key PEM.")
    ibkr_encryption_key_path_live: SecretStr | None = _secret("Path of the live encryption key PEM.")
    ibkr_dh_prime: SecretStr | None = _secret("Diffie-Hellman prime in hex (both environments).")
    ibkr_dh_prime_testnet: SecretStr | None = _secret("Paper Diffie-Hellman prime in hex.")
    ibkr_dh_prime_live: SecretStr | None = _secret("Live Diffie-Hellman prime in hex.")
    ibkr_account_id: SecretStr | None = _secret("IBKR account id to trade (default: the first account).")
    ibkr_account_id_testnet: SecretStr | None = _secret("IBKR paper account id.")
    ibkr_account_id_live: SecretStr | None = _secret("IBKR live account id.")
    ibkr_max_leverage: Decimal | None = Field(
        None, gt=0, description="Leverage cap for IBKR orders (vs net liquidation)."
    )
    ibkr_ws_max_subscriptions: int = Field(80, ge=1, le=500, description="Market-data subscriptions per IBKR socket.")
    ibkr_ws_idle_timeout_s: float = Field(
        300.0, gt=0, description="Seconds before an unused IBKR market-data subscription is dropped."
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # `FOO=` in .env (as .env.example ships) means "not set": the default applies.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @model_validator(mode="after")
    def _check_audit(self) -> Settings:
        if self.audit_log_file is not None and self.audit_hmac_key is None:
            raise ValueError("AUDIT_HMAC_KEY must be set when AUDIT_LOG_FILE is set")
        return self

    # --- access -----------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment-style mapping only (no process env, no .env)."""
        return cls.model_validate({key.lower(): value for key, value in env.items()})

    def with_overrides(self, env: Mapping[str, str]) -> Settings:
        """Return a copy with environment-style overrides applied (validated)."""
        data = self.model_dump()
        data.update({key.lower(): value for key, value in env.items()})
        return type(self).model_validate(data)

    def venue_url(self, venue: str, env: Environment) -> str:
        """Return the base URL of `venue` for `env` (`<VENUE>_URL_TESTNET` or `_LIVE`)."""
        return str(getattr(self, f"{venue}_url_{_ENV_SUFFIX[env]}")).rstrip("/")

    def venue_credentials(self, venue: str, env: Environment) -> dict[str, str]:
        """Return the credentials of `venue` for `env`, each falling back to its shared value."""
        found: dict[str, str] = {}
        for name in VENUE_DEFS[venue].credentials:
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
            for name in VENUE_DEFS[venue].required
            if name not in have
        ]

    def max_leverage(self, venue: str) -> Decimal | None:
        """Return the leverage cap of `venue`, if one is set."""
        value = getattr(self, f"{venue}_max_leverage", None)
        return value if isinstance(value, Decimal) else None

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
