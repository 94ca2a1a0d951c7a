"""Orders on the IBKR simulator: the rules, the order records, parsing and the reply questions.

Wire rules (docs/simulation.md has the engine's; ../shared/reference/ibkr.md the venue's):

- `POST /iserver/account/{acct}/orders` `{"orders": [...]}`. Types LMT, MKT, STP (stop price in
  `price`), STOP_LIMIT (limit in `price`, stop in `auxPrice`), TRAIL and TRAILLMT (`trailingAmt`
  with `trailingType` "amt" or "%", both required as IBKR documents them: "You must specify both
  trailingType and trailingAmt for TRAIL and TRAILLMT order"; TRAILLMT's limit sits
  `lmtPriceOffset` — or `price`, read as that offset — beyond the stop, 0 by default). tif DAY
  (ends at the 16:00 New York close), GTC, IOC. Every field is checked; a refusal is HTTP 200
  `{"error": "..."}`.
- Trailing stops are simulated simply: the stop is set from the mid when the order starts working
  and ratchets only when a request reaches the simulator (between requests it is a fixed stop).
- `cOID` must be unique for 24 hours ("Local order ID=… is already registered.").
- Prices must sit on the contract's increment rules (`market.increment_rules`, published in
  `/iserver/contract/{conid}/info-and-rules`): stocks 0.0001 below $1 and 0.01 from $1, options
  0.01 below $3 and 0.05 from $3. Orders on a listing the account has no trading permission for
  (the non-US listings search also returns) are refused.
- Several orders in one request must be a bracket (children carry `parentId` = the parent's cOID,
  the opposite side and the same conid) or an OCA group (`isSingleGroup: true`). IBKR documents
  `parentId` only within one `orders` array, so a `parentId` naming the cOID of an earlier
  request's order is refused: one-triggers-other goes in one request. Children wait as PreSubmitted until the
  parent fills, then work from that instant; the children of one parent cancel each other when
  one fills (any fill); if the parent ends cancelled or rejected with nothing filled, they are
  cancelled; if it ends partly filled, they work for the filled quantity. An OCA group cancels
  its other members on the first fill of any of them — so a bracket whose three legs are all
  `isSingleGroup` cancels its own children when the entry fills, as IBKR does.
- Reply questions, asked one at a time before anything is placed (each id answered with
  `POST /iserver/reply/{id}` `{"confirmed": true}`; a new order or modify discards an unanswered
  question; ids live REPLY_TTL_S): o163 an LMT order's limit more than 3 % through the mid, o451 an order value
  above VALUE_LIMIT, o10151 a MKT order outside regular hours, o2137 an order whose initial margin
  exceeds the available funds (its message mentions margin). `POST /iserver/questions/suppress`
  suppresses ids. A margin question confirmed anyway is placed, and the engine's funds check then
  refuses it: `{"error": "Order rejected - insufficient funds: ..."}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from cerbero_mcp.simulators.engine import Exchange, Order, OrderRejected, OrderStatus, RejectReason, TimeInForce
from cerbero_mcp.simulators.engine.accounts import SHORT_OPTION_RATE, opening_qty
from cerbero_mcp.simulators.engine.validation import check_price, check_qty
from cerbero_mcp.simulators.ibkr.hours import MarketError, is_rth
from cerbero_mcp.simulators.ibkr.market import Contract, IbkrMarket, fmt_num, fmt_price, increment_at

ORDER_TYPES = ("LMT", "MKT", "STP", "STOP_LIMIT", "TRAIL", "TRAILLMT")
TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC}
VALUE_LIMIT = Decimal(50_000)
PRICE_CONSTRAINT = Decimal("0.03")
REPLY_TTL_S = 300.0
COID_WINDOW_S = 86_400.0
FIRST_ORDER_ID = 1_000_000_001
STOCK_MARGIN_RATE = Decimal("0.5")  # Reg T initial margin: the account's stocks trade at leverage 2
OPEN = ("Submitted", "PreSubmitted")
SURE = "\nAre you sure you want to submit this order?"
Q_PRICE = 'The following order "{desc} @ {price}" price exceeds the Percentage constraint of 3%.' + SURE
Q_VALUE = (
    "The following order {desc} value estimate of {value:,.2f} USD exceeds the Total Value Limit of {limit:,} USD."
    + SURE
)
Q_MARKET = (
    "A Market Order is an instruction to trade your order at any available price. Outside regular trading hours "
    "liquidity is thin and the price may differ greatly from the last." + SURE
)
Q_MARGIN = (
    "This order needs about {need:,.2f} USD of initial margin and {available:,.2f} USD is available: it would "
    "exceed your available margin (insufficient funds)." + SURE
)
REJECT_TEXT = {
    RejectReason.INSUFFICIENT_FUNDS: "Order rejected - insufficient funds: {m}. YOUR ORDER IS NOT ACCEPTED. IN ORDER "
    "TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE MUST EXCEED THE INITIAL MARGIN",
    RejectReason.INVALID_PRICE: "The price does not conform to the order price increment (0.01): {m}",
    RejectReason.INVALID_QTY: "Invalid order size: {m}",
    RejectReason.INVALID_ORDER: "Invalid order: {m}",
    RejectReason.UNKNOWN_INSTRUMENT: "Invalid contract: {m}",
    RejectReason.INSTRUMENT_EXPIRED: "The contract has expired: {m}",
    RejectReason.ORDER_NOT_FOUND: "Order not found: {m}",
    RejectReason.ORDER_NOT_OPEN: "The order is not working: {m}",
}


class Rejection(Exception):
    """An order request IBKR refuses: `{"error": message}` with HTTP `status` (200 for business refusals)."""

    def __init__(self, message: str, status: int = 200) -> None:
        """Carry the message and status."""
        super().__init__(message)
        self.message = message
        self.status = status


def reject_text(exc: OrderRejected) -> str:
    """Return the wire text of an engine refusal (one table: REJECT_TEXT)."""
    return REJECT_TEXT.get(exc.reason, "Order rejected: {m}").format(m=exc.message)


@dataclass(frozen=True)
class OrderSpec:
    """One order as the client sent it, checked."""

    contract: Contract
    side: str  # BUY | SELL
    order_type: str
    qty: Decimal
    price: Decimal | None = None
    aux: Decimal | None = None
    tif: str = "DAY"
    coid: str | None = None
    parent_ref: str | None = None
    single_group: bool = False
    outside_rth: bool = False
    trail: Decimal | None = None
    trail_pct: bool = False
    limit_offset: Decimal = Decimal(0)


@dataclass(eq=False)
class IbOrder:
    """An order of the account: its spec, its links, and its engine order once it works."""

    order_id: int
    spec: OrderSpec
    created_at: float
    parent_id: int | None = None
    children: list[int] = field(default_factory=list)
    oca: int | None = None
    engine: Order | None = None
    state: str | None = None  # Cancelled or Inactive for an order that never reached the engine
    reason: str | None = None
    updated_at: float = 0.0

    @property
    def status(self) -> str:
        """Return IBKR's status: PreSubmitted (waiting for its parent), Submitted, Filled, Cancelled, Inactive."""
        e = self.engine
        if e is None:
            return self.state or "PreSubmitted"
        if e.is_open:
            return "Submitted"
        return {OrderStatus.FILLED: "Filled", OrderStatus.CANCELLED: "Cancelled"}.get(e.status, "Inactive")

    @property
    def is_open(self) -> bool:
        """Return whether the order can still fill."""
        return self.status in OPEN


@dataclass
class Pending:
    """An order request waiting for its questions to be answered."""

    reply_id: str
    questions: list[tuple[str, str]]  # (message id, text)
    action: Callable[[float], Any]
    expires_at: float

    def question_json(self) -> list[dict[str, Any]]:
        """Return the question as IBKR sends it."""
        mid, text = self.questions[0]
        return [{"id": self.reply_id, "message": [text], "isSuppressed": False, "messageIds": [mid]}]


def _number(raw: dict[str, Any], name: str) -> Decimal | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise Rejection(f"{name} must be a number")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise Rejection(f"{name} must be a number") from None
    if not d.is_finite():
        raise Rejection(f"{name} must be a finite number")
    return d


def exchange_of(c: Contract) -> str:
    """Return the listing exchange as IBKR prints it in order texts."""
    return "NASDAQ.NMS" if c.exchange == "NASDAQ" else c.exchange


def parse_order(raw: Any, market: IbkrMarket, account_id: str) -> OrderSpec:
    """Check one order object and return its spec (Rejection with a clear text otherwise)."""
    if not isinstance(raw, dict):
        raise Rejection("each order must be a JSON object")
    acct = raw.get("acctId")
    if acct is not None and acct != account_id:
        raise Rejection(f"Account {acct} is not valid for this session")
    conid = raw.get("conid", raw.get("conidex"))
    if conid is None:
        raise Rejection("conid is required")
    try:
        contract = market.contract(conid)
    except MarketError as exc:
        raise Rejection(exc.message) from None
    side = str(raw.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise Rejection("side must be BUY or SELL")
    otype = str(raw.get("orderType", "")).upper()
    if otype not in ORDER_TYPES:
        raise Rejection(f"orderType {raw.get('orderType')!r} is not supported: one of {', '.join(ORDER_TYPES)}")
    tif = str(raw.get("tif", "")).upper()
    if tif not in TIFS:
        raise Rejection(f"tif {raw.get('tif')!r} is not supported: one of {', '.join(TIFS)}")
    inst = market.model.instrument(contract.symbol)
    qty, price, aux = _number(raw, "quantity"), _number(raw, "price"), _number(raw, "auxPrice")
    try:
        if qty is None:
            raise Rejection("quantity is required")
        check_qty(inst, qty)
        trail, pct, offset = _terms(raw, otype, price, aux)
        for name, value in (("price", price), ("auxPrice", aux)):
            if value is not None and otype not in ("TRAIL", "TRAILLMT"):
                check_price(inst, value, name)
                _check_increment(contract, value, name)
        if trail is not None and not pct:
            check_price(inst, trail, "trailing amount")
            _check_increment(contract, trail, "trailing amount", at=Decimal(0))
    except OrderRejected as exc:
        raise Rejection(reject_text(exc)) from None
    if not contract.tradable:
        raise Rejection(f"No trading permission for {contract.exchange}: the account trades US listings only")
    coid, parent = raw.get("cOID"), raw.get("parentId")
    for name, v in (("cOID", coid), ("parentId", parent)):
        if v is not None and (not isinstance(v, str | int) or isinstance(v, bool) or not str(v).strip()):
            raise Rejection(f"{name} must be a non-empty string")
    return OrderSpec(
        contract, side, otype, qty, price if otype not in ("TRAIL", "TRAILLMT") else None,
        aux if otype == "STOP_LIMIT" else None, tif, str(coid) if coid is not None else None,
        str(parent) if parent is not None else None, raw.get("isSingleGroup") is True,
        raw.get("outsideRTH") is True, trail, pct, offset,
    )  # fmt: skip


def _check_increment(contract: Contract, value: Decimal, name: str, *, at: Decimal | None = None) -> None:
    """Refuse a price off the contract's increment at that price (IBKR's incrementRules)."""
    step = increment_at(contract, value if at is None else at)
    if value % step != 0:
        raise Rejection(f"The price does not conform to the order price increment ({fmt_num(step)}): {name} {value}")


def _terms(
    raw: dict[str, Any], otype: str, price: Decimal | None, aux: Decimal | None
) -> tuple[Decimal | None, bool, Decimal]:
    """Check which of price/auxPrice the type takes; return (trailing amount, is percent, limit offset)."""
    needs_price = otype in ("LMT", "STP", "STOP_LIMIT")
    if needs_price and price is None:
        raise Rejection(f"a {otype} order needs price" + (" (the stop price)" if otype == "STP" else ""))
    if otype == "STOP_LIMIT" and aux is None:
        raise Rejection("a STOP_LIMIT order needs auxPrice (the stop price)")
    if otype in ("LMT", "STP", "MKT") and aux is not None:
        raise Rejection(f"a {otype} order takes no auxPrice" + (": its stop goes in price" if otype == "STP" else ""))
    if otype == "MKT" and price is not None:
        raise Rejection("a MKT order takes no price")
    if otype not in ("TRAIL", "TRAILLMT"):
        return None, False, Decimal(0)
    amount, kind = _number(raw, "trailingAmt"), raw.get("trailingType")
    if amount is None or kind is None:
        raise Rejection(f"a {otype} order needs both trailingAmt and trailingType (amt or %)")
    kind = str(kind).lower()
    if amount <= 0:
        raise Rejection(f"a {otype} order needs a positive trailingAmt")
    if aux is not None:
        raise Rejection(f"a {otype} order takes its trailing amount in trailingAmt, not auxPrice")
    if kind not in ("amt", "%"):
        raise Rejection("trailingType must be amt or %")
    if kind == "%" and amount >= 100:
        raise Rejection("a trailing percentage must be below 100")
    if otype == "TRAIL" and price is not None:
        raise Rejection("a TRAIL order takes no price: the stop trails the market by auxPrice")
    offset = _number(raw, "lmtPriceOffset")
    offset = offset if offset is not None else (price if otype == "TRAILLMT" and price is not None else Decimal(0))
    if offset < 0:
        raise Rejection("the limit price offset cannot be negative")
    return amount, kind == "%", offset


def questions(
    specs: list[OrderSpec], market: IbkrMarket, engine: Exchange, account_id: str, now: float, *, margin: bool = True
) -> dict[str, str]:
    """Return the questions (message id → text) IBKR asks before placing `specs`, in asking order."""
    out: dict[str, str] = {}
    need = Decimal(0)
    for s in specs:
        if s.parent_ref is not None:
            continue
        c = s.contract
        mid = market.model.instrument(c.symbol).round_price(market.model.mid(c.symbol, now))
        desc = f"{s.side} {fmt_num(s.qty)} {c.ticker} {exchange_of(c)}"
        limit = s.price if s.order_type == "LMT" else None
        if limit is not None and mid > 0:
            through = (limit - mid) / mid if s.side == "BUY" else (mid - limit) / mid
            if through > PRICE_CONSTRAINT:
                out.setdefault("o163", Q_PRICE.format(desc=desc, price=fmt_price(limit)))
        ref = s.price if s.order_type in ("LMT", "STP", "STOP_LIMIT") and s.price is not None else mid
        value = s.qty * ref * c.multiplier
        if value > VALUE_LIMIT:
            out.setdefault("o451", Q_VALUE.format(desc=desc, value=value, limit=VALUE_LIMIT))
        if s.order_type == "MKT" and not is_rth(now):
            out.setdefault("o10151", Q_MARKET)
        need += _margin_needed(s, ref, market, engine, account_id, now)
    if margin and need > 0:
        available = engine.summary(account_id, "USD").available
        if need > available:
            out["o2137"] = Q_MARGIN.format(need=need, available=max(available, Decimal(0)))
    return out


def _margin_needed(
    s: OrderSpec, ref: Decimal, market: IbkrMarket, engine: Exchange, account_id: str, now: float
) -> Decimal:
    c = s.contract
    pos = engine.position(account_id, c.symbol)
    sign = 1 if s.side == "BUY" else -1
    opening = opening_qty(pos.qty if pos is not None else Decimal(0), sign * s.qty)
    if c.sec_type == "STK":
        return opening * ref * STOCK_MARGIN_RATE
    if s.side == "BUY":
        return opening * ref * c.multiplier
    spot = Decimal(repr(market.model.index(c.ticker, now)))
    return opening * (ref + SHORT_OPTION_RATE * spot) * c.multiplier
