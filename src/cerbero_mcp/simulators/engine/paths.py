"""Deterministic price paths: ln(price) of an underlying as a pure function of (seed, name, t).

The path is a Gaussian random walk over 1-minute buckets, generated in three levels so that any
minute is reachable in O(1) without walking from the anchor:

- an *era* (1024 days) gets its total log-return from a generator seeded by hash(seed, name, era);
  era starts chain from the anchor (a few dozen additions per century, cached);
- the era's 1024 daily returns are drawn with a per-day volatility multiplier and conditioned on the
  era total (a Gaussian bridge: subtract each day's share of the residual, weighted by variance);
- a day's 1440 minute returns are drawn from hash(seed, name, day) and conditioned the same way on
  the day's return, so a day block is independent of every other day once its endpoints are known.

Inside each minute the path has four vertices: open, then the high and the low (in a seeded order,
at seeded fractions of the minute), then close. High and low are sampled from the exact law of the
maximum and minimum of a Brownian bridge between open and close. Between vertices the log-price is
linear, so the path's extremes over any interval are at vertices and candles built from vertices
agree exactly with the mid at every instant. Everything is vectorised per day block; a year of
minutes is 365 blocks.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

MINUTE = 60
DAY = 86_400
DAY_MINUTES = 1440
ERA_DAYS = 1024
YEAR = 365.0 * DAY
VOL_OF_DAY = 0.3  # dispersion of the per-day volatility multiplier (log scale)

FloatArray = NDArray[np.float64]


def seed_int(*parts: object) -> int:
    """Return a stable 128-bit integer for `parts` (Python's hash() is salted per process)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "little")


def rng_for(*parts: object) -> np.random.Generator:
    """Return a numpy Generator seeded by a stable hash of `parts`."""
    return np.random.default_rng(seed_int(*parts))


@dataclass(frozen=True, slots=True)
class DayBlock:
    """The 1440 minutes of one UTC day: vertex log-prices, vertex times (fraction of the minute), volume factor."""

    logs: FloatArray  # (1440, 4): open, first extreme, second extreme, close
    fracs: FloatArray  # (1440, 4): 0, f1, f2, 1
    volume: FloatArray  # (1440,): mean-one activity factor, larger on bigger moves


K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """Return the cached value or None."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Store `value`, evicting the least recently used entry when full."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class PricePath:
    """The log-price path of one underlying under one seed."""

    def __init__(self, seed: int, name: str, price: float, vol: float, anchor: float) -> None:
        """Anchor the walk at `price` on the UTC day containing `anchor`; `vol` is annualised."""
        self.seed = seed
        self.name = name
        self.log0 = math.log(price)
        self.sigma_min = vol * math.sqrt(MINUTE / YEAR)
        self.sigma_day = self.sigma_min * math.sqrt(DAY_MINUTES)
        self.anchor_day = math.floor(anchor / DAY)
        self._era_start: dict[int, float] = {0: 0.0}
        self._eras: LRU[int, tuple[FloatArray, FloatArray, FloatArray]] = LRU(8)
        self._days: LRU[int, DayBlock] = LRU(96)
        self._lock = threading.Lock()

    # --- era level ----------------------------------------------------------------------------

    def _era_total(self, era: int) -> float:
        z = float(rng_for(self.seed, self.name, "era-total", era).standard_normal())
        return z * self.sigma_day * math.sqrt(ERA_DAYS)

    def _era_offset(self, era: int) -> float:
        with self._lock:
            if era in self._era_start:
                return self._era_start[era]
            step = 1 if era > 0 else -1
            e = era
            while e not in self._era_start:
                e -= step
            w = self._era_start[e]
            while e != era:
                if step > 0:
                    w += self._era_total(e)
                    e += 1
                else:
                    e -= 1
                    w -= self._era_total(e)
                self._era_start[e] = w
            return w

    def _era(self, era: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (day start offsets, day vol multipliers, day returns) of an era."""
        cached = self._eras.get(era)
        if cached is not None:
            return cached
        rng = rng_for(self.seed, self.name, "era", era)
        z = rng.standard_normal(ERA_DAYS)
        mult = np.exp(VOL_OF_DAY * rng.standard_normal(ERA_DAYS) - VOL_OF_DAY**2)
        s = self.sigma_day * mult
        ret = s * z
        var = s * s
        ret += var / var.sum() * (self._era_total(era) - ret.sum())
        starts = self._era_offset(era) + np.concatenate(([0.0], np.cumsum(ret)[:-1]))
        value = (starts, mult, ret)
        self._eras.put(era, value)
        return value

    def _day_start(self, day: int) -> tuple[float, float, float]:
        """Return (log-price at the day's start, the day's vol multiplier, the day's return)."""
        era, j = divmod(day - self.anchor_day, ERA_DAYS)
        starts, mult, ret = self._era(era)
        return self.log0 + float(starts[j]), float(mult[j]), float(ret[j])

    def log_at_day_start(self, day: int) -> float:
        """Return ln(price) at 00:00 UTC of epoch day `day` (O(1): no minute block is drawn)."""
        return self._day_start(day)[0]

    def log_at_day_starts(self, days: NDArray[np.int64]) -> FloatArray:
        """Return ln(price) at 00:00 UTC of each epoch day in `days`, vectorised per era."""
        eras, offsets = np.divmod(np.asarray(days, dtype=np.int64) - self.anchor_day, ERA_DAYS)
        out = np.empty(len(offsets))
        for era in np.unique(eras):
            mask = eras == era
            out[mask] = self.log0 + self._era(int(era))[0][offsets[mask]]
        return out

    # --- day level ----------------------------------------------------------------------------

    def day(self, day: int) -> DayBlock:
        """Return the block of UTC day number `day` (epoch days)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        start, mult, total = self._day_start(day)
        end = self._day_start(day + 1)[0]
        rng = rng_for(self.seed, self.name, "day", day)
        sigma = self.sigma_min * mult
        x = sigma * rng.standard_normal(DAY_MINUTES)
        u = rng.random((DAY_MINUTES, 6))
        x += (total - x.sum()) / DAY_MINUTES
        bounds = start + np.concatenate(([0.0], np.cumsum(x)))
        bounds[-1] = end  # exact continuity with the next day
        o, c = bounds[:-1], bounds[1:]
        move = c - o
        var = sigma * sigma
        hi = o + (move + np.sqrt(move * move - 2.0 * var * np.log1p(-u[:, 0]))) / 2.0
        lo = o + (move - np.sqrt(move * move - 2.0 * var * np.log1p(-u[:, 1]))) / 2.0
        high_first = u[:, 2] < 0.5
        first = np.where(high_first, hi, lo)
        second = np.where(high_first, lo, hi)
        logs = np.stack([o, first, second, c], axis=1)
        f1 = 0.1 + 0.35 * u[:, 3]
        f2 = 0.55 + 0.35 * u[:, 4]
        fracs = np.stack([np.zeros(DAY_MINUTES), f1, f2, np.ones(DAY_MINUTES)], axis=1)
        volume = (0.5 + u[:, 5]) * (0.5 + 0.625 * np.abs(move) / sigma)
        block = DayBlock(logs, fracs, volume)
        self._days.put(day, block)
        return block

    # --- queries ------------------------------------------------------------------------------

    def log_at(self, t: float) -> float:
        """Return ln(price) at epoch seconds `t`."""
        m = math.floor(t / MINUTE)
        day, i = divmod(m, DAY_MINUTES)
        block = self.day(day)
        frac = (t - m * MINUTE) / MINUTE
        fr = block.fracs[i]
        lg = block.logs[i]
        k = 0 if frac <= fr[1] else (1 if frac <= fr[2] else 2)
        a, b = float(fr[k]), float(fr[k + 1])
        la, lb = float(lg[k]), float(lg[k + 1])
        return la + (lb - la) * (frac - a) / (b - a)

    def minutes(self, m0: int, m1: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return (vertex times (n,4) epoch s, vertex log-prices (n,4), volume factors (n,)) for minutes [m0, m1)."""
        n = m1 - m0
        if n <= 0:
            empty = np.empty((0, 4))
            return empty, empty, np.empty(0)
        d0, d1 = m0 // DAY_MINUTES, (m1 - 1) // DAY_MINUTES
        blocks = [self.day(d) for d in range(d0, d1 + 1)]
        if len(blocks) == 1:
            logs, fracs, vol = blocks[0].logs, blocks[0].fracs, blocks[0].volume
        else:
            logs = np.concatenate([b.logs for b in blocks])
            fracs = np.concatenate([b.fracs for b in blocks])
            vol = np.concatenate([b.volume for b in blocks])
        lo = m0 - d0 * DAY_MINUTES
        sl = slice(lo, lo + n)
        starts = np.arange(m0, m1, dtype=np.float64)[:, None] * MINUTE
        return starts + fracs[sl] * MINUTE, logs[sl], vol[sl]
