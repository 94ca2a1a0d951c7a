"""Hyperliquid's tool models (the vocabulary's requests with its examples, and its own tools) and spelling tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.vocabulary import PositivePrice, PositiveQuantity, Side
from cerbero_mcp.tooling import ToolRequest, ToolResponse

# A client_order_id is either a cloid itself (0x + 32 hex) or any safe id, hashed into one.
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
CLIENT_ORDER_ID_DESCRIPTION = (
    "Your id for this order (1-64 safe characters). Hyperliquid's cloid is 16 bytes: a 0x + 32 hex id is sent "
    "as is, any other id as 0x + the first 32 hex digits of its SHA-256 (reported as info.cloid)."
)
TIME_IN_FORCE: dict[str, str] = {"gtc": "Gtc", "ioc": "Ioc"}
TIME_IN_FORCE_BACK: dict[str, v.TimeInForce] = {"Gtc": "gtc", "Ioc": "ioc", "Alo": "gtc", "FrontendMarket": "ioc"}
SIDE_BACK: dict[str, Side] = {"B": "buy", "A": "sell"}
ORDER_STATUS: dict[str, v.OrderStatus] = {
    "open": "open",
    "filled": "filled",
    "canceled": "cancelled",
    "triggered": "filled",
    "rejected": "rejected",
    "marginCanceled": "cancelled",
    "reduceOnlyCanceled": "cancelled",
    "selfTradeCanceled": "cancelled",
    "siblingFilledCanceled": "cancelled",
    "liquidatedCanceled": "cancelled",
    "scheduledCancel": "cancelled",
    "openInterestCapCanceled": "cancelled",
    "delistedCanceled": "cancelled",
    "vaultWithdrawalCanceled": "cancelled",
}
# The vocabulary's candle lengths are all Hyperliquid intervals (1m ... 1d), spelled the same.
INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}
CANDLES_SERVED = 5000
FUNDING_PER_YEAR = Decimal(24 * 365)  # hourly funding
INSTRUMENT_DESCRIPTION = "Perpetual coin (BTC, ETH, HYPE) or spot pair (PURR/USDC, HYPE/USDC, @107)."


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


# --- the vocabulary's requests ----------------------------------------------------------------


class HyperliquidTickerRequest(v.InstrumentRequest):
    """One perpetual (BTC) or spot pair (PURR/USDC, @107)."""

    model_config = _examples({"instrument": "BTC"}, {"instrument": "PURR/USDC"}, {"instrument": "@107"})
    instrument: str = Field(min_length=1, max_length=64, description=INSTRUMENT_DESCRIPTION)


class HyperliquidAccountRequest(v.AccountRequest):
    """The perpetuals account (USDC), or one spot balance."""

    model_config = _examples({}, {"currency": "USDC"}, {"currency": "PURR"})


class HyperliquidPositionsRequest(v.PositionsRequest):
    """Open perpetual positions: all, or of one coin."""

    model_config = _examples({}, {"instrument": "BTC"})


class HyperliquidOpenOrdersRequest(v.OpenOrdersRequest):
    """Open orders (trigger orders included): all, or of one instrument."""

    model_config = _examples({}, {"instrument": "BTC"})


class HyperliquidPlaceOrderRequest(v.PlaceOrderRequest):
    """One order; market orders are IOC limits at mid ± the configured slippage bound."""

    model_config = _examples(
        {
            "instrument": "BTC",
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": "50000",
            "post_only": True,
            "client_order_id": "demo-limit-1",
        },
        {"instrument": "ETH", "side": "buy", "type": "market", "quantity": "0.01"},
        {
            "instrument": "BTC",
            "side": "sell",
            "type": "stop_market",
            "quantity": "0.001",
            "stop_price": "40000",
            "reduce_only": True,
            "dry_run": True,
        },
        {"instrument": "PURR/USDC", "side": "buy", "type": "limit", "quantity": "100", "price": "0.1", "dry_run": True},
    )
    instrument: str = Field(min_length=1, max_length=64, description=INSTRUMENT_DESCRIPTION)
    client_order_id: str | None = Field(
        None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN, description=CLIENT_ORDER_ID_DESCRIPTION
    )

    @model_validator(mode="after")
    def _hyperliquid_fields(self) -> Self:
        if self.time_in_force in ("fok", "day"):
            raise ValueError(f"Hyperliquid has no {self.time_in_force} orders: use gtc, ioc or post_only")
        if self.type == "market" and self.time_in_force != "gtc":
            raise ValueError("a market order is always IOC on Hyperliquid: leave time_in_force out")
        if self.type != "limit" and self.time_in_force == "ioc":
            raise ValueError("time_in_force ioc applies to limit orders only")
        return self


class HyperliquidAmendOrderRequest(v.AmendOrderRequest):
    """Change an open order's size, price or trigger; `order_id` is the oid, the cloid or your client_order_id."""

    model_config = _examples({"order_id": "demo-limit-1", "price": "49000"})


class HyperliquidCancelOrderRequest(v.CancelOrderRequest):
    """Cancel one order; `order_id` is the oid, the cloid or your client_order_id."""

    model_config = _examples({"order_id": "demo-limit-1"})


class HyperliquidCancelAllRequest(v.CancelAllRequest):
    """Cancel every open order, or those of one instrument (one signed batch cancel)."""

    model_config = _examples({"instrument": "BTC"}, {})

    @model_validator(mode="after")
    def _no_currency(self) -> Self:
        if self.currency is not None and self.currency.upper() != "USDC":
            raise ValueError("every Hyperliquid market is quoted in USDC: give instrument, or nothing")
        return self


class HyperliquidClosePositionRequest(v.ClosePositionRequest):
    """Flatten one perpetual position with a reduce-only order (market by default)."""

    model_config = _examples({"instrument": "BTC"}, {"instrument": "ETH", "type": "limit", "price": "5000"})
    client_order_id: str | None = Field(
        None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN, description=CLIENT_ORDER_ID_DESCRIPTION
    )


# --- funding and basis ------------------------------------------------------------------------


class HyperliquidFundingRateRequest(ToolRequest):
    """A perpetual's current and predicted funding, and its hourly funding history."""

    model_config = _examples({"instrument": "BTC", "history": 24}, {"instrument": "ETH", "history": 0})
    instrument: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Perpetual coin (BTC).")
    history: int = Field(24, ge=0, le=500, description="How many past hourly fundings to return (newest last).")
    start: datetime | None = Field(
        None, description="History at or after (ISO 8601 or epoch ms; default: `history` hours ago)."
    )
    end: datetime | None = Field(None, description="History at or before (default: now).")


class HyperliquidFundingPoint(BaseModel):
    """One settled hourly funding."""

    ts: datetime
    rate: Decimal = Field(description="Funding rate of the hour, a fraction (0.0000125 = 0.00125 %).")
    premium: Decimal | None = None


class HyperliquidFundingRate(ToolResponse):
    """Current, predicted and past funding of one perpetual."""

    instrument: str
    current_rate: Decimal | None = Field(description="Rate of the running hour (metaAndAssetCtxs funding), a fraction.")
    predicted_rate: Decimal | None = Field(
        description="Hyperliquid's predicted next rate (predictedFundings), a fraction."
    )
    next_funding_time: datetime | None
    interval_hours: Decimal = Field(Decimal(1), description="Hours between fundings.")
    annualized: Decimal | None = Field(None, description="current_rate × 8760, a fraction.")
    mark: Decimal | None = Field(None, description="Mark price, USDC.")
    oracle: Decimal | None = Field(None, description="Oracle price, USDC.")
    premium: Decimal | None = None
    history: list[HyperliquidFundingPoint]


class HyperliquidBasisRequest(ToolRequest):
    """Spot vs perpetual of one coin, where both are listed."""

    model_config = _examples({"instrument": "HYPE"}, {"instrument": "HYPE", "spot": "@107"})
    instrument: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Perpetual coin (HYPE)."
    )
    spot: str | None = Field(None, min_length=1, max_length=64, description="Spot pair (default: <coin>/USDC).")


class HyperliquidBasis(ToolResponse):
    """The perpetual's premium over its spot pair."""

    instrument: str
    spot: str = Field(description="The spot pair's /info name (PURR/USDC or @index).")
    perp_mark: Decimal
    perp_mid: Decimal | None
    spot_mid: Decimal
    basis: Decimal = Field(description="perp_mark − spot_mid, USDC.")
    basis_bps: Decimal = Field(description="basis / spot_mid × 10,000.")
    funding_rate: Decimal | None = Field(None, description="Current hourly funding, a fraction.")


# --- TP/SL, leverage, dead-man switch -----------------------------------------------------------


class HyperliquidPositionStopRequest(ToolRequest):
    """A position's take-profit or stop-loss: a reduce-only trigger order, market or limit."""

    instrument: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Perpetual coin.")
    trigger_price: PositivePrice = Field(description="Mark price that triggers the order.")
    quantity: PositiveQuantity | None = Field(None, description="Size to close (default: the whole position).")
    type: Literal["market", "limit"] = Field("market", description="Order sent when triggered.")
    price: PositivePrice | None = Field(None, description="Limit price (type limit only).")
    client_order_id: str | None = Field(
        None, max_length=64, pattern=CLIENT_ORDER_ID_PATTERN, description=CLIENT_ORDER_ID_DESCRIPTION
    )

    @model_validator(mode="after")
    def _price_for_limit(self) -> Self:
        if self.type == "limit" and self.price is None:
            raise ValueError("price is required for a limit take-profit/stop-loss")
        if self.type == "market" and self.price is not None:
            raise ValueError("price does not apply to a market take-profit/stop-loss")
        return self


class HyperliquidTakeProfitRequest(HyperliquidPositionStopRequest):
    """Take-profit on an open perpetual position (closes it when the mark reaches trigger_price)."""

    model_config = _examples(
        {"instrument": "ETH", "trigger_price": "9000"},
        {"instrument": "ETH", "trigger_price": "9000", "type": "limit", "price": "8990"},
    )


class HyperliquidStopLossRequest(HyperliquidPositionStopRequest):
    """Stop-loss on an open perpetual position (closes it when the mark reaches trigger_price)."""

    model_config = _examples(
        {"instrument": "ETH", "trigger_price": "1000"},
        {"instrument": "ETH", "trigger_price": "1000", "type": "limit", "price": "990"},
    )


class HyperliquidPositionStop(ToolResponse):
    """The trigger order placed for a position."""

    instrument: str
    kind: Literal["tp", "sl"]
    order: v.Order
    position: v.Position


class HyperliquidLeverageRequest(ToolRequest):
    """Set a perpetual's leverage and margin mode (cross or isolated)."""

    model_config = _examples(
        {"instrument": "BTC", "leverage": 5}, {"instrument": "ETH", "leverage": 3, "margin_mode": "isolated"}
    )
    instrument: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="Perpetual coin.")
    leverage: int = Field(ge=1, le=200, description="Leverage, at most the asset's maxLeverage.")
    margin_mode: Literal["cross", "isolated"] = "cross"


class HyperliquidLeverage(ToolResponse):
    """The leverage the venue accepted."""

    instrument: str
    leverage: int
    margin_mode: Literal["cross", "isolated"]
    max_leverage: int | None


class HyperliquidScheduleCancelRequest(ToolRequest):
    """Dead-man switch: cancel every open order at a time ≥ 5 s ahead (`at` or `in_seconds`), or unset it."""

    model_config = _examples({"in_seconds": 60}, {"unset": True})
    at: datetime | None = Field(None, description="When to cancel (ISO 8601 or epoch ms), at least 5 s ahead.")
    in_seconds: int | None = Field(None, ge=5, le=86_400, description="Cancel this many seconds from now.")
    unset: bool = Field(False, description="Remove the scheduled cancel.")

    @model_validator(mode="after")
    def _one_choice(self) -> Self:
        chosen = sum((self.at is not None, self.in_seconds is not None, self.unset))
        if chosen != 1:
            raise ValueError("give exactly one of at, in_seconds, unset")
        return self


class HyperliquidScheduleCancel(ToolResponse):
    """The scheduled cancel as sent."""

    scheduled_at: datetime | None = Field(description="When every open order will be cancelled (None: unset).")
