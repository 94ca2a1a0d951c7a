import math
import random
from decimal import Decimal

import pytest
from sim_world import T0

from cerbero_mcp.simulators.engine import Exchange, Instrument, ManualClock, MarketModel, OrderRejected, RejectReason
from cerbero_mcp.simulators.engine.accounts import Position

DAY = 86_400
LINEAR = Instrument.perpetual("L", "BTC", "0.1", "0.001")
INVERSE = Instrument.perpetual("I", "BTC", "0.5", "10", inverse=True, settle_currency="BTC")


def test_position_averages_entries_and_realizes_on_reduction_and_flip() -> None:
    p = Position("L")
    assert p.apply(LINEAR, Decimal(1), Decimal(100)) == 0
    assert p.apply(LINEAR, Decimal(1), Decimal(110)) == 0
    assert p.avg_price == 105
    assert p.apply(LINEAR, Decimal("-0.5"), Decimal(120)) == Decimal("7.5")
    assert (p.qty, p.avg_price) == (Decimal("1.5"), Decimal(105))
    assert p.apply(LINEAR, Decimal(-2), Decimal(100)) == Decimal("-7.5")
    assert (p.qty, p.avg_price, p.realized_pnl) == (Decimal("-0.5"), Decimal(100), Decimal(0))


def test_inverse_position_averages_harmonically_and_pays_out_in_the_base_currency() -> None:
    p = Position("I")
    p.apply(INVERSE, Decimal(1000), Decimal(50_000))
    p.apply(INVERSE, Decimal(1000), Decimal(100_000))
    assert p.avg_price == pytest.approx(Decimal(2000) / (Decimal(1000) / 50_000 + Decimal(1000) / 100_000))
    realized = p.apply(INVERSE, Decimal(-2000), Decimal(80_000))
    assert realized == pytest.approx(Decimal(2000) * (1 / p_avg() - Decimal(1) / 80_000))


def p_avg() -> Decimal:
    return Decimal(2000) / (Decimal(1000) / 50_000 + Decimal(1000) / 100_000)


def pnl_from_fills(exchange: Exchange, account: str, symbol: str, mark: Decimal) -> Decimal:
    """Total trading PnL (realized + unrealized) from the fills alone, without any averaging."""
    inst = exchange.market.instrument(symbol)
    total = Decimal(0)
    for f in exchange.fills(account, symbol):
        signed = f.qty if f.side == "buy" else -f.qty
        total += inst.pnl(signed, f.price, mark)
    return total


def test_equity_is_cash_plus_unrealized_pnl_at_every_step_of_a_random_session(
    exchange: Exchange, clock: ManualClock
) -> None:
    rng = random.Random(7)
    start = exchange.summary("alice", "USDT").cash
    symbols = ["BTC-USDT", "BTCUSDT"]
    for step in range(300):
        clock.advance(rng.choice([0.05, 0.5, 7.0, 600.0]))
        sym = rng.choice(symbols)
        inst = exchange.market.instrument(sym)
        mid = exchange.market.mid(sym, clock.now())
        side = rng.choice(["buy", "sell"])
        qty = inst.lot_size * rng.randint(1, 300) * (100 if sym == "BTCUSDT" else 1)
        rejected = None
        try:
            if step % 3 == 0:
                offset = 1 + rng.uniform(-0.003, 0.003)
                price = Decimal(math.floor(mid * offset / float(inst.tick_size))) * inst.tick_size
                exchange.submit("alice", sym, side, qty, price=price)
            elif step % 7 == 0 and exchange.open_orders("alice"):
                exchange.cancel("alice", rng.choice(exchange.open_orders("alice")).id)
            else:
                exchange.submit("alice", sym, side, qty, type="market")
        except OrderRejected as exc:
            rejected = exc.reason
        assert rejected in (None, RejectReason.INSUFFICIENT_FUNDS)  # spot sells beyond holdings
        summary = exchange.summary("alice", "USDT")
        positions = exchange.positions("alice")
        assert summary.equity == summary.cash + summary.unrealized_pnl
        assert summary.unrealized_pnl == sum((p.unrealized_pnl for p in positions), Decimal(0))
        assert summary.available == summary.equity - summary.initial_margin - summary.order_margin
        funding = sum((e.amount for e in exchange.ledger("alice") if e.currency == "USDT"), Decimal(0))
        assert summary.cash == start + summary.realized_pnl - summary.fees_paid + funding
        marks = {p.instrument: p.mark_price for p in positions}
        by_fills = sum(
            (pnl_from_fills(exchange, "alice", s, marks.get(s, Decimal(1))) for s in symbols if s in marks),
            Decimal(0),
        )
        flat_realized = sum(
            (pnl_from_fills(exchange, "alice", s, Decimal(1)) for s in symbols if s not in marks), Decimal(0)
        )
        assert summary.equity - start + summary.fees_paid - funding == pytest.approx(by_fills + flat_realized)
    assert len(exchange.fills("alice")) > 100


def test_realized_pnl_sums_over_round_trips(exchange: Exchange, clock: ManualClock) -> None:
    trips = []
    for k in range(5):
        buy = exchange.submit("alice", "BTC-USDT", "buy", "0.3", type="market")
        clock.advance(3600 * (k + 1))
        sell = exchange.submit("alice", "BTC-USDT", "sell", "0.3", type="market")
        assert exchange.position("alice", "BTC-USDT") is None
        assert buy.avg_fill_price is not None
        assert sell.avg_fill_price is not None
        trips.append((sell.avg_fill_price - buy.avg_fill_price) * Decimal("0.3"))
    fills = exchange.fills("alice")
    summary = exchange.summary("alice", "USDT")
    assert sum((f.realized_pnl for f in fills), Decimal(0)) == summary.realized_pnl
    assert summary.realized_pnl == pytest.approx(sum(trips, Decimal(0)))
    assert summary.unrealized_pnl == 0
    assert summary.initial_margin == 0


def test_inverse_perpetual_pnl_is_in_bitcoin(exchange: Exchange, clock: ManualClock) -> None:
    buy = exchange.submit("alice", "BTC-PERPETUAL", "buy", "10000", type="market")
    clock.advance(DAY / 2)
    sell = exchange.submit("alice", "BTC-PERPETUAL", "sell", "10000", type="market")
    assert buy.avg_fill_price is not None
    assert sell.avg_fill_price is not None
    expected = Decimal(10000) * (1 / buy.avg_fill_price - 1 / sell.avg_fill_price)
    summary = exchange.summary("alice", "BTC")
    assert summary.realized_pnl == pytest.approx(expected)
    funding = sum((e.amount for e in exchange.ledger("alice")), Decimal(0))
    assert funding != 0  # half a day crosses funding settlements
    assert summary.cash == Decimal(10) + summary.realized_pnl + funding


def test_initial_margin_is_notional_over_leverage(exchange: Exchange) -> None:
    exchange.submit("alice", "BTC-USDT", "buy", "2", type="market")
    (pos,) = exchange.positions("alice")
    assert pos.initial_margin == pos.notional / 10
    exchange.set_leverage("alice", "BTC-USDT", 25)
    assert exchange.summary("alice", "USDT").initial_margin == exchange.positions("alice")[0].notional / 25


def test_perpetual_positions_pay_funding_at_each_settlement(exchange: Exchange, clock: ManualClock) -> None:
    exchange.submit("alice", "BTC-USDT", "buy", "1", type="market")
    before = exchange.summary("alice", "USDT").cash
    next_settlement = (math.floor(clock.now() / 28_800) + 1) * 28_800
    clock.set(next_settlement + 8 * 3600 + 1)
    ledger = exchange.ledger("alice")
    assert [e.time for e in ledger] == [next_settlement, next_settlement + 28_800]
    for entry in ledger:
        assert entry.kind == "funding"
        mark = Decimal(repr(exchange.market.mid("BTC-USDT", entry.time)))
        assert entry.rate is not None
        assert entry.amount == (-mark * entry.rate).quantize(Decimal("1e-12"))
    summary = exchange.summary("alice", "USDT")
    assert summary.cash == before + sum(e.amount for e in ledger)
    assert summary.equity == summary.cash + summary.unrealized_pnl


def test_options_settle_at_intrinsic_value_at_expiry(market: MarketModel, clock: ManualClock) -> None:
    expiry = (math.floor(T0 / DAY) + 2) * DAY + 8 * 3600
    fwd = market.forward("BTC", T0, expiry)
    strike = Decimal(math.floor(fwd / 1000) * 1000)
    market.add_instrument(
        Instrument.option(
            "BTC-C", "BTC", expiry, strike, "call", "0.0001", "0.1", premium_in_underlying=True, settle_currency="BTC"
        )
    )
    ex = Exchange(market, clock)
    ex.open_account("a", {"BTC": "10"})
    premium = ex.submit("a", "BTC-C", "buy", "1", type="market").avg_fill_price
    assert premium is not None
    clock.set(expiry + 60)
    assert ex.positions("a") == []
    (entry,) = ex.ledger("a")
    index = Decimal(repr(market.index("BTC", expiry)))
    intrinsic = max(index - strike, Decimal(0)) / index
    assert (entry.kind, entry.time, entry.price) == ("settlement", expiry, intrinsic)
    assert entry.amount == intrinsic - premium
    assert ex.summary("a", "BTC").cash == Decimal(10) + intrinsic - premium
    with pytest.raises(OrderRejected) as info:
        ex.submit("a", "BTC-C", "buy", "1", type="market")
    assert info.value.reason is RejectReason.INSTRUMENT_EXPIRED
