"""Resting orders by price, and the model book's liquidity as takers consume it."""

from __future__ import annotations

import bisect
import math

from cerbero_mcp.simulators.engine.instruments import Instrument
from cerbero_mcp.simulators.engine.market import BOOK_MAX_DEPTH, MarketModel
from cerbero_mcp.simulators.engine.orders import Order, Side


class Ladder:
    """One side of resting orders (or stops) of one instrument, grouped by price in ticks."""

    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.levels: dict[int, dict[str, Order]] = {}
        self.prices: list[int] = []

    def add(self, ticks: int, order: Order) -> None:
        """Add `order` at `ticks` (after the orders already there)."""
        level = self.levels.get(ticks)
        if level is None:
            bisect.insort(self.prices, ticks)
            level = self.levels[ticks] = {}
        level[order.id] = order

    def remove(self, ticks: int, order_id: str) -> None:
        """Remove an order (no-op when absent)."""
        level = self.levels.get(ticks)
        if level is None or level.pop(order_id, None) is None:
            return
        if not level:
            del self.levels[ticks]
            del self.prices[bisect.bisect_left(self.prices, ticks)]

    def at_or_above(self, ticks: int) -> list[Order]:
        """Return the orders priced at `ticks` or higher."""
        i = bisect.bisect_left(self.prices, ticks)
        return [o for p in self.prices[i:] for o in self.levels[p].values()]

    def at_or_below(self, ticks: int) -> list[Order]:
        """Return the orders priced at `ticks` or lower."""
        i = bisect.bisect_right(self.prices, ticks)
        return [o for p in self.prices[:i] for o in self.levels[p].values()]


class RestingBook:
    """Resting limits and waiting stops of one instrument."""

    __slots__ = ("asks", "bids", "buy_stops", "sell_stops")

    def __init__(self) -> None:
        self.bids, self.asks = Ladder(), Ladder()
        self.buy_stops, self.sell_stops = Ladder(), Ladder()

    def __bool__(self) -> bool:
        return bool(self.bids.prices or self.asks.prices or self.buy_stops.prices or self.sell_stops.prices)

    def crossed_candidates(self, lo_ticks: int, hi_ticks: int) -> list[Order]:
        """Return the orders the mid may have reached while it ranged over [lo, hi]."""
        return (
            self.bids.at_or_above(lo_ticks)
            + self.asks.at_or_below(hi_ticks)
            + self.buy_stops.at_or_below(hi_ticks)
            + self.sell_stops.at_or_above(lo_ticks)
        )


class Liquidity:
    """The model's book as takers see it: what one taker takes stays taken for the rest of that second."""

    def __init__(self, market: MarketModel) -> None:
        """Read books from `market`."""
        self.market = market
        self._used: dict[str, tuple[int, dict[int, int]]] = {}

    def walk(self, inst: Instrument, side: Side, want: int, limit: int | None, t: float) -> list[tuple[int, int]]:
        """Return the (ticks, lots) an order of `want` lots (limit in ticks, or None) would take at `t`."""
        bid0, ask0, step = self.market.touch(inst, self.market.mid(inst.symbol, t))
        bid_lots, ask_lots = self.market.book_lots(inst, t)
        entry = self._used.get(inst.symbol)
        used = entry[1] if entry is not None and entry[0] == math.floor(t) else {}
        takes: list[tuple[int, int]] = []
        got = 0
        buy = side is Side.BUY
        for i in range(BOOK_MAX_DEPTH):
            p = ask0 + i * step if buy else bid0 - i * step
            if p <= 0 or (limit is not None and (p > limit if buy else p < limit)):
                break
            avail = (ask_lots[i] if buy else bid_lots[i]) - used.get(p, 0)
            if avail > 0:
                take = min(avail, want - got)
                takes.append((p, take))
                got += take
                if got == want:
                    break
        return takes

    def used(self, symbol: str, t: float) -> dict[int, int]:
        """Return the lots taken at each price (ticks) during the second of `t`."""
        entry = self._used.get(symbol)
        return dict(entry[1]) if entry is not None and entry[0] == math.floor(t) else {}

    def consume(self, inst: Instrument, t: float, takes: list[tuple[int, int]]) -> None:
        """Record that `takes` were taken at `t`."""
        bucket = math.floor(t)
        entry = self._used.get(inst.symbol)
        if entry is None or entry[0] != bucket:
            entry = (bucket, {})
            self._used[inst.symbol] = entry
        used = entry[1]
        for p, lots in takes:
            used[p] = used.get(p, 0) + lots
