"""Positions and account summaries of the Deribit simulator, in Deribit's shapes.

Positions are the engine's, valued at the instant of the request; instruments the account traded
stay listed with size 0 and direction `zero` (so realized PnL remains visible). Sizes are signed:
USD for inverse futures (with `size_currency` in coin), coin for options. Maintenance margin is
half the initial margin (none for long options); `estimated_liquidation_price` solves equity =
maintenance margin for an inverse position with every other position held still. The account
summary reports the engine's cash as `balance` (option premiums are not debited at purchase, so
equity — cash plus unrealized PnL — matches Deribit's, not the balance).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.deribit.market import CURRENCIES, check_currency
from cerbero_mcp.simulators.deribit.rpc import Params, dec, num
from cerbero_mcp.simulators.deribit.trading import ACCOUNT, LEVERAGE, ZERO, Trading
from cerbero_mcp.simulators.engine import Instrument, InstrumentKind, PositionSnapshot

ACCOUNT_ID = 10
USERNAME = "sim"
ACCOUNT_CREATED_MS = 1_687_352_432_143


class AccountView:
    """private/get_positions, get_position and get_account_summary over one `Trading` account."""

    def __init__(self, trading: Trading) -> None:
        """Report on `trading`."""
        self.t = trading

    def positions(self, p: Params, now: float) -> list[dict[str, Any]]:
        """private/get_positions: open positions, plus flat ones of instruments traded (direction zero)."""
        currency = check_currency(p.text("currency", "any"), allow_any=True)
        kind = p.opt_text("kind", choices=("future", "option", "spot", "future_combo", "option_combo", "any"))
        snaps = {s.instrument: s for s in self.t.exchange.positions(ACCOUNT)}
        rows = []
        for name in sorted(set(snaps) | self.t.touched):
            listing = self.t.market.listings[name]
            if (currency is not None and listing.currency != currency) or kind not in (None, "any", listing.kind):
                continue
            rows.append(self.position_json(name, snaps.get(name), now))
        return rows

    def position(self, p: Params, now: float) -> dict[str, Any]:
        """private/get_position: one instrument's position (zero when flat)."""
        name = p.text("instrument_name")
        self.t.market.instrument(name)
        return self.position_json(name, self.t.exchange.position(ACCOUNT, name), now)

    def position_json(self, name: str, snap: PositionSnapshot | None, now: float) -> dict[str, Any]:
        """Return Deribit's position object."""
        model = self.t.market.model
        inst = model.instrument(name)
        listing = self.t.market.listings[name]
        qty = snap.qty if snap is not None else ZERO
        mark = model.mid(name, now)
        index = model.index(inst.underlying, now)
        realized = sum((f.realized_pnl for f in self.t.acct.fills if f.instrument == name), ZERO)
        upnl = snap.unrealized_pnl if snap is not None else ZERO
        im = snap.initial_margin if snap is not None else ZERO
        option = inst.kind is InstrumentKind.OPTION
        mm = ZERO if option and qty > 0 else im / 2
        order_margin = sum(
            (self.t.acct.order_margin.get(o.id, ZERO) for o in self.t.exchange.open_orders(ACCOUNT, name)), ZERO
        )
        digits = 8 if option else 2
        out: dict[str, Any] = {
            "instrument_name": name,
            "kind": listing.kind,
            "direction": "zero" if qty == 0 else ("buy" if qty > 0 else "sell"),
            "size": dec(qty),
            "average_price": dec(snap.avg_price) if snap is not None and qty else 0,
            "mark_price": num(mark, digits),
            "index_price": num(index, 2),
            "settlement_price": num(mark, digits),
            "floating_profit_loss": dec(upnl),
            "realized_profit_loss": dec(realized),
            "total_profit_loss": dec(upnl + realized),
            "initial_margin": dec(im),
            "maintenance_margin": dec(mm),
            "open_orders_margin": dec(order_margin),
            "interest_value": 0.0,
        }
        if option:
            greeks = {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0}
            if qty and inst.expiry is not None and inst.expiry > now:
                snapshot = model.option_snapshot(name, now)
                q = float(qty)
                greeks = {
                    "delta": q * snapshot.delta,
                    "gamma": q * snapshot.gamma,
                    "vega": q * snapshot.vega / 100.0,
                    "theta": q * snapshot.theta / 365.0,
                }
            out.update({k: num(v, 8) for k, v in greeks.items()})
            avg = float(snap.avg_price) if snap is not None and qty else 0.0
            out.update(average_price_usd=num(avg * index, 2), estimated_liquidation_price=None)
        else:
            linear = self.t.market.is_linear(name)
            # Inverse sizes are USD (coin = USD / mark); linear sizes are already in the coin.
            size_currency = float(qty) if linear else (float(qty) / mark if mark > 0 else 0.0)
            out.update(
                size_currency=num(size_currency, 8),
                delta=num(size_currency, 8),
                leverage=LEVERAGE,
                estimated_liquidation_price=None if linear else self._liquidation(inst, snap, now),
            )
            if inst.kind is InstrumentKind.PERPETUAL:
                paid = snap.funding_paid if snap is not None else ZERO
                out["realized_funding"] = dec(-paid)
        return out

    def _liquidation(self, inst: Instrument, snap: PositionSnapshot | None, now: float) -> float | None:
        """Estimate where equity meets maintenance margin if only this inverse position's price moved."""
        if snap is None or snap.qty == 0 or snap.avg_price <= 0:
            return None
        equity = float(self.t.exchange.summary(ACCOUNT, inst.settle_currency).equity - snap.unrealized_pnl)
        q, avg, m = float(snap.qty), float(snap.avg_price), 0.5 / LEVERAGE
        denominator = equity + q / avg
        price = (q + abs(q) * m) / denominator if denominator != 0 else -1.0
        return num(price, 2) if price > 0 else None

    def summary(self, currency: str, now: float) -> dict[str, Any]:
        """private/get_account_summary of one currency."""
        s = self.t.exchange.summary(ACCOUNT, currency)
        rows = self.positions(Params({"currency": currency}), now)
        futures = [r for r in rows if r["kind"] == "future"]
        options = [r for r in rows if r["kind"] == "option"]

        def total(items: list[dict[str, Any]], key: str) -> Decimal:
            return sum((Decimal(str(r[key])) for r in items if r.get(key) is not None), ZERO)

        def ftotal(items: list[dict[str, Any]], key: str) -> float | None:
            return num(sum(float(r.get(key) or 0.0) for r in items), 8)

        maintenance = total(rows, "maintenance_margin")
        options_value = sum(
            (Decimal(str(r["size"])) * Decimal(str(r["mark_price"])) for r in options if r["mark_price"] is not None),
            ZERO,
        )
        initial = s.initial_margin + s.order_margin
        index = f"{currency.lower()}_usd" if currency in CURRENCIES else None
        return {
            "currency": currency,
            "balance": dec(s.cash),
            "equity": dec(s.equity),
            "margin_balance": dec(s.equity),
            "available_funds": dec(s.available),
            "available_withdrawal_funds": dec(max(min(s.available, s.cash), ZERO)),
            "initial_margin": dec(initial),
            "maintenance_margin": dec(maintenance),
            "projected_initial_margin": dec(initial),
            "projected_maintenance_margin": dec(maintenance),
            "session_upl": dec(s.unrealized_pnl),
            "session_rpl": dec(s.realized_pnl),
            "total_pl": dec(s.unrealized_pnl + s.realized_pnl),
            "futures_pl": dec(total(futures, "total_profit_loss")),
            "futures_session_upl": dec(total(futures, "floating_profit_loss")),
            "futures_session_rpl": dec(total(futures, "realized_profit_loss")),
            "options_pl": dec(total(options, "total_profit_loss")),
            "options_session_upl": dec(total(options, "floating_profit_loss")),
            "options_session_rpl": dec(total(options, "realized_profit_loss")),
            "options_value": dec(options_value),
            "options_delta": ftotal(options, "delta"),
            "options_gamma": ftotal(options, "gamma"),
            "options_vega": ftotal(options, "vega"),
            "options_theta": ftotal(options, "theta"),
            "delta_total": ftotal(rows, "delta"),
            "projected_delta_total": ftotal(rows, "delta"),
            "fee_balance": 0,
            "fees_paid": dec(s.fees_paid),
            "estimated_liquidation_ratio": num(float(maintenance / s.equity), 8) if s.equity > 0 else None,
            "margin_model": "cross_sm",
            "portfolio_margining_enabled": False,
            "cross_collateral_enabled": False,
            # The limits the simulator enforces (simulator.py): the lowest matching-engine tier.
            "limits": {
                "limits_per_currency": False,
                "non_matching_engine": {"rate": 20, "burst": 100},
                "matching_engine": {
                    "trading": {"total": {"rate": 5, "burst": 20}},
                    "spot": {"rate": 5, "burst": 20},
                    "quotes": {"rate": 500, "burst": 500},
                    "max_quotes": {"rate": 10, "burst": 10},
                    "guaranteed_quotes": {"rate": 2, "burst": 2},
                    "cancel_all": {"rate": 5, "burst": 20},
                },
            },
            # Per-index maps, as Deribit reports them (one index per coin account; none for USDC here).
            **{
                f"{name}_map": {index: value} if index else {}
                for name, value in (
                    ("delta_total", ftotal(rows, "delta")),
                    ("estimated_liquidation_ratio", num(float(maintenance / s.equity), 8) if s.equity > 0 else 0.0),
                    ("options_gamma", ftotal(options, "gamma")),
                    ("options_vega", ftotal(options, "vega")),
                    ("options_theta", ftotal(options, "theta")),
                )
            },
            "spot_reserve": 0,
            "type": "main",
            "id": ACCOUNT_ID,
            "username": USERNAME,
            "system_name": USERNAME,
            "email": f"{USERNAME}@example.com",
            "creation_timestamp": ACCOUNT_CREATED_MS,
            "referrer_id": None,
            "login_enabled": False,
            "security_keys_enabled": False,
            "mmp_enabled": False,
            "interuser_transfers_enabled": False,
            "self_trading_reject_mode": "cancel_maker",
            "self_trading_extended_to_subaccounts": False,
            "block_rfq_self_match_prevention": True,
        }
