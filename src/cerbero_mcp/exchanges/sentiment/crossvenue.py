"""Cross-venue computations of the sentiment provider: pure functions, no I/O (the tools feed them venue data).

- Funding: a venue's rate per its own funding interval, normalised to 8 hours (rate × 8 / interval hours) and
  annualised as rate per period × periods per year, with a 365-day year (8760 hours).
- Funding arbitrage: for each venue pair, long the venue with the lower annualised funding and short the higher;
  fees are each venue's base-tier taker fee, paid on entry and on exit of both legs, per unit of notional per leg.
- Liquidation heatmap (an estimate): open interest spread over entry prices from recent bars weighted by volume,
  half long and half short, evenly across leverage buckets no higher than the venue's maximum; a long at entry E
  and leverage L is liquidated at E × (1 − 1/L + mmr), a short at E × (1 + 1/L − mmr).
- Cointegration: Engle–Granger on log prices (`common.stats.cointegration_test`, statsmodels `coint`), OLS hedge
  ratio, AR(1) half-life of the spread, and Benjamini–Hochberg false-discovery-rate correction of the p-values
  (statsmodels `multipletests(method="fdr_bh")`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np

from cerbero_mcp.common.stats import cointegration_test

__all__ = [
    "DAYS_PER_YEAR",
    "HOURS_PER_YEAR",
    "LEVERAGE_BUCKETS",
    "NORMALISED_HOURS",
    "TAKER_FEES",
    "Entry",
    "HeatBand",
    "PairCarry",
    "PairTest",
    "annualise",
    "benjamini_hochberg",
    "cointegration_pairs",
    "funding_pairs",
    "leverage_buckets",
    "liquidation_heatmap",
    "liquidation_price",
    "maintenance_rate",
    "normalise",
    "volume_profile",
]

DAYS_PER_YEAR = 365
HOURS_PER_YEAR = Decimal(DAYS_PER_YEAR * 24)
NORMALISED_HOURS = Decimal(8)  # the common period every venue's funding is restated in

# Base (non-VIP / tier 0) taker fee of each venue's perpetuals, as a fraction of notional, from the venues' fee pages:
# Deribit "BTC/ETH Futures & Perpetual, USDC Perpetuals: taker 0.05%" (support.deribit.com, Fees);
# Bybit "Perpetual & Futures, Non-VIP: taker 0.055%" (bybit.com/en/help-center, trading fee structure);
# Hyperliquid "Perps, tier 0 (< $5M 14-day volume): taker 0.045%" (hyperliquid.gitbook.io, Trading/Fees).
TAKER_FEES: dict[str, Decimal] = {
    "deribit": Decimal("0.0005"),
    "bybit": Decimal("0.00055"),
    "hyperliquid": Decimal("0.00045"),
}

# The leverages positions are assumed to be spread over (evenly), each venue keeping those within its maximum.
LEVERAGE_BUCKETS: tuple[int, ...] = (2, 3, 5, 10, 20, 25, 50, 75, 100)


# --- funding --------------------------------------------------------------------------------------


def normalise(rate: Decimal, interval_hours: Decimal) -> Decimal:
    """Restate a funding rate paid every `interval_hours` as the rate of an 8-hour period."""
    if interval_hours <= 0:
        raise ValueError("interval_hours must be positive")
    return rate * NORMALISED_HOURS / interval_hours


def annualise(rate: Decimal, interval_hours: Decimal) -> Decimal:
    """Return rate per period × periods per year (365 days of `interval_hours` periods), as a fraction."""
    if interval_hours <= 0:
        raise ValueError("interval_hours must be positive")
    return rate * HOURS_PER_YEAR / interval_hours


@dataclass(frozen=True)
class PairCarry:
    """The trade a pair's funding difference implies, and what it nets after fees over a holding period."""

    long_venue: str
    short_venue: str
    long_annualised: Decimal
    short_annualised: Decimal
    spread_annualised: Decimal  # short minus long: what the pair earns a year per unit of notional per leg
    gross_carry: Decimal  # over the holding period
    fees: Decimal  # entry + exit taker fees on both legs
    net_carry: Decimal  # over the holding period
    net_annualised: Decimal
    breakeven_days: Decimal | None  # days of holding for the spread to pay the fees; None when it never does


def funding_pairs(
    annualised: Mapping[str, Decimal], fees: Mapping[str, Decimal], holding_days: Decimal
) -> list[PairCarry]:
    """Return every venue pair's carry, largest net annualised carry first.

    Long the venue with the lower annualised funding (longs pay funding when it is positive, so the
    cheaper long) and short the higher; per unit of notional on each leg the pair earns the spread
    while held, and pays each venue's taker fee twice (entry and exit) on its leg.
    """
    if holding_days <= 0:
        raise ValueError("holding_days must be positive")
    year = Decimal(DAYS_PER_YEAR)
    out: list[PairCarry] = []
    for a, b in itertools.combinations(sorted(annualised), 2):
        low, high = (a, b) if annualised[a] <= annualised[b] else (b, a)
        spread = annualised[high] - annualised[low]
        gross = spread * holding_days / year
        cost = 2 * fees[low] + 2 * fees[high]
        net = gross - cost
        out.append(
            PairCarry(
                long_venue=low,
                short_venue=high,
                long_annualised=annualised[low],
                short_annualised=annualised[high],
                spread_annualised=spread,
                gross_carry=gross,
                fees=cost,
                net_carry=net,
                net_annualised=net * year / holding_days,
                breakeven_days=cost * year / spread if spread > 0 else None,
            )
        )
    return sorted(out, key=lambda pair: pair.net_annualised, reverse=True)


# --- liquidation heatmap (estimate) --------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A price positions are assumed to have been opened at, and the share of open interest opened there."""

    price: float
    weight: float


@dataclass(frozen=True)
class HeatBand:
    """One price band: the estimated USD notional whose liquidation price falls in it, by side."""

    low: float
    high: float
    long_usd: float
    short_usd: float


def maintenance_rate(max_leverage: float) -> float:
    """Return the maintenance margin rate assumed for a venue: half the initial margin at its maximum leverage.

    Hyperliquid documents exactly this rule; Bybit's first risk-limit tier and Deribit's perpetuals sit
    near it (0.5% at 100×), so one stated rule serves the three.
    """
    if max_leverage <= 0:
        raise ValueError("max_leverage must be positive")
    return 1.0 / (2.0 * max_leverage)


def leverage_buckets(max_leverage: float) -> list[int]:
    """Return the assumed leverages a venue allows (at least 1×)."""
    kept = [lev for lev in LEVERAGE_BUCKETS if lev <= max_leverage]
    return kept or [1]


def liquidation_price(entry: float, leverage: float, mmr: float, side: Literal["long", "short"]) -> float:
    """Return the liquidation price of an isolated position: long E(1 − 1/L + mmr), short E(1 + 1/L − mmr)."""
    if side == "long":
        return entry * (1.0 - 1.0 / leverage + mmr)
    return entry * (1.0 + 1.0 / leverage - mmr)


def volume_profile(typical_prices: Sequence[float], volumes: Sequence[float]) -> list[Entry]:
    """Return entries at each bar's typical price weighted by its share of volume (equal weights if no volume)."""
    if len(typical_prices) != len(volumes):
        raise ValueError("typical_prices and volumes differ in length")
    pairs = [(p, max(0.0, v)) for p, v in zip(typical_prices, volumes, strict=True) if p > 0 and math.isfinite(p)]
    if not pairs:
        return []
    total = sum(v for _, v in pairs)
    if total <= 0:
        return [Entry(p, 1.0 / len(pairs)) for p, _ in pairs]
    return [Entry(p, v / total) for p, v in pairs if v > 0]


def liquidation_heatmap(
    venues: Sequence[tuple[float, Sequence[Entry], float]],
    mark: float,
    range_fraction: float,
    bands: int,
) -> list[HeatBand]:
    """Estimate liquidation notional by price band within mark × (1 ± range_fraction).

    `venues` holds, per venue, its open interest in USD, its entry profile and its maximum leverage.
    Half the open interest is long and half short (every contract has both sides); each side is spread
    over the entries by weight and evenly over the venue's leverage buckets. A long whose liquidation
    price is at or above the mark (or a short at or below it) would already be gone, so it is left out.
    """
    if mark <= 0 or not 0 < range_fraction < 1 or bands < 1:
        raise ValueError("need mark > 0, 0 < range_fraction < 1 and bands >= 1")
    low, high = mark * (1 - range_fraction), mark * (1 + range_fraction)
    width = (high - low) / bands
    longs = np.zeros(bands)
    shorts = np.zeros(bands)
    for oi_usd, entries, max_leverage in venues:
        mmr = maintenance_rate(max_leverage)
        levs = leverage_buckets(max_leverage)
        side_usd = oi_usd / 2.0
        for entry in entries:
            share = side_usd * entry.weight / len(levs)
            for lev in levs:
                long_liq = liquidation_price(entry.price, lev, mmr, "long")
                if low <= long_liq < mark:
                    longs[min(bands - 1, int((long_liq - low) / width))] += share
                short_liq = liquidation_price(entry.price, lev, mmr, "short")
                if mark < short_liq < high:
                    shorts[min(bands - 1, int((short_liq - low) / width))] += share
    return [
        HeatBand(low=low + i * width, high=low + (i + 1) * width, long_usd=float(longs[i]), short_usd=float(shorts[i]))
        for i in range(bands)
    ]


# --- cointegration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairTest:
    """One Engle–Granger test: log y = hedge_ratio · log x + intercept + spread."""

    y: str
    x: str
    t_stat: float
    p_value: float
    p_adjusted: float
    hedge_ratio: float
    intercept: float
    half_life_bars: float
    significant: bool


def benjamini_hochberg(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Return (rejected, adjusted p-values) under Benjamini–Hochberg FDR control at `alpha` (statsmodels)."""
    if not p_values:
        return [], []
    from statsmodels.stats.multitest import multipletests  # lazy: statsmodels is slow to import

    rejected, adjusted, _, _ = multipletests(np.asarray(p_values, dtype=float), alpha=alpha, method="fdr_bh")
    return [bool(r) for r in rejected], [float(p) for p in adjusted]


def cointegration_pairs(log_prices: Mapping[str, Sequence[float]], alpha: float) -> list[PairTest]:
    """Test every pair of aligned log-price series (y = the first in the mapping's order), BH-corrected, ranked.

    Ranked by adjusted p-value, then by half-life (faster mean reversion first).
    """
    names = list(log_prices)
    raw = []
    for y, x in itertools.combinations(names, 2):
        result = cointegration_test(log_prices[y], log_prices[x], significance=alpha)
        raw.append((y, x, result))
    rejected, adjusted = benjamini_hochberg([r.p_value for _, _, r in raw], alpha)
    tests = [
        PairTest(
            y=y,
            x=x,
            t_stat=r.t_stat,
            p_value=r.p_value,
            p_adjusted=adj,
            hedge_ratio=r.hedge_ratio,
            intercept=r.intercept,
            half_life_bars=r.half_life,
            significant=rej,
        )
        for (y, x, r), rej, adj in zip(raw, rejected, adjusted, strict=True)
    ]
    return sorted(tests, key=lambda t: (t.p_adjusted, t.half_life_bars))
