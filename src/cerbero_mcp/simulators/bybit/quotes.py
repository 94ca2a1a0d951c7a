"""The Bybit simulator's instrument and ticker entries (docs/v5/market/instrument.mdx, tickers.mdx).

Linear/inverse, option and spot entries have different shapes, as the docs' tabs show; every
number is a string except `symbolId` and `fundingInterval`. Option tickers carry Black-76 greeks
from the engine (vega per 1 % of volatility, theta per day, as Bybit quotes them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cerbero_mcp.simulators.bybit.market import HOUR, YEAR, BybitMarket, Spec
from cerbero_mcp.simulators.bybit.wire import fnum, ms, on_step, text
from cerbero_mcp.simulators.engine import Instrument, ticker


def instrument_json(market: BybitMarket, spec: Spec, now: float) -> dict[str, Any]:
    """Return one instruments-info entry as Bybit shows it for the symbol's category."""
    status = "Trading" if market.live(spec, now) else "Closed"
    if spec.category == "spot":
        return {
            "symbol": spec.symbol, "symbolId": spec.symbol_id, "baseCoin": spec.base, "quoteCoin": spec.quote,
            "innovation": "0", "status": status, "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {
                "basePrecision": text(spec.qty_step), "quotePrecision": "0.0000001",
                "minOrderQty": text(spec.qty_step), "maxOrderQty": text(spec.max_qty),
                "minOrderAmt": text(spec.min_notional), "maxOrderAmt": "8000000",
                "maxLimitOrderQty": text(spec.max_qty), "maxMarketOrderQty": text(spec.max_mkt_qty),
                "postOnlyMaxLimitOrderSize": text(spec.max_qty * 5),
            },
            "priceFilter": {"tickSize": str(spec.tick)},
            "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
            "symbolType": "",
        }  # fmt: skip
    if spec.category == "option":
        inst = market.instrument(spec)
        letter = "C" if inst.option_kind == "call" else "P"
        return {
            "symbol": spec.symbol, "symbolId": spec.symbol_id,
            "optionsType": "Call" if letter == "C" else "Put", "status": status, "baseCoin": spec.base,
            "quoteCoin": spec.quote, "settleCoin": spec.settle, "launchTime": str(spec.launch_ms),
            "deliveryTime": str(spec.delivery_ms), "deliveryFeeRate": "0.00015",
            "priceFilter": {"minPrice": str(spec.tick), "maxPrice": "10000000", "tickSize": str(spec.tick)},
            "lotSizeFilter": {"maxOrderQty": text(spec.max_qty), "minOrderQty": text(spec.min_qty),
                              "qtyStep": text(spec.qty_step)},
            "displayName": f"{spec.base}USDC-{spec.symbol.split('-', 1)[1]}",
        }  # fmt: skip
    funding = spec.perpetual
    return {
        "symbol": spec.symbol, "symbolId": spec.symbol_id, "contractType": spec.contract_type, "status": status,
        "baseCoin": spec.base, "quoteCoin": spec.quote, "launchTime": str(spec.launch_ms),
        "deliveryTime": str(spec.delivery_ms), "deliveryFeeRate": "" if funding else "0.0005",
        "priceScale": str(_places(spec.tick)),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": spec.max_leverage, "leverageStep": "0.01"},
        "priceFilter": {"minPrice": on_step(spec.tick, spec.tick),
                        "maxPrice": on_step(Decimal(1999999) * spec.tick * 10, spec.tick),
                        "tickSize": on_step(spec.tick, spec.tick)},
        "lotSizeFilter": {"maxOrderQty": on_step(spec.max_qty, spec.qty_step),
                          "minOrderQty": str(spec.min_qty), "qtyStep": str(spec.qty_step),
                          "postOnlyMaxOrderQty": on_step(spec.max_qty, spec.qty_step),
                          "maxMktOrderQty": on_step(spec.max_mkt_qty, spec.qty_step),
                          "minNotionalValue": text(spec.min_notional)},
        "unifiedMarginTrade": True, "fundingInterval": 480 if funding else 0, "settleCoin": spec.settle,
        "copyTrading": "both" if funding else "none", "upperFundingRate": "0.00375" if funding else "",
        "lowerFundingRate": "-0.00375" if funding else "", "displayName": "", "isPreListing": False,
        "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "symbolType": "",
    }  # fmt: skip


def ticker_json(market: BybitMarket, spec: Spec, now: float) -> dict[str, Any]:
    """Return one tickers entry as Bybit shows it for the symbol's category."""
    inst = market.instrument(spec)
    if spec.category == "option":
        return _option_ticker(market, spec, inst, now)
    t = ticker(market.model, spec.key, now)

    def px(x: float | None) -> str:
        return on_step(inst.round_price(x), spec.tick) if x is not None else ""

    def qty(x: float | None) -> str:
        return text(Decimal(repr(x))) if x is not None else ""

    last = Decimal(repr(t.last))
    prev24 = inst.round_price(t.open_24h)
    pcnt = fnum(float((last - prev24) / prev24), 6) if prev24 else "0"
    turnover = t.volume_24h / t.mid if inst.inverse else t.volume_24h * t.mid
    out: dict[str, Any] = {
        "symbol": spec.symbol, "bid1Price": px(t.best_bid), "bid1Size": qty(t.bid_qty),
        "ask1Price": px(t.best_ask), "ask1Size": qty(t.ask_qty), "lastPrice": on_step(last, spec.tick),
        "prevPrice24h": on_step(prev24, spec.tick), "price24hPcnt": pcnt, "highPrice24h": px(t.high_24h),
        "lowPrice24h": px(t.low_24h), "turnover24h": fnum(turnover, 4), "volume24h": fnum(t.volume_24h, 4),
    }  # fmt: skip
    if spec.category == "spot":
        out["usdIndexPrice"] = fnum(t.index, 8)
        return out
    hour_ago = market.model.mid(spec.key, now - HOUR)
    oi = market.open_interest(spec, now)
    oi_value = oi / t.mark if inst.inverse else oi * t.mark
    dated = not spec.perpetual
    basis = t.mark - t.index
    years = max((spec.delivery_ms / 1000 - now) / YEAR, 1e-9) if dated else 0.0
    out.update({
        "indexPrice": fnum(t.index, 2), "markPrice": px(t.mark), "prevPrice1h": px(hour_ago),
        "openInterest": fnum(oi, 4), "openInterestValue": fnum(oi_value, 2),
        "fundingRate": fnum(t.funding_rate, 8) if not dated else "",
        "nextFundingTime": str(ms(t.next_funding_time)) if t.next_funding_time is not None else "0",
        "predictedDeliveryPrice": "", "basisRate": fnum(basis / t.index, 8) if dated else "",
        "deliveryFeeRate": "0.0005" if dated else "", "deliveryTime": str(spec.delivery_ms),
        "basis": fnum(basis, 2) if dated else "", "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
        "fundingIntervalHour": "8" if not dated else "", "fundingCap": "0.00375" if not dated else "",
        "basisRateYear": fnum(basis / t.index / years, 8) if dated else "",
    })  # fmt: skip
    return out


def _option_ticker(market: BybitMarket, spec: Spec, inst: Instrument, now: float) -> dict[str, Any]:
    snap = market.model.option_snapshot(spec.key, now)
    bid_lots, ask_lots = market.model.book_lots(inst, now)
    # the mark now, 12 h and 24 h ago stand in for the 24 h range: a full day of option marks is costly
    hourly = [snap.mark_price, *(market.model.mid(spec.key, now - h * HOUR) for h in (12, 24))]

    def px(x: float | None) -> str:
        return on_step(inst.round_price(x), spec.tick) if x is not None else "0"

    return {
        "symbol": spec.symbol, "bid1Price": px(snap.bid),
        "bid1Size": text(inst.qty_of_lots(bid_lots[0])) if snap.bid else "0", "bid1Iv": _iv(snap.bid_iv),
        "ask1Price": px(snap.ask),
        "ask1Size": text(inst.qty_of_lots(ask_lots[0])) if snap.ask else "0", "ask1Iv": _iv(snap.ask_iv),
        "lastPrice": px(snap.mark_price), "highPrice24h": px(max(hourly)), "lowPrice24h": px(min(hourly)),
        "markPrice": fnum(snap.mark_price, 8), "indexPrice": fnum(snap.index, 2), "markIv": fnum(snap.mark_iv, 4),
        "underlyingPrice": fnum(snap.forward, 2), "openInterest": fnum(snap.open_interest, 2),
        "turnover24h": "0", "volume24h": "0", "totalVolume": "0", "totalTurnover": "0",
        "delta": fnum(snap.delta, 8), "gamma": fnum(snap.gamma, 8), "vega": fnum(snap.vega / 100, 8),
        "theta": fnum(snap.theta / 365, 8), "predictedDeliveryPrice": "0",
        "change24h": fnum((snap.mark_price - hourly[-1]) / hourly[-1], 6) if hourly[-1] else "0",
    }  # fmt: skip


def _iv(iv: float | None) -> str:
    # the engine backs a quote's IV out through vega, which explodes deep in the money; Bybit shows 0 then
    return fnum(iv, 4) if iv is not None and 0 < iv < 5 else "0"


def _places(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0
