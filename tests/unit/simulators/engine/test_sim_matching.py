import math
from decimal import Decimal

import pytest

from cerbero_mcp.simulators.engine import (
    CancelReason,
    Exchange,
    Instrument,
    ManualClock,
    MarketModel,
    OrderRejected,
    OrderStatus,
    RejectReason,
)

SYM = "BTC-USDT"
TICK = Decimal("0.1")
DAY = 86_400


def down(x: float, step: Decimal = TICK) -> Decimal:
    return Decimal(math.floor(x / float(step))) * step


def up(x: float, step: Decimal = TICK) -> Decimal:
    return Decimal(math.ceil(x / float(step))) * step


def reject(reason: RejectReason, fn, *args, **kwargs) -> OrderRejected:  # type: ignore[no-untyped-def]
    with pytest.raises(OrderRejected) as info:
        fn(*args, **kwargs)
    assert info.value.reason is reason, info.value
    return info.value


def thin(market: MarketModel) -> str:
    """Add a perpetual with a very thin book (about 0.01 BTC a level) and return its symbol."""
    market.add_instrument(
        Instrument.perpetual("BTC-THIN", "BTC", "0.1", "0.001", quote_currency="USDT", depth_notional=1000)
    )
    return "BTC-THIN"


def level_to_cross(ex: Exchange, below: bool, horizon: float = 2 * DAY) -> tuple[Decimal, float]:
    """Return a price the mid will reach within `horizon` (below or above now) and the first instant it does."""
    now = ex.clock.now()
    mid = ex.market.mid(SYM, now)
    lo, hi = ex.market.mid_range(SYM, now, now + horizon)
    price = down(mid - 0.5 * (mid - lo)) if below else up(mid + 0.5 * (hi - mid))
    t = ex.market.first_cross(SYM, now, now + horizon, float(price), up=not below)
    assert t is not None
    return price, t


# --- takers -----------------------------------------------------------------------------------


def test_market_buy_walks_the_ask_side_level_by_level(exchange: Exchange, clock: ManualClock) -> None:
    book = exchange.market.book(SYM, clock.now(), 5)
    asks = book.asks()
    qty = asks[0][1] + asks[1][1] + asks[2][1] / 2
    order = exchange.submit("alice", SYM, "buy", qty.quantize(Decimal("0.001")), type="market")
    fills = exchange.fills("alice")
    assert order.status is OrderStatus.FILLED
    assert [(f.price, f.qty) for f in fills[:2]] == asks[:2]
    assert fills[2].price == asks[2][0]
    assert all(f.liquidity == "taker" for f in fills)
    vwap = sum(f.price * f.qty for f in fills) / order.filled_qty
    assert order.avg_fill_price == vwap
    assert exchange.position("alice", SYM).qty == order.qty  # type: ignore[union-attr]


def test_taken_liquidity_stays_taken_for_the_rest_of_the_second(exchange: Exchange, clock: ManualClock) -> None:
    asks = exchange.market.book(SYM, clock.now(), 3).asks()
    exchange.submit("alice", SYM, "buy", asks[0][1], type="market")
    clock.advance(0.2)
    second = exchange.submit("alice", SYM, "buy", Decimal("0.001"), type="market")
    assert second.avg_fill_price is not None
    assert second.avg_fill_price > asks[0][0]
    clock.advance(1.0)
    fresh = exchange.market.book(SYM, clock.now(), 1).asks()[0][0]
    assert exchange.submit("alice", SYM, "buy", Decimal("0.001"), type="market").avg_fill_price == fresh


def test_market_order_bigger_than_the_book_fills_partially_and_cancels_the_rest(
    exchange: Exchange, clock: ManualClock
) -> None:
    sym = thin(exchange.market)
    depth = sum(q for _, q in exchange.market.book(sym, clock.now(), 100).asks())
    order = exchange.submit("alice", sym, "buy", depth + 5, type="market")
    assert order.filled_qty == depth
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason is CancelReason.IOC_REMAINDER


def test_fok_is_all_or_nothing(exchange: Exchange, clock: ManualClock) -> None:
    sym = thin(exchange.market)
    depth = sum(q for _, q in exchange.market.book(sym, clock.now(), 100).asks())
    reject(RejectReason.FOK_NOT_FILLABLE, exchange.submit, "alice", sym, "buy", depth + 5, type="market", tif="fok")
    assert exchange.fills("alice") == []
    assert exchange.open_orders("alice") == []
    best = exchange.market.book(sym, clock.now(), 1).asks()[0]
    order = exchange.submit("alice", sym, "buy", best[1], price=best[0], tif="fok")
    assert order.status is OrderStatus.FILLED


def test_ioc_limit_takes_what_crosses_and_cancels_the_rest(exchange: Exchange, clock: ManualClock) -> None:
    best_price, best_qty = exchange.market.book(SYM, clock.now(), 1).asks()[0]
    order = exchange.submit("alice", SYM, "buy", best_qty * 3, price=best_price, tif="ioc")
    assert order.filled_qty == best_qty
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason is CancelReason.IOC_REMAINDER
    assert exchange.open_orders("alice") == []


# --- resting orders ---------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_resting_limit_fills_as_maker_at_the_first_instant_the_mid_reaches_it(
    exchange: Exchange, clock: ManualClock, side: str
) -> None:
    price, t_cross = level_to_cross(exchange, below=side == "buy")
    order = exchange.submit("alice", SYM, side, "0.5", price=price)
    assert order.status is OrderStatus.NEW
    clock.set(t_cross - 1.0)
    assert exchange.order("alice", order.id).status is OrderStatus.NEW
    clock.set(t_cross + 60.0)
    assert exchange.order("alice", order.id).status is OrderStatus.FILLED
    (fill,) = exchange.fills("alice")
    assert fill.price == price
    assert fill.liquidity == "maker"
    assert fill.time == pytest.approx(t_cross, abs=0.01)
    assert order.updated_at == fill.time


def test_limit_crossing_the_book_fills_partially_then_rests_the_remainder(
    exchange: Exchange, clock: ManualClock
) -> None:
    asks = exchange.market.book(SYM, clock.now(), 3).asks()
    available = sum(q for _, q in asks)
    order = exchange.submit("alice", SYM, "buy", available + 1, price=asks[2][0])
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_qty == available
    assert order.remaining == 1
    assert exchange.open_orders("alice") == [order]
    assert exchange.summary("alice", "USDT").order_margin > 0


def test_stop_market_triggers_when_the_mid_reaches_the_stop(exchange: Exchange, clock: ManualClock) -> None:
    stop, t_cross = level_to_cross(exchange, below=False)
    order = exchange.submit("alice", SYM, "buy", "0.2", type="stop_market", stop_price=stop)
    assert order.status is OrderStatus.UNTRIGGERED
    assert exchange.summary("alice", "USDT").order_margin == 0
    clock.set(t_cross - 1.0)
    assert exchange.order("alice", order.id).status is OrderStatus.UNTRIGGERED
    clock.set(t_cross + 30.0)
    order = exchange.order("alice", order.id)
    assert order.status is OrderStatus.FILLED
    assert order.triggered_at == pytest.approx(t_cross, abs=0.01)
    assert order.avg_fill_price is not None
    assert abs(order.avg_fill_price / stop - 1) < Decimal("0.001")
    assert all(f.liquidity == "taker" and f.time == order.triggered_at for f in exchange.fills("alice"))


def test_stop_limit_triggers_then_rests_at_its_limit(exchange: Exchange, clock: ManualClock) -> None:
    stop, t_cross = level_to_cross(exchange, below=True)
    limit = stop + 50  # a sell limit well above the market once triggered: it rests
    order = exchange.submit("alice", SYM, "sell", "0.2", type="stop_limit", stop_price=stop, price=limit)
    clock.set(t_cross + 0.5)
    order = exchange.order("alice", order.id)
    assert order.triggered_at == pytest.approx(t_cross, abs=0.01)
    assert order.status is OrderStatus.NEW
    assert exchange.fills("alice") == []
    assert exchange.open_orders("alice") == [order]


def test_stop_already_through_the_market_triggers_at_once(exchange: Exchange, clock: ManualClock) -> None:
    below = down(exchange.market.mid(SYM, clock.now()) * 0.99)
    order = exchange.submit("alice", SYM, "buy", "0.1", type="stop_market", stop_price=below)
    assert order.status is OrderStatus.FILLED
    assert order.triggered_at == clock.now()


def test_day_order_expires_at_utc_midnight(exchange: Exchange, clock: ManualClock) -> None:
    far = down(exchange.market.mid(SYM, clock.now()) * 0.5)
    order = exchange.submit("alice", SYM, "buy", "0.1", price=far, tif="day")
    midnight = (math.floor(clock.now() / DAY) + 1) * DAY
    clock.set(midnight - 1)
    assert exchange.order("alice", order.id).status is OrderStatus.NEW
    clock.set(midnight + 1)
    exchange.advance()  # state moves on the next call (every public method advances first)
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason is CancelReason.EXPIRED
    assert order.updated_at == midnight
    assert exchange.summary("alice", "USDT").order_margin == 0


# --- post-only and reduce-only ----------------------------------------------------------------


def test_post_only_is_refused_when_it_would_take_and_rests_otherwise(exchange: Exchange, clock: ManualClock) -> None:
    book = exchange.market.book(SYM, clock.now(), 1)
    assert book.best_ask is not None
    assert book.best_bid is not None
    err = reject(RejectReason.POST_ONLY_WOULD_TAKE, exchange.submit, "alice", SYM, "buy", "0.1",
                 price=book.best_ask, post_only=True, client_order_id="po-1")  # fmt: skip
    assert err.order is not None
    assert err.order.status is OrderStatus.NEW
    assert exchange.open_orders("alice") == []
    rested = exchange.submit("alice", SYM, "buy", "0.1", price=book.best_bid, post_only=True, client_order_id="po-1")
    assert rested.status is OrderStatus.NEW
    reject(RejectReason.INVALID_ORDER, exchange.submit, "alice", SYM, "buy", "0.1", price=book.best_bid,
           post_only=True, tif="ioc")  # fmt: skip


def test_reduce_only_is_refused_when_it_would_open_or_grow_a_position(exchange: Exchange) -> None:
    reject(RejectReason.REDUCE_ONLY_WOULD_INCREASE, exchange.submit, "alice", SYM, "sell", "0.1", type="market",
           reduce_only=True)  # fmt: skip
    exchange.submit("alice", SYM, "buy", "0.5", type="market")
    reject(RejectReason.REDUCE_ONLY_WOULD_INCREASE, exchange.submit, "alice", SYM, "buy", "0.1", type="market",
           reduce_only=True)  # fmt: skip
    reject(RejectReason.REDUCE_ONLY_WOULD_INCREASE, exchange.submit, "alice", SYM, "sell", "0.6", type="market",
           reduce_only=True)  # fmt: skip
    exchange.submit("alice", SYM, "sell", "0.5", type="market", reduce_only=True)
    assert exchange.position("alice", SYM) is None


def test_resting_reduce_only_order_is_cancelled_if_the_position_is_gone_when_it_fills(
    exchange: Exchange, clock: ManualClock
) -> None:
    exchange.submit("alice", SYM, "buy", "0.5", type="market")
    price, t_cross = level_to_cross(exchange, below=False)
    order = exchange.submit("alice", SYM, "sell", "0.5", price=price, reduce_only=True)
    exchange.close_position("alice", SYM)
    clock.set(t_cross + 1)
    assert exchange.order("alice", order.id).status is OrderStatus.CANCELLED
    assert order.cancel_reason is CancelReason.REDUCE_ONLY
    assert exchange.position("alice", SYM) is None
    reject(RejectReason.NO_POSITION, exchange.close_position, "alice", SYM)


# --- amend, cancel, client order ids ----------------------------------------------------------


def test_amend_changes_price_and_qty_and_can_make_an_order_cross(exchange: Exchange, clock: ManualClock) -> None:
    mid = exchange.market.mid(SYM, clock.now())
    order = exchange.submit("alice", SYM, "buy", "0.2", price=down(mid * 0.98), client_order_id="a1")
    margin = exchange.summary("alice", "USDT").order_margin
    exchange.amend("alice", client_order_id="a1", qty="0.4", price=down(mid * 0.97))
    assert (order.qty, order.price) == (Decimal("0.4"), down(mid * 0.97))
    assert exchange.summary("alice", "USDT").order_margin > margin
    best_ask = exchange.market.book(SYM, clock.now(), 1).best_ask
    assert best_ask is not None
    exchange.amend("alice", order.id, price=best_ask + 100)
    assert order.status is OrderStatus.FILLED
    assert order.id == exchange.fills("alice")[0].order_id
    reject(RejectReason.ORDER_NOT_OPEN, exchange.amend, "alice", order.id, qty="1")


def test_amend_that_is_refused_leaves_the_order_as_it_was(exchange: Exchange, clock: ManualClock) -> None:
    book = exchange.market.book(SYM, clock.now(), 1)
    assert book.best_bid is not None
    assert book.best_ask is not None
    order = exchange.submit("alice", SYM, "buy", "0.2", price=book.best_bid - 10, post_only=True)
    before = exchange.summary("alice", "USDT")
    reject(RejectReason.POST_ONLY_WOULD_TAKE, exchange.amend, "alice", order.id, price=book.best_ask)
    reject(RejectReason.INVALID_PRICE, exchange.amend, "alice", order.id, price="100.05")
    reject(RejectReason.INVALID_ORDER, exchange.amend, "alice", order.id, stop_price="100")
    assert order.price == book.best_bid - 10
    assert order.status is OrderStatus.NEW
    assert exchange.summary("alice", "USDT") == before
    assert exchange.open_orders("alice") == [order]


def test_amend_below_the_filled_quantity_is_refused(exchange: Exchange, clock: ManualClock) -> None:
    asks = exchange.market.book(SYM, clock.now(), 1).asks()
    order = exchange.submit("alice", SYM, "buy", asks[0][1] + 1, price=asks[0][0])
    assert order.status is OrderStatus.PARTIALLY_FILLED
    reject(RejectReason.INVALID_QTY, exchange.amend, "alice", order.id, qty=order.filled_qty)


def test_cancel_by_id_or_client_id_releases_margin_and_only_works_once(exchange: Exchange, clock: ManualClock) -> None:
    mid = exchange.market.mid(SYM, clock.now())
    a = exchange.submit("alice", SYM, "buy", "0.1", price=down(mid * 0.9))
    b = exchange.submit("alice", SYM, "sell", "0.1", price=up(mid * 1.1), client_order_id="b")
    c = exchange.submit("alice", SYM, "buy", "0.1", type="stop_market", stop_price=up(mid * 1.2))
    assert exchange.cancel("alice", a.id).status is OrderStatus.CANCELLED
    assert exchange.cancel("alice", client_order_id="b") is b
    assert b.cancel_reason is CancelReason.USER
    reject(RejectReason.ORDER_NOT_OPEN, exchange.cancel, "alice", a.id)
    reject(RejectReason.ORDER_NOT_FOUND, exchange.cancel, "alice", "nope")
    reject(RejectReason.ORDER_NOT_FOUND, exchange.cancel, "alice", client_order_id="nope")
    assert exchange.cancel_all("alice") == [c]
    assert exchange.summary("alice", "USDT").order_margin == 0
    assert exchange.open_orders("alice") == []
    assert len(exchange.order_history("alice")) == 3


def test_client_order_ids_are_unique_per_account_forever(exchange: Exchange, clock: ManualClock) -> None:
    exchange.open_account("bob", {"USDT": "100000"})
    mid = exchange.market.mid(SYM, clock.now())
    order = exchange.submit("alice", SYM, "buy", "0.1", price=down(mid * 0.9), client_order_id="x-1")
    err = reject(RejectReason.DUPLICATE_CLIENT_ORDER_ID, exchange.submit, "alice", SYM, "buy", "0.1",
                 price=down(mid * 0.9), client_order_id="x-1")  # fmt: skip
    assert order.id in err.message
    exchange.cancel("alice", order.id)
    reject(RejectReason.DUPLICATE_CLIENT_ORDER_ID, exchange.submit, "alice", SYM, "buy", "0.1", type="market",
           client_order_id="x-1")  # fmt: skip
    assert exchange.submit("bob", SYM, "buy", "0.1", type="market", client_order_id="x-1").status is OrderStatus.FILLED
    assert exchange.order("alice", client_order_id="x-1") is order


# --- validation and funds ---------------------------------------------------------------------


def test_misaligned_or_malformed_orders_are_refused_with_the_nearest_valid_values(exchange: Exchange) -> None:
    err = reject(RejectReason.INVALID_PRICE, exchange.submit, "alice", SYM, "buy", "0.1", price="100000.05")
    assert err.details["nearest"] == ["100000", "100000.1"]
    err = reject(RejectReason.INVALID_QTY, exchange.submit, "alice", SYM, "buy", "0.0015", type="market")
    assert err.details["nearest"] == ["0.001", "0.002"]
    reject(RejectReason.INVALID_QTY, exchange.submit, "alice", SYM, "buy", "abc", type="market")
    reject(RejectReason.INVALID_QTY, exchange.submit, "alice", SYM, "buy", "-1", type="market")
    reject(RejectReason.INVALID_ORDER, exchange.submit, "alice", SYM, "buy", "0.1", type="market", price="100000")
    reject(RejectReason.INVALID_ORDER, exchange.submit, "alice", SYM, "buy", "0.1", type="limit")
    reject(RejectReason.INVALID_ORDER, exchange.submit, "alice", SYM, "buy", "0.1", type="stop_market")
    reject(RejectReason.UNKNOWN_INSTRUMENT, exchange.submit, "alice", "DOGE-USDT", "buy", "1", type="market")
    reject(RejectReason.UNKNOWN_ACCOUNT, exchange.submit, "mallory", SYM, "buy", "1", type="market")
    reject(RejectReason.MIN_NOTIONAL, exchange.submit, "alice", "BTCUSDT", "buy", "0.00001", type="market")
    assert exchange.order_history("alice") == []


def test_orders_beyond_the_margin_are_refused_and_change_nothing(exchange: Exchange, clock: ManualClock) -> None:
    exchange.open_account("bob", {"USDT": "2000"}, leverage=10)
    mid = exchange.market.mid(SYM, clock.now())
    reject(RejectReason.INSUFFICIENT_FUNDS, exchange.submit, "bob", SYM, "buy", "1", type="market")
    reject(RejectReason.INSUFFICIENT_FUNDS, exchange.submit, "bob", SYM, "buy", "1", price=down(mid * 0.9))
    assert exchange.fills("bob") == []
    assert exchange.order_history("bob") == []
    order = exchange.submit("bob", SYM, "buy", "0.1", price=down(mid * 0.9))
    summary = exchange.summary("bob", "USDT")
    assert summary.order_margin == order.price * Decimal("0.1") / 10  # type: ignore[operator]
    assert summary.available == Decimal(2000) - summary.order_margin
    exchange.set_leverage("bob", SYM, 100)
    assert exchange.submit("bob", SYM, "buy", "1", type="market").status is OrderStatus.FILLED


def test_spot_cannot_sell_more_than_it_holds(exchange: Exchange, clock: ManualClock) -> None:
    reject(RejectReason.INSUFFICIENT_FUNDS, exchange.submit, "alice", "BTCUSDT", "sell", "0.01", type="market")
    exchange.submit("alice", "BTCUSDT", "buy", "0.02", type="market")
    mid = exchange.market.mid("BTCUSDT", clock.now())
    exchange.submit("alice", "BTCUSDT", "sell", "0.015", price=up(mid * 1.1, Decimal("0.01")))
    reject(RejectReason.INSUFFICIENT_FUNDS, exchange.submit, "alice", "BTCUSDT", "sell", "0.01", type="market")
    assert exchange.submit("alice", "BTCUSDT", "sell", "0.005", type="market").status is OrderStatus.FILLED


def test_ids_come_from_the_id_factory(market: MarketModel, clock: ManualClock) -> None:
    ex = Exchange(market, clock, id_factory=lambda kind, n: f"{kind}-{n:04d}")
    ex.open_account("a", {"USDT": "100000"})
    order = ex.submit("a", SYM, "buy", "0.1", type="market")
    assert order.id == "order-0001"
    assert ex.fills("a")[0].id == "fill-0001"


def test_venue_book_shows_resting_orders_and_what_takers_took_this_second(
    exchange: Exchange, clock: ManualClock
) -> None:
    model = exchange.market.book(SYM, clock.now(), 5)
    assert exchange.book(SYM, 5).bids() == model.bids()
    best_bid, best_bid_qty = model.bids()[0]
    exchange.submit("alice", SYM, "buy", "1.5", price=best_bid)
    exchange.submit("alice", SYM, "buy", "0.25", price=best_bid + 1)
    taken = model.asks()[0][1]
    exchange.submit("alice", SYM, "buy", taken, type="market")
    shown = exchange.book(SYM, 5)
    assert shown.bids()[:2] == [(best_bid + 1, Decimal("0.25")), (best_bid, best_bid_qty + Decimal("1.5"))]
    assert shown.asks()[0] == model.asks()[1]  # the best ask was taken for this second
    assert len(shown.bids()) == len(shown.asks()) == 5
