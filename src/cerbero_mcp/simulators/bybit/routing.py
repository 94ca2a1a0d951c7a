"""Plumbing shared by the Bybit simulator's handlers: the call, the path table entry, categories and paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cerbero_mcp.simulators.bybit.market import CATEGORIES, BybitMarket
from cerbero_mcp.simulators.bybit.trading import Trading
from cerbero_mcp.simulators.bybit.wire import BybitError, Params, make_cursor, param_error, read_cursor

T = TypeVar("T")


class Venue(Protocol):
    """What handlers need of a simulator instance."""

    market: BybitMarket
    trading: Trading
    created_ms: int


@dataclass
class Call:
    """What a handler gets: the parameters, the pinned instant and the venue."""

    params: Params
    now: float
    venue: Venue

    @property
    def trading(self) -> Trading:
        """Return the venue's account."""
        return self.venue.trading

    @property
    def market(self) -> BybitMarket:
        """Return the venue's market."""
        return self.venue.market


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Endpoint:
    """One path of the API: its method, whether it is signed, its handler and whether demo serves it."""

    method: str
    private: bool
    handler: Handler
    demo: bool = True


@dataclass(frozen=True)
class WithExt:
    """A result that also fills `retExtInfo` (create-batch)."""

    result: Any
    ext: Any


def category(p: Params, allowed: Sequence[str] = CATEGORIES, default: str | None = None) -> str:
    """Return the `category` parameter, or 10001 "Illegal category"."""
    value = p.raw.get("category")
    if value is None or value == "":
        if default is not None:
            return default
        raise param_error("params error: category is required")
    if value not in allowed:
        raise BybitError(10001, "Illegal category")
    return str(value)


def page(items: list[T], key: Callable[[T], str], limit: int, cursor: str | None) -> tuple[list[T], str]:
    """Return one page of `items` after the cursor, and the next cursor ("" at the end).

    `items` come in ascending `key` order; the cursor carries the last key served, so the next page
    starts after it even when items came or went in between (an order filled between two pages).
    """
    rest = items
    if cursor:
        last = read_cursor(cursor, "page_args")["page_args"]
        rest = [x for x in items if key(x) > last]
    chunk = rest[:limit]
    return chunk, make_cursor(page_args=key(chunk[-1])) if len(rest) > limit else ""
