"""What every venue shares, so a venue writes only what differs.

Sections (each venue fills them with its own data or primitives):
- legs: what the common vocabulary's writes would place, for the limits and the leverage cap.
- client: `VenueClient`, the base of a venue's raw client — the shared transport built from
  settings, the credentials check, the readiness probe hook, `aclose`.
- errors: `ErrorTable`, a venue's error translation as data (exact codes, message fragments, status).
- standard tools: `register_standard_tools` declares environment_info, get_orderbook, get_bars,
  get_indicators and get_orderbook_imbalance from a venue's `VenueProfile` (how it fetches candles and a book).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, NamedTuple, Self, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from cerbero_mcp.common import microstructure
from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import (
    CerberoError,
    InvalidInputError,
    InvalidOrderError,
    NotConfiguredError,
    UpstreamError,
)
from cerbero_mcp.common.http import UpstreamHTTP
from cerbero_mcp.common.indicators import INDICATORS, compute_indicator
from cerbero_mcp.common.indicators import Bars as IndicatorBars
from cerbero_mcp.common.redaction import redact_url
from cerbero_mcp.contracts import Leg, Side, ToolContext, ToolFunc
from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.settings import Environment, Settings
from cerbero_mcp.tooling import ToolSet

# --- legs ------------------------------------------------------------------------------------------


def opposite(side: Side) -> Side:
    """Return the other side."""
    return "sell" if side == "buy" else "buy"


def order_leg(req: v.PlaceOrderRequest) -> Leg:
    """Return the one leg of a common-vocabulary order (a stop is valued at its trigger)."""
    return Leg(
        instrument=req.instrument,
        side=req.side,
        quantity=req.quantity,
        price=req.price if req.price is not None else req.stop_price,
        reduce_only=req.reduce_only,
    )


async def order_legs(ctx: ToolContext, req: v.PlaceOrderRequest) -> list[Leg]:
    """Return the legs of `place_order` (the `legs` hook every venue can declare as is)."""
    return [order_leg(req)]


def amended_leg(current: v.Order, req: v.AmendOrderRequest) -> Leg:
    """Return the order an amend leaves behind, as a whole leg: an amend is checked like a new order.

    Checking the whole amended order (not only the increase) is the conservative reading: the
    quantity cap and the allowlist apply to the order that will rest, and the leverage cap values
    the account as if it filled.
    """
    price = req.price if req.price is not None else current.price
    stop = req.stop_price if req.stop_price is not None else current.stop_price
    return Leg(
        instrument=current.instrument,
        side=current.side,
        quantity=req.quantity if req.quantity is not None else current.quantity - current.filled_quantity,
        price=price if price is not None else stop,
        reduce_only=current.reduce_only,
    )


def exit_leg(instrument: str, entry_side: Side, quantity: Decimal, price: Decimal | None) -> Leg:
    """Return a bracket's take-profit or stop-loss: it only ever closes the entry it belongs to."""
    return Leg(instrument=instrument, side=opposite(entry_side), quantity=quantity, price=price, reduce_only=True)


# --- client ----------------------------------------------------------------------------------------


class VenueClient(abc.ABC):
    """Base of a venue's raw client: one (venue, environment), its transport and its credentials check.

    The ClientRegistry calls `build(settings, env)`: it opens the shared transport (URL, timeouts and
    pool from settings) and hands it to `from_settings`, the hook a venue overrides to read its
    credentials and options. A venue implements `probe` (readiness) and may extend `aclose`.
    """

    venue: ClassVar[str]
    # Extra headers on every request of this venue.
    default_headers: ClassVar[Mapping[str, str]] = {}
    # What NOT_CONFIGURED tells the operator to do.
    setup_hint: ClassVar[str] = "add the variables to .env and restart, or call the venue's public tools"
    # The venue's own cap on simultaneous connections from one client (None: the setting alone decides).
    max_connections: ClassVar[int | None] = None

    def __init__(self, http: UpstreamHTTP, environment: Environment, *, missing: Sequence[str] = ()) -> None:
        self.http = http
        self.environment = environment
        self.missing = list(missing)

    @classmethod
    def transport(cls, settings: Settings, env: Environment) -> UpstreamHTTP:
        """Return the shared transport to this venue's `env` URL, with the configured timeouts and pool."""
        return UpstreamHTTP(
            cls.venue,
            settings.venue_url(cls.venue, env),
            connect_timeout_s=settings.upstream_connect_timeout_s,
            read_timeout_s=settings.upstream_read_timeout_s,
            pool_size=min(settings.upstream_pool_size, cls.max_connections or settings.upstream_pool_size),
            default_headers=cls.default_headers,
        )

    @classmethod
    async def build(cls, settings: Settings, env: Environment) -> Self:
        """Build the client of `env` from settings (the ClientRegistry's factory)."""
        return await cls.from_settings(cls.transport(settings, env), settings, env)

    @classmethod
    async def from_settings(cls, http: UpstreamHTTP, settings: Settings, env: Environment) -> Self:
        """Make the client on `http` from settings (hook: a venue with credentials or options overrides it)."""
        return cls(http, env, missing=settings.missing_credentials(cls.venue, env))

    def not_configured(self) -> NotConfiguredError:
        """Return NOT_CONFIGURED naming the variables this environment still needs."""
        return NotConfiguredError(
            f"{self.venue} has no credentials for {self.environment}: set {', '.join(self.missing)}",
            details={"venue": self.venue, "environment": self.environment, "missing": self.missing},
            suggested_fix=self.setup_hint,
        )

    def require_credentials(self) -> None:
        """Raise NOT_CONFIGURED when a credential this environment needs is missing."""
        if self.missing:
            raise self.not_configured()

    @abc.abstractmethod
    async def probe(self) -> None:
        """Raise if the venue cannot be reached (readiness calls it with a timeout): one cheap call."""

    async def aclose(self) -> None:
        """Close the connection pool (a venue with background tasks stops them first)."""
        await self.http.aclose()


# --- errors ----------------------------------------------------------------------------------------

ErrorClass = type[CerberoError]


@dataclass(frozen=True)
class ErrorTable:
    """A venue's error translation as data, tried in order: an exact code, then the longest message
    fragment found (case-insensitive), then the HTTP status (>= 500: UpstreamError), else `default`.
    """

    venue: str
    exact: Mapping[int | str, ErrorClass] = field(default_factory=dict)
    broad: Mapping[str, ErrorClass] = field(default_factory=dict)
    default: ErrorClass = InvalidOrderError

    @cached_property
    def _fragments(self) -> tuple[tuple[str, ErrorClass], ...]:
        # Longest first, so "contract not found" wins over "not found" whatever the declaration order.
        return tuple(sorted(((k.lower(), c) for k, c in self.broad.items()), key=lambda item: -len(item[0])))

    def match(self, message: str) -> ErrorClass | None:
        """Return the class of the longest fragment found in `message`, or None."""
        lowered = message.lower()
        return next((cls for fragment, cls in self._fragments if fragment in lowered), None)

    def classify(
        self,
        message: str = "",
        *,
        code: int | str | None = None,
        status: int | None = None,
        default: ErrorClass | None = None,
    ) -> ErrorClass:
        """Return the common class of one venue error (`default` overrides the table's for this call)."""
        if code is not None and code in self.exact:
            return self.exact[code]
        found = self.match(message)
        if found is not None:
            return found
        if status is not None and status >= 500:
            return UpstreamError
        return default or self.default

    def error(
        self,
        message: str,
        *,
        code: int | str | None = None,
        status: int | None = None,
        note: str = "",
        details: Mapping[str, Any] | None = None,
        default: ErrorClass | None = None,
    ) -> CerberoError:
        """Return the common error `<venue>: <message> (<note>)`, with the venue in its details."""
        cls = self.classify(message, code=code, status=status, default=default)
        text = f"{self.venue}: {message}" + (f" ({note})" if note else "")
        return cls(text, details={"venue": self.venue, **(details or {})})


# --- standard tools --------------------------------------------------------------------------------

BarsFetcher = Callable[[ToolContext, v.BarsRequest], Awaitable[v.Bars]]
BookFetcher = Callable[[ToolContext, str, int], Awaitable[v.OrderBook]]
M = TypeVar("M", bound=BaseModel)
# The imbalance reads at least this many levels a side, so its depth figures see past the top levels.
IMBALANCE_MIN_DEPTH = 20


@dataclass(frozen=True)
class VenueProfile:
    """What a venue supplies for its standard tools: two market-data primitives and its self-description."""

    title: str  # the venue's name in tool descriptions ("Deribit", "IBKR")
    example_instrument: str  # fills the request examples ("BTC-PERPETUAL", "AAPL")
    fetch_bars: BarsFetcher  # candles of one instrument, oldest first, at most `limit`
    fetch_book: BookFetcher  # (ctx, instrument, depth) → the book, best levels first
    capabilities: Mapping[str, bool]  # environment_info's capabilities (v.Capability names and extras)
    info: Mapping[str, Any] = field(default_factory=dict)  # environment_info's venue-specific notes


class StandardTools(NamedTuple):
    """The tool functions `register_standard_tools` declared (each also callable directly)."""

    environment_info: ToolFunc
    get_orderbook: ToolFunc
    get_bars: ToolFunc
    get_indicators: ToolFunc
    get_orderbook_imbalance: ToolFunc


def default_capabilities(**overrides: bool) -> dict[str, bool]:
    """Return every common capability as offered, with the venue's exceptions and extras."""
    return {**dict.fromkeys(v.Capability.__args__, True), **overrides}  # type: ignore[attr-defined]


def venue_request(venue: str, base: type[M], *examples: dict[str, Any]) -> type[M]:
    """Return `<Venue><Base>`: the common request model with this venue's examples (its own schema name)."""
    name = "".join(part.capitalize() for part in venue.split("_")) + base.__name__
    namespace = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": base.__doc__,
        "model_config": ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)}),
    }
    model: type[M] = type(name, (base,), namespace)
    return model


def register_standard_tools(tools: ToolSet, profile: VenueProfile) -> StandardTools:
    """Declare environment_info, get_orderbook, get_bars, get_indicators and get_orderbook_imbalance on `tools`."""
    venue, instrument = tools.venue, profile.example_instrument
    book_request = venue_request(venue, v.OrderBookRequest, {"instrument": instrument, "depth": 10})
    bars_request = venue_request(venue, v.BarsRequest, {"instrument": instrument, "resolution": "1h", "limit": 24})
    indicators_request = venue_request(
        venue,
        v.IndicatorsRequest,
        {
            "instrument": instrument,
            "resolution": "1h",
            "indicators": [{"name": "rsi", "params": {"period": 14}}, {"name": "macd"}],
            "points": 5,
        },
    )
    imbalance_request = venue_request(venue, v.ImbalanceRequest, {"instrument": instrument, "levels": 10})

    async def environment_info(ctx: ToolContext, req: v.EnvironmentInfoRequest) -> v.EnvironmentInfo:
        settings = ctx.state.settings
        missing = settings.missing_credentials(venue, ctx.environment)
        return v.EnvironmentInfo(
            venue=venue,
            environment=ctx.environment,
            base_url=redact_url(settings.venue_url(venue, ctx.environment)),
            credentials_configured=not missing,
            missing_credentials=missing,
            capabilities=dict(profile.capabilities),
            max_leverage=settings.max_leverage(venue),
            info=dict(profile.info),
            data_timestamp=utcnow(),
        )

    async def get_orderbook(ctx: ToolContext, req: v.OrderBookRequest) -> v.OrderBook:
        """Return the order book of one instrument, best levels first."""
        return await profile.fetch_book(ctx, req.instrument, req.depth)

    async def get_bars(ctx: ToolContext, req: v.BarsRequest) -> v.Bars:
        """Return OHLCV candles of one instrument, oldest first."""
        return await profile.fetch_bars(ctx, req)

    async def get_indicators(ctx: ToolContext, req: v.IndicatorsRequest) -> v.Indicators:
        """Compute technical indicators (the shared INDICATORS registry) on an instrument's candles."""
        candles = v.BarsRequest(instrument=req.instrument, resolution=req.resolution, limit=req.lookback)
        return indicators_from_bars(req, await profile.fetch_bars(ctx, candles))

    async def get_orderbook_imbalance(ctx: ToolContext, req: v.ImbalanceRequest) -> v.Imbalance:
        """Return volume and depth-weighted imbalance, microprice, spread and depth near mid."""
        book = await profile.fetch_book(ctx, req.instrument, max(req.levels, IMBALANCE_MIN_DEPTH))
        return imbalance_from_book(req, book)

    environment_info.__doc__ = (
        f"Say which {profile.title} environment the token picked, its URL, credentials and capabilities."
    )
    declared: tuple[tuple[ToolFunc, type[BaseModel], type[BaseModel]], ...] = (
        (environment_info, v.EnvironmentInfoRequest, v.EnvironmentInfo),
        (get_orderbook, book_request, v.OrderBook),
        (get_bars, bars_request, v.Bars),
        (get_indicators, indicators_request, v.Indicators),
        (get_orderbook_imbalance, imbalance_request, v.Imbalance),
    )
    for func, request_model, response_model in declared:
        # The registry reads the models from the annotations: these name the venue's own request model.
        func.__annotations__ = {"ctx": ToolContext, "req": request_model, "return": response_model}
        func.__qualname__ = f"{venue}.{func.__name__}"
        tools.read(func.__name__)(func)
    return StandardTools(environment_info, get_orderbook, get_bars, get_indicators, get_orderbook_imbalance)


def indicators_from_bars(req: v.IndicatorsRequest, bars: v.Bars) -> v.Indicators:
    """Run every requested indicator over `bars` and keep the latest `points` values."""
    if not bars.bars:
        raise InvalidInputError(f"no candles for {req.instrument} at {req.resolution}")
    series = IndicatorBars(
        open=np.array([float(b.open) for b in bars.bars]),
        high=np.array([float(b.high) for b in bars.bars]),
        low=np.array([float(b.low) for b in bars.bars]),
        close=np.array([float(b.close) for b in bars.bars]),
        volume=np.array([float(b.volume) for b in bars.bars]),
    )
    results = []
    for item in req.indicators:
        outputs = compute_indicator(item.name, series, item.params)
        results.append(
            v.IndicatorValues(
                name=item.name,
                params=item.params,
                outputs={
                    key: [None if np.isnan(x) else float(x) for x in values[-req.points :]]
                    for key, values in outputs.items()
                },
            )
        )
    return v.Indicators(
        instrument=req.instrument,
        resolution=req.resolution,
        timestamps=[b.ts for b in bars.bars[-req.points :]],
        indicators=results,
        available=sorted(INDICATORS),
        data_timestamp=bars.bars[-1].ts,
    )


def imbalance_from_book(req: v.ImbalanceRequest, book: v.OrderBook) -> v.Imbalance:
    """Compute the imbalance numbers of a book with the microstructure library."""
    if not book.bids or not book.asks:
        raise InvalidInputError(f"the {req.instrument} book has an empty side; imbalance is undefined")
    bids = np.array([[float(level.price), float(level.size)] for level in book.bids])
    asks = np.array([[float(level.price), float(level.size)] for level in book.asks])
    imbalance = microstructure.orderbook_imbalance(bids, asks, req.levels)
    depth = microstructure.depth_within_bps(bids, asks, req.depth_bps)
    mid = (book.bids[0].price + book.asks[0].price) / 2
    return v.Imbalance(
        instrument=req.instrument,
        levels=req.levels,
        volume_imbalance=float(imbalance.volume_imbalance),
        weighted_imbalance=float(imbalance.weighted_imbalance),
        mid=mid,
        microprice=float(microstructure.microprice(bids, asks)),
        spread_bps=float(microstructure.spread_bps(bids, asks)),
        bid_depth_within_bps=float(depth.bid_depth),
        ask_depth_within_bps=float(depth.ask_depth),
        depth_bps=req.depth_bps,
        data_timestamp=book.data_timestamp,
    )
