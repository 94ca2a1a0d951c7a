"""The risk desk's tools: portfolio, exposure, pre-trade check and the PDT rule, for the caller's environment.

Every tool reads trading venues' clients of the caller's environment, so none is cached (a cache
would have to be per environment, and risk numbers must be fresh). Nothing here sends an order:
`pre_trade_check` runs the write pipeline's own gates in check-only mode (`WritePipeline.evaluate`).
"""

from __future__ import annotations

import asyncio
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from pydantic import BaseModel

from cerbero_mcp.common import indicators
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError, InvalidInputError
from cerbero_mcp.contracts import Leg, ToolContext, ToolSpec, decimal_text
from cerbero_mcp.exchanges.risk import schemas as s
from cerbero_mcp.exchanges.risk.holdings import Holding, VenueSnapshot
from cerbero_mcp.exchanges.risk.pdt import FACT_READERS, PDT_DAY_TRADES, PDT_EQUITY_USD
from cerbero_mcp.exchanges.risk.portfolio import (
    VenueRead,
    by_underlying,
    describe_error,
    holdings_of,
    read_venues,
    reader_for,
    venue_context,
    venue_toolsets,
)
from cerbero_mcp.exchanges.risk.toolset import TOOLS
from cerbero_mcp.tooling import ToolSet

QUANTITY_DECIMALS = Decimal("0.00000001")


class Evaluator(Protocol):
    """The write pipeline's check-only entry (`WritePipeline.evaluate`)."""

    async def evaluate(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel) -> list[Any]:
        """Run every gate for a check only."""
        ...


def timeout_of(ctx: ToolContext) -> float:
    """Return each venue's time budget for a cross-venue read (RISK_VENUE_TIMEOUT_S)."""
    return float(ctx.state.settings.risk_venue_timeout_s)


def position_out(holding: Holding) -> s.PositionOut:
    """Return a position for an answer."""
    return s.PositionOut(
        venue=holding.venue,
        instrument=holding.instrument,
        kind=holding.kind,
        underlying=holding.underlying,
        size=holding.size,
        notional_usd=holding.notional_usd,
        delta_usd=holding.delta_usd,
        delta_source=holding.delta_source,
        mark_price=holding.mark_price,
    )


def rates_of(reads: list[VenueRead]) -> list[s.RateOut]:
    """Return every conversion rate the answering venues used."""
    return [
        s.RateOut(venue=read.venue, currency=rate.currency, usd=rate.usd, source=rate.source)
        for read in reads
        if read.snapshot is not None
        for rate in read.snapshot.rates
    ]


def venue_out(read: VenueRead) -> s.VenuePortfolio:
    """Return one venue's part of the portfolio."""
    snap = read.snapshot
    if snap is None:
        return s.VenuePortfolio(venue=read.venue, status=read.status, duration_ms=read.duration_ms, error=read.error)
    return s.VenuePortfolio(
        venue=read.venue,
        status=read.status,
        duration_ms=read.duration_ms,
        equity_usd=snap.equity_usd,
        initial_margin_usd=sum((a.initial_margin_usd for a in snap.accounts), Decimal(0)),
        maintenance_margin_usd=sum((a.maintenance_margin_usd for a in snap.accounts), Decimal(0)),
        gross_notional_usd=snap.gross_notional_usd,
        accounts=[
            s.AccountOut(
                currency=a.currency,
                equity=a.equity,
                equity_usd=a.equity_usd,
                initial_margin_usd=a.initial_margin_usd,
                maintenance_margin_usd=a.maintenance_margin_usd,
            )
            for a in snap.accounts
        ],
        positions=[position_out(h) for h in snap.holdings],
        open_orders=read.open_orders,
    )


async def _reads(ctx: ToolContext, with_orders: bool) -> list[VenueRead]:
    return await read_venues(
        ctx.state,
        ctx.environment,
        request_id=ctx.request_id,
        bot_tag=ctx.bot_tag,
        timeout_s=timeout_of(ctx),
        with_orders=with_orders,
        tool=ctx.tool,
    )


@TOOLS.read("get_portfolio")
async def get_portfolio(ctx: ToolContext, req: s.PortfolioRequest) -> s.Portfolio:
    """Return every configured venue's equity, margin, positions and open orders in USD (partial when one fails).

    Venues are read concurrently, each within RISK_VENUE_TIMEOUT_S; a failing or slow venue is listed
    with its error and the total covers the others (`complete: false`). A venue without credentials
    for the caller's environment is `not_configured`. The rates used to convert to USD are listed.
    """
    reads = await _reads(ctx, req.include_orders)
    venues = [venue_out(read) for read in reads]
    answered = [v for v in venues if v.status == "ok"]
    return s.Portfolio(
        environment=ctx.environment,
        time_budget_s=timeout_of(ctx),
        complete=all(v.status in ("ok", "not_configured") for v in venues),
        total_equity_usd=sum((v.equity_usd or Decimal(0) for v in answered), Decimal(0)),
        total_initial_margin_usd=sum((v.initial_margin_usd or Decimal(0) for v in answered), Decimal(0)),
        total_maintenance_margin_usd=sum((v.maintenance_margin_usd or Decimal(0) for v in answered), Decimal(0)),
        gross_notional_usd=sum((v.gross_notional_usd or Decimal(0) for v in answered), Decimal(0)),
        venues=venues,
        rates=rates_of(reads),
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_exposure")
async def get_exposure(ctx: ToolContext, req: s.ExposureRequest) -> s.ExposureReport:
    """Return net notional and net delta per underlying across venues (options: the venue's or the quant delta)."""
    reads = await _reads(ctx, with_orders=False)
    holdings = holdings_of(reads)
    if req.underlying is not None:
        holdings = [h for h in holdings if h.underlying == req.underlying.upper()]
    groups = by_underlying(holdings)
    underlyings = [
        s.UnderlyingOut(
            underlying=name,
            net_notional_usd=group.net_notional_usd,
            gross_notional_usd=group.gross_notional_usd,
            net_delta_usd=group.net_delta_usd,
            delta_complete=group.delta_complete,
            venues=list(group.venues),
            positions=[position_out(h) for h in holdings if h.underlying == name],
        )
        for name, group in groups.items()
    ]
    return s.ExposureReport(
        environment=ctx.environment,
        complete=all(read.status in ("ok", "not_configured") for read in reads),
        underlyings=underlyings,
        venue_status={read.venue: read.status for read in reads},
        errors={read.venue: read.error for read in reads if read.error is not None},
        rates=rates_of(reads),
        data_timestamp=utcnow(),
    )


# --- pre-trade check -------------------------------------------------------------------------------


def venue_toolset(ctx: ToolContext, venue: str) -> ToolSet:
    """Return a served trading venue's toolset, or refuse naming the served ones."""
    toolsets = {t.venue: t for t in venue_toolsets(ctx.state)}
    if venue not in toolsets:
        raise InvalidInputError(
            f"{venue!r} is not a served trading venue",
            details={"venue": venue, "served": sorted(toolsets)},
            suggested_fix=f"use one of {', '.join(sorted(toolsets))}",
        )
    return toolsets[venue]


async def atr_of(vctx: ToolContext, toolset: ToolSet, req: s.PreTradeCheckRequest) -> s.AtrOut:
    """Return ATR(n) of the venue's bars (Wilder's, TA-Lib via the quant library); an error is reported, not raised."""
    spec = toolset.get("get_bars")
    out = s.AtrOut(period=req.atr_period, resolution=req.atr_resolution, value=None, percent_of_entry=None, bars=0)
    if spec is None:
        out.error = {"code": "NOT_SUPPORTED", "message": f"{toolset.venue} serves no bars"}
        return out
    try:
        bars_request = spec.parse(
            {"instrument": req.instrument, "resolution": req.atr_resolution, "limit": req.atr_period * 4 + 1}
        )
        answer = await spec.func(vctx, bars_request)
        bars = list(getattr(answer, "bars", []))
        out.bars = len(bars)
        series = indicators.atr(
            [float(b.high) for b in bars], [float(b.low) for b in bars], [float(b.close) for b in bars], req.atr_period
        )
        value = float(series[-1]) if len(series) else float("nan")
        if value == value:  # not NaN: enough bars
            out.value = value
            out.percent_of_entry = value / float(req.entry) * 100
    except CerberoError as exc:
        out.error = describe_error(exc)
    return out


async def size_order(
    vctx: ToolContext, toolset: ToolSet, req: s.PreTradeCheckRequest, atr: s.AtrOut
) -> tuple[s.Sizing, list[s.CheckOut]]:
    """Return the sizing (quantity from risk and stop distance, valued by the venue's own book) and any failure."""
    failures: list[s.CheckOut] = []
    distance = abs(req.entry - req.stop) if req.stop is not None else None
    per_unit: Decimal | None = None
    if toolset.book is not None:
        try:
            book = await toolset.book(vctx, [Leg(req.instrument, req.side, Decimal(1), req.entry)])
            per_unit = book.value(req.instrument, Decimal(1), req.entry)
        except CerberoError as exc:
            failures.append(s.CheckOut(check="Valuation", passed=False, **_error_fields(exc)))
    loss_per_unit = per_unit * distance / req.entry if per_unit is not None and distance is not None else None
    equity: Decimal | None = None
    risk: Decimal | None = req.risk_usd
    if req.risk_percent is not None:
        reader = reader_for(toolset)
        try:
            snapshot: VenueSnapshot | None = await reader(vctx) if reader is not None else None
        except CerberoError as exc:
            failures.append(s.CheckOut(check="Equity", passed=False, **_error_fields(exc)))
            snapshot = None
        if snapshot is not None:
            equity = snapshot.equity_usd
            risk = equity * req.risk_percent / 100
    if req.quantity is not None:
        quantity, method = req.quantity, "given"
    elif risk is not None and loss_per_unit:
        quantity = (risk / loss_per_unit).quantize(QUANTITY_DECIMALS, rounding=ROUND_DOWN)
        method = "risk / (notional per unit × stop distance / entry)"
    else:
        quantity, method = Decimal(0), "not sized: the risk or the stop's value per unit is unknown"
    notional = per_unit * quantity if per_unit is not None else None
    sizing = s.Sizing(
        entry=req.entry,
        stop=req.stop,
        stop_distance=distance,
        stop_distance_atr=float(distance) / atr.value if distance is not None and atr.value else None,
        equity_usd=equity,
        risk_usd=risk,
        notional_per_unit_usd=per_unit,
        loss_per_unit_usd=loss_per_unit,
        quantity=quantity,
        notional_usd=notional,
        method=method,
    )
    return sizing, failures


def _error_fields(exc: CerberoError) -> dict[str, Any]:
    return {"code": exc.code, "status": exc.status, "message": exc.message, "details": exc.details}


def order_of(req: s.PreTradeCheckRequest, quantity: Decimal) -> dict[str, Any]:
    """Return the place_order arguments of the proposed order at `quantity`."""
    return {
        "instrument": req.instrument,
        "side": req.side,
        "type": req.type,
        "quantity": decimal_text(quantity),
        **({"price": decimal_text(req.entry)} if req.type == "limit" else {}),
        **({"reduce_only": True} if req.reduce_only else {}),
        **req.params,
    }


async def check_order(ctx: ToolContext, vctx: ToolContext, spec: ToolSpec, order: dict[str, Any]) -> list[s.CheckOut]:
    """Return the checks of one order: its request model, every gate (check-only), and the venue's dry run."""
    try:
        request = spec.parse(order)
    except CerberoError as exc:
        return [s.CheckOut(check="Request", passed=False, **_error_fields(exc))]
    checks = [s.CheckOut(check="Request", passed=True)]
    pipeline: Evaluator = ctx.state.pipeline  # type: ignore[assignment]  # the app's WritePipeline has evaluate
    for verdict in await pipeline.evaluate(spec, vctx, request):
        checks.append(
            s.CheckOut(
                check=verdict.gate,
                passed=verdict.passed,
                code=verdict.code,
                status=verdict.status,
                message=verdict.message,
                details=verdict.details,
            )
        )
    if "dry_run" in type(request).model_fields:
        # The venue's own checks (tick, lot, minimums) live in its tool: its dry run sends nothing.
        try:
            await spec.func(vctx, request.model_copy(update={"dry_run": True}))
            checks.append(s.CheckOut(check="VenueDryRun", passed=True))
        except CerberoError as exc:
            checks.append(s.CheckOut(check="VenueDryRun", passed=False, **_error_fields(exc)))
    return checks


def lot_below(checks: list[s.CheckOut], quantity: Decimal) -> Decimal | None:
    """Return the largest valid quantity under `quantity` the venue's dry run named, when it refused the increment."""
    for check in checks:
        details = check.details or {}
        if check.check == "VenueDryRun" and not check.passed and details.get("field") == "quantity":
            valid = [Decimal(str(v)) for v in details.get("nearest_valid") or []]
            below = [v for v in valid if 0 < v <= quantity]
            return max(below) if below else None
    return None


@TOOLS.read("pre_trade_check")
async def pre_trade_check(ctx: ToolContext, req: s.PreTradeCheckRequest) -> s.PreTradeReport:
    """Size a proposed order from risk, stop and ATR, and run every check of the write path on it, sending nothing.

    The checks are the write pipeline's own gates (kill switch, allowlist, quantity, notional and
    rate limits, leverage cap, trading windows, PDT guard, cross-venue caps, approval threshold) run in
    check-only mode, then the venue's own dry run of the order (its tick, lot and minimum checks).
    """
    toolset = venue_toolset(ctx, req.venue)
    vctx = venue_context(ctx.state, req.venue, ctx.environment, ctx.request_id, ctx.bot_tag, "place_order")
    atr = await atr_of(vctx, toolset, req)
    sizing, checks = await size_order(vctx, toolset, req, atr)
    spec = toolset.get("place_order")
    order: dict[str, Any] | None = None
    if spec is None:
        checks.append(s.CheckOut(check="Request", passed=False, code="NOT_SUPPORTED", message="no place_order"))
    elif sizing.quantity > 0:
        order = order_of(req, sizing.quantity)
        found = await check_order(ctx, vctx, spec, order)
        lot = lot_below(found, sizing.quantity) if req.quantity is None else None
        if lot is not None:
            # Sized from risk: round down to the venue's own increment (never up: the risk stays within budget).
            sizing.quantity = lot
            sizing.notional_usd = sizing.notional_per_unit_usd * lot if sizing.notional_per_unit_usd else None
            sizing.method += "; rounded down to the venue's quantity increment"
            order = order_of(req, lot)
            found = await check_order(ctx, vctx, spec, order)
        checks.extend(found)
    else:
        checks.append(s.CheckOut(check="Sizing", passed=False, code="NOT_SIZED", message=sizing.method))
    return s.PreTradeReport(
        environment=ctx.environment,
        venue=req.venue,
        instrument=req.instrument,
        side=req.side,
        passed=bool(checks) and all(check.passed for check in checks),
        atr=atr,
        sizing=sizing,
        order=order,
        checks=checks,
        data_timestamp=utcnow(),
    )


# --- pattern day trader ----------------------------------------------------------------------------


@TOOLS.read("validate_pdt")
async def validate_pdt(ctx: ToolContext, req: s.PdtRequest) -> s.PdtReport:
    """Return the FINRA 4210 pattern-day-trader status: day trades in five business days, a proposed trade's effect."""
    venue_toolset(ctx, req.venue)
    vctx = venue_context(ctx.state, req.venue, ctx.environment, ctx.request_id, ctx.bot_tag, "validate_pdt")
    vctx.require_credentials()
    facts = await asyncio.wait_for(FACT_READERS[req.venue](vctx), timeout_of(ctx))
    proposed = None
    if req.instrument is not None and req.side is not None:
        day_trade = facts.would_day_trade(req.instrument, req.side)
        proposed = s.ProposedTrade(
            instrument=req.instrument,
            side=req.side,
            would_be_day_trade=day_trade,
            day_trades_after=facts.day_trades + (1 if day_trade else 0),
            would_break_rule=facts.would_break(req.instrument, req.side),
        )
    return s.PdtReport(
        environment=ctx.environment,
        venue=req.venue,
        applies=facts.applies,
        margin_account=facts.margin_account,
        equity_usd=facts.equity_usd,
        equity_threshold_usd=PDT_EQUITY_USD,
        pattern_day_trader=facts.pattern_day_trader,
        day_trades=facts.day_trades,
        max_day_trades=PDT_DAY_TRADES - 1,
        count_source=facts.count_source,
        business_days=facts.business_days,
        calendar_source=facts.calendar_source,
        day_trade_dates=facts.day_trade_dates,
        oldest_rolls_off=facts.oldest_rolls_off(),
        proposed=proposed,
        data_timestamp=utcnow(),
    )
