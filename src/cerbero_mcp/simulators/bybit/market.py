"""The Bybit simulator's listed instruments, in Bybit's symbology, and its public market views.

Underlyings BTC (anchored at 100,000) and ETH (3,500) walk from the start of the UTC day the app
was built on. Symbols follow docs/v5/enum.mdx#symbol:

- linear: USDT perpetuals `BTCUSDT`, `ETHUSDT`; USDC perpetuals `BTCPERP`, `ETHPERP`; USDT futures
  `BTCUSDT-27MAR26` (weekly, monthly and quarterly Fridays); USDC futures `BTC-27MAR26` (monthly
  and quarterly);
- inverse: perpetuals `BTCUSD`, `ETHUSD` (1 USD contracts, settled in the coin) and quarterly
  futures `BTCUSDH26` (H/M/U/Z = the quarter's month, then the year);
- spot: `BTCUSDT`, `ETHUSDT` (qty in `basePrecision` steps, `minOrderAmt` in USDT);
- option: USDC options `BTC-27MAR26-100000-C` on daily, weekly, monthly and quarterly expiries.

Every dated instrument is derived from the clock: deliveries are at 08:00 UTC, listed as time
moves (checked once per clock hour), expired ones stay known for positions and settlement but
leave instruments-info. Prices, books, candles, funding, open interest and option marks come from
the shared engine's `MarketModel`.
"""

from __future__ import annotations

import calendar
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from cerbero_mcp.simulators.bybit.wire import fnum, ms, on_step, param_error, text
from cerbero_mcp.simulators.engine import (
    Instrument,
    MarketModel,
    SurfaceParams,
    Underlying,
    listed_expiries,
)

DAY = 86_400
HOUR = 3_600
YEAR = 365.0 * DAY
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
QUARTER_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
CATEGORIES = ("linear", "inverse", "spot", "option")
OPTION_KINDS: tuple[tuple[Literal["call", "put"], str], ...] = (("call", "C"), ("put", "P"))
INTERVALS = {
    "1": 60, "3": 180, "5": 300, "15": 900, "30": 1800, "60": 3600, "120": 7200,
    "240": 14400, "360": 21600, "720": 43200, "D": 86400,
}  # fmt: skip
OI_INTERVALS = {"5min": 300, "15min": 900, "30min": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
BOOK_LIMITS: dict[str, tuple[int, int]] = {"spot": (1, 1000), "linear": (25, 1000), "inverse": (25, 1000),
                                           "option": (1, 25)}  # fmt: skip
LAUNCH_MS = {"BTC": 1_585_526_400_000, "ETH": 1_615_766_400_000}
TAKER_FEE = Decimal("0.00055")
MAKER_FEE = Decimal("0.0002")
SPOT_FEE = Decimal("0.001")
OPTION_FEE = Decimal("0.0003")


@dataclass(frozen=True)
class Coin:
    """One underlying and the contract terms Bybit lists it with."""

    name: str
    price: float
    vol: float
    volume: float  # mean coin traded per minute
    perp_tick: str
    perp_step: str
    perp_max: str
    perp_mkt_max: str
    future_tick: str
    inverse_tick: str
    spot_tick: str
    spot_precision: str
    option_tick: str
    option_step: str
    strikes: tuple[int, ...]
    max_leverage: str


COINS: dict[str, Coin] = {
    "BTC": Coin("BTC", 100_000.0, 0.55, 3.0, "0.10", "0.001", "1190.000", "500.000", "0.50", "0.50", "0.10",
                "0.000001", "5", "0.01", tuple(range(70_000, 130_001, 2_500)), "100.00"),
    "ETH": Coin("ETH", 3_500.0, 0.7, 40.0, "0.01", "0.01", "7240.00", "3620.00", "0.05", "0.05", "0.01",
                "0.00001", "0.1", "0.1", tuple(range(2_500, 4_501, 100)), "100.00"),
}  # fmt: skip


@dataclass(frozen=True)
class Spec:
    """What Bybit says about a symbol beyond the engine's contract terms."""

    symbol: str  # Bybit's symbol (the engine key is `key`)
    key: str  # engine instrument name: spot symbols clash with linear ones ("BTCUSDT"), so spot is "spot:BTCUSDT"
    category: str
    contract_type: str  # LinearPerpetual | LinearFutures | InversePerpetual | InverseFutures | "" (spot, option)
    base: str
    quote: str
    settle: str
    tick: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_mkt_qty: Decimal
    min_notional: Decimal  # linear minNotionalValue, spot minOrderAmt, else 0
    launch_ms: int
    delivery_ms: int  # 0 for perpetuals and spot
    symbol_id: int
    max_leverage: str = ""

    @property
    def perpetual(self) -> bool:
        """Return whether this is a perpetual."""
        return self.contract_type.endswith("Perpetual")


def expiry_code(ts: float) -> str:
    """Return Bybit's DMMMYY date code (e.g. 27MAR26, 3JAN23)."""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.day}{MONTHS[d.month - 1]}{d.year % 100:02d}"


def inverse_future_symbol(coin: str, ts: float) -> str:
    """Return the inverse quarterly symbol, e.g. BTCUSDH26 for the March 2026 delivery."""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{coin}USD{QUARTER_CODES[d.month]}{d.year % 100:02d}"


def last_friday(year: int, month: int) -> float:
    """Return 08:00 UTC on the last Friday of a month."""
    last = calendar.monthrange(year, month)[1]
    d = datetime(year, month, last, 8, tzinfo=UTC)
    d -= timedelta(days=(d.weekday() - 4) % 7)
    return d.timestamp()


def quarterlies(now: float, count: int) -> list[float]:
    """Return the next `count` quarterly deliveries (last Friday of Mar/Jun/Sep/Dec, 08:00 UTC)."""
    d = datetime.fromtimestamp(now, UTC)
    y, m = d.year, d.month
    out: list[float] = []
    while len(out) < count:
        if m % 3 == 0 and last_friday(y, m) > now:
            out.append(last_friday(y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class BybitMarket:
    """The listed instruments of one simulator instance over a `MarketModel`, and Bybit's public views."""

    def __init__(self, seed: int, now: float) -> None:
        """List every instrument as of `now` (the paths start at the anchor prices on now's UTC day)."""
        anchor = math.floor(now / DAY) * DAY
        surface = {
            "BTC": SurfaceParams(atm_vol=0.55, skew=-0.12, curvature=0.2, term_slope=0.05),
            "ETH": SurfaceParams(atm_vol=0.65, skew=-0.10, curvature=0.2, term_slope=0.05),
        }
        self.model = MarketModel(
            seed,
            [
                Underlying(c.name, c.price, vol=c.vol, anchor=anchor, carry=0.05, volume=c.volume, surface=surface[n])
                for n, c in COINS.items()
            ],
        )
        self.specs: dict[tuple[str, str], Spec] = {}  # (category, symbol) -> spec
        self.by_key: dict[str, Spec] = {}
        self._ids = itertools.count(1)
        self._listed_hour: int | None = None
        self._anchor_ms = ms(anchor)
        for c in COINS.values():
            self._list_perpetuals(c)
            self._list_spot(c)
        self.ensure_listed(now)

    # --- listing ------------------------------------------------------------------------------

    def _add(self, inst: Instrument, spec: Spec) -> None:
        self.model.add_instrument(inst)
        self.specs[(spec.category, spec.symbol)] = spec
        self.by_key[spec.key] = spec

    def _spec(self, symbol: str, key: str, category: str, ctype: str, c: Coin, quote: str, settle: str, tick: str,
              step: str, max_qty: str, mkt_max: str, min_notional: str, launch: int, delivery: int,
              lev: str = "") -> Spec:  # fmt: skip
        return Spec(symbol, key, category, ctype, c.name, quote, settle, Decimal(tick), Decimal(step), Decimal(step),
                    Decimal(max_qty), Decimal(mkt_max), Decimal(min_notional), launch, delivery, next(self._ids),
                    lev)  # fmt: skip

    def _list_perpetuals(self, c: Coin) -> None:
        launch = LAUNCH_MS[c.name]
        for symbol, quote in ((f"{c.name}USDT", "USDT"), (f"{c.name}PERP", "USDC")):
            self._add(
                Instrument.perpetual(symbol, c.name, c.perp_tick, c.perp_step, quote_currency=quote,
                                     taker_fee=TAKER_FEE, maker_fee=MAKER_FEE, min_notional="5",
                                     spread_bps=0.2, level_step_bps=0.1, depth_notional=400_000.0),
                self._spec(symbol, symbol, "linear", "LinearPerpetual", c, quote, quote, c.perp_tick, c.perp_step,
                           c.perp_max, c.perp_mkt_max, "5", launch, 0, c.max_leverage),
            )  # fmt: skip
        symbol = f"{c.name}USD"
        self._add(
            Instrument.perpetual(symbol, c.name, c.inverse_tick, "1", contract_size=1, inverse=True,
                                 quote_currency="USD", settle_currency=c.name, taker_fee=TAKER_FEE,
                                 maker_fee=MAKER_FEE, spread_bps=0.3, level_step_bps=0.2, depth_notional=300_000.0),
            self._spec(symbol, symbol, "inverse", "InversePerpetual", c, "USD", c.name, c.inverse_tick, "1",
                       "1000000", "300000", "0", launch, 0, c.max_leverage),
        )  # fmt: skip

    def _list_spot(self, c: Coin) -> None:
        symbol = f"{c.name}USDT"
        max_qty = "83" if c.name == "BTC" else "1000"
        self._add(
            Instrument.spot(f"spot:{symbol}", c.name, c.spot_tick, c.spot_precision, quote_currency="USDT",
                            taker_fee=SPOT_FEE, maker_fee=SPOT_FEE, min_notional="5", depth_notional=300_000.0),
            self._spec(symbol, f"spot:{symbol}", "spot", "", c, "USDT", "USDT", c.spot_tick, c.spot_precision,
                       max_qty, str(Decimal(max_qty) / 2), "5", LAUNCH_MS[c.name], 0),
        )  # fmt: skip

    def ensure_listed(self, now: float) -> None:
        """List the dated instruments due at `now` (checked once per clock hour)."""
        hour = math.floor(now / HOUR)
        if hour == self._listed_hour:
            return
        self._listed_hour = hour
        usdt_futures = listed_expiries(now, dailies=0, weeklies=2, monthlies=2, quarterlies=2)
        usdc_futures = listed_expiries(now, dailies=0, weeklies=0, monthlies=1, quarterlies=2)
        option_expiries = listed_expiries(now, dailies=2, weeklies=2, monthlies=2, quarterlies=2)
        listed = self._anchor_ms
        for c in COINS.values():
            for e, symbol, quote in [(e, f"{c.name}USDT-{expiry_code(e)}", "USDT") for e in usdt_futures] + [
                (e, f"{c.name}-{expiry_code(e)}", "USDC") for e in usdc_futures
            ]:
                if ("linear", symbol) not in self.specs:
                    self._add(
                        Instrument.future(symbol, c.name, e, c.future_tick, c.perp_step, quote_currency=quote,
                                          taker_fee=TAKER_FEE, maker_fee=MAKER_FEE, min_notional="5",
                                          spread_bps=1.0, level_step_bps=0.5, depth_notional=150_000.0),
                        self._spec(symbol, symbol, "linear", "LinearFutures", c, quote, quote, c.future_tick,
                                   c.perp_step, c.perp_max, c.perp_mkt_max, "5", listed, ms(e), "50.00"),
                    )  # fmt: skip
            for e in quarterlies(now, 2):
                symbol = inverse_future_symbol(c.name, e)
                if ("inverse", symbol) not in self.specs:
                    self._add(
                        Instrument.future(symbol, c.name, e, c.inverse_tick, "1", contract_size=1, inverse=True,
                                          quote_currency="USD", settle_currency=c.name, taker_fee=TAKER_FEE,
                                          maker_fee=MAKER_FEE, spread_bps=1.0, level_step_bps=0.5,
                                          depth_notional=150_000.0),
                        self._spec(symbol, symbol, "inverse", "InverseFutures", c, "USD", c.name, c.inverse_tick,
                                   "1", "1000000", "300000", "0", listed, ms(e), "50.00"),
                    )  # fmt: skip
            for e in option_expiries:
                for strike in c.strikes:
                    for kind, letter in OPTION_KINDS:
                        symbol = f"{c.name}-{expiry_code(e)}-{strike}-{letter}"
                        if ("option", symbol) in self.specs:
                            continue
                        self._add(
                            Instrument.option(symbol, c.name, e, str(strike), kind, c.option_tick, c.option_step,
                                              quote_currency="USDC", taker_fee=OPTION_FEE, maker_fee=OPTION_FEE,
                                              depth_notional=200_000.0),
                            self._spec(symbol, symbol, "option", "", c, "USDC", "USDC", c.option_tick,
                                       c.option_step, "500", "500", "0", listed, ms(e)),
                        )  # fmt: skip

    # --- lookup -------------------------------------------------------------------------------

    def spec(self, category: str, symbol: str, *, market: bool = True) -> Spec:
        """Return a symbol of a category, or Bybit's 10001 (symbol invalid / not supported)."""
        spec = self.specs.get((category, symbol))
        if spec is None:
            raise param_error("params error: symbol invalid" if market else "Not supported symbols")
        return spec

    def live(self, spec: Spec, now: float) -> bool:
        """Return whether the symbol is still trading at `now` (not yet delivered)."""
        return spec.delivery_ms == 0 or spec.delivery_ms > ms(now)

    def listed(self, category: str, now: float) -> list[Spec]:
        """Return the live symbols of a category, in listing order (dated ones by delivery)."""
        out = [s for (cat, _), s in self.specs.items() if cat == category and self.live(s, now)]
        return sorted(out, key=lambda s: (s.delivery_ms or 0, s.symbol_id))

    def instrument(self, spec: Spec) -> Instrument:
        """Return the engine instrument of a symbol."""
        return self.model.instrument(spec.key)

    # --- views: order book, candles, funding, open interest -----------------------------------

    def book_json(self, spec: Spec, depth: int, now: float, book_of: Any) -> dict[str, Any]:
        """Return the orderbook snapshot `{s, b, a, ts, u, seq, cts}` (`book_of(key, depth)` gives the book)."""
        book = book_of(spec.key, depth)
        tick = spec.tick
        seq = int(now * 10)
        return {
            "s": spec.symbol,
            "b": [[on_step(p, tick), text(q)] for p, q in book.bids()],
            "a": [[on_step(p, tick), text(q)] for p, q in book.asks()],
            "ts": ms(now), "u": seq % 10_000_000, "seq": seq, "cts": ms(now),
        }  # fmt: skip

    def candles(self, key: str, interval: str, start: int | None, end: int | None, limit: int,
                now: float) -> list[tuple[int, float, float, float, float, float]]:  # fmt: skip
        """Return up to `limit` candles of `interval` starting within [start, end] (ms), newest first."""
        end_s = min(end / 1000 if end is not None else now, now)
        if interval in INTERVALS:
            res = INTERVALS[interval]
            lo = end_s - res * limit
            if start is not None:
                lo = max(lo, start / 1000 - res)
            rows = self.model.candles(key, lo, end_s + 1e-6, res, now=now).rows()
        else:
            rows = self._calendar_candles(key, interval, start, end_s, limit, now)
        rows = [r for r in rows if (start is None or r[0] * 1000 >= start) and r[0] <= end_s]
        return list(reversed(rows))[:limit]

    def _calendar_candles(self, name: str, interval: str, start: int | None, end_s: float, limit: int,
                          now: float) -> list[tuple[int, float, float, float, float, float]]:  # fmt: skip
        """Return weekly (Monday) or monthly candles aggregated from daily ones."""
        span_days = 7 * limit + 7 if interval == "W" else 31 * limit + 31
        first = end_s - span_days * DAY if start is None else max(start / 1000 - 31 * DAY, end_s - span_days * DAY)
        daily = self.model.candles(name, math.floor(first / DAY) * DAY, end_s + 1e-6, DAY, now=now).rows()
        groups: dict[int, list[tuple[int, float, float, float, float, float]]] = {}
        for row in daily:
            d = datetime.fromtimestamp(row[0], UTC)
            if interval == "W":
                k = int((d - timedelta(days=d.weekday())).timestamp())
            elif interval == "M":
                k = int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp())
            else:
                raise param_error("params error: interval invalid")
            groups.setdefault(k, []).append(row)
        out = []
        for k in sorted(groups):
            g = groups[k]
            out.append((k, g[0][1], max(r[2] for r in g), min(r[3] for r in g), g[-1][4], sum(r[5] for r in g)))
        return out

    def funding_history(self, spec: Spec, start: int | None, end: int | None, limit: int,
                        now: float) -> list[dict[str, Any]]:  # fmt: skip
        """Return settled funding rates, newest first: up to `limit` ending at `end` (default now)."""
        if start is not None and end is None:
            raise param_error("params error: endTime is required when startTime is passed")
        interval = self.instrument(spec).funding_interval or 8 * HOUR
        end_s = min(end / 1000 if end is not None else now, now)
        start_s = start / 1000 - 1e-6 if start is not None else end_s - interval * limit
        rows = self.model.funding_history(spec.key, max(start_s, end_s - interval * (limit + 1)), end_s)
        return [
            {"symbol": spec.symbol, "fundingRate": fnum(rate, 8), "fundingRateTimestamp": str(ms(ts))}
            for ts, rate in reversed(rows)
        ][:limit]

    def open_interest(self, spec: Spec, t: float) -> float:
        """Return the open interest at `t` (moves every five minutes), in contracts (inverse: USD)."""
        return self.model.open_interest(spec.key, math.floor(t / 300) * 300.0)

    def oi_points(self, spec: Spec, interval: str, start: int | None, end: int | None, before: int | None,
                  limit: int, now: float) -> list[int]:  # fmt: skip
        """Return the interval boundaries (ms) to report, newest first, strictly before `before` when paging."""
        step = OI_INTERVALS[interval]
        end_s = min(end / 1000 if end is not None else now, now)
        last = float(math.floor(end_s / step) * step)
        if before is not None:
            last = min(last, before / 1000 - step)
        first = max(start / 1000 if start is not None else -math.inf, spec.launch_ms / 1000)
        out: list[int] = []
        t = last
        while t >= first and len(out) < limit:
            out.append(ms(t))
            t -= step
        return out


__all__ = ["CATEGORIES", "COINS", "INTERVALS", "OI_INTERVALS", "BybitMarket", "Spec"]
