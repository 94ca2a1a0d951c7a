"""The risk desk's settings as parsed rules: caps, the PDT guard, trading windows and the approval threshold.

Each is a scoped setting like the other limits (`limits.ScopedRules`: `env.venue=value`, `*` for any
part, the most specific rule wins), parsed once at start so a bad rule is a ConfigError naming the
setting and the rule, never a surprise on the first order:

    MAX_TOTAL_NOTIONAL_USD=mainnet.*=250000
    MAX_NET_DELTA_USD=mainnet.*=100000
    PDT_GUARD=true                                   (a bare value is the rule for every scope: *=true)
    TRADING_WINDOWS=mainnet.alpaca=09:35-12:00|13:00-15:55 America/New_York
    REQUIRE_APPROVAL_ABOVE_USD=mainnet.*=50000

A trading window is `HH:MM-HH:MM` in the scope's IANA time zone (the last word of the value; UTC
when none is given), read with zoneinfo, so it follows daylight saving time; a window whose end is
before its start runs over midnight. Windows are checked on the process clock (`common/clock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cerbero_mcp.limits import ScopedRules
from cerbero_mcp.settings import ConfigError, Settings

TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0"})


def scoped(setting: str, text: str) -> ScopedRules:
    """Parse a scoped setting; a bare value without `=` is the rule for every scope (`*=value`)."""
    stripped = text.strip()
    if stripped and "=" not in stripped:
        stripped = f"*={stripped}"
    return ScopedRules.parse(setting, stripped)


@dataclass(frozen=True)
class Window:
    """One daily window, [start, end) in `zone` (end before start: it runs over midnight)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Return whether the local time of day `moment` is inside the window."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class TradingWindows:
    """The windows of one scope and their time zone."""

    windows: tuple[Window, ...]
    zone: ZoneInfo

    def open_at(self, moment: datetime) -> bool:
        """Return whether `moment` (aware) falls inside one of the windows, in the zone's local time."""
        local = moment.astimezone(self.zone).time().replace(tzinfo=None)
        return any(window.contains(local) for window in self.windows)

    def describe(self) -> str:
        """Return the windows as configured, e.g. `09:35-15:55 America/New_York`."""
        return f"{'|'.join(str(w) for w in self.windows)} {self.zone.key}"


def _clock_time(setting: str, raw: str, text: str) -> time:
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ConfigError(f"{setting}: {raw!r}: {text!r} is not HH:MM")
    if not (0 <= int(hours) <= 24 and 0 <= int(minutes) < 60) or (int(hours) == 24 and int(minutes)):
        raise ConfigError(f"{setting}: {raw!r}: {text!r} is not a time of day")
    # 24:00 is the end of the day: the last minute up to midnight is inside.
    return time(23, 59, 59, 999999) if int(hours) == 24 else time(int(hours), int(minutes))


def parse_windows(setting: str, raw: str) -> TradingWindows:
    """Parse `HH:MM-HH:MM[|HH:MM-HH:MM...] [Area/City]`; ConfigError names the setting and the value."""
    parts = raw.split()
    if not parts or len(parts) > 2:
        raise ConfigError(f"{setting}: {raw!r} must look like 09:35-15:55 America/New_York")
    zone_name = parts[1] if len(parts) == 2 else "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{setting}: {raw!r}: unknown time zone {zone_name!r} (use an IANA name)") from exc
    windows = []
    for item in parts[0].split("|"):
        start, sep, end = item.partition("-")
        if not sep:
            raise ConfigError(f"{setting}: {raw!r}: window {item!r} must look like 09:35-15:55")
        window = Window(_clock_time(setting, raw, start), _clock_time(setting, raw, end))
        if window.start == window.end:
            raise ConfigError(f"{setting}: {raw!r}: window {item!r} is empty")
        windows.append(window)
    return TradingWindows(tuple(windows), zone)


@dataclass(frozen=True)
class RiskRules:
    """Every risk-desk gate setting, parsed once at start."""

    total_notional: ScopedRules
    net_delta: ScopedRules
    pdt_guard: ScopedRules
    windows: ScopedRules
    approval_above: ScopedRules
    approval_ttl_s: float
    venue_timeout_s: float
    parsed_windows: dict[str, TradingWindows]

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskRules:
        """Parse the settings; ConfigError names the bad setting and rule."""
        rules = cls(
            total_notional=scoped("MAX_TOTAL_NOTIONAL_USD", settings.max_total_notional_usd),
            net_delta=scoped("MAX_NET_DELTA_USD", settings.max_net_delta_usd),
            pdt_guard=scoped("PDT_GUARD", settings.pdt_guard),
            windows=ScopedRules.parse("TRADING_WINDOWS", settings.trading_windows),
            approval_above=scoped("REQUIRE_APPROVAL_ABOVE_USD", settings.require_approval_above_usd),
            approval_ttl_s=float(settings.approval_ttl_s),
            venue_timeout_s=float(settings.risk_venue_timeout_s),
            parsed_windows={},
        )
        for numeric in (rules.total_notional, rules.net_delta, rules.approval_above):
            for env, venue in numeric.rules:
                numeric.decimal(env, venue)  # fail at start, not on the first order
        for value in rules.pdt_guard.rules.values():
            if value.lower() not in TRUE | FALSE:
                raise ConfigError(f"PDT_GUARD: {value!r} must be true or false")
        for value in rules.windows.rules.values():
            rules.parsed_windows[value] = parse_windows("TRADING_WINDOWS", value)
        return rules

    def total_notional_cap(self, env: str, venue: str) -> Decimal | None:
        """Return MAX_TOTAL_NOTIONAL_USD for a write of `venue` in `env`, or None when unset."""
        return self.total_notional.decimal(env, venue)

    def net_delta_cap(self, env: str, venue: str) -> Decimal | None:
        """Return MAX_NET_DELTA_USD for a write of `venue` in `env`, or None when unset."""
        return self.net_delta.decimal(env, venue)

    def approval_threshold(self, env: str, venue: str) -> Decimal | None:
        """Return REQUIRE_APPROVAL_ABOVE_USD for (env, venue), or None when unset."""
        return self.approval_above.decimal(env, venue)

    def pdt_guarded(self, env: str, venue: str) -> bool:
        """Return whether PDT_GUARD is on for (env, venue)."""
        value = self.pdt_guard.lookup(env, venue)
        return value is not None and value.lower() in TRUE

    def trading_windows(self, env: str, venue: str) -> TradingWindows | None:
        """Return the trading windows of (env, venue), or None when writes may open at any time."""
        value = self.windows.lookup(env, venue)
        return None if value is None else self.parsed_windows[value]


def aware(epoch_s: float) -> datetime:
    """Return epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)
