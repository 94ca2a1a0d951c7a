"""The risk desk's settings: scoped rules parsed at start, trading windows in their time zone (DST-correct)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cerbero_mcp.common.clock import Clock, use_clock
from cerbero_mcp.common.errors import OutsideTradingWindowError
from cerbero_mcp.contracts import Exposure, Leg, PricedLeg, ToolContext, ToolSpec
from cerbero_mcp.exchanges.risk.gates import TradingWindowGate
from cerbero_mcp.exchanges.risk.rules import RiskRules, parse_windows
from cerbero_mcp.settings import ConfigError, Settings
from support.tokens import MAINNET, TESTNET


class FixedClock:
    """A clock that stays at one instant."""

    def __init__(self, moment: datetime) -> None:
        self.epoch = moment.timestamp()

    def now(self) -> float:
        """Return the pinned instant."""
        return self.epoch


@pytest.fixture
def pin() -> Iterator[object]:
    """Return a function pinning the process clock at a UTC instant (restored after the test)."""
    previous: list[Clock] = []

    def at(moment: datetime) -> None:
        previous.append(use_clock(FixedClock(moment)))

    yield at
    if previous:
        use_clock(previous[0])


def rules(**values: str) -> RiskRules:
    """Return the parsed rules of settings with `values` (names as environment variables)."""
    return RiskRules.from_settings(
        Settings.from_mapping({"TESTNET_TOKEN": TESTNET, "MAINNET_TOKEN": MAINNET, **values})
    )


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("MAX_TOTAL_NOTIONAL_USD", "mainnet.*=lots", "MAX_TOTAL_NOTIONAL_USD"),
        ("MAX_NET_DELTA_USD", "live.*=100", "MAX_NET_DELTA_USD"),
        ("REQUIRE_APPROVAL_ABOVE_USD", "mainnet.*=-5", "REQUIRE_APPROVAL_ABOVE_USD"),
        ("PDT_GUARD", "mainnet.alpaca=maybe", "PDT_GUARD"),
        ("TRADING_WINDOWS", "mainnet.alpaca=09:35-15:55 Mars/Olympus", "TRADING_WINDOWS"),
        ("TRADING_WINDOWS", "mainnet.alpaca=9:35to15:55 America/New_York", "TRADING_WINDOWS"),
        ("TRADING_WINDOWS", "mainnet.alpaca=09:35-25:00 America/New_York", "TRADING_WINDOWS"),
        ("TRADING_WINDOWS", "mainnet.alpaca", "TRADING_WINDOWS"),
    ],
)
def test_a_bad_rule_stops_the_start_naming_the_setting(setting: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        rules(**{setting: value})


def test_scoped_rules_pick_the_most_specific_and_a_bare_value_is_every_scope() -> None:
    parsed = rules(
        MAX_TOTAL_NOTIONAL_USD="mainnet.*=250000,mainnet.deribit=100000",
        PDT_GUARD="true",
        REQUIRE_APPROVAL_ABOVE_USD="mainnet.*=50000",
    )
    assert parsed.total_notional_cap("mainnet", "deribit") == Decimal(100000)
    assert parsed.total_notional_cap("mainnet", "bybit") == Decimal(250000)
    assert parsed.total_notional_cap("testnet", "bybit") is None
    assert parsed.pdt_guarded("testnet", "alpaca")
    assert parsed.pdt_guarded("mainnet", "ibkr")
    assert parsed.approval_threshold("testnet", "alpaca") is None
    assert parsed.net_delta_cap("mainnet", "alpaca") is None


def test_several_windows_per_scope_and_a_window_over_midnight() -> None:
    windows = parse_windows("TRADING_WINDOWS", "09:35-12:00|13:00-15:55 America/New_York")
    new_york = windows.zone
    assert windows.open_at(datetime(2026, 3, 4, 11, 0, tzinfo=new_york))
    assert not windows.open_at(datetime(2026, 3, 4, 12, 30, tzinfo=new_york))
    assert windows.open_at(datetime(2026, 3, 4, 13, 0, tzinfo=new_york))
    assert not windows.open_at(datetime(2026, 3, 4, 15, 55, tzinfo=new_york))  # the end is excluded
    overnight = parse_windows("TRADING_WINDOWS", "22:00-02:00")
    assert overnight.zone.key == "UTC"
    assert overnight.open_at(datetime(2026, 3, 4, 23, 30, tzinfo=UTC))
    assert overnight.open_at(datetime(2026, 3, 5, 1, 59, tzinfo=UTC))
    assert not overnight.open_at(datetime(2026, 3, 5, 2, 0, tzinfo=UTC))


SPEC = ToolSpec(
    venue="alpaca",
    name="place_order",
    kind="write",
    func=None,  # type: ignore[arg-type]  # the gate never calls the tool
    request_model=object,  # type: ignore[arg-type]
    response_model=object,  # type: ignore[arg-type]
    summary="",
    description="",
    risk="opens",
)


class Order:
    """A request as the gate reads it."""

    def __init__(self, reduce_only: bool = False) -> None:
        self.reduce_only = reduce_only


def exposure(reduce_only: bool = False) -> Exposure:
    """Return one priced buy of 1 AAPL."""
    leg = Leg("AAPL", "buy", Decimal(1), Decimal(190), reduce_only=reduce_only)
    return Exposure(legs=(PricedLeg(leg, Decimal(190)),), resulting_notional=Decimal(190), equity=Decimal(1000))


def context() -> ToolContext:
    """Return a mainnet call's context (the window gate reads nothing else)."""
    return ToolContext("alpaca", "place_order", "mainnet", "req", "bot", state=None)  # type: ignore[arg-type]


# 13:40 UTC is 08:40 in New York on Friday 6 March (EST, UTC-5) and 09:40 on Monday 9 March (EDT, UTC-4):
# the same UTC time of day, one side of the daylight-saving change each.
BEFORE_DST = datetime(2026, 3, 6, 13, 40, tzinfo=UTC)
AFTER_DST = datetime(2026, 3, 9, 13, 40, tzinfo=UTC)


async def test_trading_window_is_read_in_new_york_time_across_the_dst_change(pin) -> None:  # type: ignore[no-untyped-def]
    gate = TradingWindowGate(rules(TRADING_WINDOWS="mainnet.alpaca=09:35-15:55 America/New_York"))
    pin(BEFORE_DST)
    with pytest.raises(OutsideTradingWindowError) as refused:
        await gate.check(SPEC, context(), Order(), exposure())  # type: ignore[arg-type]
    assert refused.value.details is not None
    assert refused.value.details["local_time"] == "2026-03-06T08:40:00-05:00"
    assert "09:35-15:55 America/New_York" in refused.value.message
    pin(AFTER_DST)
    await gate.check(SPEC, context(), Order(), exposure())  # type: ignore[arg-type]  # 09:40 EDT: open


async def test_trading_window_never_blocks_a_reducing_write_or_another_scope(pin) -> None:  # type: ignore[no-untyped-def]
    gate = TradingWindowGate(rules(TRADING_WINDOWS="mainnet.alpaca=09:35-15:55 America/New_York"))
    pin(BEFORE_DST)  # outside the window
    await gate.check(SPEC, context(), Order(reduce_only=True), exposure(reduce_only=True))  # type: ignore[arg-type]
    testnet = ToolContext("alpaca", "place_order", "testnet", "req", "bot", state=None)  # type: ignore[arg-type]
    await gate.check(SPEC, testnet, Order(), exposure())  # type: ignore[arg-type]  # no rule for testnet
