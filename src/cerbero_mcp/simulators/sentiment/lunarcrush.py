"""LunarCrush API v4 (lunarcrush.com/api4, documented at lunarcrush.com/developers/api/endpoints).

- `GET /api4/public/coins/{coin}/v1`: market data and scores of a coin (`coin` is the numeric id or
  the symbol, any case): `{"config": {"id": "coins:<id>", "name", "symbol", "topic", "generated"},
  "data": {"id", "name", "symbol", "price", "price_btc", "market_cap", "percent_change_24h",
  "percent_change_7d", "percent_change_30d", "volume_24h", "max_supply", "circulating_supply",
  "close", "galaxy_score", "alt_rank", "volatility", "market_cap_rank"}}`.
- `GET /api4/public/coins/{coin}/time-series/v2`: `bucket=hour|day` (default hour), `interval=1d|1w|
  1m|3m|6m|1y|all` (default 1w) or `start`/`end` (unix seconds; they win over `interval`) →
  `{"config": {"coin", "topic", "id", "name", "symbol", "interval", "start", "end", "bucket",
  "metrics", "generated"}, "data": [{"time", "contributors_active", "contributors_created",
  "interactions", "posts_active", "posts_created", "sentiment", "spam", "alt_rank",
  "circulating_supply", "close", "galaxy_score", "high", "low", "market_cap", "market_dominance",
  "open", "social_dominance", "volume_24h"}]}`, oldest first, one point per bucket up to the bucket
  in progress (never past now).
- `GET /api4/public/coins/list/v1`: the universe snapshot with `interactions_24h`,
  `social_volume_24h`, `social_dominance`, `sentiment`, `galaxy_score`, `alt_rank`… (`sort`, `limit`,
  `page`, `desc`).
- Auth: `Authorization: Bearer <key>` (or `?key=`); missing or unknown: 401. Limits per key (the
  Individual plan): 10 calls a minute and 2000 a day in calendar windows, told on every answer by
  `x-rate-limit-minute`, `-minute-remaining`, `-minute-reset` (unix s), `x-rate-limit-day`,
  `-day-remaining`, `-day-reset`; over either: 429.

Scores follow the documented ranges: `galaxy_score` 0-100, `alt_rank` 1..`UNIVERSE` (lower is
better), `sentiment` 0-100 (% of interaction-weighted posts that are positive), `social_dominance`
a percent of all social volume. Prices walk on the shared engine's price paths; the social series
are hourly draws of (seed, coin, day), so every value is a pure function of the seed and the hour.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cerbero_mcp.simulators.engine.paths import DAY, DAY_MINUTES, FloatArray, PricePath, rng_for

HOUR = 3600
HISTORY_START = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
PRICE_ANCHOR = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
UNIVERSE = 4200
INTERVALS = {"1d": 1, "1w": 7, "1m": 30, "3m": 91, "6m": 182, "1y": 365}
BUCKETS = ("hour", "day")
RATE_LIMIT_PER_MIN = 10
RATE_LIMIT_PER_DAY = 2000
UNAUTHORIZED = {"error": "Unauthorized: a valid API key is required (Authorization: Bearer <key>)"}
RATE_LIMITED = {"error": "Too Many Requests: rate limit exceeded for your plan"}


@dataclass(frozen=True, slots=True)
class LcCoin:
    """A coin LunarCrush tracks, with what its series are drawn around."""

    id: int
    symbol: str
    name: str
    topic: str
    price: float  # at PRICE_ANCHOR
    vol: float  # annualised
    supply: float
    max_supply: float | None
    rank: int  # market cap rank
    interactions_h: float  # typical interactions an hour
    dominance: float  # typical social dominance, percent
    galaxy: float  # typical galaxy score
    categories: str


COINS = (
    LcCoin(1, "BTC", "Bitcoin", "bitcoin", 94e3, 0.55, 19.88e6, 21e6, 1, 4.2e6, 18.0, 66, "layer-1,bitcoin,pow"),
    LcCoin(2, "ETH", "Ethereum", "ethereum", 3350.0, 0.70, 120.7e6, None, 2, 1.6e6, 9.5, 63, "layer-1,smart-contracts"),
    LcCoin(3, "XRP", "XRP", "xrp", 2.30, 0.85, 57e9, 100e9, 4, 9e5, 4.2, 58, "layer-1,payments"),
    LcCoin(4, "BNB", "BNB", "bnb", 700.0, 0.60, 145e6, 200e6, 5, 3.5e5, 1.4, 55, "layer-1,exchange-tokens"),
    LcCoin(5, "SOL", "Solana", "solana", 190.0, 0.90, 480e6, None, 6, 1.1e6, 5.5, 61, "layer-1,solana-ecosystem"),
    LcCoin(6, "DOGE", "Dogecoin", "dogecoin", 0.32, 1.00, 147e9, None, 8, 7e5, 3.1, 57, "meme,pow"),
    LcCoin(7, "ADA", "Cardano", "cardano", 0.90, 0.90, 35e9, 45e9, 9, 3e5, 1.2, 54, "layer-1"),
    LcCoin(8, "HYPE", "Hyperliquid", "hyperliquid", 20.0, 1.20, 334e6, 1e9, 12, 4.2e5, 1.6, 60, "defi,perps"),
    LcCoin(9, "LINK", "Chainlink", "chainlink", 20.0, 0.95, 638e6, 1e9, 14, 1.8e5, 0.8, 56, "oracles,defi"),
    LcCoin(10, "AVAX", "Avalanche", "avalanche", 37.0, 1.00, 411e6, 720e6, 16, 1.5e5, 0.7, 53, "layer-1"),
)  # fmt: skip
BY_SYMBOL = {c.symbol: c for c in COINS}
BY_ID = {c.id: c for c in COINS}

# the hourly social fields, the day bucket's aggregation of each
SUMMED = ("interactions", "posts_created", "contributors_created", "spam")
PEAKED = ("posts_active", "contributors_active")
AVERAGED = ("sentiment", "galaxy_score", "social_dominance")


class LunarCrushError(Exception):
    """A LunarCrush error answer: HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        """Keep the status and body."""
        super().__init__(str(body))
        self.status = status
        self.body = body


def find_coin(raw: str) -> LcCoin | None:
    """Return the coin named by a numeric id or a symbol (any case)."""
    text = raw.strip()
    if text.isdigit():
        return BY_ID.get(int(text))
    return BY_SYMBOL.get(text.upper())


class LunarCrushModel:
    """The coins' price paths and social series under one seed."""

    def __init__(self, seed: int) -> None:
        """Build the price path of every coin."""
        self.seed = seed
        self.paths = {c.symbol: PricePath(seed, f"lunarcrush-{c.symbol}", c.price, c.vol, PRICE_ANCHOR) for c in COINS}
        self.moods = {c.symbol: PricePath(seed, f"lunarcrush-mood-{c.symbol}", 1.0, 2.5, PRICE_ANCHOR) for c in COINS}
        self._social = functools.lru_cache(maxsize=4096)(self._social_day)

    # --- prices ----------------------------------------------------------------------------------

    def price(self, coin: LcCoin, t: float) -> float:
        """Return the coin's USD price at `t`."""
        return math.exp(self.paths[coin.symbol].log_at(t))

    def ohlc(self, coin: LcCoin, t0: float, t1: float) -> tuple[float, float, float, float]:
        """Return open, high, low, close over [t0, t1] (t1 > t0)."""
        path = self.paths[coin.symbol]
        m0, m1 = math.floor(t0 / 60), math.ceil(t1 / 60)
        times, logs, _ = path.minutes(m0, m1)
        inside = logs[times <= t1]
        last = path.log_at(t1)
        high = max(float(inside.max()) if inside.size else last, last)
        low = min(float(inside.min()) if inside.size else last, last)
        return math.exp(path.log_at(t0)), math.exp(high), math.exp(low), math.exp(last)

    # --- social series ---------------------------------------------------------------------------

    def _social_day(self, symbol: str, day: int) -> dict[str, FloatArray]:
        """Return the 24 hourly values of every social field of one UTC day."""
        coin = BY_SYMBOL[symbol]
        rng = rng_for(self.seed, "lunarcrush-social", symbol, day)
        hours = np.arange(24)
        # a slow mood (the shared engine's walk, squashed) and a daily rhythm drive every series
        mood = math.tanh(self.moods[symbol].log_at_day_start(day))
        rhythm = 1.0 + 0.35 * np.sin((hours - 9) / 24 * 2 * np.pi)
        level = math.exp(0.4 * mood) * rhythm * np.exp(0.25 * rng.standard_normal(24))
        interactions = coin.interactions_h * level
        posts_active = interactions / rng.uniform(80, 120, 24)
        contributors_active = posts_active * rng.uniform(0.45, 0.6, 24)
        posts_created = posts_active * rng.uniform(0.03, 0.06, 24)
        contributors_created = posts_created * rng.uniform(0.7, 0.9, 24)
        spam = posts_created * rng.uniform(0.05, 0.25, 24)
        sentiment = np.clip(72 + 12 * mood + 4 * rng.standard_normal(24), 0, 100)
        galaxy = np.clip(coin.galaxy + 14 * mood + 5 * rng.standard_normal(24), 0, 100)
        dominance = np.clip(coin.dominance * level / rhythm, 0.01, 100)
        return {
            "interactions": np.rint(interactions),
            "posts_active": np.rint(posts_active),
            "contributors_active": np.rint(contributors_active),
            "posts_created": np.rint(posts_created),
            "contributors_created": np.rint(contributors_created),
            "spam": np.rint(spam),
            "sentiment": np.rint(sentiment),
            "galaxy_score": np.round(galaxy, 1),
            "social_dominance": np.round(dominance, 4),
            "galaxy_raw": galaxy,
        }

    def social_hour(self, coin: LcCoin, hour: int, seen: float | None = None) -> dict[str, float]:
        """Return the social fields of one hour bucket (hour = epoch seconds // 3600) as seen at `seen`.

        An hour still in progress at `seen` has counted only its elapsed part of the posts,
        interactions and spam (its rates and scores are already the hour's).
        """
        day, h = divmod(hour, 24)
        block = self._social(coin.symbol, day)
        out = {name: float(values[h]) for name, values in block.items()}
        if seen is not None and seen < (hour + 1) * HOUR:
            elapsed = max(0.0, seen - hour * HOUR) / HOUR
            for name in SUMMED:
                out[name] = float(round(out[name] * elapsed))
        return out

    def alt_rank(self, coin: LcCoin, galaxy: float) -> int:
        """Return AltRank from a galaxy score: 1 is the best of `UNIVERSE` coins."""
        share = 1.0 / (1.0 + math.exp((galaxy - 50.0) / 6.0))
        return max(1, min(UNIVERSE, round(UNIVERSE * share)))

    # --- answers ---------------------------------------------------------------------------------

    def point(self, coin: LcCoin, start: float, end: float, bucket: str) -> dict[str, Any]:
        """Return one time-series point for the bucket [start, end) seen at `end` (≤ its nominal end)."""
        first, last = math.floor(start / HOUR), math.floor((end - 1e-6) / HOUR)
        hours = [self.social_hour(coin, h, end) for h in range(first, last + 1)]
        out: dict[str, Any] = {"time": int(start)}
        for name in ("contributors_active", "contributors_created", "interactions", "posts_active", "posts_created"):
            values = [h[name] for h in hours]
            out[name] = int(max(values) if name in PEAKED else sum(values))
        out["sentiment"] = round(sum(h["sentiment"] for h in hours) / len(hours))
        out["spam"] = int(sum(h["spam"] for h in hours))
        galaxy = sum(h["galaxy_raw"] for h in hours) / len(hours)
        out["alt_rank"] = self.alt_rank(coin, hours[-1]["galaxy_raw"])
        out["circulating_supply"] = coin.supply
        o, hi, lo, c = self.ohlc(coin, start, end)
        out["close"] = round(c, 6)
        out["galaxy_score"] = round(galaxy, 1) if bucket == "day" else hours[-1]["galaxy_score"]
        out["high"] = round(hi, 6)
        out["low"] = round(lo, 6)
        out["market_cap"] = round(c * coin.supply, 2)
        out["market_dominance"] = round(100 * c * coin.supply / self.total_market_cap(end), 4)
        out["open"] = round(o, 6)
        dominance = sum(h["social_dominance"] for h in hours) / len(hours)
        out["social_dominance"] = round(dominance, 4)
        out["volume_24h"] = round(c * coin.supply * 0.02 * (1 + 0.5 * math.tanh(hours[-1]["galaxy_raw"] / 50 - 1)), 2)
        return out

    def total_market_cap(self, t: float) -> float:
        """Return the whole market's cap on `t`'s UTC day: the tracked coins at the day's open plus a 25% long tail."""
        # day-start prices are O(1) on the engine's paths; a per-minute total would draw every coin's day
        day = math.floor(t / DAY)
        return 1.25 * sum(math.exp(self.paths[c.symbol].log_at_day_start(day)) * c.supply for c in COINS)

    def series(self, coin: LcCoin, params: Mapping[str, str], now: float) -> dict[str, Any]:
        """Answer /coins/{coin}/time-series/v2 at `now`."""
        bucket = params.get("bucket") or "hour"
        if bucket not in BUCKETS:
            raise LunarCrushError(400, {"error": f"Invalid bucket: {bucket} (hour or day)"})
        step = HOUR if bucket == "hour" else DAY
        interval = params.get("interval") or "1w"
        if interval != "all" and interval not in INTERVALS:
            raise LunarCrushError(400, {"error": f"Invalid interval: {interval}"})
        try:
            start_raw = int(params["start"]) if params.get("start") else None
            end_raw = int(params["end"]) if params.get("end") else None
        except ValueError:
            raise LunarCrushError(400, {"error": "start and end must be unix timestamps"}) from None
        end = min(float(end_raw), now) if end_raw is not None else now
        if start_raw is not None:
            start = float(start_raw)
        elif end_raw is not None:
            start = end - INTERVALS.get(interval, 7) * DAY if interval != "all" else HISTORY_START
        else:
            start = HISTORY_START if interval == "all" else end - INTERVALS[interval] * DAY
        start = max(start, HISTORY_START)
        first = math.floor(start / step) * step
        data: list[dict[str, Any]] = []
        t = first
        while t <= end:
            seen = min(t + step, now)
            if seen > t:
                data.append(self.point(coin, t, seen, bucket))
            t += step
        config = {
            "coin": str(coin.id),
            "topic": coin.topic,
            "id": f"coins:{coin.id}",
            "name": coin.name,
            "symbol": coin.symbol,
            "interval": interval,
            "start": int(first),
            "end": int(end),
            "bucket": bucket,
            "metrics": [],
            "generated": int(now),
        }
        return {"config": config, "data": data}

    def _change(self, coin: LcCoin, now: float, days: float) -> float:
        before = self.price(coin, now - days * DAY)
        return round((self.price(coin, now) / before - 1) * 100, 12)

    def _volatility(self, coin: LcCoin, now: float) -> float:
        path = self.paths[coin.symbol]
        m1 = math.floor(now / 60)
        _, logs, _ = path.minutes(m1 - DAY_MINUTES, m1)
        returns = np.diff(logs[:, 3])
        return round(float(np.std(returns)) * math.sqrt(DAY_MINUTES / 60), 4)

    def coin(self, coin: LcCoin, now: float) -> dict[str, Any]:
        """Answer /coins/{coin}/v1 at `now`."""
        price = self.price(coin, now)
        social = self.social_hour(coin, math.floor(now / HOUR))
        data = {
            "id": coin.id,
            "name": coin.name,
            "symbol": coin.symbol,
            "price": price,
            "price_btc": price / self.price(BY_SYMBOL["BTC"], now),
            "market_cap": round(price * coin.supply, 2),
            "percent_change_24h": self._change(coin, now, 1),
            "percent_change_7d": self._change(coin, now, 7),
            "percent_change_30d": self._change(coin, now, 30),
            "volume_24h": round(price * coin.supply * 0.02, 2),
            "max_supply": coin.max_supply,
            "circulating_supply": coin.supply,
            "close": price,
            "galaxy_score": social["galaxy_score"],
            "alt_rank": self.alt_rank(coin, social["galaxy_raw"]),
            "volatility": self._volatility(coin, now),
            "market_cap_rank": coin.rank,
        }
        config = {
            "id": f"coins:{coin.id}",
            "name": coin.name,
            "symbol": coin.symbol,
            "topic": coin.topic,
            "generated": int(now),
        }
        return {"config": config, "data": data}

    def list_entry(self, coin: LcCoin, now: float) -> dict[str, Any]:
        """Return one coin's row of /coins/list/v1 at `now`."""
        hour = math.floor(now / HOUR)
        # a rolling 24 hours: the hour in progress so far, and the part of the hour 24 h ago still inside
        window = [self.social_hour(coin, h, now) for h in range(hour - 24, hour + 1)]
        tail = 1.0 - (now - hour * HOUR) / HOUR
        counted = {name: window[0][name] * tail + sum(h[name] for h in window[1:]) for name in SUMMED}
        last_day = window[1:]
        prev_day = [self.social_hour(coin, h) for h in range(hour - 47, hour - 23)]
        price = self.price(coin, now)
        cap = price * coin.supply
        total = self.total_market_cap(now)
        return {
            "id": coin.id,
            "symbol": coin.symbol,
            "name": coin.name,
            "price": price,
            "price_btc": price / self.price(BY_SYMBOL["BTC"], now),
            "volume_24h": round(cap * 0.02, 2),
            "volatility": self._volatility(coin, now),
            "circulating_supply": coin.supply,
            "max_supply": coin.max_supply,
            "percent_change_1h": self._change(coin, now, 1 / 24),
            "percent_change_24h": self._change(coin, now, 1),
            "percent_change_7d": self._change(coin, now, 7),
            "market_cap": round(cap, 2),
            "market_cap_rank": coin.rank,
            "interactions_24h": round(counted["interactions"]),
            "social_volume_24h": round(counted["posts_created"]),
            "social_dominance": sum(h["social_dominance"] for h in last_day) / 24,
            "market_dominance": 100 * cap / total,
            "market_dominance_prev": 100 * self.price(coin, now - DAY) * coin.supply / self.total_market_cap(now - DAY),
            "galaxy_score": last_day[-1]["galaxy_score"],
            "galaxy_score_previous": prev_day[-1]["galaxy_score"],
            "alt_rank": self.alt_rank(coin, last_day[-1]["galaxy_raw"]),
            "alt_rank_previous": self.alt_rank(coin, prev_day[-1]["galaxy_raw"]),
            "sentiment": round(sum(h["sentiment"] for h in last_day) / 24),
            "categories": coin.categories,
            "blockchains": [],
            "percent_change_30d": self._change(coin, now, 30),
            "last_updated_price": int(now),
            "last_updated_price_by": "simulator",
            "topic": f"{coin.symbol.lower()} {coin.topic}",
            "logo": f"https://cdn.lunarcrush.com/{coin.topic}.png",
        }

    def coins_list(self, params: Mapping[str, str], now: float) -> dict[str, Any]:
        """Answer /coins/list/v1 at `now`."""
        sort = params.get("sort") or "market_cap_rank"
        rows = [self.list_entry(c, now) for c in COINS]
        if rows and sort not in rows[0]:
            raise LunarCrushError(400, {"error": f"Invalid sort: {sort}"})
        desc = "desc" in params
        rows.sort(key=lambda r: (r[sort] is None, r[sort]), reverse=desc)
        try:
            limit = int(params.get("limit") or 10)
            page = int(params.get("page") or 0)
        except ValueError:
            raise LunarCrushError(400, {"error": "limit and page must be integers"}) from None
        limit = max(1, min(limit, 1000))
        chunk = rows[page * limit : (page + 1) * limit]
        config = {
            "sort": sort,
            "desc": desc,
            "limit": limit,
            "page": page,
            "total_rows": len(rows),
            "generated": int(now),
        }
        return {"config": config, "data": chunk}
