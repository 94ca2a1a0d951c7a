"""What the IBKR simulator shows of its account: accounts, portfolio, live orders and trades.

JSON shapes follow IBKR's documented examples; where the reference is silent the simulator's
choices are stated here:

- Margin: the account is a Reg T margin account, USD only: stocks at leverage 2 (initial margin
  50 %), maintenance margin half the initial margin; options as the shared engine margins them.
  `availablefunds` is the engine's available (equity less position and order margin),
  `buyingpower` twice that.
- Live orders (`GET /iserver/account/orders`): `orderId` (int), `conid` (int), `ticker`, `side`
  (BUY/SELL), `orderType` (Limit, Market, Stop, Stop Limit, Trail, Trail Limit) and `origOrderType`
  (LIMIT, MARKET, STOP, STOP_LIMIT, TRAIL, TRAILLMT), `price`/`auxPrice`/`avgPrice` as strings
  (`price`: the limit, or the stop of STP; the current stop of TRAIL and the current limit of
  TRAILLMT; `auxPrice`: the stop of STOP_LIMIT, the trailing amount of trailing types; `stopPrice`:
  the current stop of trailing types), quantities as numbers (`totalSize`, `filledQuantity`,
  `remainingQuantity`), `status` (PreSubmitted: a child waiting for its parent; Submitted: working,
  including untriggered stops; Filled; Cancelled; Inactive: rejected, with `text`), `order_ref` =
  the cOID, `parentId` = the parent's orderId (int) on children, `timeInForce`. Orders open or
  updated in the last 24 hours are listed.
- Trades: one row per execution, the real fields plus `order_id`.
- Positions (`GET /portfolio/{acct}/positions/{page}`) are cached, as IBKR caches them: the rows are
  taken on the first request and served unchanged, fills or not, until `POST
  /portfolio/{acct}/positions/invalidate` takes them again (its answer `{"message": "success"}`).
  Pages hold POSITIONS_PAGE rows (each row says `pageSize`, as IBKR's recorded answers do: 100; an
  older IBKR reference said 30); a client pages until an empty page. `GET /portfolio2/{acct}/positions` is IBKR's
  uncached list (near real time, no paging) with that endpoint's field names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.engine import OrderStatus
from cerbero_mcp.simulators.ibkr.desk import OrderDesk
from cerbero_mcp.simulators.ibkr.market import Contract, IbkrMarket, fmt_num, fmt_price
from cerbero_mcp.simulators.ibkr.orders import IbOrder, exchange_of

DAY = 86_400
POSITIONS_PAGE = 100
ORIG_TYPE = {"LMT": "LIMIT", "MKT": "MARKET", "STP": "STOP", "STOP_LIMIT": "STOP_LIMIT", "TRAIL": "TRAIL",
             "TRAILLMT": "TRAILLMT"}  # fmt: skip
_STATUS_TEXT = {"Submitted": "Order Submitted", "PreSubmitted": "Order Submitted", "Filled": "Order Filled",
                "Cancelled": "Order Cancelled", "Inactive": "Order Inactive"}  # fmt: skip
HUMAN_TYPE = {"LMT": "Limit", "MKT": "Market", "STP": "Stop", "STOP_LIMIT": "Stop Limit", "TRAIL": "Trail",
              "TRAILLMT": "Trail Limit"}  # fmt: skip


def ms(t: float) -> int:
    """Return epoch milliseconds."""
    return round(t * 1000)


def _with_contract(desc: str, ticker: str) -> str:
    """Return "Buy 1 Limit 457.00, GTC" as "Buy 1 SPY Limit 457.00, GTC"."""
    parts = desc.split(" ", 2)
    return f"{parts[0]} {parts[1]} {ticker} {parts[2]}" if len(parts) == 3 else f"{desc} {ticker}"


def _f(x: Decimal) -> float:
    return float(x)


class AccountViews:
    """Serialises the account of one simulator instance."""

    def __init__(self, market: IbkrMarket, desk: OrderDesk, account_id: str, testnet: bool) -> None:
        """Read from `desk` (and its engine) for `account_id`."""
        self.market = market
        self.desk = desk
        self.engine = desk.engine
        self.account_id = account_id
        self.testnet = testnet
        self.page_size = POSITIONS_PAGE
        self._cached_positions: list[dict[str, Any]] | None = None

    # --- accounts ---------------------------------------------------------------------------------

    def iserver_accounts(self, session_id: str) -> dict[str, Any]:
        """Serve GET /iserver/accounts."""
        a = self.account_id
        return {
            "accounts": [a], "acctProps": {a: {"hasChildAccounts": False, "supportsCashQty": True,
                                               "supportsFractions": False, "allowCustomerTime": False,
                                               "noFXConv": False, "isProp": False}},
            "aliases": {a: a}, "allowFeatures": {
                "showGFIS": True, "showEUCostReport": False, "allowEventContract": False, "allowFXConv": False,
                "allowFinancialLens": False, "allowMTA": False, "allowTypeAhead": True, "allowEventTrading": False,
                "snapshotRefreshTimeout": 30, "liteUser": False, "showWebNews": False, "research": False,
                "debugPnl": False, "showTaxOpt": False, "showImpactDashboard": False, "allowDynAccount": False,
                "allowCrypto": False, "allowFA": False, "allowedAssetTypes": "STK,OPT"},
            "chartPeriods": {"STK": ["*"], "OPT": ["2h", "1d", "2d", "1w", "1m"]}, "groups": [], "profiles": [],
            "selectedAccount": a, "serverInfo": {"serverName": "CerberoSim", "serverVersion": "sim"},
            "sessionId": session_id, "isFT": False, "isPaper": self.testnet,
        }  # fmt: skip

    def portfolio_accounts(self) -> list[dict[str, Any]]:
        """Serve GET /portfolio/accounts."""
        a = self.account_id
        return [{
            "id": a, "PrepaidCrypto-Z": False, "PrepaidCrypto-P": False, "brokerageAccess": True,
            "accountId": a, "accountVan": a, "accountTitle": "Cerbero Simulated Account", "displayName": a,
            "accountAlias": None, "accountStatus": 1_600_000_000_000, "currency": "USD",
            "type": "DEMO" if self.testnet else "INDIVIDUAL", "tradingType": "STKNOPT", "businessType": "IB_PROSERVE",
            "ibEntity": "IBLLC-US", "faclient": False, "clearingStatus": "O", "covestor": False,
            "noClientTrading": False,
            "trackVirtualFXPortfolio": False, "parent": {"mmc": [], "accountId": "", "isMParent": False,
                                                         "isMChild": False, "isMultiplex": False},
            "desc": a,
        }]  # fmt: skip

    def check_account(self, acct: str) -> None:
        """Raise KeyError for any account but this instance's."""
        if acct != self.account_id:
            raise KeyError(acct)

    # --- portfolio --------------------------------------------------------------------------------

    def _figures(self) -> dict[str, Decimal]:
        s = self.engine.summary(self.account_id, "USD")
        positions = self.engine.positions(self.account_id)
        gross = sum((abs(p.notional) for p in positions), Decimal(0))
        stocks = sum((p.notional if p.qty > 0 else -p.notional for p in positions
                      if self.market.by_symbol[p.instrument].sec_type == "STK"), Decimal(0))  # fmt: skip
        options = sum((p.notional if p.qty > 0 else -p.notional for p in positions
                       if self.market.by_symbol[p.instrument].sec_type == "OPT"), Decimal(0))  # fmt: skip
        maint = s.initial_margin / 2
        return {
            "netliquidation": s.equity,
            "totalcashvalue": s.cash,
            "settledcash": s.cash,
            "equitywithloanvalue": s.equity,
            "initmarginreq": s.initial_margin,
            "maintmarginreq": maint,
            "availablefunds": s.available,
            "excessliquidity": s.equity - maint,
            "buyingpower": s.available * 2,
            "grosspositionvalue": gross,
            "unrealizedpnl": s.unrealized_pnl,
            "realizedpnl": s.realized_pnl,
            "stockmarketvalue": stocks,
            "optionmarketvalue": options,
        }

    def summary(self, now: float) -> dict[str, Any]:
        """Serve GET /portfolio/{acct}/summary: each figure as {"amount", "currency", ...}."""
        out: dict[str, Any] = {"accountcode": {"amount": 0.0, "currency": None, "isNull": False, "timestamp": ms(now),
                                               "value": self.account_id, "severity": 0}}  # fmt: skip
        for key, value in self._figures().items():
            out[key] = {"amount": _f(value), "currency": "USD", "isNull": False, "timestamp": ms(now),
                        "value": None, "severity": 0}  # fmt: skip
        # A US account holds no Indian stocks; IBKR still lists the figure (spelled with isNone).
        out["indianstockhaircut"] = {"amount": 0.0, "currency": "USD", "isNone": False, "timestamp": ms(now),
                                     "value": None, "severity": 0}  # fmt: skip
        return out

    def ledger(self, now: float) -> dict[str, Any]:
        """Serve GET /portfolio/{acct}/ledger (USD and BASE, the same figures)."""
        f = self._figures()
        row = {
            "commoditymarketvalue": 0.0, "futuremarketvalue": 0.0, "settledcash": _f(f["settledcash"]),
            "exchangerate": 1, "sessionid": 1, "cashbalance": _f(f["totalcashvalue"]),
            "corporatebondsmarketvalue": 0.0, "warrantsmarketvalue": 0.0,
            "netliquidationvalue": _f(f["netliquidation"]),
            "interest": 0.0, "unrealizedpnl": _f(f["unrealizedpnl"]), "stockmarketvalue": _f(f["stockmarketvalue"]),
            "moneyfunds": 0.0, "currency": "USD", "realizedpnl": _f(f["realizedpnl"]), "funds": 0.0,
            "acctcode": self.account_id, "issueroptionsmarketvalue": 0.0, "key": "LedgerList",
            "timestamp": int(now), "severity": 0, "stockoptionmarketvalue": _f(f["optionmarketvalue"]),
            "futuresonlypnl": 0.0, "tbondsmarketvalue": 0.0, "futureoptionmarketvalue": 0.0,
            "cashbalancefxsegment": 0.0, "tbillsmarketvalue": 0.0, "endofbundle": 1, "dividends": 0.0,
            "cryptocurrencyvalue": 0.0,
        }  # fmt: skip
        return {"USD": {**row, "secondkey": "USD"}, "BASE": {**row, "secondkey": "BASE", "currency": "BASE"}}

    def _position_rows(self) -> list[dict[str, Any]]:
        rows = [self._position(p) for p in self.engine.positions(self.account_id)]
        rows.sort(key=lambda r: (r["contractDesc"], r["conid"]))
        return rows

    def positions(self, page: int) -> list[dict[str, Any]]:
        """Serve GET /portfolio/{acct}/positions/{page}: the cached rows, `page_size` a page."""
        if self._cached_positions is None:
            self._cached_positions = self._position_rows()
        size = self.page_size
        return self._cached_positions[page * size : (page + 1) * size]

    def invalidate_positions(self) -> dict[str, Any]:
        """Serve POST /portfolio/{acct}/positions/invalidate: take the rows again now."""
        self._cached_positions = self._position_rows()
        return {"message": "success"}

    def positions_now(self) -> list[dict[str, Any]]:
        """Serve GET /portfolio2/{acct}/positions: every position now, uncached, in that endpoint's names."""
        out = []
        for row in self._position_rows():
            out.append({
                "position": row["position"], "conid": str(row["conid"]), "avgCost": row["avgCost"],
                "avgPrice": row["avgPrice"], "currency": row["currency"], "description": row["contractDesc"],
                "isLastToLoq": False, "marketPrice": row["mktPrice"], "marketValue": row["mktValue"],
                "realizedPnl": row["realizedPnl"], "secType": row["assetClass"], "timestamp": 0,
                "unrealizedPnl": row["unrealizedPnl"], "assetClass": row["assetClass"], "sector": "", "group": "",
                "model": "",
            })  # fmt: skip
        return out

    def position(self, conid: int) -> list[dict[str, Any]]:
        """Serve GET /portfolio/{acct}/position/{conid}."""
        return [self._position(p) for p in self.engine.positions(self.account_id)
                if self.market.by_symbol[p.instrument].conid == conid]  # fmt: skip

    def _position(self, p: Any) -> dict[str, Any]:
        c: Contract = self.market.by_symbol[p.instrument]
        mult = c.multiplier
        row: dict[str, Any] = {
            "acctId": self.account_id, "conid": c.conid, "contractDesc": c.description, "position": _f(p.qty),
            "mktPrice": _f(p.mark_price), "mktValue": _f(p.qty * p.mark_price * mult), "currency": "USD",
            "avgCost": _f(p.avg_price * mult), "avgPrice": _f(p.avg_price), "realizedPnl": _f(p.realized_pnl),
            "unrealizedPnl": _f(p.unrealized_pnl), "assetClass": c.sec_type, "ticker": c.ticker, "name": c.company,
            "listingExchange": c.exchange, "multiplier": float(mult) if c.sec_type == "OPT" else 0.0,
            "undConid": c.underlying_conid or 0, "model": "", "time": 0, "exchs": None, "expiry": None,
            "putOrCall": None, "strike": "0", "fullName": c.description, "pageSize": self.page_size,
            "allExchanges": c.exchange, "chineseName": c.company, "conExchMap": [], "countryCode": "US",
            "displayRule": {"displayRuleStep": [{"decimalDigits": 2, "lowerEdge": 0.0, "wholeDigits": 4}],
                            "magnification": 0},
            "exerciseStyle": "AMERICAN" if c.sec_type == "OPT" else None, "group": None,
            "hasOptions": c.sec_type == "STK", "incrementRules": [{"increment": 0.01, "lowerEdge": 0.0}],
            "isEventContract": False, "isUS": True, "lastTradingDay": None, "sector": None, "sectorGroup": None,
            "type": "COMMON" if c.sec_type == "STK" else None,
        }  # fmt: skip
        if c.sec_type == "OPT":
            row.update(expiry=c.maturity, putOrCall=c.right, strike=fmt_num(c.strike))
        return row

    # --- orders and trades ------------------------------------------------------------------------

    def orders(self, filters: str, now: float) -> dict[str, Any]:
        """Serve GET /iserver/account/orders: open orders and those that changed in the last 24 hours."""
        wanted = {f.strip().lower() for f in filters.split(",") if f.strip()}
        rows = []
        for o in self.desk.orders.values():
            if not (o.is_open or o.updated_at >= now - DAY or o.created_at >= now - DAY):
                continue
            if wanted and o.status.lower() not in wanted:
                continue
            rows.append(self.order_json(o))
        return {"orders": rows, "snapshot": True}

    def order_json(self, o: IbOrder) -> dict[str, Any]:
        """Return one order as the live-orders list shows it."""
        s, c, e = o.spec, o.spec.contract, o.engine
        total = e.qty if e is not None else s.qty
        filled = e.filled_qty if e is not None else Decimal(0)
        st = o.status
        when = max(o.updated_at, e.updated_at if e is not None else 0.0)
        row: dict[str, Any] = {
            "acct": self.account_id, "account": self.account_id, "conid": c.conid, "conidex": str(c.conid),
            "orderId": o.order_id, "cashCcy": "USD", "sizeAndFills": f"{fmt_num(filled)}/{fmt_num(total)}",
            "orderDesc": self._desc(o), "description1": c.ticker, "ticker": c.ticker, "secType": c.sec_type,
            "listingExchange": exchange_of(c), "remainingQuantity": _f(total - filled) if o.is_open else 0.0,
            "filledQuantity": _f(filled), "totalSize": _f(total), "companyName": c.company, "status": st,
            "order_ccp_status": st, "origOrderType": ORIG_TYPE[s.order_type], "orderType": HUMAN_TYPE[s.order_type],
            "side": s.side, "timeInForce": s.tif, "outsideRTH": s.outside_rth, "bgColor": "#FFFFFF",
            "fgColor": "#000000", "lastExecutionTime_r": ms(when), "supportsTaxOpt": "1",
            "lastExecutionTime": datetime.fromtimestamp(when, UTC).strftime("%y%m%d%H%M%S"),
        }  # fmt: skip
        price, aux, stop = self._prices(o)
        if price is not None:
            row["price"] = fmt_price(price)
        if aux is not None:
            row["auxPrice"] = fmt_price(aux)
        if stop is not None:
            row["stopPrice"] = fmt_price(stop)
        if s.trail is not None:
            row["trailingAmount"], row["trailingType"] = fmt_num(s.trail), "%" if s.trail_pct else "amt"
        if e is not None and e.avg_fill_price is not None:
            row["avgPrice"] = fmt_price(e.avg_fill_price)
        if s.coid is not None:
            row["order_ref"] = s.coid
        if o.parent_id is not None:
            row["parentId"] = o.parent_id
        reason = o.reason or (e.reject_reason.value if e is not None and e.reject_reason is not None else None)
        if st == "Inactive" and reason:
            row["text"] = reason
        return row

    @staticmethod
    def _prices(o: IbOrder) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """Return (price, auxPrice, stopPrice) to show."""
        s, e = o.spec, o.engine
        if s.order_type in ("TRAIL", "TRAILLMT"):
            stop = e.stop_price if e is not None else None
            price = stop if s.order_type == "TRAIL" else (e.price if e is not None else None)
            return price, s.trail if not s.trail_pct else None, stop
        return s.price, s.aux, None

    def _desc(self, o: IbOrder) -> str:
        s = o.spec
        price, aux, _ = self._prices(o)
        verb = "Buy" if s.side == "BUY" else "Sell"
        if o.engine is not None and o.engine.status is OrderStatus.FILLED and o.engine.avg_fill_price is not None:
            verb = "Bought" if s.side == "BUY" else "Sold"
            return f"{verb} {fmt_num(s.qty)} @ {fmt_price(o.engine.avg_fill_price)}, {s.tif}"
        px = f" {fmt_price(price)}" if price is not None else ""
        stop = f" Stop {fmt_price(aux)}" if s.order_type == "STOP_LIMIT" and aux is not None else ""
        return f"{verb} {fmt_num(s.qty)} {HUMAN_TYPE[s.order_type]}{px}{stop}, {s.tif}"

    def order_status(self, o: IbOrder) -> dict[str, Any]:
        """Serve GET /iserver/account/order/status/{id}."""
        row = self.order_json(o)
        s = o.spec
        out: dict[str, Any] = {
            "order_id": o.order_id, "conid": s.contract.conid, "conidex": str(s.contract.conid),
            "symbol": s.contract.ticker, "side": "B" if s.side == "BUY" else "S",
            "contract_description_1": s.contract.ticker, "listing_exchange": row["listingExchange"],
            "company_name": s.contract.company, "size": fmt_num(Decimal(str(row["remainingQuantity"]))),
            "total_size": fmt_num(Decimal(str(row["totalSize"]))), "currency": "USD", "account": self.account_id,
            "order_type": row["origOrderType"], "cum_fill": fmt_num(Decimal(str(row["filledQuantity"]))),
            "order_status": o.status, "order_ccp_status": o.status, "tif": s.tif, "sec_type": s.contract.sec_type,
            "order_description": row["orderDesc"], "size_and_fills": row["sizeAndFills"],
            "order_not_editable": not o.is_open, "cannot_cancel_order": not o.is_open,
            "order_time": row["lastExecutionTime"], "order_ref": s.coid, "sub_type": None, "request_id": "0",
            "server_id": "0", "option_acct": "c", "order_status_description": _STATUS_TEXT.get(o.status, o.status),
            "order_description_with_contract": _with_contract(row["orderDesc"], s.contract.ticker),
            "order_clearing_account": self.account_id, "outside_rth": s.outside_rth, "use_price_mgmt_algo": False,
            "alert_active": 1, "allowed_duplicate_opposite": True, "available_chart_periods": "#R|1",
            "bg_color": "#FFFFFF", "fg_color": "#000000", "child_order_type": "0", "deactivate_order": False,
            "editable_fields": "", "exit_strategy_chart_description": row["orderDesc"],
            "exit_strategy_display_price": row.get("price", ""), "exit_strategy_tool_availability": "1",
        }  # fmt: skip
        for src, dst in (("price", "limit_price"), ("auxPrice", "stop_price"), ("avgPrice", "average_price")):
            if src in row:
                out[dst] = row[src]
        if s.order_type == "STP" and "price" in row:
            out["stop_price"] = out.pop("limit_price")
        if o.parent_id is not None:
            out["parent_order_id"] = o.parent_id
        return out

    def trades(self, days: int, now: float) -> list[dict[str, Any]]:
        """Serve GET /iserver/account/trades?days=N (at most 7): the executions, newest first."""
        out = []
        for f in reversed(self.engine.fills(self.account_id)):
            if f.time < now - days * DAY:
                break
            c = self.market.by_symbol[f.instrument]
            o = self.desk.by_engine.get(f.order_id)
            bought = f.side.value == "buy"
            verb = "Bot" if bought else "Sold"
            gross = f.qty * f.price * c.multiplier
            out.append({
                "execution_id": f"{int(f.time):08x}.{f.id}.01.01", "symbol": c.ticker, "supports_tax_opt": "1",
                "side": "B" if bought else "S",
                "order_description": f"{verb} {fmt_num(f.qty)} @ {fmt_price(f.price)} on {c.exchange}",
                "trade_time": datetime.fromtimestamp(f.time, UTC).strftime("%Y%m%d-%H:%M:%S"),
                "trade_time_r": ms(f.time), "size": _f(f.qty), "price": fmt_price(f.price),
                "order_ref": o.spec.coid if o is not None else None, "order_id": o.order_id if o is not None else None,
                "submitter": "sim", "exchange": c.exchange, "commission": f"{f.fee:.2f}",
                "net_amount": _f(-gross - f.fee if bought else gross - f.fee), "account": self.account_id,
                "accountCode": self.account_id, "company_name": c.company, "contract_description_1": c.description,
                "sec_type": c.sec_type, "listing_exchange": c.exchange, "conid": c.conid, "conidEx": str(c.conid),
                "clearing_id": "IB", "clearing_name": "IB", "liquidation_trade": "0", "is_event_trading": "0",
                "account_allocation_name": self.account_id,
            })  # fmt: skip
        return out
