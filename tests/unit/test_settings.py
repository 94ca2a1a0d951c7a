"""Settings: per-environment credentials with fallback, validation messages, serving checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from cerbero_mcp.settings import ConfigError, Settings, load_settings

TOKENS = {"TESTNET_TOKEN": "t" * 32, "MAINNET_TOKEN": "m" * 32}


def test_defaults_point_at_the_real_venues() -> None:
    settings = Settings.from_mapping({})
    assert settings.port == 9000
    assert settings.venue_url("deribit", "testnet") == "https://test.deribit.com/api/v2"
    assert settings.venue_url("deribit", "mainnet") == "https://www.deribit.com/api/v2"
    assert settings.venue_url("ibkr", "mainnet") == "https://api.ibkr.com/v1/api"
    assert settings.venue_option("ibkr", "ws_max_subscriptions") == 80
    assert settings.venue_option("ibkr", "ws_idle_timeout_s") == 300.0
    assert settings.max_leverage("deribit") is None


def test_env_specific_credentials_override_the_shared_ones() -> None:
    settings = Settings.from_mapping(
        {"DERIBIT_CLIENT_ID": "shared-id", "DERIBIT_CLIENT_ID_LIVE": "live-id", "DERIBIT_CLIENT_SECRET": "s"}
    )
    assert settings.venue_credentials("deribit", "testnet") == {"client_id": "shared-id", "client_secret": "s"}
    assert settings.venue_credentials("deribit", "mainnet") == {"client_id": "live-id", "client_secret": "s"}


def test_missing_credentials_name_the_variables() -> None:
    settings = Settings.from_mapping({"DERIBIT_CLIENT_ID_TESTNET": "k"})
    assert settings.missing_credentials("deribit", "testnet") == [
        "DERIBIT_CLIENT_SECRET_TESTNET (or DERIBIT_CLIENT_SECRET)"
    ]
    assert settings.missing_credentials("deribit", "mainnet") == [
        "DERIBIT_CLIENT_ID_LIVE (or DERIBIT_CLIENT_ID)",
        "DERIBIT_CLIENT_SECRET_LIVE (or DERIBIT_CLIENT_SECRET)",
    ]


def test_optional_credentials_are_returned_but_never_missing() -> None:
    settings = Settings.from_mapping({"IBKR_ACCOUNT_ID_LIVE": "U123"})
    assert "IBKR_ACCOUNT_ID_LIVE (or IBKR_ACCOUNT_ID)" not in settings.missing_credentials("ibkr", "mainnet")
    assert len(settings.missing_credentials("ibkr", "mainnet")) == 6
    assert settings.venue_credentials("ibkr", "mainnet") == {"account_id": "U123"}
    assert settings.venue_credentials("ibkr", "testnet") == {}


def test_venue_extras_and_leverage_cap_are_read_from_the_environment() -> None:
    settings = Settings.from_mapping(
        {"IBKR_WS_MAX_SUBSCRIPTIONS": "12", "IBKR_WS_IDLE_TIMEOUT_S": "7.5", "IBKR_MAX_LEVERAGE": "3"}
    )
    assert settings.venue_option("ibkr", "ws_max_subscriptions") == 12
    assert settings.venue_option("ibkr", "ws_idle_timeout_s") == 7.5
    assert settings.max_leverage("ibkr") == Decimal(3)
    assert settings.max_leverage("toy") is None


def test_retired_venue_variables_are_not_settings() -> None:
    from cerbero_mcp.exchanges import VENUES

    # Until a venue is registered again (its own package), none of its variables are settings.
    for prefix in (f"{venue}_" for venue in ("hyperliquid", "alpaca") if venue not in VENUES):
        assert not [name for name in Settings.model_fields if name.startswith(prefix)]


def test_url_override_wins_and_trailing_slash_is_dropped() -> None:
    settings = Settings.from_mapping({"DERIBIT_URL_TESTNET": "http://127.0.0.1:8001/api/v2/"})
    assert settings.venue_url("deribit", "testnet") == "http://127.0.0.1:8001/api/v2"


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.from_mapping({**TOKENS, "DERIBIT_CLIENT_SECRET": "topsecret"})
    assert "topsecret" not in repr(settings)
    assert "t" * 32 not in repr(settings)


def test_check_serving_names_missing_tokens() -> None:
    with pytest.raises(ConfigError, match="TESTNET_TOKEN and MAINNET_TOKEN must be set"):
        Settings.from_mapping({}).check_serving()
    with pytest.raises(ConfigError, match=r"^MAINNET_TOKEN must be set"):
        Settings.from_mapping({"TESTNET_TOKEN": "t" * 32}).check_serving()


def test_check_serving_refuses_short_equal_and_placeholder_tokens() -> None:
    with pytest.raises(ConfigError, match="MAINNET_TOKEN is 31 characters; it must be at least 32"):
        Settings.from_mapping({"TESTNET_TOKEN": "t" * 32, "MAINNET_TOKEN": "m" * 31}).check_serving()
    with pytest.raises(ConfigError, match="must all be different"):
        Settings.from_mapping({"TESTNET_TOKEN": "x" * 32, "MAINNET_TOKEN": "x" * 32}).check_serving()
    with pytest.raises(ConfigError, match="ADMIN_TOKEN is a placeholder"):
        Settings.from_mapping({**TOKENS, "ADMIN_TOKEN": "changeme"}).check_serving()
    Settings.from_mapping(TOKENS).check_serving()


def test_blank_token_means_unset() -> None:
    assert Settings.from_mapping({"ADMIN_TOKEN": "  "}).admin_token is None


def test_errors_at_start_name_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=ninety\n")
    with pytest.raises(ConfigError, match=r"^PORT: Input should be a valid integer"):
        load_settings(env_file)
    env_file.write_text("AUDIT_LOG_FILE=false\n")
    with pytest.raises(ConfigError, match=r"^AUDIT_LOG_FILE: 'false' is not a path; .* write AUDIT_LOG_FILE=off"):
        load_settings(env_file)
    env_file.write_text("DERIBIT_MAX_LEVERAGE=-2\n")
    with pytest.raises(ConfigError, match=r"^DERIBIT_MAX_LEVERAGE: Input should be greater than 0"):
        load_settings(env_file)
    env_file.write_text("IBKR_WS_MAX_SUBSCRIPTIONS=501\n")
    with pytest.raises(ConfigError, match=r"^IBKR_WS_MAX_SUBSCRIPTIONS: Input should be less than or equal to 500"):
        load_settings(env_file)


def test_env_file_and_process_env_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9100\nDERIBIT_CLIENT_ID=from-file\n")
    monkeypatch.setenv("DERIBIT_CLIENT_ID", "from-env")
    settings = load_settings(env_file)
    assert settings.port == 9100
    assert settings.venue_credentials("deribit", "testnet")["client_id"] == "from-env"


def test_with_overrides_validates() -> None:
    settings = Settings.from_mapping(TOKENS).with_overrides({"PORT": "9200", "IBKR_WS_IDLE_TIMEOUT_S": "60"})
    assert settings.port == 9200
    assert type(settings) is Settings
    assert settings.venue_option("ibkr", "ws_idle_timeout_s") == 60.0
    assert settings.testnet_token is not None
    assert settings.testnet_token.get_secret_value() == "t" * 32


def test_env_example_lists_every_setting_and_loads_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path as P

    root = P(__file__).resolve().parents[2]
    text = (root / ".env.example").read_text()
    names = {line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert names == {name.upper() for name in Settings.model_fields}
    for name in Settings.model_fields:
        assert f"\n# {Settings.model_fields[name].description}\n{name.upper()}=" in text
    for name in names:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(root / ".env.example")
    assert settings.audit_path == Path("data/audit.jsonl")  # the blank AUDIT_LOG_FILE= keeps audit on
    assert settings.state_db == Path("data/state.db")
    assert settings.testnet_token is None
    assert settings.port == 9000


def test_env_example_is_generated_from_settings() -> None:
    import subprocess
    import sys
    from pathlib import Path as P

    root = P(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_env_example.py"), "--check"], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- audit and the data directory ---------------------------------------------------------------


def test_audit_and_state_live_under_the_data_dir_by_default() -> None:
    settings = Settings.from_mapping({})
    assert settings.data_dir == Path("data")
    assert settings.audit_path == Path("data/audit.jsonl")
    assert settings.audit_hmac_key is None
    assert settings.state_db == Path("data/state.db")
    moved = Settings.from_mapping({"DATA_DIR": "/srv/cerbero"})
    assert (moved.audit_path, moved.state_db) == (Path("/srv/cerbero/audit.jsonl"), Path("/srv/cerbero/state.db"))


def test_audit_log_file_and_state_db_still_override_the_data_dir() -> None:
    settings = Settings.from_mapping(
        {"DATA_DIR": "/srv/c", "AUDIT_LOG_FILE": "/var/log/c/audit.jsonl", "STATE_DB": "/var/lib/c/s.db"}
    )
    assert settings.audit_path == Path("/var/log/c/audit.jsonl")
    assert settings.state_db == Path("/var/lib/c/s.db")


def test_a_blank_audit_log_file_keeps_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_mapping({"AUDIT_LOG_FILE": "", "AUDIT_HMAC_KEY": " "}).audit_path == Path("data/audit.jsonl")
    # docker compose: the image sets DATA_DIR, and .env (copied from .env.example) has `AUDIT_LOG_FILE=`.
    monkeypatch.setenv("DATA_DIR", "/app/data")
    monkeypatch.setenv("AUDIT_LOG_FILE", "")
    env_file = tmp_path / ".env"
    env_file.write_text("AUDIT_LOG_FILE=\nAUDIT_HMAC_KEY=\nSTATE_DB=\n")
    settings = load_settings(env_file)
    assert settings.audit_path == Path("/app/data/audit.jsonl")
    assert settings.state_db == Path("/app/data/state.db")


@pytest.mark.parametrize("value", ["off", "OFF", " Off "])
def test_audit_is_off_only_when_asked_by_name(value: str) -> None:
    settings = Settings.from_mapping({"AUDIT_LOG_FILE": value})
    assert settings.audit_log_file == "off"
    assert settings.audit_path is None
    assert settings.with_overrides({"PORT": "9100"}).audit_path is None  # and stays off through overrides


@pytest.mark.parametrize("value", ["false", "no", "0", "none", "disabled"])
def test_words_that_look_like_off_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="AUDIT_LOG_FILE=off"):
        Settings.from_mapping({"AUDIT_LOG_FILE": value})


def test_overriding_the_data_dir_moves_what_follows_it() -> None:
    settings = Settings.from_mapping({}).with_overrides({"DATA_DIR": "demo-data"})
    assert (settings.audit_path, settings.state_db) == (Path("demo-data/audit.jsonl"), Path("demo-data/state.db"))
    pinned = Settings.from_mapping({"STATE_DB": "/x/s.db"}).with_overrides({"DATA_DIR": "demo-data"})
    assert pinned.state_db == Path("/x/s.db")


def test_a_blank_value_means_unset_for_every_setting() -> None:
    defaults = Settings.from_mapping({})
    for name in Settings.model_fields:
        for blank in ("", "  "):
            settings = Settings.from_mapping({name.upper(): blank})
            assert getattr(settings, name) == getattr(defaults, name), name
            assert name not in settings.model_fields_set


# --- credentials in URLs --------------------------------------------------------------------------

URL_SECRET = "hunter2-" + "p" * 24


def url_settings() -> list[str]:
    """Return every URL setting: PUBLIC_URL and each venue's `<VENUE>_URL_TESTNET` / `_LIVE`."""
    return [name.upper() for name in Settings.model_fields if name == "public_url" or "_url_" in name]


def test_every_url_setting_is_checked() -> None:
    names = url_settings()
    for venue in Settings.venue_declarations:
        assert {f"{venue.upper()}_URL_TESTNET", f"{venue.upper()}_URL_LIVE"} <= set(names)
    assert "PUBLIC_URL" in names


@pytest.mark.parametrize(
    "value",
    [
        f"https://user:{URL_SECRET}@test.deribit.com/api/v2",
        f"https://{URL_SECRET}@test.deribit.com/api/v2",
        f"http://user:{URL_SECRET}@127.0.0.1:8001",
        f"user:{URL_SECRET}@test.deribit.com/api/v2",
    ],
)
def test_credentials_in_a_url_refuse_to_start_naming_the_variable(tmp_path: Path, value: str) -> None:
    env_file = tmp_path / ".env"
    for name in url_settings():
        env_file.write_text(f"{name}={value}\n")
        with pytest.raises(ConfigError) as caught:
            load_settings(env_file)
        message = str(caught.value)
        assert message.startswith(f"{name}: has credentials in it")
        if name != "PUBLIC_URL":
            venue = name.split("_URL_")[0]
            assert f"put credentials in {venue}_<CRED> variables" in message
            assert f"{venue}_" in message.split("variables (")[1]
            assert message.endswith("not in the URL")
        # Neither the message nor the chained pydantic error repeats the value.
        assert URL_SECRET not in message
        assert URL_SECRET not in str(caught.value.__cause__)


def test_deribit_url_credentials_name_its_credential_variables() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.from_mapping({"DERIBIT_URL_TESTNET": f"https://user:{URL_SECRET}@test.deribit.com/api/v2"})
    message = str(caught.value)
    assert "DERIBIT_CLIENT_ID, DERIBIT_CLIENT_SECRET" in message
    assert URL_SECRET not in message


def test_urls_without_userinfo_are_accepted() -> None:
    settings = Settings.from_mapping(
        {
            "DERIBIT_URL_TESTNET": "https://test.deribit.com/api/v2/x@y?who=a@b#c@d",
            "IBKR_URL_LIVE": "http://[::1]:5000/v1/api",
            "PUBLIC_URL": "https://gateway.example.com",
        }
    )
    assert settings.venue_url("deribit", "testnet") == "https://test.deribit.com/api/v2/x@y?who=a@b#c@d"
    assert settings.venue_url("ibkr", "mainnet") == "http://[::1]:5000/v1/api"
