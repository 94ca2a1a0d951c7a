"""Deribit's own tools: instruments, DVOL, realized vol and options-surface analytics, combos.

Surface analytics read `public/get_book_summary_by_currency(kind=option)` once (mark IV, the
forward of each expiry as `underlying_price`, open interest, volume) and compute with the quant
library. IVs are reported in vol points (55.0 = 55 %), as Deribit quotes them. Every response says
which instruments, expiries and underlying price it used, and when the data was observed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from cerbero_mcp.common import options, volatility
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit import schemas as s
from cerbero_mcp.exchanges.deribit.client import to_decimal
from cerbero_mcp.exchanges.deribit.exposure import combo_legs
from cerbero_mcp.exchanges.deribit.mapping import dt_to_ms, ms_to_dt, to_result
from cerbero_mcp.exchanges.deribit.market import fetch_bars
from cerbero_mcp.exchanges.deribit.toolset import TOOLS, check_price, client_of, validate_order
from cerbero_mcp.exchanges.validation import check_increment
from cerbero_mcp.tooling import ToolContext

YEAR_SECONDS = 365.0 * 86400
OPTION_NAME = re.compile(r"^(?P<ccy>[A-Z]+)-(?P<expiry>\d{1,2}[A-Z]{3}\d{2})-(?P<strike>\d+(?:d\d+)?)-(?P<kind>[CP])$")
FUTURE_NAME = re.compile(r"^(?P<ccy>[A-Z]+)-(?P<expiry>\d{1,2}[A-Z]{3}\d{2}|PERPETUAL)$")
MONTHS = {
    m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
}
DVOL_RESOLUTION = {"1m": "60", "1h": "3600", "12h": "43200", "1d": "1D"}
DVOL_STEP_S = {"1m": 60, "1h": 3600, "12h": 43200, "1d": 86400}
MAX_DVOL_PAGES = 50


def parse_expiry(code: str) -> datetime:
    """Return the expiry instant of Deribit's `25DEC26` (08:00 UTC)."""
    match = re.fullmatch(r"(\d{1,2})([A-Z]{3})(\d{2})", code)
    if match is None or match.group(2) not in MONTHS:
        raise InvalidInputError(f"expiry {code!r} is not Deribit's DDMMMYY form (e.g. 25DEC26)")
    day, month, year = int(match.group(1)), MONTHS[match.group(2)], 2000 + int(match.group(3))
    return datetime(year, month, day, 8, tzinfo=UTC)


def expiry_label(when: datetime) -> str:
    """Return an expiry as YYYY-MM-DD."""
    return when.date().isoformat()


def normalise_expiry(text: str) -> str:
    """Accept YYYY-MM-DD or 25DEC26 and return YYYY-MM-DD."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    return expiry_label(parse_expiry(text.upper()))


@dataclass(frozen=True)
class ParsedOption:
    """What an option's name says."""

    currency: str
    expiry: datetime
    strike: float
    kind: Literal["call", "put"]


def parse_option(name: str) -> ParsedOption | None:
    """Parse `BTC-25DEC26-100000-C`; None for anything that is not an option."""
    match = OPTION_NAME.match(name)
    if match is None:
        return None
    strike = float(match.group("strike").replace("d", "."))
    kind: Literal["call", "put"] = "call" if match.group("kind") == "C" else "put"
    return ParsedOption(match.group("ccy"), parse_expiry(match.group("expiry")), strike, kind)


@dataclass
class Surface:
    """One currency's listed options as the quant library wants them, and where they came from."""

    chain: options.OptionChain
    names: list[str]
    expiries: list[datetime]
    rows: list[dict[str, Any]]
    spot: float
    observed_at: datetime

    def used(self) -> s.SurfaceUsed:
        """Describe the data behind an analytic."""
        return s.SurfaceUsed(
            instruments=len(self.names),
            expiries=sorted({expiry_label(e) for e in self.expiries}),
            underlying_price=self.spot,
            observed_at=self.observed_at,
        )

    def label_of(self, expiry_years: float) -> str:
        """Return the YYYY-MM-DD of an expiry given in years from now."""
        return expiry_label(self.observed_at + timedelta(seconds=expiry_years * YEAR_SECONDS))


async def load_surface(ctx: ToolContext, currency: str, expiry: str | None = None) -> Surface:
    """Read the option book summaries of `currency` (optionally one expiry) into a chain."""
    client = await client_of(ctx)
    summaries = await client.public_get_book_summary_by_currency(currency, "option")
    index = await client.public_ticker(f"{currency}-PERPETUAL")
    now = utcnow()
    wanted = normalise_expiry(expiry) if expiry else None
    quotes, names, expiries, rows = [], [], [], []
    for row in summaries:
        parsed = parse_option(str(row.get("instrument_name", "")))
        iv = row.get("mark_iv")
        forward = row.get("underlying_price")
        if parsed is None or not iv or not forward:
            continue
        years = (parsed.expiry - now).total_seconds() / YEAR_SECONDS
        if years <= 0 or (wanted is not None and expiry_label(parsed.expiry) != wanted):
            continue
        quotes.append(
            options.OptionQuote(
                strike=parsed.strike,
                expiry_years=years,
                kind=parsed.kind,
                iv=float(iv) / 100.0,
                forward=float(forward),
                open_interest=float(row.get("open_interest") or 0.0),
            )
        )
        names.append(str(row["instrument_name"]))
        expiries.append(parsed.expiry)
        rows.append(row)
    if not quotes:
        hint = f" expiring {wanted}" if wanted else ""
        raise InvalidInputError(
            f"deribit lists no live {currency} options{hint} with a mark IV",
            suggested_fix="call get_instruments with kind=option for the listed expiries",
        )
    spot = float(index.get("index_price") or index.get("mark_price") or quotes[0].forward)
    return Surface(options.OptionChain.from_quotes(quotes), names, expiries, rows, spot, now)


def _vol_points(x: float) -> float:
    return round(float(x) * 100.0, 6) if math.isfinite(float(x)) else float("nan")


def _finite(x: float) -> float:
    # JSON has no NaN: a value the chain cannot support is reported as 0 with the count in `used`.
    return float(x) if math.isfinite(float(x)) else 0.0


# --- instruments and volatility ---------------------------------------------------------------


@TOOLS.read("get_instruments")
async def get_instruments(ctx: ToolContext, req: s.InstrumentsRequest) -> s.Instruments:
    """List Deribit instruments of a currency with tick size, lot size, contract size and expiry."""
    raw = await (await client_of(ctx)).public_get_instruments(req.currency, req.kind, req.expired)
    items = [
        s.InstrumentInfo(
            instrument=r["instrument_name"],
            kind=r.get("kind", ""),
            base_currency=r.get("base_currency", ""),
            quote_currency=r.get("quote_currency", ""),
            settlement_currency=r.get("settlement_currency"),
            tick_size=to_decimal(r.get("tick_size")) or Decimal(0),
            min_trade_amount=to_decimal(r.get("min_trade_amount")) or Decimal(0),
            contract_size=to_decimal(r.get("contract_size")) or Decimal(0),
            expiration=ms_to_dt(r["expiration_timestamp"]) if r.get("expiration_timestamp") else None,
            strike=to_decimal(r.get("strike")),
            option_type=r.get("option_type"),
            is_active=bool(r.get("is_active", True)),
            info={k: r.get(k) for k in ("instrument_type", "settlement_period", "min_trade_amount")},
        )
        for r in raw
    ]
    return s.Instruments(
        currency=req.currency, instruments=items[: req.limit], has_more=len(items) > req.limit, data_timestamp=utcnow()
    )


async def dvol_points(
    ctx: ToolContext, currency: str, resolution: str, start: datetime, end: datetime
) -> list[s.DvolPoint]:
    """Read DVOL candles over [start, end], following `continuation` backwards."""
    client = await client_of(ctx)
    points: list[s.DvolPoint] = []
    end_ms, start_ms = dt_to_ms(end), dt_to_ms(start)
    for _ in range(MAX_DVOL_PAGES):
        page = await client.public_get_volatility_index_data(currency, start_ms, end_ms, DVOL_RESOLUTION[resolution])
        points.extend(
            s.DvolPoint(ts=ms_to_dt(t), open=float(o), high=float(h), low=float(lo), close=float(c))
            for t, o, h, lo, c in page.get("data", [])
        )
        continuation = page.get("continuation")
        if not continuation or int(continuation) <= start_ms:
            break
        end_ms = int(continuation)
    unique = {p.ts: p for p in points}
    return [unique[t] for t in sorted(unique)]


@TOOLS.read("get_dvol")
async def get_dvol(ctx: ToolContext, req: s.DvolRequest) -> s.Dvol:
    """Return DVOL (Deribit's 30-day implied volatility index) history and its latest value."""
    end = utcnow()
    points = await dvol_points(ctx, req.currency, req.resolution, end - timedelta(hours=req.hours), end)
    return s.Dvol(
        currency=req.currency,
        resolution=req.resolution,
        latest=points[-1].close if points else None,
        points=points,
        data_timestamp=points[-1].ts if points else end,
    )


@TOOLS.read("get_iv_rank")
async def get_iv_rank(ctx: ToolContext, req: s.IvRankRequest) -> s.IvRank:
    """Return IV rank and IV percentile of DVOL over a lookback of daily closes."""
    end = utcnow()
    points = await dvol_points(ctx, req.currency, "1d", end - timedelta(days=req.lookback_days), end)
    if len(points) < 2:
        raise InvalidInputError(f"not enough DVOL history for {req.currency} over {req.lookback_days} days")
    closes = np.array([p.close for p in points])
    current, low, high = float(closes[-1]), float(closes.min()), float(closes.max())
    rank = 0.0 if high == low else (current - low) / (high - low) * 100.0
    percentile = float((closes[:-1] < current).mean() * 100.0)
    return s.IvRank(
        currency=req.currency,
        current=current,
        low=low,
        high=high,
        iv_rank=round(rank, 4),
        iv_percentile=round(percentile, 4),
        lookback_days=req.lookback_days,
        observations=len(points),
        data_timestamp=points[-1].ts,
    )


@TOOLS.read("get_realized_vol")
async def get_realized_vol(ctx: ToolContext, req: s.RealizedVolRequest) -> s.RealizedVol:
    """Return annualised realized volatility (close-to-close, Parkinson, Garman-Klass, Yang-Zhang) and a cone."""
    need = max([req.window, *req.windows]) + 1
    bars = await fetch_bars(ctx, v.BarsRequest(instrument=req.instrument, resolution=req.resolution, limit=need))
    if len(bars.bars) < req.window + 1:
        raise InvalidInputError(f"only {len(bars.bars)} candles of {req.instrument}; the window needs {req.window + 1}")
    per_year = 365.0 if req.resolution == "1d" else 365.0 * 24
    o, h, lo, c = (np.array([float(getattr(b, f)) for b in bars.bars]) for f in ("open", "high", "low", "close"))
    w = req.window + 1
    cone = volatility.vol_cone(c, [x for x in req.windows if x < len(c)], periods_per_year=per_year)
    return s.RealizedVol(
        instrument=req.instrument,
        resolution=req.resolution,
        window=req.window,
        close_to_close=float(volatility.close_to_close_vol(c[-w:], per_year)),
        parkinson=float(volatility.parkinson_vol(h[-w:], lo[-w:], per_year)),
        garman_klass=float(volatility.garman_klass_vol(o[-w:], h[-w:], lo[-w:], c[-w:], per_year)),
        yang_zhang=float(volatility.yang_zhang_vol(o[-w:], h[-w:], lo[-w:], c[-w:], per_year)),
        cone=[
            {
                "window": float(win),
                "min": float(a),
                "q25": float(b),
                "median": float(m),
                "q75": float(d),
                "max": float(e),
                "current": float(f),
            }
            for win, a, b, m, d, e, f in zip(
                cone.windows, cone.min, cone.q25, cone.median, cone.q75, cone.max, cone.current, strict=True
            )
        ],
        candles_used=len(c),
        data_timestamp=bars.bars[-1].ts,
    )


# --- surface analytics ------------------------------------------------------------------------


@TOOLS.read("get_term_structure")
async def get_term_structure(ctx: ToolContext, req: s.SurfaceRequest) -> s.TermStructure:
    """Return ATM implied volatility by expiry and whether the curve is in contango or backwardation."""
    surface = await load_surface(ctx, req.currency)
    term = options.term_structure(surface.chain)
    points = [
        s.TermPoint(expiry=surface.label_of(t), days=round(t * 365.0, 4), atm_iv=_vol_points(iv))
        for t, iv in zip(term.expiry_years, term.atm_iv, strict=True)
        if math.isfinite(iv)
    ]
    return s.TermStructure(
        currency=req.currency, points=points, shape=term.state, used=surface.used(), data_timestamp=surface.observed_at
    )


@TOOLS.read("get_skew_25d")
async def get_skew_25d(ctx: ToolContext, req: s.SurfaceRequest) -> s.Skew25d:
    """Return the 25-delta risk reversal and butterfly per expiry (negative risk reversal: puts richer)."""
    surface = await load_surface(ctx, req.currency, req.expiry)
    skew = options.skew_25d(surface.chain)
    points = [
        s.SkewPoint(
            expiry=surface.label_of(t),
            days=round(t * 365.0, 4),
            atm_iv=_vol_points(atm),
            call_25d_iv=_vol_points(c),
            put_25d_iv=_vol_points(p),
            risk_reversal_25d=_vol_points(rr),
            butterfly_25d=_vol_points(bf),
        )
        for t, atm, c, p, rr, bf in zip(
            skew.expiry_years,
            skew.atm_iv,
            skew.call_25d_iv,
            skew.put_25d_iv,
            skew.risk_reversal,
            skew.butterfly,
            strict=True,
        )
        if math.isfinite(rr)
    ]
    return s.Skew25d(currency=req.currency, points=points, used=surface.used(), data_timestamp=surface.observed_at)


@TOOLS.read("get_put_call_ratio")
async def get_put_call_ratio(ctx: ToolContext, req: s.SurfaceRequest) -> s.PutCallRatio:
    """Return put/call ratios by open interest and by 24h volume."""
    surface = await load_surface(ctx, req.currency, req.expiry)
    is_call = surface.chain.is_call
    oi = surface.chain.open_interest
    volume = np.array([float(r.get("volume") or 0.0) for r in surface.rows])
    put_oi, call_oi = float(oi[~is_call].sum()), float(oi[is_call].sum())
    put_vol, call_vol = float(volume[~is_call].sum()), float(volume[is_call].sum())
    return s.PutCallRatio(
        currency=req.currency,
        expiry=normalise_expiry(req.expiry) if req.expiry else None,
        put_open_interest=put_oi,
        call_open_interest=call_oi,
        by_open_interest=round(put_oi / call_oi, 6) if call_oi else None,
        put_volume=put_vol,
        call_volume=call_vol,
        by_volume=round(put_vol / call_vol, 6) if call_vol else None,
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


def _signs(dealer_short_calls: bool) -> tuple[float, float, str]:
    if dealer_short_calls:
        return -1.0, 1.0, "dealers short calls and long puts; positive total = dealers long gamma (dampening)"
    return 1.0, -1.0, "dealers long calls and short puts; positive total = dealers long gamma (dampening)"


@TOOLS.read("get_gex")
async def get_gex(ctx: ToolContext, req: s.GexRequest) -> s.Gex:
    """Return dealer gamma exposure per strike and in total, in USD per 1% move of the underlying."""
    surface = await load_surface(ctx, req.currency, req.expiry)
    call_sign, put_sign, convention = _signs(req.dealer_short_calls)
    profile = options.dealer_gamma_profile(surface.chain, surface.spot, call_sign=call_sign, put_sign=put_sign)
    strikes = [
        s.GexStrike(strike=float(k), call_gex=float(c), put_gex=float(p), net_gex=float(n))
        for k, c, p, n in zip(
            profile.strikes, profile.call_gex_by_strike, profile.put_gex_by_strike, profile.gex_by_strike, strict=True
        )
    ]
    return s.Gex(
        currency=req.currency,
        convention=convention,
        total_gex=float(profile.total_gex),
        strikes=strikes,
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


@TOOLS.read("get_dealer_gamma_profile")
async def get_dealer_gamma_profile(ctx: ToolContext, req: s.GammaProfileRequest) -> s.GammaProfile:
    """Return total dealer gamma across a grid of underlying prices and the gamma-flip level."""
    surface = await load_surface(ctx, req.currency, req.expiry)
    call_sign, put_sign, convention = _signs(req.dealer_short_calls)
    grid = np.linspace(surface.spot * (1 - req.range_pct / 100), surface.spot * (1 + req.range_pct / 100), req.points)
    profile = options.dealer_gamma_profile(
        surface.chain, surface.spot, call_sign=call_sign, put_sign=put_sign, price_grid=grid
    )
    flip = float(profile.flip_level)
    return s.GammaProfile(
        currency=req.currency,
        convention=convention,
        spot=surface.spot,
        prices=[round(float(x), 6) for x in profile.price_grid],
        total_gex=[float(x) for x in profile.gex_on_grid],
        gamma_flip=flip if math.isfinite(flip) else None,
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


@TOOLS.read("get_vanna_charm")
async def get_vanna_charm(ctx: ToolContext, req: s.GexRequest) -> s.VannaCharm:
    """Return open-interest-weighted dealer vanna and charm, in total and per expiry."""
    surface = await load_surface(ctx, req.currency, req.expiry)
    call_sign, put_sign, convention = _signs(req.dealer_short_calls)
    total = options.vanna_charm_aggregate(surface.chain, call_sign=call_sign, put_sign=put_sign)
    by_expiry: list[dict[str, float | str]] = []
    for t in surface.chain.expiries():
        mask = surface.chain.expiry_years == t
        sub = options.OptionChain.from_arrays(
            surface.chain.strike[mask],
            surface.chain.expiry_years[mask],
            surface.chain.is_call[mask],
            surface.chain.iv[mask],
            surface.chain.forward[mask],
            surface.chain.open_interest[mask],
        )
        part = options.vanna_charm_aggregate(sub, call_sign=call_sign, put_sign=put_sign)
        by_expiry.append(
            {"expiry": surface.label_of(float(t)), "vanna": float(part.total_vanna), "charm": float(part.total_charm)}
        )
    return s.VannaCharm(
        currency=req.currency,
        convention=convention,
        total_vanna=float(total.total_vanna),
        total_charm=float(total.total_charm),
        by_expiry=by_expiry,
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


@TOOLS.read("get_oi_weighted_skew")
async def get_oi_weighted_skew(ctx: ToolContext, req: s.SurfaceRequest) -> s.OiWeightedSkew:
    """Return open-interest-weighted put IV minus call IV: where positioning sits on the smile."""
    surface = await load_surface(ctx, req.currency, req.expiry)
    skew = options.oi_weighted_skew(surface.chain)
    if req.expiry:
        put_iv, call_iv, value = skew.put_iv[0], skew.call_iv[0], skew.skew[0]
    else:
        oi, iv, calls = surface.chain.open_interest, surface.chain.iv, surface.chain.is_call
        put_iv = float((iv[~calls] * oi[~calls]).sum() / oi[~calls].sum()) if oi[~calls].sum() else float("nan")
        call_iv = float((iv[calls] * oi[calls]).sum() / oi[calls].sum()) if oi[calls].sum() else float("nan")
        value = skew.total_skew
    return s.OiWeightedSkew(
        currency=req.currency,
        expiry=normalise_expiry(req.expiry) if req.expiry else None,
        oi_weighted_put_iv=_finite(_vol_points(put_iv)),
        oi_weighted_call_iv=_finite(_vol_points(call_iv)),
        skew=_finite(_vol_points(value)),
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


async def _one_expiry(ctx: ToolContext, req: s.SurfaceRequest) -> tuple[Surface, str]:
    """Load the requested expiry, or the nearest one more than two days out."""
    if req.expiry:
        surface = await load_surface(ctx, req.currency, req.expiry)
        return surface, normalise_expiry(req.expiry)
    everything = await load_surface(ctx, req.currency)
    expiries = sorted({e for e in everything.expiries if (e - everything.observed_at).days >= 2}) or sorted(
        set(everything.expiries)
    )
    label = expiry_label(expiries[0])
    return await load_surface(ctx, req.currency, label), label


@TOOLS.read("get_smile_asymmetry")
async def get_smile_asymmetry(ctx: ToolContext, req: s.SurfaceRequest) -> s.SmileAsymmetry:
    """Return put-wing minus call-wing IV of one expiry's fitted smile, and each wing's slope."""
    surface, label = await _one_expiry(ctx, req)
    fit = options.smile_asymmetry(surface.chain)
    wing = 0.1
    return s.SmileAsymmetry(
        currency=req.currency,
        expiry=label,
        asymmetry=_finite(_vol_points(fit.asymmetry[0])),
        put_wing_slope=_finite(_vol_points((fit.put_wing_iv[0] - fit.atm_iv[0]) / wing)),
        call_wing_slope=_finite(_vol_points((fit.call_wing_iv[0] - fit.atm_iv[0]) / wing)),
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


@TOOLS.read("get_atm_vs_wings_vol")
async def get_atm_vs_wings_vol(ctx: ToolContext, req: s.SurfaceRequest) -> s.AtmVsWings:
    """Return ATM IV of one expiry against its 25- and 10-delta wings."""
    surface, label = await _one_expiry(ctx, req)
    wings = options.atm_vs_wings(surface.chain)
    return s.AtmVsWings(
        currency=req.currency,
        expiry=label,
        atm_iv=_finite(_vol_points(wings.atm_iv[0])),
        wings={
            "call_25d_iv": _finite(_vol_points(wings.call_25d_iv[0])),
            "put_25d_iv": _finite(_vol_points(wings.put_25d_iv[0])),
            "call_10d_iv": _finite(_vol_points(wings.call_10d_iv[0])),
            "put_10d_iv": _finite(_vol_points(wings.put_10d_iv[0])),
            "wing_25d_premium": _finite(_vol_points(wings.wing_25d[0])),
            "wing_10d_premium": _finite(_vol_points(wings.wing_10d[0])),
        },
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


@TOOLS.read("find_by_delta")
async def find_by_delta(ctx: ToolContext, req: s.FindByDeltaRequest) -> s.FoundOption:
    """Return the option whose Black-76 delta is nearest the target over every allowed expiry."""
    listed = await load_surface(ctx, req.currency, req.expiry)
    low, high = req.min_days_to_expiry, req.max_days_to_expiry
    allowed = {
        e
        for e in listed.expiries
        if (low is None or _days_to(e, listed) >= low) and (high is None or _days_to(e, listed) <= high)
    }
    if not allowed:
        raise InvalidInputError(
            f"no listed {req.currency} expiry is within the requested days to expiry",
            suggested_fix="widen min_days_to_expiry/max_days_to_expiry or drop them",
            details={
                "min_days_to_expiry": low,
                "max_days_to_expiry": high,
                "listed": {expiry_label(e): round(_days_to(e, listed), 2) for e in sorted(set(listed.expiries))},
            },
        )
    surface = _restricted(listed, allowed)
    target = abs(req.target_delta) if req.kind == "call" else -abs(req.target_delta)
    match = options.find_by_delta(surface.chain, target, req.kind)
    row = surface.rows[match.index]
    expiry = surface.expiries[match.index]
    return s.FoundOption(
        instrument=surface.names[match.index],
        strike=float(match.strike),
        expiry=expiry_label(expiry),
        days_to_expiry=round(_days_to(expiry, surface), 4),
        kind=req.kind,
        delta=round(float(match.delta), 6),
        mark_iv=_vol_points(match.iv),
        mark_price=float(row["mark_price"]) if row.get("mark_price") is not None else None,
        target_delta=target,
        delta_error=round(float(match.delta) - target, 6),
        expiries_searched=sorted({expiry_label(e) for e in allowed}),
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


def _days_to(expiry: datetime, surface: Surface) -> float:
    """Return the days from the surface's observation to `expiry`."""
    return (expiry - surface.observed_at).total_seconds() / 86400


def _restricted(surface: Surface, keep: set[datetime]) -> Surface:
    """Return the part of `surface` whose options expire at one of `keep`."""
    idx = np.flatnonzero([e in keep for e in surface.expiries])
    c = surface.chain
    chain = options.OptionChain(
        strike=c.strike[idx],
        expiry_years=c.expiry_years[idx],
        is_call=c.is_call[idx],
        iv=c.iv[idx],
        forward=c.forward[idx],
        open_interest=c.open_interest[idx],
        delta=c.delta[idx],
        rate=c.rate,
    )
    pick = idx.tolist()
    return Surface(
        chain,
        [surface.names[i] for i in pick],
        [surface.expiries[i] for i in pick],
        [surface.rows[i] for i in pick],
        surface.spot,
        surface.observed_at,
    )


@TOOLS.read("calculate_spread_payoff")
async def calculate_spread_payoff(ctx: ToolContext, req: s.SpreadPayoffRequest) -> s.SpreadPayoff:
    """Return a multi-leg position's payoff at expiry and now, break-evens and max profit/loss (USD)."""
    currencies = {(parse_option(leg.instrument) or _future_ccy(leg.instrument)) for leg in req.legs}
    ccys = {c if isinstance(c, str) else c.currency for c in currencies}
    if len(ccys) != 1:
        raise InvalidInputError("all legs must be on the same currency", details={"currencies": sorted(ccys)})
    currency = ccys.pop()
    surface = await load_surface(ctx, currency)
    by_name = dict(zip(surface.names, surface.rows, strict=True))
    legs: list[options.SpreadLeg] = []
    described: list[dict[str, Any]] = []
    client = await client_of(ctx)
    for leg in req.legs:
        sign = 1.0 if leg.side == "buy" else -1.0
        parsed = parse_option(leg.instrument)
        if parsed is None:
            ticker = await client.public_ticker(leg.instrument)
            entry = float(leg.price) if leg.price is not None else float(ticker["mark_price"])
            legs.append(options.SpreadLeg("underlying", entry, sign * float(leg.quantity)))
            described.append({"instrument": leg.instrument, "kind": "underlying", "entry": entry})
            continue
        row = by_name.get(leg.instrument)
        if row is None:
            raise InvalidInputError(f"{leg.instrument} is not a live {currency} option with a mark IV")
        forward = float(row["underlying_price"])
        premium_usd = float(leg.price) * forward if leg.price is not None else float(row["mark_price"]) * forward
        years = (parsed.expiry - surface.observed_at).total_seconds() / YEAR_SECONDS
        legs.append(
            options.SpreadLeg(
                parsed.kind, parsed.strike, sign * float(leg.quantity), premium_usd, years, float(row["mark_iv"]) / 100
            )
        )
        described.append(
            {"instrument": leg.instrument, "kind": parsed.kind, "strike": parsed.strike, "premium_usd": premium_usd}
        )
    grid = np.linspace(surface.spot * (1 - req.range_pct / 100), surface.spot * (1 + req.range_pct / 100), req.points)
    payoff = options.spread_payoff(legs, grid)
    return s.SpreadPayoff(
        prices=[round(float(x), 6) for x in payoff.price_grid],
        payoff_at_expiry=[float(x) for x in payoff.pnl_at_expiry],
        value_now=[float(x) for x in payoff.pnl_now],
        break_evens=[round(float(x), 6) for x in payoff.break_evens],
        max_profit=None if math.isinf(payoff.max_profit) else float(payoff.max_profit),
        max_loss=None if math.isinf(payoff.max_loss) else float(payoff.max_loss),
        net_premium=float(payoff.net_premium),
        legs=described,
        used=surface.used(),
        data_timestamp=surface.observed_at,
    )


def combo_amount_and_side(req: s.ComboOrderRequest, combo: dict[str, Any]) -> tuple[Decimal, str]:
    """Return the combo amount and side that trade exactly the requested legs.

    Deribit normalises a combo's legs to integer ratios and may hand back an existing combo in the
    other orientation; the combo's amount is in units of those ratios.
    """
    ratios = {str(leg["instrument_name"]): to_decimal(leg["amount"]) for leg in combo.get("legs", [])}
    wanted = {leg.instrument: leg.quantity if leg.side == "buy" else -leg.quantity for leg in req.legs}
    first = req.legs[0].instrument
    ratio = ratios.get(first)
    if not ratio or set(ratios) != set(wanted):
        raise InvalidInputError("deribit answered with a combo whose legs differ from the ones asked")
    scale = wanted[first] / ratio  # requested units per combo unit, signed by orientation
    if any(wanted[name] != scale * r for name, r in ratios.items() if r is not None):
        raise InvalidInputError("the legs are not in the proportions of the combo deribit created")
    side = req.side if scale > 0 else ("sell" if req.side == "buy" else "buy")
    return (req.quantity * abs(scale)).normalize(), side


def _future_ccy(name: str) -> str:
    match = FUTURE_NAME.match(name)
    if match is None:
        raise InvalidInputError(f"{name} is neither a Deribit option nor a future", details={"instrument": name})
    return match.group("ccy")


# --- combos -----------------------------------------------------------------------------------


@TOOLS.write("place_combo_order", risk="opens", legs=combo_legs, target="side")
async def place_combo_order(ctx: ToolContext, req: s.ComboOrderRequest) -> s.ComboOrderResult:
    """Trade a multi-leg options/futures combo as one instrument (private/create_combo, then buy/sell)."""
    ctx.require_credentials()
    for leg in req.legs:
        await validate_order(
            ctx, v.PlaceOrderRequest(instrument=leg.instrument, side=leg.side, type="market", quantity=leg.quantity)
        )
    client = await client_of(ctx)
    combo = await client.private_create_combo(
        [{"instrument_name": leg.instrument, "amount": leg.quantity, "direction": leg.side} for leg in req.legs]
    )
    combo_name = str(combo["id"])
    amount, side = combo_amount_and_side(req, combo)
    # create_combo answers the combo (id, legs, state) but not its trading rules: those are the combo
    # instrument's, read like any other instrument's.
    rules = await client.instrument(combo_name)
    lot = to_decimal(rules.get("min_trade_amount"))
    check_increment("quantity", amount, lot, minimum=lot)
    check_price(rules, "price", req.price)
    params = {
        "instrument_name": combo_name,
        "amount": amount,
        "type": req.type,
        "price": req.price,
        "label": req.client_order_id,
    }
    clean = {k: x for k, x in params.items() if x is not None}
    raw = await (client.private_buy(clean) if side == "buy" else client.private_sell(clean))
    result = to_result(raw)
    return s.ComboOrderResult(
        combo_instrument=combo_name,
        **result.model_dump(exclude={"data_timestamp"}),
        data_timestamp=result.data_timestamp,
    )
