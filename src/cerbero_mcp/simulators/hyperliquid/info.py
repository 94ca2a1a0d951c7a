"""POST /info: the unsigned queries (hyperliquid.gitbook.io, info-endpoint, perpetuals, spot).

Each request is `{"type": ..., ...}`; an unknown type or a missing field is HTTP 422 with the
venue's plain-text "Failed to deserialize the JSON body into the target type". Numbers are decimal
strings, times epoch ms; an address the venue does not know has an empty account, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from cerbero_mcp.simulators.engine import Side
from cerbero_mcp.simulators.hyperliquid.market import (
    PERPS,
    TOKEN_BY_INDEX,
    TOKENS,
    Asset,
    HyperliquidMarket,
)
from cerbero_mcp.simulators.hyperliquid.trading import ACCOUNT, USDC, HlOrder, Trading
from cerbero_mcp.simulators.hyperliquid.wire import BadRequest, fixed, ms, text

HOUR = 3_600
INTERVALS = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200, "4h": 14400,
    "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800,
}  # fmt: skip
MAX_CANDLES = 5000
FUNDING_PAGE = 500
FILLS_PAGE = 2000
BOOK_LEVELS = 20
# IP weight of each info type (rate-limits page); the rest weigh 20
WEIGHT_2 = ("l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus")


def deserialize_error(detail: str) -> BadRequest:
    """Return the venue's 422 for a body it cannot read."""
    return BadRequest(f"Failed to deserialize the JSON body into the target type: {detail}")


# extra IP weight per this many items answered
PER_ITEMS = {"candleSnapshot": 60, "fundingHistory": 20, "userFills": 20, "userFillsByTime": 20,
             "historicalOrders": 20}  # fmt: skip


def extra_weight(body: dict[str, Any], answer: Any) -> int:
    """Return the extra IP weight of an answer that lists items (candles per 60, fills and funding per 20)."""
    per = PER_ITEMS.get(str(body.get("type")))
    return len(answer) // per if per is not None and isinstance(answer, list) else 0


def weight(body: dict[str, Any]) -> int:
    """Return the IP weight of an info request (before the per-item extras)."""
    kind = body.get("type")
    if kind in WEIGHT_2:
        return 2
    if kind == "userRole":
        return 60
    return 20


class InfoApi:
    """The /info handlers of one instance."""

    def __init__(self, market: HyperliquidMarket, trading: Trading, account: str) -> None:
        """Serve `market` and the account at `account` (lower-case address)."""
        self.market = market
        self.trading = trading
        self.account = account
        self.handlers: dict[str, Callable[[dict[str, Any], float], Any]] = {
            "meta": self.meta,
            "spotMeta": self.spot_meta,
            "metaAndAssetCtxs": self.meta_and_ctxs,
            "spotMetaAndAssetCtxs": self.spot_meta_and_ctxs,
            "allMids": self.all_mids,
            "l2Book": self.l2_book,
            "candleSnapshot": self.candles,
            "fundingHistory": self.funding_history,
            "predictedFundings": self.predicted_fundings,
            "clearinghouseState": self.clearinghouse_state,
            "spotClearinghouseState": self.spot_state,
            "openOrders": self.open_orders,
            "frontendOpenOrders": self.frontend_open_orders,
            "orderStatus": self.order_status,
            "userFills": self.user_fills,
            "userFillsByTime": self.user_fills_by_time,
            "historicalOrders": self.historical_orders,
            "userRateLimit": self.user_rate_limit,
            "exchangeStatus": self.exchange_status,
        }
        self.rate_limit_cap: Callable[[], int] = lambda: 10_000
        self.requests_used: Callable[[], int] = lambda: 0

    def serve(self, body: Any, now: float) -> Any:
        """Answer one /info body."""
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise deserialize_error("missing field `type`")
        handler = self.handlers.get(body["type"])
        if handler is None:
            raise deserialize_error(f"unknown variant `{body['type']}`")
        return handler(body, now)

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
        value = body.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            raise deserialize_error(f"missing or invalid field `{name}`")
        return value

    def _coin(self, body: dict[str, Any], now: float) -> Asset:
        name = self._field(body, "coin", str)
        asset = self.market.coin(name, now)
        if asset is None:
            raise deserialize_error(f"unknown coin `{name}`")
        return asset

    def _user(self, body: dict[str, Any]) -> str:
        user: str = self._field(body, "user", str)
        if not (user.startswith("0x") and len(user) == 42):
            raise deserialize_error("invalid field `user`")
        return user.lower()

    def _px(self, asset: Asset, x: float) -> str:
        """Return a model price on the asset's grid."""
        steps: Decimal = (Decimal(str(x)) / asset.tick).to_integral_value()
        return text(steps * asset.tick)

    def _mid(self, asset: Asset, now: float) -> str:
        book = self.trading.exchange.book(asset.coin, 1)
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None:
            return self._px(asset, self.market.mid(asset, now))
        return text((bid + ask) / 2)

    # --- metadata -----------------------------------------------------------------------------

    def _meta(self, now: float) -> dict[str, Any]:
        perps = {p.name: p for p in PERPS}
        universe = []
        for a in self.market.perps(now):
            entry: dict[str, Any] = {"szDecimals": a.sz_decimals, "name": a.coin, "maxLeverage": a.max_leverage,
                                     "marginTableId": a.max_leverage}  # fmt: skip
            if perps[a.coin].only_isolated:
                entry["onlyIsolated"] = True
            universe.append(entry)
        tables = sorted({a.max_leverage for a in self.market.perps(now)})
        margin_tables = [
            [lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}] for lev in tables
        ]
        return {"universe": universe, "marginTables": margin_tables, "collateralToken": 0}

    def meta(self, body: dict[str, Any], now: float) -> Any:
        """Return `meta`: the perpetuals' universe."""
        if body.get("dex") not in (None, ""):
            return None  # no builder-deployed perp dexs here
        return self._meta(now)

    def _spot_meta(self, now: float) -> dict[str, Any]:
        pairs = self.market.pairs(now)
        live_tokens = {0} | {p.base for p, _ in pairs}
        return {
            "universe": [{"tokens": [p.base, p.quote], "name": p.name, "index": p.index, "isCanonical": p.canonical}
                         for p, _ in pairs],
            "tokens": [{"name": t.name, "szDecimals": t.sz_decimals, "weiDecimals": t.wei_decimals, "index": t.index,
                        "tokenId": t.token_id, "isCanonical": t.index in (0, 1), "evmContract": None,
                        "fullName": t.full_name} for t in TOKENS if t.index in live_tokens],
        }  # fmt: skip

    def spot_meta(self, body: dict[str, Any], now: float) -> Any:
        """Return `spotMeta`: pairs and tokens."""
        return self._spot_meta(now)

    def _day_stats(self, asset: Asset, now: float) -> tuple[float, float, float]:
        """Return (previous day's close, 24 h base volume, 24 h notional volume)."""
        candles = self.market.model.candles(asset.coin, now - 86_400, now + 1e-6, 3600, now=now)
        rows = candles.rows()
        prev = rows[0][1] if rows else self.market.mid(asset, now)
        vol = sum(r[5] for r in rows)
        ntl = sum(r[5] * r[4] for r in rows)
        return prev, vol, ntl

    def _perp_ctx(self, asset: Asset, now: float) -> dict[str, Any]:
        mid = self.market.mid(asset, now)
        prev, _, ntl = self._day_stats(asset, now)
        oracle = self.market.model.index(asset.underlying, now)
        book = self.trading.exchange.book(asset.coin, 5)
        bids, asks = book.bids(), book.asks()
        impact = [
            text(bids[-1][0]) if bids else self._px(asset, mid),
            text(asks[-1][0]) if asks else self._px(asset, mid),
        ]
        return {
            "funding": fixed(self.market.model.funding_rate(asset.coin, now), 10),
            "openInterest": fixed(self.market.model.open_interest(asset.coin, math.floor(now / 300) * 300.0),
                                  asset.sz_decimals),
            "prevDayPx": self._px(asset, prev),
            "dayNtlVlm": fixed(ntl, 2),
            "premium": fixed((mid - oracle) / oracle, 8),
            "oraclePx": self._px(asset, oracle),
            "markPx": self._px(asset, mid),
            "midPx": self._mid(asset, now),
            "impactPxs": impact,
            "dayBaseVlm": fixed(_ntl_base(ntl, mid), asset.sz_decimals),
        }  # fmt: skip

    def meta_and_ctxs(self, body: dict[str, Any], now: float) -> Any:
        """Return `[meta, ctxs]` with one context per universe entry."""
        return [self._meta(now), [self._perp_ctx(a, now) for a in self.market.perps(now)]]

    def spot_meta_and_ctxs(self, body: dict[str, Any], now: float) -> Any:
        """Return `[spotMeta, ctxs]` with one context per spot pair."""
        ctxs = []
        for _, a in self.market.pairs(now):
            prev, vol, ntl = self._day_stats(a, now)
            ctxs.append({
                "dayNtlVlm": fixed(ntl, 2), "markPx": self._px(a, self.market.mid(a, now)), "midPx": self._mid(a, now),
                "prevDayPx": self._px(a, prev), "circulatingSupply": "1000000000", "coin": a.coin,
                "totalSupply": "1000000000", "dayBaseVlm": fixed(vol, a.sz_decimals),
            })  # fmt: skip
        return [self._spot_meta(now), ctxs]

    # --- market data --------------------------------------------------------------------------

    def all_mids(self, body: dict[str, Any], now: float) -> Any:
        """Return every listed coin's mid (perps by name, spot by PURR/USDC or @index)."""
        out = {a.coin: self._mid(a, now) for a in self.market.perps(now)}
        out.update({a.coin: self._mid(a, now) for _, a in self.market.pairs(now)})
        return out

    def l2_book(self, body: dict[str, Any], now: float) -> Any:
        """Return `{coin, time, levels: [bids, asks]}`, 20 levels a side, optionally aggregated to nSigFigs."""
        asset = self._coin(body, now)
        sig = body.get("nSigFigs")
        if sig is not None and (not isinstance(sig, int) or isinstance(sig, bool) or not 2 <= sig <= 5):
            raise deserialize_error("invalid field `nSigFigs`")
        mantissa = body.get("mantissa")
        if mantissa is not None and (sig != 5 or mantissa not in (1, 2, 5)):
            raise deserialize_error("invalid field `mantissa`")
        book = self.trading.exchange.book(asset.coin, 100 if sig else BOOK_LEVELS)
        sides = []
        for levels, up in ((book.bids(), False), (book.asks(), True)):
            merged: dict[Decimal, tuple[Decimal, int]] = {}
            for px, sz in levels:
                key = _aggregate(px, sig, mantissa, up) if sig else px
                q, n = merged.get(key, (Decimal(0), 0))
                merged[key] = (q + sz, n + 1)
            keys = sorted(merged, reverse=not up)[:BOOK_LEVELS]
            sides.append([{"px": text(k), "sz": text(merged[k][0]), "n": merged[k][1]} for k in keys])
        return {"coin": asset.coin, "time": ms(now), "levels": sides}

    def candles(self, body: dict[str, Any], now: float) -> Any:
        """Return candles `[{t, T, s, i, o, c, h, l, v, n}]` ascending, only the latest 5000 of an interval."""
        req = self._field(body, "req", dict)
        asset = self._coin(req, now)
        interval = self._field(req, "interval", str)
        if interval not in INTERVALS:
            raise deserialize_error(f"unknown variant `{interval}`")
        start = self._field(req, "startTime", int)
        end = req.get("endTime")
        if end is not None and (not isinstance(end, int) or isinstance(end, bool)):
            raise deserialize_error("invalid field `endTime`")
        res = INTERVALS[interval]
        end_s = min((end if end is not None else ms(now)) / 1000, now)
        oldest = (math.floor(now / res) - MAX_CANDLES + 1) * res
        lo = max(start / 1000, oldest)
        if lo > end_s:
            return []
        rows = self.market.model.candles(asset.coin, lo, end_s + 1e-6, res, now=now).rows()
        out = []
        for t, o, h, lo_px, c, v in rows:
            if t * 1000 < start - res * 1000 or t < oldest:
                continue
            out.append({"t": t * 1000, "T": (t + res) * 1000 - 1, "s": asset.coin, "i": interval,
                        "o": self._px(asset, o), "c": self._px(asset, c), "h": self._px(asset, h),
                        "l": self._px(asset, lo_px), "v": fixed(v, asset.sz_decimals),
                        "n": max(1, int(v) + 1)})  # fmt: skip
        return out

    def funding_history(self, body: dict[str, Any], now: float) -> Any:
        """Return hourly `[{coin, fundingRate, premium, time}]` ascending from startTime, at most 500."""
        asset = self._coin(body, now)
        if asset.spot:
            return []
        start = self._field(body, "startTime", int)
        end = body.get("endTime")
        end_s = min((end if isinstance(end, int) and not isinstance(end, bool) else ms(now)) / 1000, now)
        rows = self.market.model.funding_history(asset.coin, start / 1000 - 1e-6, end_s)[:FUNDING_PAGE]
        return [{"coin": asset.coin, "fundingRate": fixed(rate, 10), "premium": fixed(rate * 8, 10),
                 "time": int(ts * 1000)} for ts, rate in rows]  # fmt: skip

    def predicted_fundings(self, body: dict[str, Any], now: float) -> Any:
        """Return `[[coin, [["HlPerp", {fundingRate, nextFundingTime, fundingIntervalHours}]]]]`."""
        nxt = (math.floor(now / HOUR) + 1) * HOUR * 1000
        return [[a.coin, [["HlPerp", {"fundingRate": fixed(self.market.model.funding_rate(a.coin, now), 10),
                                      "nextFundingTime": nxt, "fundingIntervalHours": 1}]]]
                for a in self.market.perps(now)]  # fmt: skip

    def exchange_status(self, body: dict[str, Any], now: float) -> Any:
        """Return `{time, specialStatuses}`."""
        return {"time": ms(now), "specialStatuses": None}

    # --- account ------------------------------------------------------------------------------

    def _is_account(self, body: dict[str, Any]) -> bool:
        return self._user(body) == self.account

    def clearinghouse_state(self, body: dict[str, Any], now: float) -> Any:
        """Return the perpetuals account: margin summaries, withdrawable and positions."""
        mine = self._is_account(body)
        positions = []
        ntl = margin = upnl = Decimal(0)
        ex = self.trading.exchange
        if mine:
            for p in ex.positions(ACCOUNT):
                asset = self.market.by_coin[p.instrument]
                if asset.spot:
                    continue
                is_cross, lev = self.trading.leverage_of(asset)
                ntl += p.notional
                margin += p.initial_margin
                upnl += p.unrealized_pnl
                roe = p.unrealized_pnl / p.initial_margin if p.initial_margin else Decimal(0)
                lev_obj: dict[str, Any] = {"type": "cross" if is_cross else "isolated", "value": lev}
                if not is_cross:
                    lev_obj["rawUsd"] = text(
                        (p.initial_margin - p.notional * (1 if p.qty > 0 else -1)).quantize(Decimal("0.000001"))
                    )
                positions.append({"type": "oneWay", "position": {
                    "coin": asset.coin, "szi": text(p.qty), "leverage": lev_obj,
                    "entryPx": text(p.avg_price.quantize(asset.tick) if p.avg_price % asset.tick else p.avg_price),
                    "positionValue": fixed(p.notional, 6), "unrealizedPnl": fixed(p.unrealized_pnl, 6),
                    "returnOnEquity": fixed(roe, 9), "liquidationPx": self._liquidation(p.qty, p.avg_price, lev),
                    "marginUsed": fixed(p.initial_margin, 6), "maxLeverage": asset.max_leverage,
                    "cumFunding": {"allTime": fixed(-p.funding_paid, 6), "sinceOpen": fixed(-p.funding_paid, 6),
                                   "sinceChange": fixed(-p.funding_paid, 6)},
                }})  # fmt: skip
        cash = ex.summary(ACCOUNT, USDC).cash if mine else Decimal(0)
        value = cash + upnl
        summary = {"accountValue": fixed(value, 6), "totalNtlPos": fixed(ntl, 6), "totalRawUsd": fixed(cash, 6),
                   "totalMarginUsed": fixed(margin, 6)}  # fmt: skip
        return {
            "marginSummary": summary, "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": fixed(margin / 2, 6),
            "withdrawable": fixed(max(value - margin, Decimal(0)), 6),
            "assetPositions": positions, "time": ms(now),
        }  # fmt: skip

    @staticmethod
    def _liquidation(qty: Decimal, entry: Decimal, lev: int) -> str | None:
        # an isolated-style estimate: the price at which the initial margin (half of it maintenance) is lost
        if qty == 0:
            return None
        move = entry / Decimal(lev) * Decimal("0.5") * 2
        px = entry - move if qty > 0 else entry + move
        return fixed(px, 6) if px > 0 else None

    def spot_state(self, body: dict[str, Any], now: float) -> Any:
        """Return `{balances: [{coin, token, hold, total, entryNtl}]}`."""
        if not self._is_account(body):
            return {"balances": []}
        ex = self.trading.exchange
        summ = ex.summary(ACCOUNT, USDC)
        balances = [{"coin": "USDC", "token": 0, "hold": fixed(summ.order_margin, 8), "total": fixed(summ.cash, 8),
                     "entryNtl": "0.0"}]  # fmt: skip
        for p in ex.positions(ACCOUNT):
            asset = self.market.by_coin[p.instrument]
            if not asset.spot:
                continue
            token = next(t for t in TOKENS if t.name == asset.underlying)
            held = sum((o.remaining() for o in self.trading.open_orders() if o.asset.asset == asset.asset
                        and not o.is_buy), Decimal(0))  # fmt: skip
            balances.append({"coin": token.name, "token": token.index, "hold": text(held), "total": text(p.qty),
                             "entryNtl": fixed(p.qty * p.avg_price, 6)})  # fmt: skip
        return {"balances": balances}

    def _basic(self, o: HlOrder) -> dict[str, Any]:
        out: dict[str, Any] = {
            "coin": o.asset.coin, "side": "B" if o.is_buy else "A", "limitPx": text(o.limit_px),
            "sz": text(o.remaining()), "oid": o.oid, "timestamp": o.timestamp, "origSz": text(o.sz),
        }  # fmt: skip
        if o.cloid is not None:
            out["cloid"] = o.cloid
        return out

    def _frontend(self, o: HlOrder) -> dict[str, Any]:
        out = self._basic(o)
        out.setdefault("cloid", None)  # the frontend shapes always carry the key
        trig = o.trigger
        kids = [self.trading.orders[c] for c in o.children]
        condition = "N/A"
        if trig is not None:
            px = f"{trig.trigger_px.normalize():f}"  # documented as "Price below 2850" beside triggerPx "2850.0"
            condition = f"Price {'above' if trig.fires_on_rise(o.is_buy) else 'below'} {px}"
        out.update({
            "orderType": o.order_type(), "tif": o.tif, "reduceOnly": o.reduce_only,
            "triggerPx": text(trig.trigger_px) if trig else "0.0", "isTrigger": trig is not None,
            "triggerCondition": condition, "isPositionTpsl": o.position_tpsl,
            "children": [self._frontend(c) for c in kids if c.is_open()],
        })  # fmt: skip
        return out

    def open_orders(self, body: dict[str, Any], now: float) -> Any:
        """Return the user's open orders, newest first."""
        if not self._is_account(body):
            return []
        return [self._basic(o) for o in self.trading.open_orders() if o.parent is None or not o.waiting]

    def frontend_open_orders(self, body: dict[str, Any], now: float) -> Any:
        """Return the open orders with their type, tif, trigger and children."""
        if not self._is_account(body):
            return []
        return [self._frontend(o) for o in self.trading.open_orders() if o.parent is None or not o.waiting]

    def order_status(self, body: dict[str, Any], now: float) -> Any:
        """Return `{status: "order", order: {order, status, statusTimestamp}}` or `{status: "unknownOid"}`."""
        user = self._user(body)
        ref = body.get("oid")
        order = None
        if user == self.account:
            if isinstance(ref, int) and not isinstance(ref, bool):
                order = self.trading.find(None, oid=ref)
            elif isinstance(ref, str):
                order = self.trading.find(None, cloid=ref)
            else:
                raise deserialize_error("invalid field `oid`")
        if order is None:
            return {"status": "unknownOid"}
        return {"status": "order", "order": {"order": self._frontend(order), "status": order.live_status(),
                                             "statusTimestamp": self._stamp(order)}}  # fmt: skip

    def user_fills(self, body: dict[str, Any], now: float) -> Any:
        """Return the user's fills, newest first, at most 2000."""
        if not self._is_account(body):
            return []
        out = []
        positions: dict[str, Decimal] = {}
        for f in self.trading.exchange.fills(ACCOUNT):
            asset = self.market.by_coin[f.instrument]
            start = positions.get(f.instrument, Decimal(0))
            signed = f.qty if f.side is Side.BUY else -f.qty
            positions[f.instrument] = start + signed
            if asset.spot:
                direction = "Buy" if f.side is Side.BUY else "Sell"
            else:
                closing = start != 0 and (start > 0) != (signed > 0)
                long_side = (start > 0) if closing else (signed > 0)
                direction = f"{'Close' if closing else 'Open'} {'Long' if long_side else 'Short'}"
            tid = int(f.id.removeprefix("f"))
            out.append({
                "coin": asset.coin, "px": text(f.price), "sz": text(f.qty), "side": "B" if f.side is Side.BUY else "A",
                "time": ms(f.time), "startPosition": text(start), "dir": direction,
                "closedPnl": fixed(f.realized_pnl, 6),
                "hash": "0x" + f"{tid:064x}", "oid": int(f.order_id), "crossed": f.liquidity == "taker",
                "fee": fixed(f.fee, 6), "tid": tid, "feeToken": "USDC",
            })  # fmt: skip
        return list(reversed(out))[:FILLS_PAGE]

    def user_fills_by_time(self, body: dict[str, Any], now: float) -> Any:
        """Return the user's fills with startTime <= time <= endTime (default now), oldest first, at most 2000."""
        start = self._field(body, "startTime", int)
        end = body.get("endTime")
        end_ms = end if isinstance(end, int) and not isinstance(end, bool) else ms(now)
        fills = [f for f in reversed(self.user_fills(body, now)) if start <= f["time"] <= end_ms]
        return fills[:FILLS_PAGE]

    def historical_orders(self, body: dict[str, Any], now: float) -> Any:
        """Return the user's orders with their latest status, newest first, at most 2000."""
        if not self._is_account(body):
            return []
        orders = sorted(self.trading.orders.values(), key=lambda o: -o.oid)[:FILLS_PAGE]
        return [{"order": self._frontend(o), "status": o.live_status(), "statusTimestamp": self._stamp(o)}
                for o in orders]  # fmt: skip

    @staticmethod
    def _stamp(order: HlOrder) -> int:
        ts = order.engine.updated_at if order.engine is not None else None
        return ms(ts) if ts is not None and order.status == "open" else order.status_ts

    def user_rate_limit(self, body: dict[str, Any], now: float) -> Any:
        """Return `{cumVlm, nRequestsUsed, nRequestsCap}` of the address budget."""
        if not self._is_account(body):
            return {"cumVlm": "0.0", "nRequestsUsed": 0, "nRequestsCap": 10_000}
        return {"cumVlm": fixed(self.trading.volume, 6), "nRequestsUsed": self.requests_used(),
                "nRequestsCap": self.rate_limit_cap()}  # fmt: skip


def _ntl_base(ntl: float, mid: float) -> float:
    return ntl / mid if mid else 0.0


def _aggregate(px: Decimal, sig: int, mantissa: Any, up: bool) -> Decimal:
    """Return `px` rounded to `sig` significant figures (bids down, asks up), in steps of `mantissa`."""
    step = Decimal(1).scaleb(px.adjusted() - sig + 1)
    if mantissa in (2, 5):
        step *= mantissa
    q = (px / step).to_integral_value(rounding=ROUND_UP if up else ROUND_DOWN)
    return (q * step).normalize()


__all__ = ["INTERVALS", "TOKEN_BY_INDEX", "InfoApi", "extra_weight", "weight"]
