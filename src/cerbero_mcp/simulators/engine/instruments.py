"""Instruments and underlyings of the simulated market, and exact tick/lot arithmetic.

Prices and quantities that reach an order or a fill are `Decimal` (venue simulators serialise
exact values); the market model works in float and converts at the edge with `price_of_ticks`
and `qty_of_lots`, which are exact because the model counts whole ticks and lots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

OptionKind = Literal["call", "put"]

ANCHOR_2025 = 1_735_689_600.0  # 2025-01-01T00:00:00Z


class InstrumentKind(StrEnum):
    """What an instrument is; it decides how its mid follows the underlying and how it margins."""

    SPOT = "spot"
    PERPETUAL = "perpetual"
    FUTURE = "future"
    OPTION = "option"
    STOCK = "stock"


@dataclass(frozen=True, slots=True)
class SurfaceParams:
    """Shape of an implied-volatility surface: iv = atm(T) + skew*s*k + curvature*(s*k)^2.

    k = ln(K/F) is log-moneyness, s = sqrt(ref_days / days-to-expiry) clipped to [0.25, 4] steepens
    short-dated smiles, atm(T) = atm_vol * (T/ref)^term_slope. The whole surface breathes over
    time by a deterministic factor within [1 - breathing, 1 + breathing].
    """

    atm_vol: float = 0.55
    skew: float = -0.08
    curvature: float = 0.25
    term_slope: float = 0.05
    ref_days: float = 30.0
    min_vol: float = 0.05
    max_vol: float = 5.0
    breathing: float = 0.15


@dataclass(frozen=True, slots=True)
class Underlying:
    """A price path: a seeded geometric random walk anchored at `price` on `anchor` (epoch s).

    `vol` is annualised; `carry` is the annual cost of carry that sets forwards and futures
    (F = S*exp(carry*T)); `rate` discounts option premiums; `volume` is the mean traded quantity
    per minute in the underlying's units; `surface` shapes its options.
    """

    name: str
    price: float
    vol: float = 0.6
    anchor: float = ANCHOR_2025
    carry: float = 0.0
    rate: float = 0.0
    volume: float = 10.0
    surface: SurfaceParams = field(default_factory=SurfaceParams)

    def __post_init__(self) -> None:
        if self.price <= 0 or self.vol <= 0:
            raise ValueError(f"underlying {self.name}: price and vol must be positive")


_DEFAULT_SPREAD_BPS = {
    InstrumentKind.SPOT: 1.0,
    InstrumentKind.PERPETUAL: 0.5,
    InstrumentKind.FUTURE: 2.0,
    InstrumentKind.OPTION: 150.0,
    InstrumentKind.STOCK: 2.0,
}
_DEFAULT_STEP_BPS = {
    InstrumentKind.SPOT: 1.0,
    InstrumentKind.PERPETUAL: 0.5,
    InstrumentKind.FUTURE: 1.0,
    InstrumentKind.OPTION: 50.0,
    InstrumentKind.STOCK: 1.0,
}


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument with venue-neutral contract terms.

    `qty` in orders is in the venue's own order units; one unit is worth `contract_size` of the
    underlying (linear) or `contract_size` quote-currency units (inverse, e.g. a USD-amount BTC
    perpetual settled in BTC). Option premiums are quoted in the quote currency, or in units of
    the underlying when `premium_in_underlying` (Deribit style: price in BTC, settled in BTC).
    Fees are rates on the settled notional (negative maker fee = rebate). Book shape defaults
    by kind when `spread_bps`/`level_step_bps` are None; `depth_notional` is the quote-currency
    value of the best level.
    """

    symbol: str
    kind: InstrumentKind
    underlying: str
    tick_size: Decimal
    lot_size: Decimal
    contract_size: Decimal = Decimal(1)
    min_notional: Decimal = Decimal(0)
    base_currency: str = ""
    quote_currency: str = "USD"
    settle_currency: str = "USD"
    inverse: bool = False
    expiry: float | None = None
    strike: Decimal | None = None
    option_kind: OptionKind | None = None
    premium_in_underlying: bool = False
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    funding_interval: int | None = None
    spread_bps: float | None = None
    level_step_bps: float | None = None
    depth_notional: float = 50_000.0

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.lot_size <= 0 or self.contract_size <= 0:
            raise ValueError(f"{self.symbol}: tick, lot and contract sizes must be positive")
        if self.kind is InstrumentKind.OPTION and (
            self.strike is None or self.expiry is None or self.option_kind not in ("call", "put")
        ):
            raise ValueError(f"{self.symbol}: an option needs strike, expiry and option_kind")
        if self.kind is InstrumentKind.FUTURE and self.expiry is None:
            raise ValueError(f"{self.symbol}: a dated future needs an expiry")
        if not self.base_currency:
            object.__setattr__(self, "base_currency", self.underlying)

    # --- constructors -------------------------------------------------------------------------

    @classmethod
    def spot(cls, symbol: str, underlying: str, tick: str, lot: str, **kw: object) -> Instrument:
        """Return a spot pair (settles in the quote currency)."""
        return cls._make(symbol, InstrumentKind.SPOT, underlying, tick, lot, kw)

    @classmethod
    def stock(cls, symbol: str, tick: str = "0.01", lot: str = "1", **kw: object) -> Instrument:
        """Return a stock whose underlying is its own symbol."""
        return cls._make(symbol, InstrumentKind.STOCK, symbol, tick, lot, kw)

    @classmethod
    def perpetual(
        cls, symbol: str, underlying: str, tick: str, lot: str, *, funding_interval: int = 8 * 3600, **kw: object
    ) -> Instrument:
        """Return a perpetual swap with funding every `funding_interval` seconds."""
        kw["funding_interval"] = funding_interval
        return cls._make(symbol, InstrumentKind.PERPETUAL, underlying, tick, lot, kw)

    @classmethod
    def future(cls, symbol: str, underlying: str, expiry: float, tick: str, lot: str, **kw: object) -> Instrument:
        """Return a dated future expiring at `expiry` (epoch s)."""
        kw["expiry"] = float(expiry)
        return cls._make(symbol, InstrumentKind.FUTURE, underlying, tick, lot, kw)

    @classmethod
    def option(
        cls,
        symbol: str,
        underlying: str,
        expiry: float,
        strike: str | Decimal,
        option_kind: OptionKind,
        tick: str,
        lot: str,
        **kw: object,
    ) -> Instrument:
        """Return a European option on `underlying`."""
        kw.update(expiry=float(expiry), strike=Decimal(strike), option_kind=option_kind)
        return cls._make(symbol, InstrumentKind.OPTION, underlying, tick, lot, kw)

    @classmethod
    def _make(
        cls, symbol: str, kind: InstrumentKind, underlying: str, tick: str, lot: str, kw: dict[str, object]
    ) -> Instrument:
        for name in ("contract_size", "min_notional", "maker_fee", "taker_fee"):
            if name in kw:
                kw[name] = Decimal(str(kw[name]))
        if "quote_currency" in kw and "settle_currency" not in kw:
            kw["settle_currency"] = kw["quote_currency"]
        return cls(symbol, kind, underlying, Decimal(tick), Decimal(lot), **kw)  # type: ignore[arg-type]

    # --- derived terms ------------------------------------------------------------------------

    @property
    def is_derivative(self) -> bool:
        """Return True for perpetuals, futures and options (positions may go short freely)."""
        return self.kind in (InstrumentKind.PERPETUAL, InstrumentKind.FUTURE, InstrumentKind.OPTION)

    @property
    def spread(self) -> float:
        """Return the quoted spread in basis points of mid."""
        return self.spread_bps if self.spread_bps is not None else _DEFAULT_SPREAD_BPS[self.kind]

    @property
    def level_step(self) -> float:
        """Return the distance between book levels in basis points of mid."""
        return self.level_step_bps if self.level_step_bps is not None else _DEFAULT_STEP_BPS[self.kind]

    def notional(self, qty: Decimal, price: Decimal) -> Decimal:
        """Return the settle-currency value of `qty` at `price` (always positive)."""
        q = abs(qty) * self.contract_size
        return q / price if self.inverse else q * price

    def quote_notional(self, qty: Decimal, price: Decimal) -> Decimal:
        """Return the quote-currency value of `qty` at `price` (for the minimum-notional rule)."""
        q = abs(qty) * self.contract_size
        return q if self.inverse else q * price

    def pnl(self, qty: Decimal, entry: Decimal, exit_: Decimal) -> Decimal:
        """Return the settle-currency PnL of a signed `qty` opened at `entry` and marked at `exit_`."""
        if self.inverse:
            return qty * self.contract_size * (1 / entry - 1 / exit_)
        return qty * self.contract_size * (exit_ - entry)

    # --- tick and lot arithmetic --------------------------------------------------------------

    def price_aligned(self, price: Decimal) -> bool:
        """Return True when `price` is a positive whole number of ticks."""
        return price > 0 and price % self.tick_size == 0

    def qty_aligned(self, qty: Decimal) -> bool:
        """Return True when `qty` is a positive whole number of lots."""
        return qty > 0 and qty % self.lot_size == 0

    def nearest_prices(self, price: Decimal) -> list[str]:
        """Return the valid prices just below and above `price` (for error details)."""
        return _nearest(price, self.tick_size)

    def nearest_qtys(self, qty: Decimal) -> list[str]:
        """Return the valid quantities just below and above `qty` (for error details)."""
        return _nearest(qty, self.lot_size)

    def price_of_ticks(self, ticks: int) -> Decimal:
        """Return the exact price of a whole number of ticks."""
        return Decimal(ticks) * self.tick_size

    def qty_of_lots(self, lots: int) -> Decimal:
        """Return the exact quantity of a whole number of lots."""
        return Decimal(lots) * self.lot_size

    def round_price(self, price: float) -> Decimal:
        """Return the float `price` rounded to the nearest tick as an exact Decimal."""
        return self.price_of_ticks(round(price / float(self.tick_size)))


def _nearest(value: Decimal, step: Decimal) -> list[str]:
    n = math.floor(value / step)
    lower = max(n, 1) * step
    upper = (n + 1) * step
    return [f"{lower.normalize():f}", f"{upper.normalize():f}"] if lower != upper else [f"{upper.normalize():f}"]
