"""The shared simulation engine every venue simulator sits on (docs/simulation.md).

- `clock`: `Clock`, `SystemClock`, `ManualClock` (epoch seconds as float);
- `instruments`, `market`, `surface`: deterministic market model (`MarketModel`);
- `matching` (+ `engine`, `accounts`, `orders`): the `Exchange` of accounts, orders and fills;
- `faults`: `SimControl`, the fault-injection and request-recording wrapper;
- `harness`: `SimulatorSpec`, `start_simulators`, `installed_simulators`.
"""

from cerbero_mcp.simulators.engine.accounts import AccountSummary, PositionSnapshot
from cerbero_mcp.simulators.engine.clock import Clock, ManualClock, SystemClock, now_ms
from cerbero_mcp.simulators.engine.faults import Fault, FaultSpec, RecordedRequest, SimControl
from cerbero_mcp.simulators.engine.harness import (
    SimInstance,
    SimStack,
    SimulatorConfig,
    SimulatorSpec,
    installed_simulators,
    start_simulators,
)
from cerbero_mcp.simulators.engine.instruments import Instrument, InstrumentKind, SurfaceParams, Underlying
from cerbero_mcp.simulators.engine.market import Candles, MarketModel, OptionSnapshot, OrderBook
from cerbero_mcp.simulators.engine.matching import Exchange
from cerbero_mcp.simulators.engine.orders import (
    CancelReason,
    Fill,
    LedgerEntry,
    Order,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from cerbero_mcp.simulators.engine.surface import listed_expiries, strike_grid
from cerbero_mcp.simulators.engine.ticker import Ticker, ticker

__all__ = [
    "AccountSummary",
    "CancelReason",
    "Candles",
    "Clock",
    "Exchange",
    "Fault",
    "FaultSpec",
    "Fill",
    "Instrument",
    "InstrumentKind",
    "LedgerEntry",
    "ManualClock",
    "MarketModel",
    "OptionSnapshot",
    "Order",
    "OrderBook",
    "OrderRejected",
    "OrderStatus",
    "OrderType",
    "PositionSnapshot",
    "RecordedRequest",
    "RejectReason",
    "Side",
    "SimControl",
    "SimInstance",
    "SimStack",
    "SimulatorConfig",
    "SimulatorSpec",
    "SurfaceParams",
    "SystemClock",
    "Ticker",
    "TimeInForce",
    "Underlying",
    "installed_simulators",
    "listed_expiries",
    "now_ms",
    "start_simulators",
    "strike_grid",
    "ticker",
]
