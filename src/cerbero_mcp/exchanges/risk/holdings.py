"""What the risk desk reads from each venue: accounts, positions valued in USD with their delta, the rates used.

One reader per venue turns that venue's own account and position answers into `VenueSnapshot`s:

    venue        equity (USD)                                   positions → underlying, notional, delta
    deribit      each currency account × its index (BTC, ETH;   size valued as the exposure hook does; delta
                 USDC taken 1:1)                                 from Deribit (coin) × the index
    bybit        unified account totalEquity (USD)              linear/inverse/option; options' delta from Bybit
    hyperliquid  marginSummary.accountValue (USDC taken 1:1)    perpetuals: delta = signed position value
    alpaca       /v2/account equity                             shares/coins at their price; options: quant library
    ibkr         net liquidation (base currency USD)            market value; options: quant library

Options whose venue gives no delta (Alpaca, IBKR) get a Black–Scholes delta from the quant library
(`common/options`): the implied vol of the option's mark, then the delta at that vol. A venue not in
this table is read through its `book` hook (the exposure arithmetic's account reader): notional only.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import CerberoError
from cerbero_mcp.common.options import bs_greeks, implied_vol
from cerbero_mcp.contracts import BookFunc, ToolContext

ZERO = Decimal(0)
STABLE_QUOTES = ("USDT", "USDC", "PERP", "USD")


@dataclass(frozen=True)
class Rate:
    """A conversion rate to USD, and where it was read."""

    currency: str
    usd: Decimal
    source: str


@dataclass(frozen=True)
class Holding:
    """One position: signed size in venue units, signed USD notional, and its USD delta when known."""

    venue: str
    instrument: str
    kind: str  # perpetual, future, option, spot, equity, crypto
    underlying: str
    size: Decimal
    notional_usd: Decimal
    delta_usd: Decimal | None
    delta_source: str  # "venue", "linear" (delta = notional), "quant_library", or why it is unknown
    mark_price: Decimal | None = None


@dataclass(frozen=True)
class AccountBalance:
    """One margin account of a venue, in its currency and in USD."""

    currency: str
    equity: Decimal
    equity_usd: Decimal
    initial_margin_usd: Decimal
    maintenance_margin_usd: Decimal


@dataclass
class VenueSnapshot:
    """Everything the risk desk read from one venue for one environment."""

    venue: str
    accounts: list[AccountBalance] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    rates: list[Rate] = field(default_factory=list)

    @property
    def equity_usd(self) -> Decimal:
        """Return the venue's equity in USD (every account)."""
        return sum((a.equity_usd for a in self.accounts), ZERO)

    @property
    def gross_notional_usd(self) -> Decimal:
        """Return the sum of |notional| of every position, in USD."""
        return sum((abs(h.notional_usd) for h in self.holdings), ZERO)


Reader = Callable[[ToolContext], Awaitable[VenueSnapshot]]


def dec(value: Any) -> Decimal:
    """Return a venue number (string, float, Decimal or None) as a Decimal (None, '' and junk are 0)."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, dict):  # IBKR's portfolio summary: {"amount": x}
        value = value.get("amount")
        if value is None:
            return ZERO
    try:
        result = Decimal(str(value))
    except ArithmeticError:
        return ZERO
    return result if result.is_finite() else ZERO


def crypto_underlying(symbol: str) -> str:
    """Return the coin of a crypto symbol (`BTCUSDT`, `BTC/USD`, `BTC-PERPETUAL`, `BTC_USDC-PERPETUAL` → BTC)."""
    head = symbol.replace("/", "-").split("-")[0].split("_")[0].upper()
    for quote in STABLE_QUOTES:
        if head.endswith(quote) and len(head) > len(quote):
            return head[: -len(quote)]
    return head


def quant_delta(
    option_price: Decimal, spot: Decimal, strike: Decimal, expiry: date, right: str
) -> tuple[float | None, str]:
    """Return a Black–Scholes delta per unit of underlying (implied vol of the option's price), or None and why."""
    now = utcnow()
    expires = datetime(expiry.year, expiry.month, expiry.day, 21, tzinfo=UTC)  # US options stop at the close
    years = (expires - now).total_seconds() / (365.25 * 86400)
    if years <= 0:
        return None, "expired"
    if option_price <= 0 or spot <= 0 or strike <= 0:
        return None, "no price for the option or its underlying"
    kind = "call" if right.lower().startswith("c") else "put"
    try:
        vol = float(implied_vol(float(option_price), float(spot), float(strike), years, 0.0, kind))
        delta = float(bs_greeks(float(spot), float(strike), years, 0.0, vol, kind).delta)
    except CerberoError as exc:  # the price is outside the no-arbitrage bounds: no vol, no delta
        return None, f"no implied vol: {exc.message}"
    if not math.isfinite(delta):
        return None, "no implied vol"
    return delta, "quant_library"


# --- deribit ---------------------------------------------------------------------------------------


async def read_deribit(ctx: ToolContext) -> VenueSnapshot:
    """Read Deribit's BTC, ETH and USDC accounts and positions (coin accounts valued at their index)."""
    from cerbero_mcp.exchanges.deribit.exposure import position_notional_usd

    client = await ctx.client()
    snapshot = VenueSnapshot("deribit")
    for currency in ("BTC", "ETH", "USDC"):
        summary = await client.private_get_account_summary(currency)
        if currency == "USDC":
            rate = Rate("USDC", Decimal(1), "taken 1:1 for USD")
        else:
            ticker = await client.public_ticker(f"{currency}-PERPETUAL")
            index = dec(ticker.get("index_price"))
            rate = Rate(currency, index, f"deribit {currency.lower()}_usd index (public/ticker index_price)")
        snapshot.rates.append(rate)
        snapshot.accounts.append(
            AccountBalance(
                currency=currency,
                equity=dec(summary.get("equity")),
                equity_usd=dec(summary.get("equity")) * rate.usd,
                initial_margin_usd=dec(summary.get("initial_margin")) * rate.usd,
                maintenance_margin_usd=dec(summary.get("maintenance_margin")) * rate.usd,
            )
        )
        for row in await client.private_get_positions(currency):
            size = dec(row.get("size"))
            if not size:
                continue
            name = str(row["instrument_name"])
            meta = await client.instrument(name)
            coin = str(meta.get("base_currency") or crypto_underlying(name)).upper()
            index = dec(row.get("index_price")) or rate.usd
            notional = position_notional_usd(size, meta, index) * (1 if size > 0 else -1)
            kind = str(meta.get("kind") or row.get("kind") or "future")
            if kind == "future" and meta.get("settlement_period") == "perpetual":
                kind = "perpetual"
            delta = row.get("delta")
            snapshot.holdings.append(
                Holding(
                    venue="deribit",
                    instrument=name,
                    kind=kind,
                    underlying=coin,
                    size=size,
                    notional_usd=notional,
                    # Deribit's delta is in the coin: times the index, it is USD.
                    delta_usd=dec(delta) * index if delta is not None else notional,
                    delta_source="venue" if delta is not None else "linear",
                    mark_price=dec(row.get("mark_price")) or None,
                )
            )
    return snapshot


# --- bybit -----------------------------------------------------------------------------------------


async def read_bybit(ctx: ToolContext) -> VenueSnapshot:
    """Read Bybit's unified account (USD) and every linear, inverse and option position."""
    from cerbero_mcp.exchanges.bybit.exposure import POSITION_SOURCES, notional_usd
    from cerbero_mcp.exchanges.bybit.mapping import signed_size

    client = await ctx.client()
    wallet = ((await client.account_wallet_balance()).get("list") or [{}])[0]
    snapshot = VenueSnapshot("bybit", rates=[Rate("USDT", Decimal(1), "Bybit reports the unified account in USD")])
    snapshot.accounts.append(
        AccountBalance(
            currency="USD",
            equity=dec(wallet.get("totalEquity")),
            equity_usd=dec(wallet.get("totalEquity")),
            initial_margin_usd=dec(wallet.get("totalInitialMargin")),
            maintenance_margin_usd=dec(wallet.get("totalMaintenanceMargin")),
        )
    )
    for category, settle in POSITION_SOURCES:
        cursor: str | None = None
        for _ in range(10):  # 10 pages of 200: far beyond any real account; bounded all the same
            page = await client.position_list(category, settle_coin=settle, limit=200, cursor=cursor)
            for row in page.get("list") or []:
                size = signed_size(row)
                if not size:
                    continue
                symbol = str(row["symbol"])
                mark = dec(row.get("markPrice")) or None
                usd_index: Decimal | None = None
                ticker: dict[str, Any] = {}
                if category == "option":
                    rows = (await client.market_tickers("option", symbol=symbol)).get("list") or [{}]
                    ticker = rows[0] if isinstance(rows[0], dict) else {}
                    usd_index = dec(ticker.get("underlyingPrice")) or dec(ticker.get("indexPrice")) or None
                sign = 1 if size > 0 else -1
                notional = notional_usd(category, size, mark, usd_index) * sign
                kind = {"linear": "perpetual", "inverse": "perpetual", "option": "option"}[category]
                if category != "option" and "-" in symbol:
                    kind = "future"  # dated contracts carry their expiry (BTCUSDT-27DEC24, BTCUSDH25 has none)
                delta_text = row.get("delta")
                if category == "option":
                    delta_usd, source = bybit_option_delta(symbol, size, delta_text, ticker, usd_index)
                else:
                    delta_usd, source = notional, "linear"
                snapshot.holdings.append(
                    Holding("bybit", symbol, kind, crypto_underlying(symbol), size, notional, delta_usd, source, mark)
                )
            cursor = page.get("nextPageCursor") or None
            if not cursor:
                break
    return snapshot


def bybit_option_delta(
    symbol: str, size: Decimal, position_delta: Any, ticker: dict[str, Any], spot: Decimal | None
) -> tuple[Decimal | None, str]:
    """Return a Bybit option position's USD delta: Bybit's (position, else ticker × size), else the quant library's.

    The fallback is Black–Scholes at the ticker's mark IV (`markIv`), the symbol giving strike, expiry
    (08:00 UTC, Bybit's option settlement) and right: `BTC-27MAR26-100000-C`.
    """
    if not spot:
        return None, "no underlying price"
    if position_delta not in (None, ""):
        return dec(position_delta) * spot, "venue"
    if ticker.get("delta") not in (None, ""):
        return dec(ticker.get("delta")) * size * spot, "venue"
    parts = symbol.split("-")
    iv = float(dec(ticker.get("markIv")))
    try:
        expiry = datetime.strptime(parts[1], "%d%b%y").replace(hour=8, tzinfo=UTC)
        strike, right = float(parts[2]), parts[3][:1].upper()
    except (IndexError, ValueError):
        return None, "Bybit gave no delta and the symbol names no strike and expiry"
    years = (expiry - utcnow()).total_seconds() / (365.25 * 86400)
    if years <= 0 or iv <= 0 or right not in ("C", "P"):
        return None, "Bybit gave no delta and no mark IV"
    kind = "call" if right == "C" else "put"
    try:
        per_unit = float(bs_greeks(float(spot), strike, years, 0.0, iv, kind).delta)
    except CerberoError as exc:
        return None, f"no delta: {exc.message}"
    return Decimal(str(per_unit)) * size * spot, "quant_library"


# --- hyperliquid -----------------------------------------------------------------------------------


async def read_hyperliquid(ctx: ToolContext) -> VenueSnapshot:
    """Read Hyperliquid's perpetuals account (USDC) and its positions."""
    from cerbero_mcp.exchanges.hyperliquid.mapping import positions_of

    client = await ctx.client()
    state = await client.clearinghouse_state()
    summary = state.get("marginSummary") or {}
    snapshot = VenueSnapshot("hyperliquid", rates=[Rate("USDC", Decimal(1), "taken 1:1 for USD")])
    snapshot.accounts.append(
        AccountBalance(
            currency="USDC",
            equity=dec(summary.get("accountValue")),
            equity_usd=dec(summary.get("accountValue")),
            initial_margin_usd=dec(summary.get("totalMarginUsed")),
            maintenance_margin_usd=dec(state.get("crossMaintenanceMarginUsed")),
        )
    )
    for raw in positions_of(state):
        size = dec(raw.get("szi"))
        coin = str(raw.get("coin"))
        notional = abs(dec(raw.get("positionValue"))) * (1 if size > 0 else -1)
        mark = abs(notional / size) if size else None
        snapshot.holdings.append(
            Holding("hyperliquid", coin, "perpetual", coin.upper(), size, notional, notional, "linear", mark)
        )
    return snapshot


# --- alpaca ----------------------------------------------------------------------------------------


async def read_alpaca(ctx: ToolContext) -> VenueSnapshot:
    """Read Alpaca's account and positions; options' delta from Alpaca's snapshot greeks, else the quant library."""
    from cerbero_mcp.exchanges.alpaca.mapping import signed_qty
    from cerbero_mcp.exchanges.alpaca.orders import latest_price
    from cerbero_mcp.exchanges.alpaca.symbols import multiplier, pair_symbol, parse_occ

    client = await ctx.client()
    account = await client.account()
    snapshot = VenueSnapshot("alpaca", rates=[Rate("USD", Decimal(1), "Alpaca accounts are in USD")])
    snapshot.accounts.append(
        AccountBalance(
            currency=str(account.get("currency") or "USD"),
            equity=dec(account.get("equity")),
            equity_usd=dec(account.get("equity")),
            initial_margin_usd=dec(account.get("initial_margin")),
            maintenance_margin_usd=dec(account.get("maintenance_margin")),
        )
    )
    for row in await client.positions():
        size = signed_qty(row)
        if not size:
            continue
        asset_class = str(row.get("asset_class") or "us_equity")
        symbol = pair_symbol(str(row.get("symbol")), asset_class)
        price = dec(row.get("current_price"))
        notional = size * price * multiplier(symbol)
        occ = parse_occ(symbol)
        if occ is None:
            kind = "crypto" if asset_class == "crypto" else "equity"
            underlying = crypto_underlying(symbol) if kind == "crypto" else symbol
            holding = Holding("alpaca", symbol, kind, underlying, size, notional, notional, "linear", price or None)
        else:
            spot = await latest_price(client, occ.root) or ZERO
            per_unit, source = await _alpaca_option_delta(client, symbol)
            if per_unit is None:
                per_unit, source = quant_delta(price, spot, occ.strike, occ.expiry, occ.right)
            delta = Decimal(str(per_unit)) * size * multiplier(symbol) * spot if per_unit is not None else None
            holding = Holding("alpaca", symbol, "option", occ.root, size, notional, delta, source, price or None)
        snapshot.holdings.append(holding)
    return snapshot


async def _alpaca_option_delta(client: Any, symbol: str) -> tuple[float | None, str]:
    snapshots = await client.option_snapshots([symbol])
    greeks = (snapshots.get(symbol) or {}).get("greeks") or {}
    delta = greeks.get("delta")
    if isinstance(delta, int | float) and math.isfinite(delta):
        return float(delta), "venue"
    return None, "Alpaca gave no greeks"


# --- ibkr ------------------------------------------------------------------------------------------


async def read_ibkr(ctx: ToolContext) -> VenueSnapshot:
    """Read IBKR's net liquidation, margins and positions; options' delta from the quant library."""
    from cerbero_mcp.exchanges.ibkr.exposure import reference_price

    client = await ctx.client()
    summary = await client.portfolio_summary()
    net = summary.get("netliquidation")
    base = str(net.get("currency") or "USD") if isinstance(net, dict) else "USD"
    snapshot = VenueSnapshot("ibkr", rates=[Rate(base, Decimal(1), "IBKR reports in the account's base currency")])
    snapshot.accounts.append(
        AccountBalance(
            currency=base,
            equity=dec(summary.get("netliquidation")),
            equity_usd=dec(summary.get("netliquidation")),
            initial_margin_usd=dec(summary.get("initmarginreq")),
            maintenance_margin_usd=dec(summary.get("maintmarginreq")),
        )
    )
    for row in await client.positions():
        size = dec(row.get("position"))
        if not size:
            continue
        asset = str(row.get("assetClass") or "STK").upper()
        name = str(row.get("ticker") or row.get("contractDesc") or row.get("conid"))
        notional = dec(row.get("mktValue"))
        mark = dec(row.get("mktPrice")) or None
        if asset != "OPT":
            kind = {"STK": "equity", "FUT": "future", "CRYPTO": "crypto", "CASH": "spot"}.get(asset, asset.lower())
            snapshot.holdings.append(Holding("ibkr", name, kind, name, size, notional, notional, "linear", mark))
            continue
        instrument = str(row.get("contractDesc") or name)
        delta: Decimal | None = None
        source = "IBKR gave no strike, right or expiry"
        strike, right, expiry = dec(row.get("strike")), str(row.get("putOrCall") or ""), _ibkr_date(row.get("expiry"))
        und_conid = int(row.get("undConid") or 0)
        if strike and right and expiry is not None and und_conid:
            spot = await reference_price(client, und_conid)
            multiplier = dec(row.get("multiplier")) or Decimal(100)
            per_unit, source = quant_delta(mark or ZERO, spot, strike, expiry, right)
            if per_unit is not None:
                delta = Decimal(str(per_unit)) * size * multiplier * spot
        snapshot.holdings.append(Holding("ibkr", instrument, "option", name, size, notional, delta, source, mark))
    return snapshot


def _ibkr_date(value: Any) -> date | None:
    text = str(value or "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


# --- any other venue: its exposure hook ------------------------------------------------------------


def book_reader(venue: str, book: BookFunc) -> Reader:
    """Return a reader built on a venue's `book` hook (notional only; its delta is taken as the notional)."""

    async def read(ctx: ToolContext) -> VenueSnapshot:
        account = await book(ctx, [])
        snapshot = VenueSnapshot(venue, rates=[Rate(account.unit, Decimal(1), f"{venue} values its book in USD")])
        if account.unit != "USD":
            raise ValueError(f"{venue}'s book is in {account.unit}, not USD: no reader converts it")
        snapshot.accounts.append(AccountBalance("USD", account.equity, account.equity, ZERO, ZERO))
        for instrument, size in account.positions.items():
            if size:
                notional = account.value(instrument, abs(size), None) * (1 if size > 0 else -1)
                snapshot.holdings.append(
                    Holding(venue, instrument, "unknown", instrument, size, notional, notional, "linear")
                )
        return snapshot

    return read


READERS: dict[str, Reader] = {
    "deribit": read_deribit,
    "bybit": read_bybit,
    "hyperliquid": read_hyperliquid,
    "alpaca": read_alpaca,
    "ibkr": read_ibkr,
}
