"""Increments (price figures and decimals, size decimals, $10 minimum) and the error table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cerbero_mcp.common import errors
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient
from cerbero_mcp.exchanges.hyperliquid.errors import to_error
from cerbero_mcp.exchanges.hyperliquid.rules import Asset, check_order, check_price, price_step, round_price
from unit.exchanges.hyperliquid.hl_documented import FakeTransport

BTC = Asset(asset_id=0, coin="BTC", name="BTC", sz_decimals=5, spot=False)
ETH = Asset(asset_id=1, coin="ETH", name="ETH", sz_decimals=4, spot=False)
PURR = Asset(asset_id=10000, coin="PURR/USDC", name="PURR/USDC", sz_decimals=0, spot=True)


def test_price_step_follows_figures_decimals_and_integers() -> None:
    assert price_step(BTC, Decimal("67100.5")) == Decimal(1)  # 5 figures at 10^4: integers
    assert price_step(BTC, Decimal("123456")) == Decimal(1)  # integers always allowed
    assert price_step(ETH, Decimal("3512.4")) == Decimal("0.1")
    assert price_step(ETH, Decimal("1.2345")) == Decimal("0.01")  # 6 - 4 decimals
    assert price_step(PURR, Decimal("0.20063")) == Decimal("0.00001")  # 5 figures, 8 - 0 decimals allowed


def test_a_sixth_significant_figure_is_refused_with_the_nearest_valid_prices() -> None:
    with pytest.raises(errors.InvalidInputError) as caught:
        check_price(ETH, "price", Decimal("3512.45"))
    assert caught.value.details["nearest_valid"] == ["3512.4", "3512.5"]
    check_price(BTC, "price", Decimal("123456"))  # integer: valid whatever its figures


def test_size_decimals_and_the_ten_dollar_minimum() -> None:
    with pytest.raises(errors.InvalidInputError) as size:
        check_order(BTC, Decimal("0.000001"), {}, Decimal(60000), reduce_only=False)
    assert size.value.details["nearest_valid"] == ["0.00001"]
    with pytest.raises(errors.InvalidInputError) as small:
        check_order(BTC, Decimal("0.0001"), {}, Decimal(60000), reduce_only=False)
    assert small.value.details["minimum"] == "10"
    check_order(BTC, Decimal("0.0001"), {}, Decimal(60000), reduce_only=True)  # closing a remainder


def test_round_price_moves_away_from_the_book_and_stays_valid() -> None:
    assert round_price(ETH, Decimal("3688.0725"), up=True) == Decimal("3688.1")
    assert round_price(ETH, Decimal("3336.8275"), up=False) == Decimal("3336.8")
    assert round_price(BTC, Decimal("99999.7"), up=True) == Decimal("100000")


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("Order must have minimum value of $10.", errors.InvalidOrderError),
        ("Price must be divisible by tick size.", errors.InvalidOrderError),
        ("Insufficient margin to place order.", errors.InsufficientFundsError),
        ("Reduce only order would increase position.", errors.InvalidOrderError),
        ("Post only order would have immediately matched, bbo was 1.2", errors.InvalidOrderError),
        ("Order could not immediately match against any resting orders.", errors.InvalidOrderError),
        ("User or API Wallet 0xabc does not exist.", errors.UpstreamAuthError),
        ("Order was never placed, already canceled, or filled.", errors.OrderNotFoundError),
        ("Too many cumulative requests sent (1234 > 1200) for cumulative volume traded $0.", errors.RateLimitError),
        ("Invalid nonce: duplicate nonce", errors.UpstreamAuthError),
    ],
)
def test_documented_error_strings_map_to_common_classes_as_definite(message: str, cls: type) -> None:
    error = to_error(message, write=True)
    assert type(error) is cls
    assert error.definite is True
    assert to_error(message, write=False).definite is False


async def test_err_envelope_is_a_definite_refusal_and_a_5xx_is_not() -> None:
    transport = FakeTransport()
    client = HyperliquidClient(
        transport,
        "testnet",
        "0x14791697260E4c9A71f18484C9f997B308e59325",
        "0x0123456789012345678901234567890123456789012345678901234567890123",
    )
    transport.overrides["scheduleCancel"] = (
        200,
        (transport_fixture := b'{"status":"err","response":"User or API Wallet 0x1 does not exist."}'),
    )
    with pytest.raises(errors.UpstreamAuthError) as refused:
        await client.schedule_cancel(None)
    assert refused.value.definite
    assert transport_fixture
    transport.overrides["scheduleCancel"] = (502, b"bad gateway")
    with pytest.raises(errors.UpstreamError) as unknown:
        await client.schedule_cancel(None)
    assert not unknown.value.definite
    transport.overrides["scheduleCancel"] = (200, b"not json")
    with pytest.raises(errors.UpstreamError) as malformed:
        await client.schedule_cancel(None)
    assert not malformed.value.definite
    # Each action went out exactly once: nothing is re-sent.
    assert len(transport.actions()) == 3
    assert all(not idem for path, _, idem in transport.sent if path == "/exchange")
    await client.aclose()


async def test_http_429_penalizes_and_nothing_more_is_sent() -> None:
    transport = FakeTransport()
    client = HyperliquidClient(transport, "testnet", "0x14791697260E4c9A71f18484C9f997B308e59325", None)
    transport.overrides["allMids"] = (429, b"")
    with pytest.raises(errors.RateLimitError):
        await client.all_mids()
    with pytest.raises(errors.RateLimitError):
        await client.all_mids()
    assert len(transport.sent) == 1
    await client.aclose()


async def test_weighted_info_calls_are_paced_from_one_table() -> None:
    transport = FakeTransport()
    client = HyperliquidClient(transport, "testnet", None, None)
    client.pacer.max_wait_s = 0.0
    # meta weighs 20: the window of 1200 less the heaviest call (104) admits 55 (1100 weight, under 1200).
    for _ in range((1200 - 104) // 20 + 1):
        await client.info({"type": "meta"})
    with pytest.raises(errors.RateLimitError):
        await client.info({"type": "meta"})
    assert len(transport.sent) == 55
    await client.aclose()


async def test_a_key_for_another_wallet_is_not_configured() -> None:
    client = HyperliquidClient(
        FakeTransport(),
        "testnet",
        "0x" + "11" * 20,
        "0x0123456789012345678901234567890123456789012345678901234567890123",
    )
    with pytest.raises(errors.NotConfiguredError) as caught:
        await client.schedule_cancel(None)
    assert "0123456789012345678901234567890123456789012345678901234567890123" not in str(caught.value.details)
    await client.aclose()


async def test_the_accounts_own_key_signs_even_with_an_api_wallet_configured() -> None:
    transport = FakeTransport()
    client = HyperliquidClient(
        transport,
        "testnet",
        "0x14791697260E4c9A71f18484C9f997B308e59325",
        "0x0123456789012345678901234567890123456789012345678901234567890123",
        api_wallet="0x" + "22" * 20,
    )
    await client.schedule_cancel(None)
    assert len(transport.actions()) == 1
    await client.aclose()
