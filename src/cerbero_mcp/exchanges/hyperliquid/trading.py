"""Hyperliquid's own order tools: position take-profit / stop-loss, leverage, and the dead-man switch."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.hyperliquid import schemas as s
from cerbero_mcp.exchanges.hyperliquid.client import to_decimal
from cerbero_mcp.exchanges.hyperliquid.mapping import dt_to_ms, ms_to_dt, positions_of, to_position
from cerbero_mcp.exchanges.hyperliquid.orders import order_wire, place
from cerbero_mcp.exchanges.hyperliquid.rules import check_order
from cerbero_mcp.exchanges.hyperliquid.signing import cloid_for, new_cloid
from cerbero_mcp.exchanges.hyperliquid.toolset import TOOLS, client_of
from cerbero_mcp.tooling import ToolContext

# scheduleCancel: "time must be at least 5 seconds after the current time" (docs: exchange-endpoint).
SCHEDULE_MIN_AHEAD_S = 5


async def _position_stop(
    ctx: ToolContext, req: s.HyperliquidPositionStopRequest, kind: str
) -> s.HyperliquidPositionStop:
    client = await client_of(ctx)
    asset = await client.asset(req.instrument)
    if asset.spot:
        raise InvalidInputError(
            "take-profit/stop-loss are for perpetual positions", details={"instrument": req.instrument}
        )
    row = next((p for p in positions_of(await client.clearinghouse_state()) if p.get("coin") == asset.coin), None)
    if row is None:
        raise InvalidInputError(
            f"there is no open {req.instrument} position to protect", details={"instrument": req.instrument}
        )
    size = to_decimal(row.get("szi")) or Decimal(0)
    quantity = req.quantity or abs(size)
    if quantity > abs(size):
        raise InvalidInputError(
            f"quantity {quantity} is larger than the {abs(size)} position",
            details={"quantity": str(quantity), "position": str(abs(size))},
        )
    check_order(asset, quantity, {"trigger_price": req.trigger_price, "price": req.price}, None, reduce_only=True)
    side: v.Side = "sell" if size > 0 else "buy"
    cloid = cloid_for(req.client_order_id) if req.client_order_id else new_cloid()
    order_type = "stop_market" if req.type == "market" else "stop_limit"
    wire, chosen = order_wire(
        asset,
        side,
        quantity,
        order_type=order_type,
        price=req.price,
        stop_price=req.trigger_price,
        mid=None,
        slippage=client.slippage,
        reduce_only=True,
        cloid=cloid,
        tpsl=kind,
    )
    planned = v.Order(
        order_id="pending",
        client_order_id=req.client_order_id,
        instrument=req.instrument,
        side=side,
        type=order_type,
        status="untriggered",
        price=req.price,
        stop_price=req.trigger_price,
        quantity=quantity,
        filled_quantity=Decimal(0),
        reduce_only=True,
        info={"cloid": cloid, "tpsl": kind},
    )
    result = await place(client, asset, planned, wire, chosen)
    return s.HyperliquidPositionStop(
        instrument=req.instrument,
        kind="tp" if kind == "tp" else "sl",
        order=result.order,
        position=to_position(row),
        data_timestamp=utcnow(),
    )


@TOOLS.write("set_take_profit", risk="reduces", target="instrument")
async def set_take_profit(ctx: ToolContext, req: s.HyperliquidTakeProfitRequest) -> s.HyperliquidPositionStop:
    """Place a reduce-only take-profit trigger (market or limit) on an open perpetual position."""
    ctx.require_credentials()
    return await _position_stop(ctx, req, "tp")


@TOOLS.write("set_stop_loss", risk="reduces", target="instrument")
async def set_stop_loss(ctx: ToolContext, req: s.HyperliquidStopLossRequest) -> s.HyperliquidPositionStop:
    """Place a reduce-only stop-loss trigger (market or limit) on an open perpetual position."""
    ctx.require_credentials()
    return await _position_stop(ctx, req, "sl")


@TOOLS.write("set_leverage", risk="neutral", target="instrument")
async def set_leverage(ctx: ToolContext, req: s.HyperliquidLeverageRequest) -> s.HyperliquidLeverage:
    """Set a perpetual's leverage and margin mode (cross or isolated), within the asset's maximum."""
    ctx.require_credentials()
    client = await client_of(ctx)
    asset = await client.asset(req.instrument)
    if asset.spot:
        raise InvalidInputError(
            "leverage applies to perpetuals, not spot pairs", details={"instrument": req.instrument}
        )
    if asset.max_leverage is not None and req.leverage > asset.max_leverage:
        raise InvalidInputError(
            f"{req.instrument} allows at most {asset.max_leverage}x",
            details={"leverage": req.leverage, "maximum": asset.max_leverage},
            suggested_fix=f"use leverage <= {asset.max_leverage}",
        )
    if asset.only_isolated and req.margin_mode == "cross":
        raise InvalidInputError(f"{req.instrument} trades isolated only", suggested_fix='use margin_mode "isolated"')
    await client.update_leverage(asset.asset_id, req.margin_mode == "cross", req.leverage)
    return s.HyperliquidLeverage(
        instrument=req.instrument,
        leverage=req.leverage,
        margin_mode=req.margin_mode,
        max_leverage=asset.max_leverage,
        data_timestamp=utcnow(),
    )


@TOOLS.write("schedule_cancel", risk="reduces")
async def schedule_cancel(ctx: ToolContext, req: s.HyperliquidScheduleCancelRequest) -> s.HyperliquidScheduleCancel:
    """Arm Hyperliquid's dead-man switch (cancel every open order at a time ≥ 5 s ahead), or unset it."""
    ctx.require_credentials()
    client = await client_of(ctx)
    now = utcnow()
    at = None if req.unset else (req.at if req.at is not None else now + timedelta(seconds=req.in_seconds or 0))
    if at is not None and at < now + timedelta(seconds=SCHEDULE_MIN_AHEAD_S):
        raise InvalidInputError(
            f"the cancel time must be at least {SCHEDULE_MIN_AHEAD_S} s ahead",
            details={"at": at.isoformat(), "now": now.isoformat()},
            suggested_fix="use in_seconds >= 5",
        )
    time_ms = dt_to_ms(at) if at is not None else None
    await client.schedule_cancel(time_ms)
    return s.HyperliquidScheduleCancel(
        scheduled_at=ms_to_dt(time_ms) if time_ms is not None else None, data_timestamp=utcnow()
    )
