"""The CFTC's Commitments of Traders on Socrata (publicreporting.cftc.gov, no key).

GET /resource/<dataset>.json answers a JSON array of rows, every value a string, nulls left out,
the report date as "YYYY-MM-DDT00:00:00.000", queried with the SoQL subset of `soql.py` (default
`$limit` 1000). Datasets: Traders in Financial Futures, futures only (`gpe5-46if`) and
Disaggregated, futures only (`72hh-3qpy`), with the real, irregular column names
(`dealer_positions_long_all` next to `asset_mgr_positions_long`, `swap__positions_short_all` with
its double underscore). An unknown dataset is 404 `dataset.missing`.

Reports are weekly, for Tuesday's positions, released on Friday at 15:30 New York time: a row
exists only once released (holiday delays are not modelled). For each market and trader class,
long, short and spread positions are shares of the open interest that walk on the shared
engine's paths; the non-reportable positions close the balance, so long and short both add up
to the open interest, and each `change_in_*` is the difference with the previous report.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from cerbero_mcp.simulators.engine.paths import FloatArray, rng_for
from cerbero_mcp.simulators.macro.calendar import at
from cerbero_mcp.simulators.macro.model import Level, Trend
from cerbero_mcp.simulators.macro.soql import ColumnType, Query, SoqlError, compile_query, run

FIRST_REPORT = date(2018, 1, 2)  # a Tuesday
TFF = "gpe5-46if"
DISAGGREGATED = "72hh-3qpy"


@dataclass(frozen=True, slots=True)
class Market:
    """A futures market as the CFTC names it."""

    name: str  # contract_market_name
    exchange: str  # the part after " - " in market_and_exchange_names
    code: str  # cftc_contract_market_code
    market_code: str  # cftc_market_code
    commodity: str
    commodity_name: str
    group: str
    subgroup: str
    units: str
    open_interest: float


FIN = "FINANCIAL INSTRUMENTS"
CME, CBOT = "CHICAGO MERCANTILE EXCHANGE", "CHICAGO BOARD OF TRADE"
TFF_MARKETS = (
    Market("E-MINI S&P 500", CME, "13874A", "CME", "S&P 500 STOCK INDEX", "STOCK INDEX", FIN, "STOCK INDICES",
           "(S&P 500 INDEX X $50)", 2_200_000),
    Market("NASDAQ MINI", CME, "209742", "CME", "NASDAQ-100 STOCK INDEX", "STOCK INDEX", FIN, "STOCK INDICES",
           "(NASDAQ 100 INDEX X $20)", 280_000),
    Market("DJIA x $5", CBOT, "124603", "CBT", "DOW JONES INDUSTRIAL AVERAGE", "STOCK INDEX", FIN, "STOCK INDICES",
           "(DJIA INDEX X $5)", 90_000),
    Market("RUSSELL E-MINI", CME, "239742", "CME", "RUSSELL 2000 STOCK INDEX", "STOCK INDEX", FIN, "STOCK INDICES",
           "(RUSSELL 2000 INDEX X $50)", 470_000),
    Market("VIX FUTURES", "CBOE FUTURES EXCHANGE", "1170E1", "CFE", "VIX", "VOLATILITY INDEX", FIN, "OTHER FINANCIAL",
           "(1000 X INDEX)", 350_000),
    Market("UST 2Y NOTE", CBOT, "042601", "CBT", "2-YEAR U.S. TREASURY NOTES", "INTEREST RATES", FIN,
           "U.S. TREASURY", "(CONTRACTS OF $200,000 FACE VALUE)", 4_200_000),
    Market("UST 5Y NOTE", CBOT, "044601", "CBT", "5-YEAR U.S. TREASURY NOTES", "INTEREST RATES", FIN,
           "U.S. TREASURY", "(CONTRACTS OF $100,000 FACE VALUE)", 6_300_000),
    Market("UST 10Y NOTE", CBOT, "043602", "CBT", "10-YEAR U.S. TREASURY NOTES", "INTEREST RATES", FIN,
           "U.S. TREASURY", "(CONTRACTS OF $100,000 FACE VALUE)", 4_800_000),
    Market("UST BOND", CBOT, "020601", "CBT", "U.S. TREASURY BONDS", "INTEREST RATES", FIN, "U.S. TREASURY",
           "(CONTRACTS OF $100,000 FACE VALUE)", 1_800_000),
    Market("ULTRA UST BOND", CBOT, "020604", "CBT", "U.S. TREASURY BONDS", "INTEREST RATES", FIN, "U.S. TREASURY",
           "(CONTRACTS OF $100,000 FACE VALUE)", 1_700_000),
    Market("EURO FX", CME, "099741", "CME", "EURO FX", "CURRENCY", FIN, "CURRENCY", "(CONTRACTS OF EUR 125,000)",
           700_000),
    Market("JAPANESE YEN", CME, "097741", "CME", "JAPANESE YEN", "CURRENCY", FIN, "CURRENCY",
           "(CONTRACTS OF JPY 12,500,000)", 280_000),
    Market("BRITISH POUND", CME, "096742", "CME", "BRITISH POUND", "CURRENCY", FIN, "CURRENCY",
           "(CONTRACTS OF GBP 62,500)", 230_000),
    Market("USD INDEX", "ICE FUTURES U.S.", "098662", "ICUS", "U.S. DOLLAR INDEX", "CURRENCY", FIN, "CURRENCY",
           "(U.S. DOLLAR INDEX X $1000)", 30_000),
    Market("BITCOIN", CME, "133741", "CME", "BITCOIN", "CRYPTO CURRENCY", FIN, "OTHER FINANCIAL",
           "(5 Bitcoins)", 25_000),
    Market("MICRO BITCOIN", CME, "133742", "CME", "BITCOIN", "CRYPTO CURRENCY", FIN, "OTHER FINANCIAL",
           "(0.1 Bitcoin)", 60_000),
    Market("ETHER CASH SETTLED", CME, "146021", "CME", "ETHER", "CRYPTO CURRENCY", FIN, "OTHER FINANCIAL",
           "(50 Ether)", 15_000),
)  # fmt: skip
NYMEX, COMEX = "NEW YORK MERCANTILE EXCHANGE", "COMMODITY EXCHANGE INC."
DISAGGREGATED_MARKETS = (
    Market("GOLD", COMEX, "088691", "CMX", "GOLD", "GOLD", "NATURAL RESOURCES", "PRECIOUS METALS",
           "(CONTRACTS OF 100 TROY OUNCES)", 500_000),
    Market("SILVER", COMEX, "084691", "CMX", "SILVER", "SILVER", "NATURAL RESOURCES", "PRECIOUS METALS",
           "(CONTRACTS OF 5,000 TROY OUNCES)", 150_000),
    Market("COPPER- #1", COMEX, "085692", "CMX", "COPPER", "COPPER", "NATURAL RESOURCES", "BASE METALS",
           "(CONTRACTS OF 25,000 POUNDS)", 230_000),
    Market("WTI-PHYSICAL", NYMEX, "067651", "NYME", "CRUDE OIL", "CRUDE OIL", "NATURAL RESOURCES",
           "PETROLEUM AND PRODUCTS", "(1,000 BARRELS)", 1_900_000),
    Market("BRENT LAST DAY", NYMEX, "06765T", "NYME", "CRUDE OIL", "CRUDE OIL", "NATURAL RESOURCES",
           "PETROLEUM AND PRODUCTS", "(1,000 BARRELS)", 200_000),
    Market("NAT GAS NYME", NYMEX, "023651", "NYME", "NATURAL GAS", "NATURAL GAS", "NATURAL RESOURCES",
           "NATURAL GAS AND PRODUCTS", "(10,000 MMBTU'S)", 1_500_000),
    Market("CORN", CBOT, "002602", "CBT", "CORN", "CORN", "AGRICULTURE", "GRAINS", "(CONTRACTS OF 5,000 BUSHELS)",
           1_500_000),
    Market("SOYBEANS", CBOT, "005602", "CBT", "SOYBEANS", "SOYBEANS", "AGRICULTURE", "OILSEED AND PRODUCTS",
           "(CONTRACTS OF 5,000 BUSHELS)", 800_000),
    Market("WHEAT-SRW", CBOT, "001602", "CBT", "WHEAT", "WHEAT", "AGRICULTURE", "GRAINS",
           "(CONTRACTS OF 5,000 BUSHELS)", 450_000),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TraderClass:
    """A trader class and its column names (the CFTC's irregular spelling, exactly)."""

    key: str
    long: str
    short: str
    spread: str | None
    change_long: str
    change_short: str
    change_spread: str | None
    pct_long: str
    pct_short: str
    pct_spread: str | None
    shares: tuple[float, float, float]  # typical long, short, spread share of open interest


TFF_CLASSES = (
    TraderClass("dealer", "dealer_positions_long_all", "dealer_positions_short_all", "dealer_positions_spread_all",
                "change_in_dealer_long_all", "change_in_dealer_short_all", "change_in_dealer_spread_all",
                "pct_of_oi_dealer_long_all", "pct_of_oi_dealer_short_all", "pct_of_oi_dealer_spread_all",
                (0.10, 0.22, 0.02)),
    TraderClass("asset_mgr", "asset_mgr_positions_long", "asset_mgr_positions_short", "asset_mgr_positions_spread",
                "change_in_asset_mgr_long", "change_in_asset_mgr_short", "change_in_asset_mgr_spread",
                "pct_of_oi_asset_mgr_long", "pct_of_oi_asset_mgr_short", "pct_of_oi_asset_mgr_spread",
                (0.42, 0.12, 0.03)),
    TraderClass("lev_money", "lev_money_positions_long", "lev_money_positions_short", "lev_money_positions_spread",
                "change_in_lev_money_long", "change_in_lev_money_short", "change_in_lev_money_spread",
                "pct_of_oi_lev_money_long", "pct_of_oi_lev_money_short", "pct_of_oi_lev_money_spread",
                (0.12, 0.28, 0.03)),
    TraderClass("other_rept", "other_rept_positions_long", "other_rept_positions_short", "other_rept_positions_spread",
                "change_in_other_rept_long", "change_in_other_rept_short", "change_in_other_rept_spread",
                "pct_of_oi_other_rept_long", "pct_of_oi_other_rept_short", "pct_of_oi_other_rept_spread",
                (0.08, 0.10, 0.01)),
)  # fmt: skip
DISAGGREGATED_CLASSES = (
    TraderClass("prod_merc", "prod_merc_positions_long", "prod_merc_positions_short", None,
                "change_in_prod_merc_long", "change_in_prod_merc_short", None,
                "pct_of_oi_prod_merc_long", "pct_of_oi_prod_merc_short", None, (0.15, 0.35, 0.0)),
    TraderClass("swap", "swap_positions_long_all", "swap__positions_short_all", "swap__positions_spread_all",
                "change_in_swap_long_all", "change_in_swap_short_all", "change_in_swap_spread_all",
                "pct_of_oi_swap_long_all", "pct_of_oi_swap_short_all", "pct_of_oi_swap_spread_all",
                (0.20, 0.12, 0.05)),
    TraderClass("m_money", "m_money_positions_long_all", "m_money_positions_short_all", "m_money_positions_spread",
                "change_in_m_money_long_all", "change_in_m_money_short_all", "change_in_m_money_spread",
                "pct_of_oi_m_money_long_all", "pct_of_oi_m_money_short_all", "pct_of_oi_m_money_spread",
                (0.20, 0.08, 0.08)),
    TraderClass("other_rept", "other_rept_positions_long", "other_rept_positions_short", "other_rept_positions_spread",
                "change_in_other_rept_long", "change_in_other_rept_short", "change_in_other_rept_spread",
                "pct_of_oi_other_rept_long", "pct_of_oi_other_rept_short", "pct_of_oi_other_rept_spread",
                (0.08, 0.06, 0.06)),
)  # fmt: skip
NONREPT = ("nonrept_positions_long_all", "nonrept_positions_short_all", "change_in_nonrept_long_all",
           "change_in_nonrept_short_all", "pct_of_oi_nonrept_long_all", "pct_of_oi_nonrept_short_all")  # fmt: skip
HEAD = ("id", "market_and_exchange_names", "report_date_as_yyyy_mm_dd", "yyyy_report_week_ww", "contract_market_name",
        "cftc_contract_market_code", "cftc_market_code", "cftc_region_code", "cftc_commodity_code", "commodity_name",
        "open_interest_all")  # fmt: skip
TAIL = ("change_in_open_interest_all", "pct_of_open_interest_all", "traders_tot_all", "contract_units",
        "futonly_or_combined", "commodity", "commodity_subgroup_name", "commodity_group_name")  # fmt: skip
TEXT_COLUMNS = {"id", "market_and_exchange_names", "yyyy_report_week_ww", "contract_market_name",
                "cftc_contract_market_code", "cftc_market_code", "cftc_region_code", "cftc_commodity_code",
                "commodity_name", "contract_units", "futonly_or_combined", "commodity", "commodity_subgroup_name",
                "commodity_group_name"}  # fmt: skip


def columns_of(classes: tuple[TraderClass, ...]) -> list[str]:
    """Return a dataset's columns in Socrata's order."""
    cols = list(HEAD)
    for c in classes:
        cols += [c.long, c.short] + ([c.spread] if c.spread else [])
    cols += list(NONREPT[:2])
    cols.append(TAIL[0])
    for c in classes:
        cols += [c.change_long, c.change_short] + ([c.change_spread] if c.change_spread else [])
    cols += list(NONREPT[2:4])
    cols.append(TAIL[1])
    for c in classes:
        cols += [c.pct_long, c.pct_short] + ([c.pct_spread] if c.pct_spread else [])
    cols += list(NONREPT[4:])
    cols += list(TAIL[2:])
    return cols


def release_time(report: date) -> float:
    """Return when the report of Tuesday `report` is published: Friday 15:30 New York."""
    return at(report + timedelta(days=3), 15, 30)


def reports_through(now: float) -> list[date]:
    """Return every report date released at `now`, oldest first."""
    out: list[date] = []
    d = FIRST_REPORT
    while release_time(d) <= now:
        out.append(d)
        d += timedelta(days=7)
    return out


@dataclass(frozen=True, slots=True)
class Positions:
    """One market's positions on one report date."""

    oi: int
    legs: dict[str, int]  # column -> contracts
    traders: int


class Dataset:
    """One COT dataset: its markets, classes, positions model and the rows released so far."""

    def __init__(self, seed: int, dataset: str, markets: tuple[Market, ...], classes: tuple[TraderClass, ...]) -> None:
        """Build the walks of every market and class."""
        self.id = dataset
        self.seed = seed
        self.markets = markets
        self.classes = classes
        self.column_names = columns_of(classes)
        self.columns: dict[str, ColumnType] = {
            c: "text" if c in TEXT_COLUMNS else "floating_timestamp" if c == "report_date_as_yyyy_mm_dd" else "number"
            for c in self.column_names
        }
        flat = (("2018-01-01", 1.0),)
        self._oi = {
            m.code: Level(seed, f"cot-oi-{dataset}-{m.code}", Trend.of(flat, log=True), 0.35, 0.35) for m in markets
        }
        self._legs: dict[tuple[str, str, int], Level] = {}
        self._tilt: dict[tuple[str, str, int], float] = {}
        for m in markets:
            for c in classes:
                for side in range(3):
                    key = (m.code, c.key, side)
                    self._legs[key] = Level(
                        seed, f"cot-{dataset}-{m.code}-{c.key}-{side}", Trend.of(flat, log=True), 0.6, 0.45
                    )
                    self._tilt[key] = float(math.exp(0.3 * rng_for(seed, "cot-tilt", dataset, *key).standard_normal()))
        self._change_names = {c.long: c.change_long for c in classes} | {c.short: c.change_short for c in classes}
        self._change_names |= {c.spread: c.change_spread for c in classes if c.spread and c.change_spread}
        self._change_names |= {NONREPT[0]: NONREPT[2], NONREPT[1]: NONREPT[3]}
        self._pct_names = {c.long: c.pct_long for c in classes} | {c.short: c.pct_short for c in classes}
        self._pct_names |= {c.spread: c.pct_spread for c in classes if c.spread and c.pct_spread}
        self._pct_names |= {NONREPT[0]: NONREPT[4], NONREPT[1]: NONREPT[5]}
        self._rows: list[dict[str, str]] = []
        self._through: date | None = None
        self._lock = threading.Lock()

    def positions(self, m: Market, d: date) -> Positions:
        """Return the positions of market `m` on report date `d`."""
        return self.history(m, [d])[0]

    def history(self, m: Market, dates: list[date]) -> list[Positions]:
        """Return the positions of market `m` on each report date (vectorised over the dates)."""
        oi = np.rint(m.open_interest * self._oi[m.code].closes(dates)).astype(np.int64)
        shares: dict[str, FloatArray] = {}
        for c in self.classes:
            for side, col in enumerate((c.long, c.short, c.spread)):
                if col is not None:
                    key = (m.code, c.key, side)
                    shares[col] = c.shares[side] * self._tilt[key] * self._legs[key].closes(dates)
        spread_share = sum((shares[c.spread] for c in self.classes if c.spread), np.zeros(len(dates)))
        long_total = sum((shares[c.long] for c in self.classes), spread_share)
        short_total = sum((shares[c.short] for c in self.classes), spread_share)
        scale = np.minimum(1.0, 0.95 / np.maximum(long_total, short_total))  # keep the non-reportables positive
        legs = {col: np.rint(oi * s * scale).astype(np.int64) for col, s in shares.items()}
        spreads = sum((legs[c.spread] for c in self.classes if c.spread), np.zeros(len(dates), dtype=np.int64))
        legs[NONREPT[0]] = oi - spreads - sum(legs[c.long] for c in self.classes)
        legs[NONREPT[1]] = oi - spreads - sum(legs[c.short] for c in self.classes)
        traders = np.maximum(20, np.rint(np.sqrt(oi) * 0.9)).astype(np.int64)
        return [
            Positions(int(oi[k]), {col: int(v[k]) for col, v in legs.items()}, int(traders[k]))
            for k in range(len(dates))
        ]

    def _row(self, m: Market, d: date, now_p: Positions, prev: Positions | None) -> dict[str, str]:
        row: dict[str, str] = {
            "id": f"{d:%y%m%d}{m.code}F",
            "market_and_exchange_names": f"{m.name} - {m.exchange}",
            "report_date_as_yyyy_mm_dd": f"{d.isoformat()}T00:00:00.000",
            "yyyy_report_week_ww": f"{d.isocalendar().year} Report Week {d.isocalendar().week:02d}",
            "contract_market_name": m.name,
            "cftc_contract_market_code": m.code,
            "cftc_market_code": m.market_code,
            "cftc_region_code": "1",
            "cftc_commodity_code": m.code[:3],
            "commodity_name": m.commodity_name,
            "open_interest_all": str(now_p.oi),
        }
        change_names, pct_names = self._change_names, self._pct_names
        for col, value in now_p.legs.items():
            row[col] = str(value)
            if prev is not None:
                row[change_names[col]] = str(value - prev.legs[col])
            row[pct_names[col]] = f"{value / now_p.oi * 100:.1f}" if now_p.oi else "0.0"
        if prev is not None:
            row["change_in_open_interest_all"] = str(now_p.oi - prev.oi)
        row |= {
            "pct_of_open_interest_all": "100.0",
            "traders_tot_all": str(now_p.traders),
            "contract_units": m.units,
            "futonly_or_combined": "FutOnly",
            "commodity": m.commodity,
            "commodity_subgroup_name": m.subgroup,
            "commodity_group_name": m.group,
        }
        return {c: row[c] for c in self.column_names if c in row}

    def _build(self, dates: list[date]) -> Iterator[dict[str, str]]:
        if not dates:
            return
        for m in self.markets:
            history = self.history(m, [dates[0] - timedelta(days=7), *dates])
            for k, d in enumerate(dates):
                yield self._row(m, d, history[k + 1], history[k])

    def rows(self, now: float) -> list[dict[str, str]]:
        """Return every row released at `now` (built once per release)."""
        dates = reports_through(now)
        last = dates[-1] if dates else None
        with self._lock:
            if last != self._through:
                rows = list(self._build(dates))
                rows.sort(key=lambda r: (r["report_date_as_yyyy_mm_dd"], r["cftc_contract_market_code"]))
                self._rows, self._through = rows, last
            return self._rows

    def query(self, params: dict[str, str], now: float) -> list[dict[str, str]]:
        """Answer one request's SoQL parameters at `now` (SoqlError when Socrata would refuse it)."""
        compiled: Query = compile_query(params, self.columns, f"cftc.{self.id}")
        return run(compiled, self.rows(now))


def datasets(seed: int) -> dict[str, Dataset]:
    """Return the datasets served, by Socrata id."""
    return {
        TFF: Dataset(seed, TFF, TFF_MARKETS, TFF_CLASSES),
        DISAGGREGATED: Dataset(seed, DISAGGREGATED, DISAGGREGATED_MARKETS, DISAGGREGATED_CLASSES),
    }


def missing(dataset: str) -> dict[str, Any]:
    """Return Socrata's 404 body for an unknown dataset id."""
    return {"code": "dataset.missing", "error": True, "message": "Not found", "data": {"id": dataset}}


__all__ = ["DISAGGREGATED", "TFF", "Dataset", "SoqlError", "datasets", "missing", "release_time", "reports_through"]
