"""Read every venue of one environment at once, each within its own time budget.

`read_venues` asks each served venue concurrently (`asyncio.gather`), each read bounded by
`asyncio.wait_for(RISK_VENUE_TIMEOUT_S)`: a venue that fails or is slow becomes an entry with its
error, and the others still answer (a partial answer). A venue without credentials for the
environment is "not_configured" and is not asked at all. The gates use the same reads and fail
closed on any venue that could not be read.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from cerbero_mcp.common.errors import CerberoError
from cerbero_mcp.contracts import Services, ToolContext, ToolSpec
from cerbero_mcp.exchanges.risk.holdings import READERS, Holding, Reader, VenueSnapshot, book_reader
from cerbero_mcp.settings import Environment
from cerbero_mcp.tooling import ToolSet

VenueStatus = Literal["ok", "error", "timeout", "not_configured"]


@dataclass
class VenueRead:
    """One venue's answer to a cross-venue read: its snapshot, or why there is none."""

    venue: str
    status: VenueStatus
    duration_ms: float
    snapshot: VenueSnapshot | None = None
    open_orders: list[Any] = field(default_factory=list)  # the vocabulary's Order models
    error: dict[str, Any] | None = None


def venue_toolsets(state: Services) -> list[ToolSet]:
    """Return the served trading venues' toolsets (providers excluded)."""
    toolsets = getattr(state, "toolsets", [])
    return [t for t in toolsets if isinstance(t, ToolSet) and t.kind == "venue"]


def venue_context(
    state: Services, venue: str, env: Environment, request_id: str, bot_tag: str, tool: str
) -> ToolContext:
    """Return a context for reading `venue` in `env` on behalf of a risk call."""
    return ToolContext(venue=venue, tool=tool, environment=env, request_id=request_id, bot_tag=bot_tag, state=state)


def reader_for(toolset: ToolSet) -> Reader | None:
    """Return the venue's reader: its own, else one on its exposure `book` hook, else None."""
    if toolset.venue in READERS:
        return READERS[toolset.venue]
    return book_reader(toolset.venue, toolset.book) if toolset.book is not None else None


def describe_error(exc: BaseException) -> dict[str, Any]:
    """Return a venue failure for an answer: the error code and message (never a stack trace or a secret)."""
    if isinstance(exc, CerberoError):
        return {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
    return {"code": "UNHANDLED_EXCEPTION", "message": type(exc).__name__, "retryable": False}


async def _read_one(toolset: ToolSet, ctx: ToolContext, with_orders: bool) -> tuple[VenueSnapshot, list[Any]]:
    reader = reader_for(toolset)
    if reader is None:
        raise CerberoError(f"{toolset.venue} has no account reader")
    snapshot = await reader(ctx)
    orders: list[Any] = []
    spec: ToolSpec | None = toolset.get("get_open_orders")
    if with_orders and spec is not None:
        answer: BaseModel = await spec.func(ctx, spec.request_model())
        orders = list(getattr(answer, "orders", []))
    return snapshot, orders


async def read_venues(
    state: Services,
    env: Environment,
    *,
    request_id: str,
    bot_tag: str,
    timeout_s: float,
    with_orders: bool = False,
    tool: str = "risk",
) -> list[VenueRead]:
    """Read every served venue of `env` concurrently, each within `timeout_s`; failures become entries."""
    settings = state.settings

    async def one(toolset: ToolSet) -> VenueRead:
        started = time.perf_counter()
        if settings.missing_credentials(toolset.venue, env):
            return VenueRead(toolset.venue, "not_configured", 0.0)
        ctx = venue_context(state, toolset.venue, env, request_id, bot_tag, tool)
        try:
            snapshot, orders = await asyncio.wait_for(_read_one(toolset, ctx, with_orders), timeout_s)
        except TimeoutError:
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            error = {"code": "UPSTREAM_TIMEOUT", "message": f"no answer within {timeout_s:g} s", "retryable": True}
            return VenueRead(toolset.venue, "timeout", elapsed, error=error)
        except Exception as exc:  # one venue's failure must not sink the others' answer
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            return VenueRead(toolset.venue, "error", elapsed, error=describe_error(exc))
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        return VenueRead(toolset.venue, "ok", elapsed, snapshot=snapshot, open_orders=orders)

    return list(await asyncio.gather(*(one(t) for t in venue_toolsets(state))))


def holdings_of(reads: list[VenueRead]) -> list[Holding]:
    """Return every position of the venues that answered."""
    return [h for read in reads if read.snapshot is not None for h in read.snapshot.holdings]


def unreadable(reads: list[VenueRead]) -> list[VenueRead]:
    """Return the configured venues that could not be read (error or timeout)."""
    return [read for read in reads if read.status in ("error", "timeout")]


@dataclass(frozen=True)
class UnderlyingExposure:
    """Net notional and net delta of one underlying across venues, in USD."""

    underlying: str
    net_notional_usd: Decimal
    gross_notional_usd: Decimal
    net_delta_usd: Decimal
    delta_complete: bool  # False when some position's delta is unknown (left out of net_delta_usd)
    venues: tuple[str, ...]


def by_underlying(holdings: list[Holding]) -> dict[str, UnderlyingExposure]:
    """Aggregate positions per underlying: signed notional, gross notional, net delta."""
    groups: dict[str, list[Holding]] = defaultdict(list)
    for holding in holdings:
        groups[holding.underlying].append(holding)
    return {
        name: UnderlyingExposure(
            underlying=name,
            net_notional_usd=sum((h.notional_usd for h in items), Decimal(0)),
            gross_notional_usd=sum((abs(h.notional_usd) for h in items), Decimal(0)),
            net_delta_usd=sum((h.delta_usd for h in items if h.delta_usd is not None), Decimal(0)),
            delta_complete=all(h.delta_usd is not None for h in items),
            venues=tuple(sorted({h.venue for h in items})),
        )
        for name, items in sorted(groups.items())
    }
