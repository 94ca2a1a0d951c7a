"""The IBKR simulator's market: US stocks and monthly options, and IBKR's contract and quote views.

Stocks AAPL, MSFT, SPY, QQQ, TSLA (tick 0.01, lot 1) walk from their reference prices from the start
of the UTC day the app was built on. AAPL and SPY list monthly options (third Friday, 16:00
New York, multiplier 100, tick 0.01) on the next three months, strikes from the shared engine's
`strike_grid` around the forward at listing time; new months are listed as the clock moves.
Option prices and greeks are the engine's Black-76. Hours, schedules and bars: `hours.py`.

As IBKR publishes them:
- Search (`/iserver/secdef/search`) answers several hits: AAPL and MSFT are also listed abroad
  (FOREIGN_LISTINGS, non-US exchanges, quoted but not tradable by this account), and a foreign
  hit comes first, so a client must pick the US primary listing itself (or use `/trsrv/stocks`,
  whose contracts say `isUS`).
- Price increments per contract (`info-and-rules` `incrementRules`, `increment_rules`): stocks
  0.0001 below $1 and 0.01 from $1; options 0.01 below $3 and 0.05 from $3.
- Snapshot bid/ask sizes (fields 88/85) of US stocks are in lots of 100 shares ("For US stocks,
  the number displayed is divided by 100"); options in contracts.
- Depth (`sbd`) rows are a BookTrader price ladder, one row per price, highest first:
  `{"row", "focus", "price": "<string>", "ask": "<size>"}` or `"bid"` instead of `"ask"`; `focus`
  is 1 on the row at the last price (see `ws.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.engine import Instrument, MarketModel, OrderBook, SurfaceParams, Underlying, strike_grid
from cerbero_mcp.simulators.ibkr import hours
from cerbero_mcp.simulators.ibkr.hours import (
    MONTHS,
    NY,
    RTH_CLOSE,
    RTH_OPEN,
    MarketError,
    at_ny,
    last_session_day,
    month_code,
    ny,
    previous_trading_day,
    third_friday,
)

DAY = 86_400
YEAR = 365.0 * DAY
OPTION_MONTHS = 3
OPTION_MULTIPLIER = 100
STOCK_FEE = Decimal("0.00005")  # ≈ IBKR's $0.005 a share, as a rate on notional
OPTION_FEE = Decimal("0.005")
SERVER_ID = "q0"


@dataclass(frozen=True)
class StockDef:
    """One listed stock."""

    symbol: str
    conid: int
    company: str
    exchange: str
    price: float
    vol: float
    atm_vol: float


STOCKS = (
    StockDef("AAPL", 265598, "APPLE INC", "NASDAQ", 230.0, 0.28, 0.26),
    StockDef("MSFT", 272093, "MICROSOFT CORP", "NASDAQ", 420.0, 0.25, 0.24),
    StockDef("SPY", 756733, "SPDR S&P 500 ETF TRUST", "ARCA", 590.0, 0.15, 0.16),
    StockDef("QQQ", 320227571, "INVESCO QQQ TRUST SERIES 1", "NASDAQ", 510.0, 0.2, 0.2),
    StockDef("TSLA", 76792991, "TESLA INC", "NASDAQ", 400.0, 0.6, 0.55),
)
OPTION_ROOTS = ("AAPL", "SPY")
# (ticker, conid, exchange): the same companies listed abroad, which search answers first.
FOREIGN_LISTINGS = (("AAPL", 38708077, "MEXI"), ("MSFT", 38708867, "MEXI"))
US_EXCHANGES = ("NASDAQ", "NYSE", "ARCA", "AMEX", "BATS")
STOCK_INCREMENTS = ((Decimal(0), Decimal("0.0001")), (Decimal(1), Decimal("0.01")))
OPTION_INCREMENTS = ((Decimal(0), Decimal("0.01")), (Decimal(3), Decimal("0.05")))
US_STOCK_SIZE_LOT = Decimal(100)
FIRST_OPTION_CONID = 700_000_001


@dataclass(frozen=True)
class Contract:
    """An IBKR contract: its conid and descriptive fields, and the engine symbol it trades as."""

    conid: int
    symbol: str  # engine symbol: the ticker for stocks, the OCC local symbol for options
    ticker: str
    sec_type: str  # STK | OPT
    company: str
    exchange: str
    expiry: float | None = None
    strike: Decimal | None = None
    right: str | None = None  # C | P
    multiplier: int = 1
    underlying_conid: int | None = None

    @property
    def tradable(self) -> bool:
        """Return whether this account may trade the contract (US listings only)."""
        return self.exchange in US_EXCHANGES

    @property
    def month(self) -> str:
        """Return the option's month code, e.g. JAN25 (empty for stocks)."""
        return month_code(self.expiry) if self.expiry is not None else ""

    @property
    def maturity(self) -> str:
        """Return the option's maturity date as YYYYMMDD (empty for stocks)."""
        return datetime.fromtimestamp(self.expiry, NY).strftime("%Y%m%d") if self.expiry is not None else ""

    @property
    def description(self) -> str:
        """Return IBKR's contractDesc: the ticker, or e.g. `AAPL JAN2025 230 C [AAPL  250117C00230000 100]`."""
        if self.sec_type == "STK":
            return self.ticker
        assert self.expiry is not None
        d = datetime.fromtimestamp(self.expiry, NY)
        return f"{self.ticker} {MONTHS[d.month - 1]}{d.year} {fmt_num(self.strike)} {self.right} [{self.symbol} 100]"


def fmt_num(x: Decimal | float | None) -> str:
    """Return a number the way IBKR prints strikes and prices in text (no trailing zeros)."""
    if x is None:
        return ""
    d = x if isinstance(x, Decimal) else Decimal(repr(x))
    return f"{d.normalize():f}"


def fmt_price(x: Decimal | float) -> str:
    """Return a price with at least two decimals, as IBKR's string fields show it."""
    d = x if isinstance(x, Decimal) else Decimal(repr(round(x, 6)))
    return f"{d:.2f}" if d == d.quantize(Decimal("0.01")) else f"{d.normalize():f}"


def increment_rules(c: Contract) -> tuple[tuple[Decimal, Decimal], ...]:
    """Return the contract's (lower edge, increment) rules, lowest edge first."""
    return OPTION_INCREMENTS if c.sec_type == "OPT" else STOCK_INCREMENTS


def increment_at(c: Contract, price: Decimal) -> Decimal:
    """Return the price increment that applies to `c` at `price`."""
    return [step for edge, step in increment_rules(c) if price >= edge][-1] if price >= 0 else increment_rules(c)[0][1]


# --- the market -----------------------------------------------------------------------------------


class IbkrMarket:
    """Listed contracts over a `MarketModel`, and IBKR's views of them."""

    def __init__(self, seed: int, now: float) -> None:
        """List the stocks, and the options due at `now` (paths start at the reference prices on now's UTC day)."""
        anchor = math.floor(now / DAY) * DAY
        self.model = MarketModel(
            seed,
            [
                Underlying(s.symbol, s.price, vol=s.vol, anchor=anchor, carry=0.04, rate=0.04, volume=20_000.0,
                           surface=SurfaceParams(atm_vol=s.atm_vol, skew=-0.1, curvature=0.3, term_slope=0.05))
                for s in STOCKS
            ],
        )  # fmt: skip
        self.contracts: dict[int, Contract] = {}
        self.by_symbol: dict[str, Contract] = {}
        self.stocks: dict[str, Contract] = {}
        self._next_conid = FIRST_OPTION_CONID
        self._listed_hour: int | None = None
        self.book_of: Callable[[str, int], OrderBook] = lambda symbol, depth: self.model.book(symbol, now, depth)
        for s in STOCKS:
            inst = Instrument.stock(s.symbol, "0.01", "1", maker_fee=STOCK_FEE, taker_fee=STOCK_FEE,
                                    depth_notional=500_000.0)  # fmt: skip
            self.model.add_instrument(inst)
            c = Contract(s.conid, s.symbol, s.symbol, "STK", s.company, s.exchange)
            self._register(c)
            self.stocks[s.symbol] = c
        self.foreign: dict[str, list[Contract]] = {}
        for ticker, conid, exchange in FOREIGN_LISTINGS:
            home = self.stocks[ticker]
            # Quoted like the home listing (the engine symbol), never registered under it.
            foreign = Contract(conid, home.symbol, ticker, "STK", home.company, exchange)
            self.contracts[conid] = foreign
            self.foreign.setdefault(ticker, []).append(foreign)
        self.ensure_listed(now)

    def _register(self, c: Contract) -> None:
        self.contracts[c.conid] = c
        self.by_symbol[c.symbol] = c

    def ensure_listed(self, now: float) -> None:
        """List the option months due at `now` (checked once per clock hour)."""
        hour = math.floor(now / 3600)
        if hour == self._listed_hour:
            return
        self._listed_hour = hour
        today = ny(now).date()
        expiries: list[float] = []
        y, m = today.year, today.month
        while len(expiries) < OPTION_MONTHS:
            e = at_ny(third_friday(y, m), RTH_CLOSE)
            if e > now:
                expiries.append(e)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        for root in OPTION_ROOTS:
            stock = self.stocks[root]
            u = self.model.underlying(root)
            for e in expiries:
                if any(c.expiry == e for c in self.contracts.values() if c.ticker == root and c.sec_type == "OPT"):
                    continue
                years = (e - now) / YEAR
                fwd = self.model.forward(root, now, e)
                for strike in strike_grid(fwd, years, u.surface.atm_vol, width=2.0):
                    for right in ("C", "P"):
                        self._list_option(stock, e, strike, right)

    def _list_option(self, stock: Contract, expiry: float, strike: Decimal, right: str) -> None:
        occ = f"{stock.ticker:<6}{ny(expiry):%y%m%d}{right}{int(strike * 1000):08d}"
        inst = Instrument.option(
            occ, stock.ticker, expiry, strike, "call" if right == "C" else "put", "0.01", "1",
            contract_size=OPTION_MULTIPLIER, maker_fee=OPTION_FEE, taker_fee=OPTION_FEE, depth_notional=2_000_000.0,
        )  # fmt: skip
        self.model.add_instrument(inst)
        conid, self._next_conid = self._next_conid, self._next_conid + 1
        self._register(
            Contract(conid, occ, stock.ticker, "OPT", stock.company, stock.exchange, expiry, strike, right,
                     OPTION_MULTIPLIER, stock.conid)
        )  # fmt: skip

    # --- lookups ------------------------------------------------------------------------------

    def contract(self, conid: Any) -> Contract:
        """Return the contract of a conid (int, numeric string or `conid@exchange`); MarketError if unknown."""
        text = str(conid).split("@", 1)[0].strip()
        c = self.contracts.get(int(text)) if text.isdigit() else None
        if c is None:
            raise MarketError(f"Invalid contract id: {conid}")
        return c

    def options(self, root: str, now: float) -> list[Contract]:
        """Return the listed, unexpired options of a root symbol."""
        return [c for c in self.contracts.values()
                if c.sec_type == "OPT" and c.ticker == root and c.expiry is not None and c.expiry > now]  # fmt: skip

    def months(self, root: str, now: float) -> list[str]:
        """Return the option month codes listed for a root, nearest first."""
        seen: dict[float, str] = {}
        for c in self.options(root, now):
            assert c.expiry is not None
            seen.setdefault(c.expiry, c.month)
        return [seen[e] for e in sorted(seen)]

    # --- secdef -------------------------------------------------------------------------------

    def search(self, symbol: str, by_name: bool, sec_type: str | None, now: float) -> list[dict[str, Any]]:
        """Serve /iserver/secdef/search: matching stocks with their sections (conid as a string, as IBKR)."""
        q = symbol.strip().upper()
        if not q:
            raise MarketError("symbol required")
        out = []
        for s in self.stocks.values():
            if not (s.ticker == q or (by_name and q in s.company)):
                continue
            for f in self.foreign.get(s.ticker, []):
                if not sec_type or sec_type.upper() == "STK":
                    out.append({
                        "conid": str(f.conid), "companyHeader": f"{f.company} - {f.exchange}",
                        "companyName": f.company, "symbol": f.ticker, "description": f.exchange, "restricted": None,
                        "fop": None, "opt": None, "war": None, "sections": [{"secType": "STK", "exchange": f.exchange}],
                    })  # fmt: skip
            months = self.months(s.ticker, now)
            sections: list[dict[str, Any]] = [{"secType": "STK"}]
            if months:
                sections.append({"secType": "OPT", "months": ";".join(months), "exchange": "SMART;AMEX;CBOE;ISE;PHLX"})
            if sec_type and not any(x["secType"] == sec_type.upper() for x in sections):
                continue
            expiries = sorted({c.maturity for c in self.options(s.ticker, now)})
            out.append({
                "conid": str(s.conid), "companyHeader": f"{s.company} - {s.exchange}", "companyName": s.company,
                "symbol": s.ticker, "description": s.exchange, "restricted": None, "fop": None,
                "opt": ";".join(expiries) or None, "war": None, "sections": sections,
            })  # fmt: skip
        return out

    def stocks_json(self, symbols: str) -> dict[str, list[dict[str, Any]]]:
        """Serve /trsrv/stocks?symbols=A,B."""
        out: dict[str, list[dict[str, Any]]] = {}
        for raw in symbols.split(","):
            sym = raw.strip().upper()
            if not sym:
                continue
            s = self.stocks.get(sym)
            listings = [] if s is None else [*self.foreign.get(sym, []), s]
            out[sym] = [] if s is None else [{
                "name": s.company, "chineseName": None, "assetClass": "STK",
                "contracts": [{"conid": c.conid, "exchange": c.exchange, "isUS": c.tradable} for c in listings],
            }]  # fmt: skip
        if not out:
            raise MarketError("symbols required")
        return out

    def strikes(self, conid: Any, sec_type: str, month: str, now: float) -> dict[str, list[float]]:
        """Serve /iserver/secdef/strikes: the call and put strikes of an underlying's option month."""
        stock = self._underlying(conid)
        if sec_type.upper() != "OPT":
            raise MarketError(f"sectype {sec_type!r} not supported: OPT")
        chain = [c for c in self.options(stock.ticker, now) if c.month == month.upper()]
        if not chain:
            raise MarketError(f"no {stock.ticker} options listed for month {month!r}")
        return {
            "call": sorted({float(c.strike or 0) for c in chain if c.right == "C"}),
            "put": sorted({float(c.strike or 0) for c in chain if c.right == "P"}),
        }

    def info(self, q: dict[str, str], now: float) -> list[dict[str, Any]]:
        """Serve /iserver/secdef/info: the contracts matching conid, sectype, month, strike, right."""
        sec_type = q.get("sectype", q.get("secType", "")).upper()
        if sec_type == "STK":
            return [self.secdef(self._underlying(q.get("conid", "")))]
        if sec_type != "OPT":
            raise MarketError("sectype must be STK or OPT")
        stock = self._underlying(q.get("conid", ""))
        month, right = q.get("month", "").upper(), q.get("right", "").upper()[:1]
        try:
            strike = Decimal(q["strike"])
        except (KeyError, ArithmeticError, ValueError):
            raise MarketError("strike required for OPT") from None
        found = [
            self.secdef(c) for c in self.options(stock.ticker, now)
            if c.month == month and c.strike == strike and (not right or c.right == right)
        ]  # fmt: skip
        if not found:
            raise MarketError(f"no {stock.ticker} {month} {fmt_num(strike)} {right} option listed")
        return found

    def _underlying(self, conid: Any) -> Contract:
        c = self.contract(conid)
        if c.sec_type != "STK":
            raise MarketError(f"conid {c.conid} is not an underlying")
        return c

    def secdef(self, c: Contract) -> dict[str, Any]:
        """Return a secdef/info row."""
        row: dict[str, Any] = {
            "conid": c.conid, "symbol": c.ticker, "secType": c.sec_type, "exchange": "SMART",
            "listingExchange": c.exchange, "currency": "USD", "desc1": c.ticker, "companyName": c.company,
            "multiplier": str(c.multiplier) if c.sec_type == "OPT" else None, "tradingClass": c.ticker,
            "validExchanges": "SMART,AMEX,NYSE,CBOE,ISE,ARCA,NASDAQ",
        }  # fmt: skip
        if c.sec_type == "OPT":
            assert c.expiry is not None
            d = ny(c.expiry)
            kind = "Call" if c.right == "C" else "Put"
            row.update(right=c.right, strike=float(c.strike or 0), maturityDate=c.maturity,
                       desc2=f"{MONTHS[d.month - 1]} {d.day:02d} '{d.year % 100:02d} {fmt_num(c.strike)} {kind}",
                       localSymbol=c.symbol, underlyingConid=c.underlying_conid)  # fmt: skip
        return row

    def contract_info(self, c: Contract, account_id: str | None = None) -> dict[str, Any]:
        """Serve /iserver/contract/{conid}/info (and, with rules, /info-and-rules), in IBKR's documented shape."""
        book = self.book_of(c.symbol, 1)
        sides = [p for p in (book.best_bid, book.best_ask) if p is not None]
        ref = fmt_price(sum(sides) / len(sides)) if sides else None
        stock = c.sec_type == "STK"
        types = ["limit", "market", "stop", "stop_limit", "trailing_stop", "trailing_stop_limit"]
        return {
            "cfi_code": "", "symbol": c.ticker, "cusip": None, "expiry_full": c.maturity or None, "con_id": c.conid,
            "maturity_date": c.maturity or None, "industry": "Computers" if stock else None,
            "instrument_type": c.sec_type, "trading_class": "NMS" if stock else c.ticker,
            "valid_exchanges": "SMART,AMEX,NYSE,CBOE,ISE,ARCA,NASDAQ", "allow_sell_long": False,
            "is_zero_commission_security": False, "local_symbol": c.symbol, "contract_clarification_type": None,
            "classifier": None, "currency": "USD" if c.tradable else "MXN", "text": None,
            "underlying_con_id": c.underlying_conid or 0, "r_t_h": True,
            "multiplier": None if stock else str(c.multiplier), "underlying_issuer": None,
            "contract_month": None if stock else c.maturity[:6], "company_name": c.company, "smart_available": True,
            "exchange": "SMART", "listing_exchange": c.exchange, "category": "Computers" if stock else None,
            "strike": fmt_num(c.strike) if c.strike is not None else None, "right": c.right,
            "rules": {
                "algoEligible": stock, "overnightEligible": stock, "costReport": False,
                "canTradeAcctIds": [account_id] if account_id and c.tradable else [], "error": None,
                "orderTypes": types, "ibAlgoTypes": ["limit", "stop_limit", "trailing_stop_limit"], "fraqTypes": [],
                "forceOrderPreview": False, "cqtTypes": types, "orderDefaults": {"LMT": {"LP": ref}} if ref else {},
                "orderTypesOutside": ["limit", "stop_limit", "trailing_stop_limit"],
                "defaultSize": 100 if stock else 1, "cashSize": 0.0, "sizeIncrement": 1, "minSize": 1,
                "tifTypes": ["IOC/MARKET,LIMIT,a", "GTC/o,a", "DAY/o,a"],
                "tifDefaults": {"TIF": "DAY", "SIZE": "100.00" if stock else "1.00"},
                "limitPrice": float(ref) if ref else None, "stopprice": float(ref) if ref else None,
                "orderOrigination": None, "preview": True, "displaySize": None, "fraqInt": 4 if stock else 0,
                "cashCcy": "USD", "cashQtyIncr": 500, "priceMagnifier": None, "negativeCapable": False,
                "incrementType": 1,
                "incrementRules": [{"lowerEdge": float(edge), "increment": float(step)}
                                   for edge, step in increment_rules(c)],
                "hasSecondary": True, "increment": float(increment_rules(c)[0][1]),
                "incrementDigits": max(-int(step.as_tuple().exponent) for _, step in increment_rules(c)),
            },
        }  # fmt: skip

    # --- quotes -------------------------------------------------------------------------------

    def quote(self, c: Contract, t: float) -> dict[str, str]:
        """Return every snapshot field IBKR would send for `c` at `t`, as strings (field id → value)."""
        inst = self.model.instrument(c.symbol)
        book = self.book_of(c.symbol, 1)
        mid = self.model.mid(c.symbol, t)
        last = inst.round_price(mid)
        day = last_session_day(t)
        open_t = at_ny(day, RTH_OPEN)
        prev_close = self._price_at(c, at_ny(previous_trading_day(day), RTH_CLOSE))
        close_t = min(t, at_ny(day, RTH_CLOSE))
        session = self.model.candles(c.symbol, open_t, close_t + 1, 60, now=close_t) if close_t > open_t else None
        # 7059, the last size: the simulated "last" is the rounded mid, so a round lot stands for its trade.
        f: dict[str, str] = {"55": c.ticker, "6509": "RpB", "6119": SERVER_ID, "31": fmt_price(last),
                             "7059": "100" if c.sec_type == "STK" else "1"}  # fmt: skip
        lot = US_STOCK_SIZE_LOT if c.sec_type == "STK" and c.tradable else Decimal(1)
        if book.best_bid is not None:
            f["84"], f["88"] = fmt_price(book.best_bid), fmt_num(book.bids()[0][1] / lot)
        if book.best_ask is not None:
            f["86"], f["85"] = fmt_price(book.best_ask), fmt_num(book.asks()[0][1] / lot)
        f["7295"] = fmt_price(self._price_at(c, open_t))
        f["7296"] = fmt_price(prev_close)
        if session is not None and len(session):
            f["70"], f["71"] = fmt_price(float(session.high.max())), fmt_price(float(session.low.min()))
            f["87"] = fmt_num(Decimal(int(session.volume.sum())))
        change = last - prev_close
        f["82"] = ("+" if change > 0 else "") + fmt_price(change)
        f["83"] = f"{float(change / prev_close) * 100:.2f}" if prev_close else "0.00"
        if c.sec_type == "OPT":
            snap = self.model.option_snapshot(c.symbol, t)
            f.update({"7308": f"{snap.delta:.4f}", "7309": f"{snap.gamma:.4f}", "7310": f"{snap.theta / 365:.4f}",
                      "7311": f"{snap.vega / 100:.4f}", "7633": f"{snap.mark_iv * 100:.1f}%"})  # fmt: skip
        return f

    def _price_at(self, c: Contract, t: float) -> Decimal:
        return self.model.instrument(c.symbol).round_price(self.model.mid(c.symbol, t))

    def depth(self, c: Contract, t: float, levels: int = 10) -> list[dict[str, Any]]:
        """Return the book as `sbd` price-ladder rows: one row a price, highest first, `focus` at the last."""
        book = self.book_of(c.symbol, levels)
        last = self.model.instrument(c.symbol).round_price(self.model.mid(c.symbol, t))
        ladder = [(p, "ask", q) for p, q in book.asks()] + [(p, "bid", q) for p, q in book.bids()]
        ladder.sort(key=lambda level: level[0], reverse=True)
        return [
            {"row": i, "focus": 1 if Decimal(str(price)) == last else 0, "price": fmt_price(price), side: fmt_num(qty)}
            for i, (price, side, qty) in enumerate(ladder)
        ]

    # --- hours and bars (hours.py) -----------------------------------------------------------

    def history(self, c: Contract, period: str, bar: str, outside_rth: bool, end: float) -> dict[str, Any]:
        """Serve /iserver/marketdata/history (see hours.history)."""
        return hours.history(self.model, c, period, bar, outside_rth, end)

    def schedule(self, c: Contract, now: float) -> list[dict[str, Any]]:
        """Serve /trsrv/secdef/schedule."""
        return hours.schedule(c, now)

    def trading_schedule(self, c: Contract, now: float) -> dict[str, Any]:
        """Serve /contract/trading-schedule."""
        return hours.trading_schedule(c, now)
