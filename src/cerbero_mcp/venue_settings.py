"""How a venue declares its settings, as data: `exchanges/<venue>/config.py` exports one `VENUE_SETTINGS`.

From a declaration every venue gets the same variables: `<VENUE>_URL_TESTNET` and `<VENUE>_URL_LIVE`;
for each credential `<VENUE>_<CRED>` (both environments) with `<VENUE>_<CRED>_TESTNET` and
`<VENUE>_<CRED>_LIVE` overriding it; `<VENUE>_MAX_LEVERAGE`; then its own extras. `cerbero_mcp.settings`
composes them into the one Settings class. This module imports nothing from cerbero_mcp, so a venue's
config.py stays importable without the rest of the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo

_NAME = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} must be lower-case letters, digits and underscores")


@dataclass(frozen=True)
class VenueUrl:
    """One environment's API base: its default (the real venue URL) and its description."""

    default: str
    description: str


@dataclass(frozen=True)
class Credential:
    """One credential: `<VENUE>_<NAME>` for both environments, overridable per environment."""

    name: str
    # Comment of the shared variable in .env.example.
    description: str
    # Whether a private call cannot do without it (False: an optional extra, e.g. an account id).
    required: bool = True
    # Comments of `<VENUE>_<NAME>_TESTNET` / `_LIVE`; None writes a generic one.
    testnet_description: str | None = None
    live_description: str | None = None


@dataclass(frozen=True)
class ExtraSetting:
    """A venue-specific setting `<VENUE>_<NAME>`: its type and its `pydantic.Field(...)`."""

    name: str
    # A type expression (int, float, `str | None`, a Literal...), not always a `type`.
    type: Any
    # `Field(default, <constraints>, description=...)`; typed Any because `Field()` claims to return its default.
    field: Any

    def __post_init__(self) -> None:
        _check_name("extra setting", self.name)
        if not isinstance(self.field, FieldInfo):
            raise TypeError(f"extra setting {self.name!r}: field must be pydantic.Field(...)")
        if self.field.is_required() or not self.field.description:
            raise ValueError(f"extra setting {self.name!r} needs a default and a description")


@dataclass(frozen=True)
class VenueSettings:
    """Everything a venue has to configure: URLs, credentials, leverage cap comment and extras."""

    name: str
    # Human name: the section title in .env.example and the subject of generated comments.
    title: str
    url_testnet: VenueUrl
    url_live: VenueUrl
    credentials: tuple[Credential, ...]
    max_leverage_description: str
    extras: tuple[ExtraSetting, ...] = ()
    # The cap when <VENUE>_MAX_LEVERAGE is unset (None: no cap); Alpaca's is 1, a cash-like account.
    max_leverage_default: Decimal | None = None

    def __post_init__(self) -> None:
        _check_name("venue", self.name)
        for cred in self.credentials:
            _check_name("credential", cred.name)
        names = [name for name, _ in self._field_list()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"venue {self.name!r} declares {', '.join(twice).upper()} more than once")

    @property
    def required_credentials(self) -> tuple[str, ...]:
        """Return the names of the credentials a private call needs."""
        return tuple(c.name for c in self.credentials if c.required)

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Return the names of the venue-specific extras (as `venue_option` takes them)."""
        return tuple(e.name for e in self.extras)

    def fields(self) -> dict[str, tuple[Any, FieldInfo]]:
        """Return the Settings fields of this venue in .env.example order: name → (type, FieldInfo)."""
        return dict(self._field_list())

    def _field_list(self) -> list[tuple[str, tuple[Any, FieldInfo]]]:
        venue = self.name
        fields: list[tuple[str, tuple[Any, FieldInfo]]] = [
            (f"{venue}_url_testnet", (str, _field(self.url_testnet.default, self.url_testnet.description))),
            (f"{venue}_url_live", (str, _field(self.url_live.default, self.url_live.description))),
        ]
        for cred in self.credentials:
            shared = f"{venue}_{cred.name}"
            fields.append((shared, (SecretStr | None, _field(None, cred.description))))
            for suffix, description in (("testnet", cred.testnet_description), ("live", cred.live_description)):
                text = description or f"{self.title} {suffix} value of {shared.upper()} (overrides the shared one)."
                fields.append((f"{shared}_{suffix}", (SecretStr | None, _field(None, text))))
        leverage = _field(self.max_leverage_default, self.max_leverage_description, gt=0)
        fields.append((f"{venue}_max_leverage", (Decimal | None, leverage)))
        # pydantic copies a FieldInfo when it builds a model, so a declaration can be composed many times.
        fields.extend((f"{venue}_{extra.name}", (extra.type, extra.field)) for extra in self.extras)
        return fields


@dataclass(frozen=True)
class ProviderSettings:
    """A read-only data provider's settings: one value for both tokens (no testnet), each variable named in full.

    A provider's sources have their own well-known variable names (`FRED_API_KEY`), so its settings are
    not prefixed; `Settings.provider_option(provider, name)` reads them.
    """

    name: str
    # Human name: the section title in .env.example.
    title: str
    settings: tuple[ExtraSetting, ...]

    def __post_init__(self) -> None:
        _check_name("provider", self.name)
        names = [setting.name for setting in self.settings]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"provider {self.name!r} declares {', '.join(twice).upper()} more than once")

    @property
    def setting_names(self) -> tuple[str, ...]:
        """Return the names of the provider's settings (as `provider_option` takes them)."""
        return tuple(setting.name for setting in self.settings)

    def fields(self) -> dict[str, tuple[Any, FieldInfo]]:
        """Return the Settings fields of this provider in .env.example order: name → (type, FieldInfo)."""
        return {setting.name: (setting.type, setting.field) for setting in self.settings}


def _field(default: Any, description: str, **constraints: Any) -> FieldInfo:
    info: FieldInfo = Field(default, description=description, **constraints)
    return info
