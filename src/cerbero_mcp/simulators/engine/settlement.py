"""Cash movements that are not fills: perpetual funding and expiry settlement."""

from __future__ import annotations

from collections.abc import Iterable

from cerbero_mcp.simulators.engine.accounts import Account
from cerbero_mcp.simulators.engine.instruments import Instrument, InstrumentKind
from cerbero_mcp.simulators.engine.market import MarketModel
from cerbero_mcp.simulators.engine.orders import ZERO, LedgerEntry, money
from cerbero_mcp.simulators.engine.valuation import dec


def settle_expiry(market: MarketModel, accounts: Iterable[Account], inst: Instrument, t: float) -> None:
    """Close every position in an expiring instrument at the index (options: intrinsic value)."""
    index = dec(market.index(inst.underlying, t))
    price = index
    if inst.kind is InstrumentKind.OPTION:
        assert inst.strike is not None
        intrinsic = max(index - inst.strike if inst.option_kind == "call" else inst.strike - index, ZERO)
        price = intrinsic / index if inst.premium_in_underlying else intrinsic
    for acct in accounts:
        pos = acct.positions.pop(inst.symbol, None)
        if pos is None:
            continue
        realized = pos.apply(inst, -pos.qty, price)
        ccy = inst.settle_currency
        acct.credit(ccy, realized)
        acct.realized[ccy] = acct.realized.get(ccy, ZERO) + realized
        acct.ledger.append(LedgerEntry(t, "settlement", inst.symbol, realized, ccy, price=price))


def pay_funding(market: MarketModel, accounts: Iterable[Account], inst: Instrument, t: float) -> None:
    """Settle the funding period ending at `t`: longs pay shorts when the rate is positive."""
    interval = inst.funding_interval or 8 * 3600
    rate = dec(market.funding_rate(inst.symbol, t - interval / 2))
    mark = dec(market.mid(inst.symbol, t))
    for acct in accounts:
        pos = acct.positions.get(inst.symbol)
        if pos is None:
            continue
        paid = money(inst.notional(pos.qty, mark) * rate * (1 if pos.qty > 0 else -1))
        pos.funding_paid += paid
        acct.credit(inst.settle_currency, -paid)
        acct.ledger.append(LedgerEntry(t, "funding", inst.symbol, -paid, inst.settle_currency, rate=rate))
