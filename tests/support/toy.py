"""A small test-only venue, "toy": reads, an audited write, and every kind of failure."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field

from cerbero_mcp.common import errors
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.contracts import Book, Leg
from cerbero_mcp.exchanges.vocabulary import PositivePrice, PositiveQuantity
from cerbero_mcp.settings import Environment, Settings
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolResponse, ToolSet


class ToyClient:
    """An in-memory venue client: counts builds, keeps orders, can be probed and closed."""

    builds = 0

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.orders: list[dict[str, object]] = []
        self.cancels: list[str] = []
        self.closed = False
        self.probe_fails = False
        self._ids = itertools.count(1)

    @classmethod
    async def build(cls, settings: Settings, env: Environment) -> ToyClient:
        """Build one client (slowly, so concurrent first calls overlap)."""
        cls.builds += 1
        await asyncio.sleep(0.01)
        return cls(env)

    async def probe(self) -> None:
        """Fail when told to."""
        if self.probe_fails:
            raise errors.UpstreamError("toy is down")

    async def aclose(self) -> None:
        """Mark closed."""
        self.closed = True

    def next_id(self) -> str:
        """Return a fresh order id."""
        return f"TOY-{next(self._ids)}"


TOY_EQUITY = Decimal(10_000)


async def toy_legs(ctx: ToolContext, req: PlaceOrderRequest) -> list[Leg]:
    """Return the one leg of a toy order."""
    return [Leg(req.symbol, req.side, req.qty, req.price, req.reduce_only)]


async def toy_book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """A flat account with 10,000 of equity; a unit is worth its price (100 when none)."""
    return Book(positions={}, equity=TOY_EQUITY, value=lambda name, size, price: abs(size) * (price or Decimal(100)))


TOOLS = ToolSet("toy", description="Test-only venue.", client_factory=ToyClient.build, book=toy_book)


class EchoRequest(ToolRequest):
    """Echo a message back."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"message": "hello"}]})
    message: str = Field(min_length=1, max_length=100, description="Text to echo.")
    delay_ms: int = Field(0, ge=0, le=5000, description="Wait this long first.")


class EchoResponse(ToolResponse):
    """The echoed message and who asked."""

    message: str
    environment: Environment
    bot_tag: str


class NoArgsRequest(ToolRequest):
    """No arguments."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class WhoAmIResponse(ToolResponse):
    """Which environment the token picked."""

    environment: Environment


FailKind = Literal[
    "insufficient_funds", "rate_limit", "upstream", "timeout", "not_configured", "order_not_found", "crash"
]


class FailRequest(ToolRequest):
    """Fail in a chosen way."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "rate_limit"}]})
    kind: FailKind


class PlaceOrderRequest(ToolRequest):
    """Place a toy order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"symbol": "BTC-TOY", "side": "buy", "qty": "0.5", "price": "100.5", "client_order_id": "c1"}]
        }
    )
    symbol: str = Field(min_length=1, max_length=32)
    side: Literal["buy", "sell"]
    qty: PositiveQuantity
    price: PositivePrice | None = None
    client_order_id: str | None = Field(None, min_length=1, max_length=64)
    api_secret: str | None = Field(None, description="Present only to prove audit redaction.")
    fail: FailKind | None = None
    reduce_only: bool = False
    dry_run: bool = False


class OrderAck(ToolResponse):
    """A placed toy order."""

    order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    qty: Decimal
    price: Decimal | None
    client_order_id: str | None
    environment: Environment


@TOOLS.read("echo")
async def echo(ctx: ToolContext, req: EchoRequest) -> EchoResponse:
    """Echo the message with the caller's environment and bot tag."""
    if req.delay_ms:
        await asyncio.sleep(req.delay_ms / 1000)
    return EchoResponse(message=req.message, environment=ctx.environment, bot_tag=ctx.bot_tag, data_timestamp=utcnow())


@TOOLS.read("whoami")
async def whoami(ctx: ToolContext, req: NoArgsRequest) -> WhoAmIResponse:
    """Return the environment the bearer token selected."""
    client: ToyClient = await ctx.client()
    return WhoAmIResponse(environment=client.env, data_timestamp=utcnow())


def raise_failure(kind: FailKind) -> None:
    """Raise the error a failing venue call would raise."""
    table: dict[str, errors.CerberoError] = {
        "insufficient_funds": errors.InsufficientFundsError("not enough margin"),
        "rate_limit": errors.RateLimitError("slow down", headers={"Retry-After": "2"}),
        "upstream": errors.UpstreamError("toy answered HTTP 503"),
        "timeout": errors.UpstreamTimeoutError(
            "toy did not answer; the request may have been placed", details={"may_have_been_placed": True}
        ),
        "not_configured": errors.NotConfiguredError("set TOY_KEY"),
        "order_not_found": errors.OrderNotFoundError("no such order"),
    }
    if kind == "crash":
        raise RuntimeError("secret internals: token=abc")
    raise table[kind]


@TOOLS.read("fail")
async def fail(ctx: ToolContext, req: FailRequest) -> WhoAmIResponse:
    """Fail the way the request asks."""
    raise_failure(req.kind)
    return WhoAmIResponse(environment=ctx.environment, data_timestamp=utcnow())


class CancelRequest(ToolRequest):
    """Cancel a toy order."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": "TOY-1"}]})
    order_id: str
    client_order_id: str | None = None


class CancelAck(ToolResponse):
    """The cancelled order id."""

    order_id: str
    cancelled: bool


@TOOLS.write("cancel_order", target="order_id")
async def cancel_order(ctx: ToolContext, req: CancelRequest) -> CancelAck:
    """Cancel a toy order."""
    client: ToyClient = await ctx.client()
    client.cancels.append(req.order_id)
    return CancelAck(order_id=req.order_id, cancelled=True, data_timestamp=utcnow())


@TOOLS.write("place_order", risk="opens", legs=toy_legs, target="symbol")
async def place_order(ctx: ToolContext, req: PlaceOrderRequest) -> OrderAck:
    """Place an order on the toy venue."""
    if req.fail is not None:
        raise_failure(req.fail)
    client: ToyClient = await ctx.client()
    if req.dry_run:
        return OrderAck(
            order_id="dry-run",
            symbol=req.symbol,
            side=req.side,
            qty=req.qty,
            price=req.price,
            client_order_id=req.client_order_id,
            environment=ctx.environment,
            data_timestamp=utcnow(),
        )
    await asyncio.sleep(0.01)  # long enough for concurrent duplicates to overlap
    order_id = client.next_id()
    client.orders.append({"order_id": order_id, **req.model_dump()})
    return OrderAck(
        order_id=order_id,
        symbol=req.symbol,
        side=req.side,
        qty=req.qty,
        price=req.price,
        client_order_id=req.client_order_id,
        environment=ctx.environment,
        data_timestamp=utcnow(),
    )
