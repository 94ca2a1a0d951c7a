"""Per-environment, per-venue order limits written as scoped rules.

One setting per limit, each a comma-separated list of `scope=value` where scope is `env.venue`
with `*` for any part (or just `*`), e.g. `MAX_ORDER_NOTIONAL_USD=mainnet.deribit=50000,mainnet.*=100000`.
The most specific matching rule wins (env and venue > env only or venue only > `*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from cerbero_mcp.settings import ConfigError, Settings

ENVS = ("testnet", "mainnet", "*")


@dataclass(frozen=True)
class ScopedRules:
    """Parsed `scope=value` rules of one setting."""

    setting: str
    rules: dict[tuple[str, str], str]

    @classmethod
    def parse(cls, setting: str, text: str) -> ScopedRules:
        """Parse the setting's text; ConfigError names the setting and the bad rule."""
        rules: dict[tuple[str, str], str] = {}
        for raw in (part.strip() for part in text.split(",")):
            if not raw:
                continue
            scope, sep, value = raw.partition("=")
            if not sep or not value.strip():
                raise ConfigError(f"{setting}: rule {raw!r} must look like env.venue=value (e.g. mainnet.deribit=1000)")
            env, _, venue = scope.strip().partition(".")
            venue = venue or "*"
            if env not in ENVS:
                raise ConfigError(f"{setting}: rule {raw!r} has environment {env!r}; use testnet, mainnet or *")
            rules[(env, venue.strip().lower())] = value.strip()
        return cls(setting, rules)

    def lookup(self, env: str, venue: str) -> str | None:
        """Return the value of the most specific rule for (env, venue)."""
        for key in ((env, venue), (env, "*"), ("*", venue), ("*", "*")):
            if key in self.rules:
                return self.rules[key]
        return None

    def decimal(self, env: str, venue: str) -> Decimal | None:
        """Return the rule's value as a positive Decimal."""
        text = self.lookup(env, venue)
        if text is None:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ConfigError(f"{self.setting}: {text!r} is not a number") from exc
        if value <= 0:
            raise ConfigError(f"{self.setting}: {text!r} must be positive")
        return value


@dataclass(frozen=True)
class OrderLimits:
    """Every limit setting, parsed once at start."""

    notional_usd: ScopedRules
    quantity: ScopedRules
    per_minute: ScopedRules
    allowlist: ScopedRules

    @classmethod
    def from_settings(cls, settings: Settings) -> OrderLimits:
        """Parse the four limit settings; ConfigError names the bad one."""
        limits = cls(
            ScopedRules.parse("MAX_ORDER_NOTIONAL_USD", settings.max_order_notional_usd),
            ScopedRules.parse("MAX_ORDER_QTY", settings.max_order_qty),
            ScopedRules.parse("MAX_ORDERS_PER_MINUTE", settings.max_orders_per_minute),
            ScopedRules.parse("SYMBOL_ALLOWLIST", settings.symbol_allowlist),
        )
        for rules in (limits.notional_usd, limits.quantity, limits.per_minute):
            for env, venue in rules.rules:
                rules.decimal(env, venue)  # fail at start, not on the first order
        return limits

    def allowed_symbols(self, env: str, venue: str) -> set[str] | None:
        """Return the instruments (env, venue) may trade, or None when unrestricted."""
        text = self.allowlist.lookup(env, venue)
        if text is None:
            return None
        return {symbol.strip() for symbol in text.split("|") if symbol.strip()}
