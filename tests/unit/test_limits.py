"""Scoped order-limit rules: parsing, precedence, and errors that name the setting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cerbero_mcp.limits import OrderLimits, ScopedRules
from cerbero_mcp.settings import ConfigError, Settings


def test_most_specific_rule_wins() -> None:
    rules = ScopedRules.parse("MAX_ORDER_QTY", "*=100, mainnet.*=50, mainnet.deribit=10, *.bybit=70")
    assert rules.decimal("mainnet", "deribit") == Decimal(10)
    assert rules.decimal("mainnet", "alpaca") == Decimal(50)
    assert rules.decimal("testnet", "bybit") == Decimal(70)
    assert rules.decimal("testnet", "deribit") == Decimal(100)


def test_empty_setting_means_no_limit() -> None:
    assert ScopedRules.parse("MAX_ORDER_QTY", "").decimal("mainnet", "deribit") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mainnet.deribit", "must look like env.venue=value"),
        ("live.deribit=5", "use testnet, mainnet or \\*"),
        ("*=abc", "'abc' is not a number"),
        ("*=-1", "'-1' must be positive"),
    ],
)
def test_bad_rules_name_the_setting(text: str, message: str) -> None:
    settings = Settings.from_mapping({"MAX_ORDER_QTY": text})
    with pytest.raises(ConfigError, match=rf"^MAX_ORDER_QTY: .*{message}"):
        OrderLimits.from_settings(settings)


def test_allowlist_is_a_set_per_scope() -> None:
    limits = OrderLimits.from_settings(
        Settings.from_mapping({"SYMBOL_ALLOWLIST": "mainnet.deribit=BTC-PERPETUAL|ETH-PERPETUAL"})
    )
    assert limits.allowed_symbols("mainnet", "deribit") == {"BTC-PERPETUAL", "ETH-PERPETUAL"}
    assert limits.allowed_symbols("testnet", "deribit") is None
