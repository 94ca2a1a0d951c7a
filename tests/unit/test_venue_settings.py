"""Venue settings declared per venue folder and composed into the one Settings class."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, ValidationError

from cerbero_mcp.exchanges import PROVIDERS, VENUES
from cerbero_mcp.settings import (
    PlatformSettings,
    Settings,
    UnknownSettingError,
    compose_settings,
    installed_declarations,
    installed_provider_declarations,
)
from cerbero_mcp.venue_settings import Credential, ExtraSetting, VenueSettings, VenueUrl

ROOT = Path(__file__).resolve().parents[2]

FAKE = VenueSettings(
    name="fakex",
    title="FakeX",
    url_testnet=VenueUrl("https://test.fakex.example/api", "FakeX testnet API base."),
    url_live=VenueUrl("https://fakex.example/api", "FakeX live API base."),
    credentials=(
        Credential("api_key", "FakeX API key (both environments)."),
        Credential("api_secret", "FakeX API secret (both environments)."),
        Credential("sub_account", "FakeX sub-account (optional).", required=False),
    ),
    max_leverage_description="Leverage cap for FakeX orders.",
    extras=(
        ExtraSetting("region", Literal["eu", "us"], Field("eu", description="FakeX region.")),
        ExtraSetting("poll_s", float, Field(1.5, gt=0, le=10, description="Seconds between FakeX polls.")),
    ),
)


def env_example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return {line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


@pytest.mark.parametrize("venue", VENUES)
def test_every_venue_declares_its_settings_in_its_folder(venue: str) -> None:
    declaration = importlib.import_module(f"cerbero_mcp.exchanges.{venue}.config").VENUE_SETTINGS
    assert isinstance(declaration, VenueSettings)
    assert declaration.name == venue
    assert Settings.venue_declarations[venue] is declaration
    fields = declaration.fields()
    assert {f"{venue}_url_testnet", f"{venue}_url_live", f"{venue}_max_leverage"} <= set(fields)
    for name in fields:
        assert name in Settings.model_fields
        assert name.upper() in env_example_names()
    for credential in declaration.credentials:
        for suffix in ("", "_testnet", "_live"):
            assert f"{venue}_{credential.name}{suffix}" in fields


def test_settings_are_the_platform_fields_plus_each_venues_fields() -> None:
    venue_fields = [name for declaration in installed_declarations() for name in declaration.fields()]
    provider_fields = [name for declaration in installed_provider_declarations() for name in declaration.fields()]
    assert list(Settings.model_fields) == list(PlatformSettings.model_fields) + venue_fields + provider_fields
    assert list(Settings.venue_declarations) == list(VENUES)
    assert issubclass(Settings, PlatformSettings)


def test_a_composed_venue_gets_urls_credentials_fallback_and_extras() -> None:
    settings_class = compose_settings([FAKE])
    settings = settings_class.from_mapping(
        {
            "FAKEX_API_KEY": "shared-key",
            "FAKEX_API_KEY_LIVE": "live-key",
            "FAKEX_API_SECRET_TESTNET": "test-secret",
            "FAKEX_URL_LIVE": "http://127.0.0.1:9999/api/",
            "FAKEX_REGION": "us",
            "FAKEX_MAX_LEVERAGE": "2.5",
            "FAKEX_SUB_ACCOUNT": "  ",
        }
    )
    assert settings.venue_url("fakex", "testnet") == "https://test.fakex.example/api"
    assert settings.venue_url("fakex", "mainnet") == "http://127.0.0.1:9999/api"
    assert settings.venue_credentials("fakex", "testnet") == {"api_key": "shared-key", "api_secret": "test-secret"}
    assert settings.venue_credentials("fakex", "mainnet") == {"api_key": "live-key"}
    assert settings.missing_credentials("fakex", "testnet") == []
    assert settings.missing_credentials("fakex", "mainnet") == ["FAKEX_API_SECRET_LIVE (or FAKEX_API_SECRET)"]
    assert str(settings.max_leverage("fakex")) == "2.5"
    assert settings.venue_option("fakex", "region") == "us"
    assert settings.venue_option("fakex", "poll_s") == 1.5
    # Only the venues composed in: the real ones are not part of this class.
    assert "deribit_url_testnet" not in settings_class.model_fields
    assert settings.max_leverage("deribit") is None


def test_generic_descriptions_name_the_shared_variable() -> None:
    fields = compose_settings([FAKE]).model_fields
    assert fields["fakex_api_key"].description == "FakeX API key (both environments)."
    assert (
        fields["fakex_api_key_testnet"].description
        == "FakeX testnet value of FAKEX_API_KEY (overrides the shared one)."
    )
    assert fields["fakex_poll_s"].description == "Seconds between FakeX polls."


def test_composed_extras_keep_their_constraints_and_name_the_variable() -> None:
    settings_class = compose_settings([FAKE])
    compose_settings([FAKE])  # composing a declaration twice leaves its Field intact
    with pytest.raises(ValidationError) as error:
        settings_class.from_mapping({"FAKEX_POLL_S": "11", "FAKEX_REGION": "asia"})
    assert {item["loc"][0] for item in error.value.errors()} == {"fakex_poll_s", "fakex_region"}
    with pytest.raises(ValidationError, match="greater than 0"):
        settings_class.from_mapping({"FAKEX_MAX_LEVERAGE": "0"})


def test_an_unknown_extra_or_venue_raises_a_clear_error() -> None:
    settings = Settings.from_mapping({})
    with pytest.raises(
        UnknownSettingError, match=r"venue 'ibkr' declares no setting 'ws_max_subs'.*ws_max_subscriptions"
    ):
        settings.venue_option("ibkr", "ws_max_subs")
    with pytest.raises(UnknownSettingError, match=r"declares no setting 'url_live'"):
        settings.venue_option("ibkr", "url_live")
    with pytest.raises(UnknownSettingError, match=r"no settings are declared for venue 'nowhere'"):
        settings.venue_option("nowhere", "x")
    with pytest.raises(UnknownSettingError, match=r"no settings are declared for venue 'nowhere'"):
        settings.venue_credentials("nowhere", "testnet")


def test_declarations_refuse_clashes_and_bad_extras() -> None:
    with pytest.raises(ValueError, match="FAKEX_API_KEY_LIVE more than once"):
        VenueSettings(
            name="fakex",
            title="FakeX",
            url_testnet=FAKE.url_testnet,
            url_live=FAKE.url_live,
            credentials=(Credential("api_key", "Key."),),
            max_leverage_description="Cap.",
            extras=(ExtraSetting("api_key_live", str, Field("", description="Clash.")),),
        )
    with pytest.raises(ValueError, match="needs a default and a description"):
        ExtraSetting("timeout_s", float, Field(1.0))
    with pytest.raises(TypeError, match=r"must be pydantic\.Field"):
        ExtraSetting("timeout_s", float, 1.0)
    with pytest.raises(ValueError, match="lower-case"):
        VenueSettings(
            name="fakex",
            title="FakeX",
            url_testnet=FAKE.url_testnet,
            url_live=FAKE.url_live,
            credentials=(Credential("API_KEY", "Key."),),
            max_leverage_description="Cap.",
        )
    with pytest.raises(ValueError, match="lower-case"):
        VenueSettings(
            name="Fake-X",
            title="FakeX",
            url_testnet=FAKE.url_testnet,
            url_live=FAKE.url_live,
            credentials=(),
            max_leverage_description="Cap.",
        )
    with pytest.raises(ValueError, match="declared twice"):
        compose_settings([FAKE, FAKE])


def test_a_venue_cannot_shadow_a_platform_setting() -> None:
    shadow = VenueSettings(
        name="audit",
        title="Audit",
        url_testnet=FAKE.url_testnet,
        url_live=FAKE.url_live,
        credentials=(),
        max_leverage_description="Cap.",
        extras=(ExtraSetting("fsync", bool, Field(False, description="Clash.")),),
    )
    with pytest.raises(ValueError, match="AUDIT_FSYNC of venue 'audit' is already a setting"):
        compose_settings([shadow])


def test_venue_settings_and_settings_import_no_venue_code() -> None:
    code = (
        "import json, sys, cerbero_mcp.venue_settings;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cerbero_mcp'))));"
        "import cerbero_mcp.settings;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cerbero_mcp'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    alone, with_settings = (json.loads(line) for line in result.stdout.splitlines())
    assert alone == ["cerbero_mcp", "cerbero_mcp.venue_settings"]
    allowed = {"cerbero_mcp", "cerbero_mcp.venue_settings", "cerbero_mcp.settings", "cerbero_mcp.exchanges"}
    allowed |= {f"cerbero_mcp.exchanges.{venue}{tail}" for venue in (*VENUES, *PROVIDERS) for tail in ("", ".config")}
    assert set(with_settings) <= allowed
