"""Hyperliquid's funding (current, predicted, history) and basis (spot pair vs perpetual)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import HyperliquidClient, to_decimal
from cerbero_mcp.exchanges.hyperliquid.mapping import dt_to_ms, ms_to_dt
from cerbero_mcp.exchanges.hyperliquid.toolset import TOOLS, client_of
from cerbero_mcp.tooling import ToolContext

# Hyperliquid's own venue name in predictedFundings (the other entries are other exchanges).
OWN_VENUE = "HlPerp"


def predicted_of(rows: list[Any], coin: str) -> dict[str, Any]:
    """Return Hyperliquid's own prediction `{fundingRate, nextFundingTime}` for a coin from predictedFundings."""
    for row in rows:
        if isinstance(row, list) and len(row) == 2 and row[0] == coin and isinstance(row[1], list):
            for entry in row[1]:
                if isinstance(entry, list) and len(entry) == 2 and entry[0] == OWN_VENUE and isinstance(entry[1], dict):
                    return entry[1]
    return {}


async def _perp_context(client: HyperliquidClient, coin: str) -> dict[str, Any]:
    asset = await client.asset(coin)
    if asset.spot:
        raise InvalidInputError(
            f"{coin} is a spot pair: funding and basis are of perpetuals", details={"instrument": coin}
        )
    _, contexts = await client.meta_and_asset_ctxs()
    return contexts[asset.asset_id] if asset.asset_id < len(contexts) else {}


@TOOLS.read("get_funding_rate")
async def get_funding_rate(ctx: ToolContext, req: s.HyperliquidFundingRateRequest) -> s.HyperliquidFundingRate:
    """Return a perpetual's current hourly funding, Hyperliquid's predicted next rate and the funding history."""
    client = await client_of(ctx)
    context = await _perp_context(client, req.instrument)
    predicted = predicted_of(await client.predicted_fundings(), req.instrument)
    history: list[s.HyperliquidFundingPoint] = []
    if req.history:
        end = req.end or utcnow()
        start = req.start or end - timedelta(hours=req.history)
        rows = await client.funding_history(req.instrument, dt_to_ms(start), dt_to_ms(end))
        history = [
            s.HyperliquidFundingPoint(
                ts=ms_to_dt(row["time"]),
                rate=to_decimal(row.get("fundingRate")) or Decimal(0),
                premium=to_decimal(row.get("premium")),
            )
            for row in sorted(rows, key=lambda r: int(r.get("time", 0)))
            if "time" in row
        ][-req.history :]
    current = to_decimal(context.get("funding"))
    next_time = predicted.get("nextFundingTime")
    if next_time is None:
        # Funding settles on the hour.
        now = utcnow()
        next_at = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        next_at = ms_to_dt(next_time)
    return s.HyperliquidFundingRate(
        instrument=req.instrument,
        current_rate=current,
        predicted_rate=to_decimal(predicted.get("fundingRate")),
        next_funding_time=next_at,
        annualized=current * s.FUNDING_PER_YEAR if current is not None else None,
        mark=to_decimal(context.get("markPx")),
        oracle=to_decimal(context.get("oraclePx")),
        premium=to_decimal(context.get("premium")),
        history=history,
        data_timestamp=utcnow(),
    )


@TOOLS.read("get_basis")
async def get_basis(ctx: ToolContext, req: s.HyperliquidBasisRequest) -> s.HyperliquidBasis:
    """Return a perpetual's mark against its spot pair's mid (USDC and basis points), where both are listed."""
    client = await client_of(ctx)
    context = await _perp_context(client, req.instrument)
    spot_name = req.spot or f"{req.instrument}/USDC"
    try:
        spot = await client.asset(spot_name)
    except InvalidInputError:
        raise InvalidInputError(
            f"hyperliquid lists no spot pair {spot_name} for the {req.instrument} perpetual",
            details={"instrument": req.instrument, "spot": spot_name},
            suggested_fix="name the pair with spot (e.g. @107), or pick a coin listed on both markets",
        ) from None
    if not spot.spot:
        raise InvalidInputError(f"{spot_name} is not a spot pair", details={"spot": spot_name})
    spot_mid = to_decimal((await client.all_mids()).get(spot.coin))
    mark = to_decimal(context.get("markPx"))
    if spot_mid is None or not spot_mid or mark is None:
        raise InvalidInputError(
            f"hyperliquid has no price for {spot_name} or {req.instrument}", details={"spot": spot.coin}
        )
    basis = mark - spot_mid
    return s.HyperliquidBasis(
        instrument=req.instrument,
        spot=spot.coin,
        perp_mark=mark,
        perp_mid=to_decimal(context.get("midPx")),
        spot_mid=spot_mid,
        basis=basis,
        basis_bps=(basis / spot_mid * 10_000).quantize(Decimal("0.01")),
        funding_rate=to_decimal(context.get("funding")),
        data_timestamp=utcnow(),
    )
