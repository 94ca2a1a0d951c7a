"""The provider settings mechanism, on the macro provider's declaration."""

from __future__ import annotations

import pytest
from pydantic import Field

from cerbero_mcp.exchanges.macro.config import PROVIDER_SETTINGS
from cerbero_mcp.settings import Settings, UnknownSettingError, compose_settings, installed_declarations
from cerbero_mcp.venue_settings import ExtraSetting, ProviderSettings


def test_macro_settings_default_to_the_real_services_and_keys_are_secret() -> None:
    settings = Settings.from_mapping({"FRED_API_KEY": "abcdefghijklmnopqrstuvwxyz123456"})
    assert settings.provider_option("macro", "macro_treasury_url") == "https://home.treasury.gov"
    assert settings.provider_option("macro", "macro_fred_url") == "https://api.stlouisfed.org"
    assert settings.provider_option("macro", "macro_finnhub_url") == "https://finnhub.io/api/v1"
    assert settings.provider_option("macro", "macro_cftc_url") == "https://publicreporting.cftc.gov"
    key = settings.provider_option("macro", "fred_api_key")
    assert key.get_secret_value() == "abcdefghijklmnopqrstuvwxyz123456"
    assert "abcdef" not in repr(settings)
    assert settings.provider_option("macro", "finnhub_api_key") is None


def test_unknown_provider_or_setting_is_a_bug_named_as_such() -> None:
    settings = Settings.from_mapping({})
    with pytest.raises(UnknownSettingError, match="no settings are declared for provider 'nope'"):
        settings.provider_option("nope", "x")
    with pytest.raises(UnknownSettingError, match="declares no setting 'port'"):
        settings.provider_option("macro", "port")  # a platform field is not the provider's


def test_a_provider_setting_clashing_with_another_is_refused() -> None:
    clash = ProviderSettings("other", "Other", (ExtraSetting("fred_api_key", str, Field("", description="x")),))
    with pytest.raises(ValueError, match="FRED_API_KEY of provider 'other' is already a setting"):
        compose_settings(installed_declarations(), [PROVIDER_SETTINGS, clash])
    with pytest.raises(ValueError, match="more than once"):
        ProviderSettings("pp", "P", (clash.settings[0], clash.settings[0]))
