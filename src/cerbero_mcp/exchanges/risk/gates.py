"""The risk desk's write gates: trading windows, the PDT guard, cross-venue caps and approvals.

They run in the write pipeline after the limits and the leverage cap, on every venue, REST and MCP:

    ... → limits → leverage cap → trading windows → PDT guard → cross-venue caps → approval → venue call

Each acts only when its setting is set for the write's (environment, venue), and none of them ever
blocks a risk-reducing write (`spec.reduces`: cancels, closes, reduce-only orders) or a write with
no opening leg. The approval gate comes last, so a write the other gates refuse is never held for
an admin, and an approval is spent only by a request that passed everything else.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

from pydantic import BaseModel

from cerbero_mcp.common.clock import current
from cerbero_mcp.common.errors import (
    ApprovalInvalidError,
    ApprovalRequiredError,
    ExposureUnknownError,
    NetDeltaLimitError,
    OutsideTradingWindowError,
    PatternDayTraderError,
    TotalNotionalLimitError,
)
from cerbero_mcp.contracts import Exposure, PricedLeg, ToolContext, ToolSpec, WriteGate
from cerbero_mcp.exchanges.alpaca.symbols import parse_occ
from cerbero_mcp.exchanges.risk.holdings import crypto_underlying
from cerbero_mcp.exchanges.risk.pdt import FACT_READERS, PdtFacts
from cerbero_mcp.exchanges.risk.portfolio import (
    VenueRead,
    by_underlying,
    holdings_of,
    read_venues,
    unreadable,
    venue_context,
)
from cerbero_mcp.exchanges.risk.rules import RiskRules, aware
from cerbero_mcp.gates import check_only, opening_legs, plain
from cerbero_mcp.state_store import Approval, StateStore

APPROVAL_FIELD = "approval_id"


def is_opening(spec: ToolSpec, request: BaseModel, exposure: Exposure | None) -> bool:
    """Return whether a write can open risk: an `opens` write, not reduce-only, with an opening leg."""
    return spec.risk == "opens" and not spec.reduces(request) and bool(opening_legs(exposure))


def now_s() -> float:
    """Return the process clock's now, in epoch seconds (pinned in tests)."""
    return current().now()


def iso(epoch_s: float) -> str:
    """Return epoch seconds as ISO 8601 UTC with milliseconds and Z."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usd_legs(exposure: Exposure | None, venue: str) -> list[PricedLeg]:
    """Return the opening legs, refusing (fail closed) when the venue values them in anything but USD."""
    legs = opening_legs(exposure)
    if exposure is not None and legs and exposure.unit != "USD":
        raise ExposureUnknownError(
            f"{venue} values this write in {exposure.unit}, not USD: the cross-venue gates cannot compare it",
            details={"venue": venue, "unit": exposure.unit},
        )
    return legs


def underlying_of(instrument: str) -> str:
    """Return the underlying an instrument's exposure counts against (OCC options: their root; crypto: the coin)."""
    occ = parse_occ(instrument)
    return occ.root if occ is not None else crypto_underlying(instrument)


def option_like(instrument: str) -> bool:
    """Return whether an instrument may be an option (OCC, `...-C`/`...-P`, or an IBKR conid of unknown kind)."""
    name = instrument.upper()
    return parse_occ(name) is not None or name.endswith(("-C", "-P")) or name.startswith("CONID:")


# --- trading windows -------------------------------------------------------------------------------


class TradingWindowGate:
    """Refuse opening writes outside the scope's TRADING_WINDOWS (reducing writes always pass)."""

    def __init__(self, rules: RiskRules) -> None:
        self.rules = rules

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Raise OUTSIDE_TRADING_WINDOW when the process clock is outside every window of (env, venue)."""
        windows = self.rules.trading_windows(ctx.environment, spec.venue)
        if windows is None or not is_opening(spec, request, exposure):
            return
        moment = aware(now_s())
        if windows.open_at(moment):
            return
        local = moment.astimezone(windows.zone)
        raise OutsideTradingWindowError(
            f"opening writes on {ctx.environment} {spec.venue} are allowed {windows.describe()}; "
            f"it is {local:%H:%M} {local.tzname()} ({windows.zone.key})",
            details={
                "windows": windows.describe(),
                "time_zone": windows.zone.key,
                "local_time": local.isoformat(timespec="seconds"),
            },
            suggested_fix="wait for the window, or send reduce_only / cancels / closes, which always pass",
        )


# --- pattern day trader ----------------------------------------------------------------------------


async def pdt_facts(ctx: ToolContext, venue: str, timeout_s: float) -> PdtFacts:
    """Read the venue's PDT facts for the caller's environment; fail closed naming the venue."""
    import asyncio

    reader = FACT_READERS[venue]
    vctx = venue_context(ctx.state, venue, ctx.environment, ctx.request_id, ctx.bot_tag, "pdt")
    try:
        return await asyncio.wait_for(reader(vctx), timeout_s)
    except Exception as exc:
        code = getattr(exc, "code", "UPSTREAM_TIMEOUT" if isinstance(exc, TimeoutError) else type(exc).__name__)
        raise ExposureUnknownError(
            f"the PDT guard could not read {venue}'s day trades ({code}); nothing was sent",
            details={"venue": venue, "cause": code},
            suggested_fix="retry when the venue answers",
        ) from exc


class PdtGate:
    """Refuse the day trade that would break the pattern-day-trader rule where PDT_GUARD is on."""

    def __init__(self, rules: RiskRules) -> None:
        self.rules = rules

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Raise PDT_LIMIT when an opening leg would be the fourth day trade in five business days."""
        if spec.venue not in FACT_READERS or not self.rules.pdt_guarded(ctx.environment, spec.venue):
            return
        if not is_opening(spec, request, exposure):
            return
        facts = await pdt_facts(ctx, spec.venue, self.rules.venue_timeout_s)
        for priced in opening_legs(exposure):
            leg = priced.leg
            if facts.would_break(leg.instrument, leg.side):
                rolls = facts.oldest_rolls_off()
                raise PatternDayTraderError(
                    f"{leg.side} {leg.instrument} would be day trade #{facts.day_trades + 1} in five business days "
                    f"on a margin account under $25,000 (equity {facts.equity_usd}); FINRA's pattern-day-trader "
                    "rule allows three",
                    details={
                        "instrument": leg.instrument,
                        "day_trades": facts.day_trades,
                        "count_source": facts.count_source,
                        "equity_usd": plain(facts.equity_usd),
                        "oldest_rolls_off": rolls.isoformat() if rolls else None,
                    },
                    suggested_fix="hold the position overnight, or wait until the oldest day trade rolls off",
                )


# --- cross-venue caps ------------------------------------------------------------------------------


async def read_for_gate(ctx: ToolContext, timeout_s: float) -> list[VenueRead]:
    """Read every venue of the caller's environment; fail closed naming any that could not be read."""
    reads = await read_venues(
        ctx.state, ctx.environment, request_id=ctx.request_id, bot_tag=ctx.bot_tag, timeout_s=timeout_s, tool="caps"
    )
    failed = unreadable(reads)
    if failed:
        names = ", ".join(read.venue for read in failed)
        raise ExposureUnknownError(
            f"the cross-venue cap cannot know the {ctx.environment} total: {names} could not be read; nothing was sent",
            details={"venues": {read.venue: read.error for read in failed}},
            suggested_fix="retry when the venue answers (the cap fails closed)",
        )
    return reads


class CrossVenueCapGate:
    """MAX_TOTAL_NOTIONAL_USD and MAX_NET_DELTA_USD over every venue of the environment."""

    def __init__(self, rules: RiskRules) -> None:
        self.rules = rules

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Refuse an opening write that takes the cross-venue total (or an underlying's net delta) above its cap."""
        env, venue = ctx.environment, spec.venue
        total_cap = self.rules.total_notional_cap(env, venue)
        delta_cap = self.rules.net_delta_cap(env, venue)
        if (total_cap is None and delta_cap is None) or not is_opening(spec, request, exposure):
            return
        legs = usd_legs(exposure, venue)
        reads = await read_for_gate(ctx, self.rules.venue_timeout_s)
        holdings = holdings_of(reads)
        if total_cap is not None:
            self._check_total(holdings, legs, venue, env, total_cap)
        if delta_cap is not None:
            self._check_delta(holdings, legs, env, delta_cap)

    @staticmethod
    def _check_total(holdings: list[Any], legs: list[PricedLeg], venue: str, env: str, cap: Decimal) -> None:
        current = sum((abs(h.notional_usd) for h in holdings), Decimal(0))
        # Every opening leg counts in full (OCO alternatives too): an upper bound. Only a reducing write
        # (reduce-only, a close, a cancel) can bring the total down, and those are never refused.
        change = sum((priced.notional for priced in legs), Decimal(0))
        resulting = current + change
        if resulting > cap:
            by_venue: dict[str, Decimal] = {}
            for h in holdings:
                by_venue[h.venue] = by_venue.get(h.venue, Decimal(0)) + abs(h.notional_usd)
            raise TotalNotionalLimitError(
                f"the write would take the {env} cross-venue gross notional from {current:.2f} to {resulting:.2f} USD, "
                f"above the cap of {cap} (MAX_TOTAL_NOTIONAL_USD)",
                details={
                    "current_total_usd": plain(current),
                    "write_adds_usd": plain(change),
                    "resulting_total_usd": plain(resulting),
                    "cap_usd": str(cap),
                    "by_venue_usd": {name: plain(value) for name, value in sorted(by_venue.items())},
                },
                suggested_fix="reduce exposure elsewhere first, or raise MAX_TOTAL_NOTIONAL_USD",
            )

    @staticmethod
    def _check_delta(holdings: list[Any], legs: list[PricedLeg], env: str, cap: Decimal) -> None:
        exposures = by_underlying(holdings)
        linear: dict[str, Decimal] = {}
        optional: dict[str, Decimal] = {}
        for priced in legs:
            leg = priced.leg
            name = underlying_of(leg.instrument)
            if option_like(leg.instrument):
                # An option leg's delta is at most its underlying notional (±1 per unit), with a sign that
                # depends on the strike: counted in the direction that hurts (spreads included).
                optional[name] = optional.get(name, Decimal(0)) + priced.notional
            else:
                signed = priced.notional if leg.side == "buy" else -priced.notional
                linear[name] = linear.get(name, Decimal(0)) + signed
        for name in sorted({*linear, *optional}):
            before = exposures[name].net_delta_usd if name in exposures else Decimal(0)
            after = before + linear.get(name, Decimal(0))
            worst = abs(after) + optional.get(name, Decimal(0))
            # A write that only brings |net delta| down (a hedge) passes even above the cap.
            if worst > cap and worst > abs(before):
                change = worst - abs(before)
                raise NetDeltaLimitError(
                    f"the write could take the {env} |net delta| of {name} from {abs(before):.2f} to {worst:.2f} USD, "
                    f"beyond the cap of {cap} (MAX_NET_DELTA_USD)",
                    details={
                        "underlying": name,
                        "current_net_delta_usd": plain(before),
                        "write_adds_up_to_usd": plain(change),
                        "resulting_abs_net_delta_usd": plain(worst),
                        "cap_usd": str(cap),
                    },
                    suggested_fix="hedge or reduce the underlying first, or raise MAX_NET_DELTA_USD",
                )


# --- approvals -------------------------------------------------------------------------------------


def approval_hash(spec: ToolSpec, env: str, request: BaseModel) -> str:
    """Return the hash an approval binds: env, venue, tool and the canonical request without its approval id."""
    body = request.model_dump(mode="json", exclude={APPROVAL_FIELD})
    body.pop("dry_run", None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{env}:{spec.venue}.{spec.name}:{text}".encode()).hexdigest()


def approval_view(approval: Approval, now: float) -> dict[str, Any]:
    """Return an approval as the admin routes and the 202 show it."""
    return {
        "approval_id": approval.approval_id,
        "state": approval.current_state(now),
        "env": approval.env,
        "venue": approval.venue,
        "tool": approval.tool,
        "bot_tag": approval.bot_tag,
        "notional_usd": approval.notional_usd,
        "preview": approval.preview,
        "created_at": iso(approval.created_at),
        "expires_at": iso(approval.expires_at),
        "decided_by": approval.decided_by,
        "decided_at": iso(approval.decided_at) if approval.decided_at else None,
        "reason": approval.reason,
        "used_at": iso(approval.used_at) if approval.used_at else None,
    }


async def preview_of(spec: ToolSpec, ctx: ToolContext, request: BaseModel, legs: list[PricedLeg]) -> dict[str, Any]:
    """Return what the write would send: the venue's own dry run where the tool has one, and the priced legs."""
    preview: dict[str, Any] = {
        "tool": spec.mcp_name,
        "params": request.model_dump(mode="json", exclude={APPROVAL_FIELD}),
        "legs": [
            {
                "instrument": p.leg.instrument,
                "side": p.leg.side,
                "quantity": plain(p.leg.quantity),
                "price": plain(p.leg.price) if p.leg.price is not None else None,
                "notional_usd": plain(p.notional),
            }
            for p in legs
        ],
    }
    if "dry_run" in type(request).model_fields:
        dry = request.model_copy(update={"dry_run": True})
        preview["would_send"] = (await spec.func(ctx, dry)).model_dump(mode="json")
    return preview


class ApprovalGate:
    """Hold opening writes above REQUIRE_APPROVAL_ABOVE_USD for an admin; let the approved re-send through once."""

    def __init__(self, rules: RiskRules, store: StateStore) -> None:
        self.rules = rules
        self.store = store

    async def check(self, spec: ToolSpec, ctx: ToolContext, request: BaseModel, exposure: Exposure | None) -> None:
        """Answer 202 with a new approval, or spend the request's approved approval, or refuse a bad one."""
        threshold = self.rules.approval_threshold(ctx.environment, spec.venue)
        if threshold is None or not is_opening(spec, request, exposure):
            return
        legs = usd_legs(exposure, spec.venue)
        notional = sum((p.notional for p in legs), Decimal(0))
        if notional <= threshold or bool(getattr(request, "dry_run", False)):
            return  # a dry run sends nothing: it is its own preview
        digest = approval_hash(spec, ctx.environment, request)
        approval_id = getattr(request, APPROVAL_FIELD, None)
        now = now_s()
        if check_only():  # pre_trade_check: say what would happen, store and spend nothing
            if approval_id:
                self._verify(str(approval_id), digest, ctx, now)
                return
            raise ApprovalRequiredError(
                f"this {spec.venue} write of {notional:.2f} USD is above the approval threshold of {threshold} USD: "
                "it would be held for an admin's approval",
                details={"notional_usd": plain(notional), "threshold_usd": str(threshold)},
            )
        if approval_id:
            self._spend(str(approval_id), digest, ctx, now)
            return
        approval = Approval(
            approval_id=uuid.uuid4().hex,
            env=ctx.environment,
            venue=spec.venue,
            tool=spec.name,
            bot_tag=ctx.bot_tag,
            request_hash=digest,
            notional_usd=plain(notional),
            preview=await preview_of(spec, ctx, request, legs),
            state="pending",
            created_at=now,
            expires_at=now + self.rules.approval_ttl_s,
        )
        self.store.create_approval(approval)
        raise ApprovalRequiredError(
            f"this {spec.venue} write of {notional:.2f} USD is above the approval threshold of {threshold} USD: "
            f"held as approval {approval.approval_id} until an admin decides (expires {iso(approval.expires_at)})",
            details={**approval_view(approval, now), "threshold_usd": str(threshold)},
            suggested_fix=f"after an admin approves it (POST /admin/approvals/{approval.approval_id}), send the same "
            f"request again with approval_id={approval.approval_id!r}",
        )

    def _verify(self, approval_id: str, digest: str, ctx: ToolContext, now: float) -> None:
        approval = self.store.get_approval(approval_id)
        usable = (
            approval is not None
            and approval.env == ctx.environment
            and approval.request_hash == digest
            and approval.current_state(now) == "approved"
        )
        if not usable:
            self._refuse(approval_id, approval, digest, ctx, now)

    def _spend(self, approval_id: str, digest: str, ctx: ToolContext, now: float) -> None:
        spent, approval = self.store.consume_approval(approval_id, digest, now)
        if not spent:
            self._refuse(approval_id, approval, digest, ctx, now)

    @staticmethod
    def _refuse(approval_id: str, approval: Approval | None, digest: str, ctx: ToolContext, now: float) -> NoReturn:
        if approval is None or approval.env != ctx.environment:
            state, why = "unknown", "no such approval in this environment"
        elif approval.request_hash != digest:
            state, why = "altered", "the request differs from the one that was approved"
        else:
            state = approval.current_state(now)
            why = {
                "pending": "no admin has approved it yet",
                "rejected": f"an admin rejected it ({approval.reason or 'no reason given'})",
                "expired": f"it expired at {iso(approval.expires_at)}",
                "used": "it was already used by an earlier request",
            }.get(state, state)
        raise ApprovalInvalidError(
            f"approval {approval_id} does not allow this write: {why}",
            details={"approval_id": approval_id, "state": state},
            suggested_fix="send the request without approval_id to ask for a new approval"
            if state != "pending"
            else "wait for an admin's decision, then send the same request again",
        )


def risk_gates(rules: RiskRules, store: StateStore) -> list[WriteGate]:
    """Return the risk desk's gates in pipeline order (after the limits and the leverage cap); approval last."""
    return [TradingWindowGate(rules), PdtGate(rules), CrossVenueCapGate(rules), ApprovalGate(rules, store)]
