"""The write pipeline's arithmetic and judgements, without an app: exposure of legs, unknown outcomes."""

from __future__ import annotations

from decimal import Decimal

from cerbero_mcp.common.errors import InvalidOrderError, RateLimitError, UpstreamError, UpstreamTimeoutError
from cerbero_mcp.common.http import SendLog, mark_definite
from cerbero_mcp.contracts import Book, Leg
from cerbero_mcp.gates import exposure_of, plain
from cerbero_mcp.write_pipeline import may_have_been_placed


def book(positions: dict[str, Decimal], equity: Decimal = Decimal(1000)) -> Book:
    """A book where every unit of every instrument is worth 10, or the leg's price."""
    return Book(positions=positions, equity=equity, value=lambda name, size, price: abs(size) * (price or Decimal(10)))


def test_every_opening_leg_counts_and_bracket_exits_do_not() -> None:
    legs = [
        Leg("A", "buy", Decimal(5), Decimal(20)),
        Leg("A", "sell", Decimal(5), Decimal(30), reduce_only=True),
        Leg("A", "sell", Decimal(5), Decimal(15), reduce_only=True),
    ]
    exposure = exposure_of(legs, book({"B": Decimal(-2)}))
    assert [priced.notional for priced in exposure.legs] == [Decimal(100), Decimal(150), Decimal(75)]
    assert exposure.resulting_notional == Decimal(5 * 10 + 2 * 10)  # gross at the reference price


def test_oco_alternatives_count_as_the_worst_single_choice() -> None:
    legs = [Leg("A", "sell", Decimal(3), one_of="oco"), Leg("A", "sell", Decimal(8), one_of="oco")]
    exposure = exposure_of(legs, book({"A": Decimal(4)}))
    # Long 4: selling 3 leaves 1, selling 8 leaves -4; the worst is 4 units short.
    assert exposure.resulting_notional == Decimal(40)


def test_legs_on_opposite_sides_net_in_the_resulting_position() -> None:
    legs = [Leg("A", "buy", Decimal(5)), Leg("A", "sell", Decimal(5))]
    assert exposure_of(legs, book({})).resulting_notional == 0


def test_plain_survives_the_largest_bounded_notional() -> None:
    assert plain(Decimal("1e18") * Decimal("1e18")) == "1" + "0" * 36


def test_nothing_sent_means_not_placed_whatever_the_error() -> None:
    assert may_have_been_placed(UpstreamTimeoutError("slow"), SendLog()) is False
    assert may_have_been_placed(UpstreamError("5xx"), None) is False


def test_after_a_write_left_only_the_venues_definite_refusal_means_not_placed() -> None:
    sent = SendLog()
    sent.writes = 1
    assert may_have_been_placed(UpstreamError("truncated 200"), sent) is True
    assert may_have_been_placed(RateLimitError("a follow-up read was rate-limited"), sent) is True
    assert may_have_been_placed(mark_definite(InvalidOrderError("refused"), write=True), sent) is False
    assert may_have_been_placed(mark_definite(UpstreamError("5xx"), write=True), sent) is True
    assert may_have_been_placed(mark_definite(InvalidOrderError("a read's error"), write=False), sent) is True


def test_an_explicit_may_have_been_placed_is_kept() -> None:
    error = UpstreamTimeoutError("dropped", details={"may_have_been_placed": True})
    assert may_have_been_placed(error, SendLog()) is True
