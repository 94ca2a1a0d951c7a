"""The Deribit simulator's market: listed instruments in Deribit's symbology and its public methods.

Underlyings BTC (anchored at 100,000) and ETH (3,500) walk from the start of the UTC day the app
was built on, so the fixed strike grids stay centred on the price for a long time. Instruments per
currency: the inverse perpetual, the USDC-settled linear perpetual (`BTC_USDC-PERPETUAL`, listed in
the USDC account and sized in the coin), inverse futures on the next four quarterly expiries, and inverse
options (premium in the coin) on the next four Fridays, the last Friday of the next three months
and the next four quarterlies, all at 08:00 UTC, on a fixed absolute strike grid. New expiries are
listed as the clock moves (checked once an hour); expired instruments stay registered for
`expired=true`, positions and settlement. Prices, books, candles, funding, open interest and option
marks all come from the shared engine's `MarketModel`; option prices and greeks are its Black-76.
"""

from __future__ import annotations

import calendar
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from cerbero_mcp.simulators.deribit.rpc import RpcError, dec, invalid, not_found, num
from cerbero_mcp.simulators.engine import (
    Instrument,
    InstrumentKind,
    MarketModel,
    OrderBook,
    SurfaceParams,
    Underlying,
    listed_expiries,
)

DAY = 86_400
YEAR = 365.0 * DAY
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
PERPETUAL_EXPIRY_MS = 32_503_708_800_000  # what Deribit reports for perpetuals (year 3000)
PERPETUAL_CREATED_MS = 1_534_377_600_000
OPTION_TICK = "0.0001"
# Deribit's coin-quoted options tick 0.0001 up to a premium of 0.005 and 0.0005 above it (public/get_instrument
# `tick_size_steps`: the price from which a larger tick applies, and that tick, a multiple of `tick_size`).
OPTION_TICK_STEPS: tuple[tuple[Decimal, Decimal], ...] = ((Decimal("0.005"), Decimal("0.0005")),)
OPTION_FEE = Decimal("0.03")  # Deribit: 0.0003 coin per contract capped at 12.5 % of premium; ≈ 3 % of premium
FUTURE_TAKER_FEE = Decimal("0.0005")
STATS_MINUTES = 1440  # the rolling 24 h of public statistics, in completed minutes
DVOL_DAYS = 30.0
DVOL_PAGE = 1000
CHART_MINUTES = 2 * 525_600  # two years of minutes per chart call
BOOK_DEPTHS = (1, 5, 10, 20, 50, 100, 1000, 10000)
CHART_RESOLUTIONS = {
    "1": 60, "3": 180, "5": 300, "10": 600, "15": 900, "30": 1800, "60": 3600,
    "120": 7200, "180": 10800, "360": 21600, "720": 43200, "1D": 86400,
}  # fmt: skip
DVOL_RESOLUTIONS = {"1": 1, "60": 60, "3600": 3600, "43200": 43200, "1D": 86400}
OPTION_KINDS: tuple[tuple[Literal["call", "put"], str], ...] = (("call", "C"), ("put", "P"))
KINDS = ("future", "option", "spot", "future_combo", "option_combo")


@dataclass(frozen=True)
class CurrencyDef:
    """One Deribit currency: its underlying and contract terms."""

    name: str
    price: float
    vol: float
    surface: SurfaceParams
    perp_tick: str
    contract_usd: int  # Deribit's contract_size of its inverse futures (USD per contract)
    future_tick: str
    option_lot: str
    strikes: tuple[int, ...]
    volume: float  # mean coin traded per minute
    linear_tick: str  # <CCY>_USDC-PERPETUAL: USDC-settled, sized in the coin, priced in USDC
    linear_lot: str  # its min_trade_amount and contract_size, in the coin


CURRENCIES: dict[str, CurrencyDef] = {
    "BTC": CurrencyDef(
        "BTC", 100_000.0, 0.55, SurfaceParams(atm_vol=0.55, skew=-0.12, curvature=0.2, term_slope=0.05),
        "0.5", 10, "2.5", "0.1", tuple(range(50_000, 200_001, 5_000)), 3.0, "1", "0.001",
    ),
    "ETH": CurrencyDef(
        "ETH", 3_500.0, 0.7, SurfaceParams(atm_vol=0.65, skew=-0.10, curvature=0.2, term_slope=0.05),
        "0.05", 1, "0.25", "1", tuple(range(1_000, 8_001, 250)), 40.0, "0.1", "0.01",
    ),
}  # fmt: skip
ACCOUNT_CURRENCIES = ("BTC", "ETH", "USDC")


def linear_name(currency: str) -> str:
    """Return the name of a currency's USDC-settled linear perpetual (BTC_USDC-PERPETUAL)."""
    return f"{currency}_USDC-PERPETUAL"


def expiry_code(ts: float) -> str:
    """Return Deribit's DMMMYY code of an expiry (e.g. 25DEC26, 7MAR25)."""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.day}{MONTHS[d.month - 1]}{d.year % 100:02d}"


def _is_month_end(ts: float) -> bool:
    d = datetime.fromtimestamp(ts, UTC)
    return d.day + 7 > calendar.monthrange(d.year, d.month)[1]


def ms(t: float) -> int:
    """Return epoch milliseconds of epoch seconds."""
    return round(t * 1000)


@dataclass(frozen=True)
class Listing:
    """What Deribit says about an instrument beyond the engine's contract terms."""

    name: str
    currency: str
    kind: str  # future | option
    instrument_id: int
    created_ms: int
    settlement_period: str  # perpetual | week | month


@dataclass
class Stats:
    """Rolling 24-hour statistics of one instrument."""

    open: float
    high: float
    low: float
    volume: float  # in order units (USD for inverse futures, coin for options)


@dataclass(frozen=True)
class _OptionQuote:
    """What a summary row shows of one option at one instant."""

    mark: float
    bid: float | None
    ask: float | None
    forward: float
    mark_iv: float
    stats: Stats


def _on_tick(value: float, tick: float) -> float:
    """Return `value` rounded to the tick as the engine's candles round it."""
    return float(np.round(value / tick) * tick)


class DeribitMarket:
    """The listed instruments of one simulator instance over a `MarketModel`, and Deribit's public views."""

    def __init__(self, seed: int, now: float) -> None:
        """List BTC and ETH instruments as of `now` (the paths start at the anchor prices on now's UTC day)."""
        anchor = math.floor(now / DAY) * DAY
        self.model = MarketModel(
            seed,
            [
                Underlying(c.name, c.price, vol=c.vol, anchor=anchor, carry=0.05, volume=c.volume, surface=c.surface)
                for c in CURRENCIES.values()
            ],
        )
        self.listings: dict[str, Listing] = {}
        self._ids = itertools.count(100)
        self._created_ms = ms(anchor)
        self._listed_hour: int | None = None
        self._stats_minute = -1
        self._stats: dict[str, Stats] = {}
        self._oi: dict[str, tuple[int, float | None]] = {}
        self._summary: dict[tuple[str, str | None], tuple[int, list[dict[str, Any]]]] = {}
        self.book_of: Callable[[str, int], OrderBook] = lambda symbol, depth: self.model.book(symbol, now, depth)
        for c in CURRENCIES.values():
            self._add(
                Instrument.perpetual(
                    f"{c.name}-PERPETUAL", c.name, c.perp_tick, str(c.contract_usd), contract_size=1, inverse=True,
                    base_currency=c.name, quote_currency="USD", settle_currency=c.name, taker_fee=FUTURE_TAKER_FEE,
                    spread_bps=0.05, level_step_bps=0.05, depth_notional=250_000.0,
                ),
                "perpetual", PERPETUAL_CREATED_MS,
            )  # fmt: skip
            # Linear perpetuals live in the USDC margin account: sized in the coin, settled in USDC.
            self._add(
                Instrument.perpetual(
                    linear_name(c.name), c.name, c.linear_tick, c.linear_lot, contract_size=1, inverse=False,
                    base_currency=c.name, quote_currency="USDC", settle_currency="USDC", taker_fee=FUTURE_TAKER_FEE,
                    spread_bps=0.5, level_step_bps=0.5, depth_notional=250_000.0,
                ),
                "perpetual", PERPETUAL_CREATED_MS, currency="USDC",
            )  # fmt: skip
        self.ensure_listed(now)

    # --- listing ------------------------------------------------------------------------------

    def _add(self, inst: Instrument, period: str, created_ms: int | None = None, *, currency: str = "") -> None:
        kind = "option" if inst.kind is InstrumentKind.OPTION else "future"
        self.model.add_instrument(inst)
        created = self._created_ms if created_ms is None else created_ms
        account = currency or inst.underlying
        self.listings[inst.symbol] = Listing(inst.symbol, account, kind, next(self._ids), created, period)

    def is_linear(self, name: str) -> bool:
        """Return whether an instrument is linear (USDC-settled, sized in the coin)."""
        return not self.model.instrument(name).inverse and self.model.instrument(name).kind is not InstrumentKind.OPTION

    def contract_size(self, name: str) -> Decimal:
        """Return Deribit's contract_size: USD per contract (inverse), coin per contract (options, linear)."""
        inst = self.model.instrument(name)
        if inst.kind is InstrumentKind.OPTION:
            return Decimal(1)
        c = CURRENCIES[inst.underlying]
        return Decimal(c.linear_lot) if self.is_linear(name) else Decimal(c.contract_usd)

    def ensure_listed(self, now: float) -> None:
        """List the expiries due at `now` (checked once per clock hour)."""
        hour = math.floor(now / 3600)
        if hour == self._listed_hour:
            return
        self._listed_hour = hour
        quarterlies = listed_expiries(now, dailies=0, weeklies=0, monthlies=0, quarterlies=4)
        option_expiries = listed_expiries(now, dailies=0, weeklies=4, monthlies=3, quarterlies=4)
        for c in CURRENCIES.values():
            for e in quarterlies:
                name = f"{c.name}-{expiry_code(e)}"
                if name not in self.listings:
                    self._add(
                        Instrument.future(
                            name, c.name, e, c.future_tick, str(c.contract_usd), contract_size=1, inverse=True,
                            base_currency=c.name, quote_currency="USD", settle_currency=c.name,
                            taker_fee=FUTURE_TAKER_FEE, spread_bps=0.5, level_step_bps=0.25, depth_notional=100_000.0,
                        ),
                        "month",
                    )  # fmt: skip
            for e in option_expiries:
                period = "month" if _is_month_end(e) else "week"
                for strike in c.strikes:
                    for kind, letter in OPTION_KINDS:
                        name = f"{c.name}-{expiry_code(e)}-{strike}-{letter}"
                        if name not in self.listings:
                            self._add(
                                Instrument.option(
                                    name, c.name, e, str(strike), kind, OPTION_TICK, c.option_lot, contract_size=1,
                                    premium_in_underlying=True, base_currency=c.name, quote_currency=c.name,
                                    settle_currency=c.name, maker_fee=OPTION_FEE, taker_fee=OPTION_FEE,
                                    depth_notional=500_000.0,
                                ),
                                period,
                            )  # fmt: skip

    def instrument(self, name: str) -> Instrument:
        """Return a registered instrument or raise Deribit's instrument-not-found."""
        if name not in self.listings:
            raise not_found(name)
        return self.model.instrument(name)

    def listing(self, name: str) -> Listing:
        """Return the listing of a registered instrument."""
        if name not in self.listings:
            raise not_found(name)
        return self.listings[name]

    def names(self, currency: str | None, kind: str | None, now: float, *, expired: bool = False) -> list[str]:
        """Return instrument names of a currency (None: all) and kind, live or expired, in Deribit's order."""
        out: list[tuple[float, float, str, str]] = []
        for name, listing in self.listings.items():
            if (currency is not None and listing.currency != currency) or (kind is not None and listing.kind != kind):
                continue
            inst = self.model.instrument(name)
            is_expired = inst.expiry is not None and inst.expiry <= now
            if is_expired != expired:
                continue
            expiry = inst.expiry if inst.expiry is not None else math.inf
            out.append((expiry, float(inst.strike or 0), inst.option_kind or "", name))
        return [name for *_, name in sorted(out)]

    def forward_index_name(self, inst: Instrument) -> str:
        """Return the option's underlying index: the future of that expiry, else the synthetic one."""
        assert inst.expiry is not None
        future = f"{inst.underlying}-{expiry_code(inst.expiry)}"
        return future if future in self.listings else f"SYN.{future}"

    # --- instruments --------------------------------------------------------------------------

    def instrument_json(self, name: str, now: float) -> dict[str, Any]:
        """Return Deribit's instrument object."""
        inst = self.instrument(name)
        listing = self.listings[name]
        option = inst.kind is InstrumentKind.OPTION
        linear = self.is_linear(name)
        contract = self.contract_size(name)
        quote = inst.underlying if option else ("USDC" if linear else "USD")
        out: dict[str, Any] = {
            "instrument_name": name,
            "instrument_id": listing.instrument_id,
            "kind": listing.kind,
            "instrument_type": "linear" if linear else "reversed",
            "base_currency": inst.underlying,
            "quote_currency": quote,
            "counter_currency": "USDC" if linear else "USD",
            "settlement_currency": inst.settle_currency,
            "price_index": f"{inst.underlying.lower()}_{'usdc' if linear else 'usd'}",
            "settlement_period": listing.settlement_period,
            "tick_size": dec(inst.tick_size),
            "tick_size_steps": [
                {"above_price": dec(above), "tick_size": dec(tick)} for above, tick in self.tick_steps(name)
            ],
            "contract_size": dec(contract),
            "min_trade_amount": dec(inst.lot_size),
            "maker_commission": dec(inst.maker_fee) if not option else Decimal("0.0003"),
            "taker_commission": dec(inst.taker_fee) if not option else Decimal("0.0003"),
            "block_trade_commission": Decimal("0.00025") if not option else Decimal("0.0003"),
            "block_trade_min_trade_amount": 200_000 if not option else 25,
            "block_trade_tick_size": dec(inst.tick_size),
            "creation_timestamp": listing.created_ms,
            "expiration_timestamp": ms(inst.expiry) if inst.expiry is not None else PERPETUAL_EXPIRY_MS,
            "is_active": inst.expiry is None or inst.expiry > now,
            "state": "open" if inst.expiry is None or inst.expiry > now else "closed",
            "rfq": False,
        }
        if option:
            out["strike"] = dec(inst.strike)
            out["option_type"] = inst.option_kind
        else:
            out["future_type"] = "linear" if linear else "reversed"
            out["max_leverage"] = 50
            out["max_liquidation_commission"] = Decimal("0.0075")
        return out

    def tick_steps(self, name: str) -> tuple[tuple[Decimal, Decimal], ...]:
        """Return an instrument's (above_price, tick_size) tiers, lowest first (none: one tick everywhere)."""
        return OPTION_TICK_STEPS if self.model.instrument(name).kind is InstrumentKind.OPTION else ()

    def tick_at(self, name: str, price: Decimal) -> Decimal:
        """Return the tick that applies at `price` (the largest tier whose above_price is below it)."""
        tick = self.model.instrument(name).tick_size
        for above, step in self.tick_steps(name):
            if abs(price) > above:
                tick = step
        return tick

    def nearest_prices(self, name: str, price: Decimal) -> list[Decimal]:
        """Return the valid prices either side of `price` under the instrument's tick tiers."""
        tick = self.tick_at(name, price)
        below = (price / tick).to_integral_value(rounding="ROUND_FLOOR") * tick
        return sorted({dec(x) or Decimal(0) for x in (below, below + tick) if x > 0 and self.price_on_grid(name, x)})

    def on_grid(self, name: str, levels: list[tuple[Decimal, Decimal]], side: str) -> list[tuple[Decimal, Decimal]]:
        """Return book levels on the instrument's tick tiers: bids down, asks up, merged where they meet.

        The market model quotes every 0.0001 of premium; Deribit's book only ever shows prices an
        order may carry, so the levels above a tier's threshold are shown at that tier's grid.
        """
        if not self.tick_steps(name):
            return levels
        merged: dict[Decimal, Decimal] = {}
        for price, qty in levels:
            tick = self.tick_at(name, price)
            rounding = "ROUND_FLOOR" if side == "bid" else "ROUND_CEILING"
            shown = (price / tick).to_integral_value(rounding=rounding) * tick
            if shown > 0:
                merged[shown] = merged.get(shown, Decimal(0)) + qty
        return sorted(merged.items(), key=lambda level: level[0], reverse=side == "bid")

    def price_on_grid(self, name: str, price: Decimal) -> bool:
        """Return whether `price` is a multiple of the tick that applies at it."""
        return price % self.tick_at(name, price) == 0

    # --- prices -------------------------------------------------------------------------------

    def stats(self, name: str, now: float) -> Stats:
        """Return the rolling 24 h open/high/low/volume (completed minutes, cached per minute, plus now)."""
        if self.model.instrument(name).kind is InstrumentKind.OPTION:
            return self.option_stats([name], now, [self.model.mid(name, now)])[0]
        minute = math.floor(now / 60)
        if minute != self._stats_minute:
            self._stats_minute, self._stats = minute, {}
        cached = self._stats.get(name)
        mid = self.model.mid(name, now)
        if cached is None:
            c = self.model.candles(name, (minute - STATS_MINUTES) * 60.0, minute * 60.0, 60)
            if len(c):
                cached = Stats(float(c.open[0]), float(c.high.max()), float(c.low.min()), float(c.volume.sum()))
            else:
                cached = Stats(mid, mid, mid, 0.0)
            self._stats[name] = cached
        return Stats(cached.open, max(cached.high, mid), min(cached.low, mid), cached.volume)

    def option_stats(self, names: list[str], now: float, mids: list[float]) -> list[Stats]:
        """Return `stats` of many options with their mids at `now`: the same numbers, priced together."""
        minute = math.floor(now / 60)
        if minute != self._stats_minute:
            self._stats_minute, self._stats = minute, {}
        todo = [name for name in names if name not in self._stats]
        if todo:
            opens, lows, highs, volumes = self.model.option_window_ranges(todo, minute - STATS_MINUTES, minute)
            for name, o, lo, hi, volume in zip(
                todo, opens.tolist(), lows.tolist(), highs.tolist(), volumes.tolist(), strict=True
            ):
                tick = float(self.model.instrument(name).tick_size)
                self._stats[name] = Stats(_on_tick(o, tick), _on_tick(hi, tick), _on_tick(lo, tick), volume)
        out = []
        for name, mid in zip(names, mids, strict=True):
            c = self._stats[name]
            out.append(Stats(c.open, max(c.high, mid), min(c.low, mid), c.volume))
        return out

    def open_interest(self, name: str, now: float) -> float | None:
        """Return open interest as of the start of the current hour (it moves hourly, not with every tick)."""
        hour = math.floor(now / 3600)
        cached = self._oi.get(name)
        if cached is not None and cached[0] == hour:
            return cached[1]
        value = num(self.model.open_interest(name, hour * 3600.0), 8)
        self._oi[name] = (hour, value)
        return value

    def _stats_json(self, inst: Instrument, stats: Stats, index: float) -> dict[str, Any]:
        option = inst.kind is InstrumentKind.OPTION
        if option:
            volume, volume_usd = stats.volume, stats.volume * index
        else:
            volume, volume_usd = stats.volume / max(stats.open, 1e-12), stats.volume
        return {
            "high": num(stats.high, 8 if option else 2),
            "low": num(stats.low, 8 if option else 2),
            "volume": num(volume, 8),
            "volume_usd": num(volume_usd, 2),
        }

    def _price(self, inst: Instrument, x: float | None) -> float | None:
        return num(x, 8 if inst.kind is InstrumentKind.OPTION else 2)

    def ticker_json(self, name: str, now: float, book: OrderBook | None = None) -> dict[str, Any]:
        """Return public/ticker for one instrument (the book given or the venue's depth-1 book)."""
        inst = self.instrument(name)
        book = book or self.book_of(name, 1)
        index = self.model.index(inst.underlying, now)
        mid = self.model.mid(name, now)
        stats = self.stats(name, now)
        bids, asks = self.on_grid(name, book.bids(), "bid"), self.on_grid(name, book.asks(), "ask")
        live = inst.expiry is None or inst.expiry > now
        tick = float(inst.tick_size)
        band = 0.025 if inst.kind is not InstrumentKind.OPTION else None
        out: dict[str, Any] = {
            "timestamp": ms(now),
            "instrument_name": name,
            "state": "open" if live else "closed",
            "last_price": dec(inst.round_price(mid)) if mid >= tick else dec(inst.tick_size),
            "mark_price": self._price(inst, mid),
            "index_price": num(index, 2),
            "estimated_delivery_price": num(index, 2),
            "settlement_price": self._price(inst, mid),
            "best_bid_price": dec(bids[0][0]) if bids else 0,
            "best_bid_amount": dec(bids[0][1]) if bids else 0,
            "best_ask_price": dec(asks[0][0]) if asks else 0,
            "best_ask_amount": dec(asks[0][1]) if asks else 0,
            "open_interest": self.open_interest(name, now),
            "min_price": self._price(inst, max(tick, mid * (1 - band))) if band else dec(inst.tick_size),
            "max_price": self._price(inst, mid * (1 + band)) if band else num(mid + max(0.05, mid * 0.5), 4),
            "stats": {
                **self._stats_json(inst, stats, index),
                "price_change": num((mid / stats.open - 1.0) * 100.0, 4) if stats.open > 0 else None,
            },
        }
        if inst.kind is InstrumentKind.PERPETUAL:
            rate = self.model.funding_rate(name, now)
            out.update(current_funding=num(rate, 10), funding_8h=num(rate, 10), interest_value=0.0)
        if inst.kind is InstrumentKind.OPTION:
            out.update(self._option_fields(inst, now))
        return out

    def _option_fields(self, inst: Instrument, now: float) -> dict[str, Any]:
        snap = self.model.option_snapshot(inst.symbol, now)
        premium_usd = snap.mark_price * snap.forward
        return {
            "mark_iv": num(snap.mark_iv * 100.0, 2),
            "bid_iv": num(snap.bid_iv * 100.0, 2) if snap.bid_iv is not None else 0.0,
            "ask_iv": num(snap.ask_iv * 100.0, 2) if snap.ask_iv is not None else 0.0,
            "underlying_price": num(snap.forward, 2),
            "underlying_index": self.forward_index_name(inst),
            "interest_rate": 0.0,
            "greeks": {
                "delta": num(snap.delta, 5),
                "gamma": num(snap.gamma, 8),
                "vega": num(snap.vega / 100.0, 5),
                "theta": num(snap.theta / 365.0, 5),
                "rho": num(-snap.years * premium_usd / 100.0, 5),
            },
        }

    def book_json(self, name: str, depth: int, now: float) -> dict[str, Any]:
        """Return public/get_order_book: the ticker fields plus bids/asks and a change id."""
        self.instrument(name)
        book = self.book_of(name, min(depth, 100))
        out = self.ticker_json(name, now, book)
        out["bids"] = [[dec(p), dec(q)] for p, q in self.on_grid(name, book.bids(), "bid")]
        out["asks"] = [[dec(p), dec(q)] for p, q in self.on_grid(name, book.asks(), "ask")]
        out["change_id"] = ms(now)
        return out

    # --- summaries ----------------------------------------------------------------------------

    def book_summaries(self, currency: str, kind: str | None, now: float) -> list[dict[str, Any]]:
        """Return public/get_book_summary_by_currency rows (cached for the current second)."""
        key = (currency, kind)
        second = math.floor(now)
        cached = self._summary.get(key)
        if cached is not None and cached[0] == second:
            return cached[1]
        names = self.names(currency, kind, now)
        options = [name for name in names if self.listings[name].kind == "option"]
        quotes = dict(zip(options, self._option_quotes(options, now), strict=True))
        rows = [self._summary_row(name, now, quotes.get(name)) for name in names]
        self._summary[key] = (second, rows)
        return rows

    def _option_quotes(self, names: list[str], now: float) -> list[_OptionQuote]:
        """Return the mark, depth-1 touch, forward, mark IV and 24 h stats of many options, priced together."""
        if not names:
            return []
        mids = self.model.option_mids(names, now)
        forwards = self.model.option_forwards_and_ivs(names, now)
        stats = self.option_stats(names, now, mids)
        out = []
        for name, mid, (forward, iv), st in zip(names, mids, forwards, stats, strict=True):
            inst = self.model.instrument(name)
            bid_ticks, ask_ticks, _ = self.model.touch(inst, mid)  # the depth-1 book, without drawing its sizes
            bid = float(inst.price_of_ticks(bid_ticks)) if bid_ticks > 0 else None
            out.append(_OptionQuote(mid, bid, float(inst.price_of_ticks(ask_ticks)), forward, iv, st))
        return out

    def _summary_row(self, name: str, now: float, quote: _OptionQuote | None = None) -> dict[str, Any]:
        inst = self.model.instrument(name)
        index = self.model.index(inst.underlying, now)
        option = inst.kind is InstrumentKind.OPTION
        if option:
            quote = quote or self._option_quotes([name], now)[0]
            stats, mark, bid, ask = quote.stats, quote.mark, quote.bid, quote.ask
        else:
            stats = self.stats(name, now)
            book = self.model.book(name, now, 1)
            mark = book.mid
            bid = float(book.best_bid) if book.best_bid is not None else None
            ask = float(book.best_ask) if book.best_ask is not None else None
        row: dict[str, Any] = {
            "instrument_name": name,
            "base_currency": inst.underlying,
            "quote_currency": inst.underlying if option else "USD",
            "bid_price": self._price(inst, bid),
            "ask_price": self._price(inst, ask),
            "mid_price": self._price(inst, (bid + ask) / 2) if bid is not None and ask is not None else None,
            "mark_price": self._price(inst, mark),
            "last": self._price(inst, float(inst.round_price(mark))),
            **self._stats_json(inst, stats, index),
            "open_interest": self.open_interest(name, now),
            "price_change": num((mark / stats.open - 1.0) * 100.0, 4) if stats.open > 0 else None,
            "estimated_delivery_price": num(index, 2),
            "creation_timestamp": ms(now),
        }
        if inst.kind is InstrumentKind.PERPETUAL:
            rate = self.model.funding_rate(name, now)
            row.update(current_funding=num(rate, 10), funding_8h=num(rate, 10))
        if quote is not None:
            row.update(
                mark_iv=num(quote.mark_iv * 100.0, 2),
                underlying_price=num(quote.forward, 2),
                underlying_index=self.forward_index_name(inst),
                interest_rate=0.0,
            )
        return row

    # --- history ------------------------------------------------------------------------------

    def chart(self, name: str, start_ms: int, end_ms: int, resolution: str, now: float) -> dict[str, Any]:
        """Return public/get_tradingview_chart_data as parallel arrays (nothing after `now`).

        Built from 1-minute candles so every column adds up exactly across resolutions (coin volume
        of an inverse contract is its USD volume over each minute's close); at most CHART_MINUTES
        of history (the newest) are served per call.
        """
        inst = self.instrument(name)
        res = CHART_RESOLUTIONS[resolution]
        end = min(end_ms / 1000.0, now)
        first = math.floor(start_ms / 1000.0 / res) * res
        last = math.floor(end / res) * res
        first = max(first, math.ceil((last + res - CHART_MINUTES * 60) / res) * res)
        empty: dict[str, Any] = {
            "status": "no_data", "ticks": [], "open": [], "high": [], "low": [], "close": [], "volume": [], "cost": [],
        }  # fmt: skip
        if last < first:
            return empty
        c = self.model.candles(name, first, last + res, 60, now=now)
        if not len(c):
            return empty
        option = inst.kind is InstrumentKind.OPTION
        if option:
            volume, cost = c.volume, c.volume * c.close
        else:  # inverse: the engine counts USD; Deribit reports coin volume and USD cost
            volume, cost = c.volume / np.maximum(c.close, 1e-12), c.volume
        buckets = c.time // res
        idx = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        ends = np.r_[idx[1:] - 1, len(buckets) - 1]
        digits = 8 if option else 2
        columns = {
            "open": c.open[idx],
            "high": np.maximum.reduceat(c.high, idx),
            "low": np.minimum.reduceat(c.low, idx),
            "close": c.close[ends],
        }
        out: dict[str, Any] = {"status": "ok", "ticks": [int(b) * res * 1000 for b in buckets[idx].tolist()]}
        out.update({k: [num(x, digits) for x in v.tolist()] for k, v in columns.items()})
        out["volume"] = [num(x, 8) for x in np.add.reduceat(volume, idx).tolist()]
        out["cost"] = [num(x, 8) for x in np.add.reduceat(cost, idx).tolist()]
        return out

    def dvol(self, currency: str, start_ms: int, end_ms: int, resolution: str, now: float) -> dict[str, Any]:
        """Return public/get_volatility_index_data: DVOL = the surface's 30-day ATM vol in vol points.

        At most DVOL_PAGE candles per page, the newest first; `continuation` (else null) is the
        end_timestamp that asks for the page before.
        """
        if currency not in CURRENCIES:
            raise invalid("must be one of: BTC, ETH", "currency")
        res_ms = DVOL_RESOLUTIONS[resolution] * 1000
        end_ms = min(end_ms, ms(now))
        first, last = -(-start_ms // res_ms), end_ms // res_ms
        if last < first:
            return {"data": [], "continuation": None}
        continuation = None
        if last - first + 1 > DVOL_PAGE:
            first = last - DVOL_PAGE + 1
            continuation = first * res_ms - 1
        ticks = np.arange(first, last + 1, dtype=np.int64) * res_ms
        res_s = res_ms / 1000.0
        samples = int(min(max(res_s / 600.0, 1.0), 144.0)) + 1
        starts = ticks / 1000.0
        ends = np.minimum(starts + res_s, now)
        grid = starts[:, None] + (ends - starts)[:, None] * np.linspace(0.0, 1.0, samples)[None, :]
        surface = self.model.surface(currency)
        values = 100.0 * surface.atm(grid, DVOL_DAYS / 365.0)
        data = [
            [int(t), num(o, 2), num(h, 2), num(lo, 2), num(c, 2)]
            for t, o, h, lo, c in zip(
                ticks.tolist(),
                values[:, 0].tolist(),
                values.max(axis=1).tolist(),
                values.min(axis=1).tolist(),
                values[:, -1].tolist(),
                strict=True,
            )
        ]
        return {"data": data, "continuation": continuation}

    def funding_history(self, name: str, start_ms: int, end_ms: int, now: float) -> list[dict[str, Any]]:
        """Return public/get_funding_rate_history: hourly points with interest_1h and interest_8h."""
        inst = self.instrument(name)
        if inst.kind is not InstrumentKind.PERPETUAL:
            raise invalid("not a perpetual", "instrument_name")
        end = min(end_ms, ms(now)) // 3_600_000
        first = max(-(-start_ms // 3_600_000), end - 743)
        out = []
        for hour in range(first, end + 1):
            t = hour * 3600.0
            rate = self.model.funding_rate(name, t - 1)
            out.append(
                {
                    "timestamp": hour * 3_600_000,
                    "index_price": num(self.model.index(inst.underlying, t), 2),
                    "prev_index_price": num(self.model.index(inst.underlying, t - 3600), 2),
                    "interest_1h": num(rate / 8.0, 12),
                    "interest_8h": num(rate, 12),
                }
            )
        return out


def check_currency(value: str, allowed: tuple[str, ...] = ACCOUNT_CURRENCIES, *, allow_any: bool = False) -> str | None:
    """Return the currency (None for "any" when allowed) or raise -32602."""
    if allow_any and value.lower() == "any":
        return None
    if value not in allowed:
        raise invalid(f"must be one of: {', '.join(allowed)}", "currency")
    return value


__all__ = ["CURRENCIES", "DeribitMarket", "Listing", "RpcError", "check_currency", "expiry_code", "ms"]
