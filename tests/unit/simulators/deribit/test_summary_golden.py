"""The simulator's book summaries are exactly the rows recorded before they were optimised.

`summary_golden.json` holds, for one seed and two pinned instants of one market (a Friday 30 s
before the 08:00 weekly expiry, and the afternoon after it, when that expiry is gone and the next
weekly is listed), the leading 64 bits of a SHA-256 of every row's exact JSON and of each whole answer (so the order
counts too), plus the full text of a few rows (and those instruments' public/ticker, which shares the 24 h
statistics) so a failure shows what moved. It was written by the
code before the summaries were vectorised; regenerate it only on a deliberate change of the
simulated market:

    uv run python tests/unit/simulators/deribit/test_summary_golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cerbero_mcp.common.http import dumps_exact
from cerbero_mcp.simulators.deribit.market import DeribitMarket
from cerbero_mcp.simulators.engine import Instrument, ManualClock, MarketModel, Underlying

GOLDEN = Path(__file__).with_name("summary_golden.json")
SEED = 7
BUILT = datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp()  # Monday: the paths start at this UTC day
INSTANTS = (
    datetime(2026, 3, 6, 7, 59, 30, 500_000, tzinfo=UTC).timestamp(),  # 30 s before 6MAR26 expires
    datetime(2026, 3, 6, 13, 45, 12, 250_000, tzinfo=UTC).timestamp(),  # 6MAR26 expired, 3APR26 listed
)
CURRENCIES = ("BTC", "ETH", "USDC")
SHOWN = (  # rows kept whole: perpetuals, a future, options near and far, in and out of the money
    "BTC-PERPETUAL",
    "BTC_USDC-PERPETUAL",
    "BTC-27MAR26",
    "BTC-6MAR26-100000-C",
    "BTC-6MAR26-60000-P",
    "BTC-13MAR26-95000-P",
    "BTC-27MAR26-200000-C",
    "BTC-24SEP26-50000-P",
    "ETH-13MAR26-3500-C",
    "ETH-25DEC26-8000-C",
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]  # 64 bits tell rows apart; the file stays small


def answers() -> dict[str, Any]:
    """Return the digests and shown rows of every currency's summaries at both instants, in call order."""
    clock = ManualClock(BUILT)
    market = DeribitMarket(SEED, clock.now())
    answer_digests: dict[str, str] = {}
    row_digests: dict[str, dict[str, str]] = {}
    shown: dict[str, str] = {}
    tickers: dict[str, str] = {}
    for instant in INSTANTS:
        clock.set(instant)
        now = clock.now()
        market.ensure_listed(now)
        for currency in CURRENCIES:
            rows = market.book_summaries(currency, None, now)
            key = f"{now!r}|{currency}"
            answer_digests[key] = _digest(dumps_exact(rows))
            row_digests[key] = {}
            for row in rows:
                text = dumps_exact(row)
                row_digests[key][row["instrument_name"]] = _digest(text)
                if row["instrument_name"] in SHOWN:
                    shown[f"{now!r}|{row['instrument_name']}"] = text
        for name in SHOWN:  # the ticker shares the 24 h statistics and the marks
            if name in market.names(None, None, now):
                tickers[f"{now!r}|{name}"] = dumps_exact(market.ticker_json(name, now))
    return {"seed": SEED, "answers": answer_digests, "rows": row_digests, "shown": shown, "tickers": tickers}


def test_summaries_at_two_pinned_instants_are_the_recorded_rows_exactly() -> None:
    golden = json.loads(GOLDEN.read_text())
    got = answers()
    assert got["shown"] == golden["shown"]
    assert got["tickers"] == golden["tickers"]
    for key, rows in golden["rows"].items():
        assert list(got["rows"][key]) == list(rows), key  # the same instruments in the same order
        moved = [name for name, digest in rows.items() if got["rows"][key][name] != digest]
        assert not moved, (key, moved[:10])
    assert got["answers"] == golden["answers"]


def test_the_engine_prices_many_options_exactly_as_it_prices_each() -> None:
    """Marks, IVs and 24 h ranges of many options at once, on the frontier path and on the full one."""
    day = 86_400.0
    start = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    soon = start + 2 * day + 8 * 3600  # expires inside the window below: minutes after it are intrinsic
    model = MarketModel(
        5,
        [
            Underlying("Z", 100.0, vol=0.9, anchor=start, carry=0.03),  # no discounting: the frontier path
            Underlying("R", 50.0, vol=0.5, anchor=start, carry=0.01, rate=0.04),  # discounted: every minute priced
        ],
    )
    terms: list[tuple[str, str, float, Literal["call", "put"], bool, bool]] = [
        ("Z-C", "104", start + 9 * day, "call", False, False),
        ("Z-P", "91", start + 9 * day, "put", False, False),
        ("Z-C-COIN", "120", start + 30 * day, "call", True, False),
        ("Z-P-COIN", "70", start + 30 * day, "put", True, True),  # inverse: volume counted at each close
        ("Z-SOON", "100", soon, "call", True, False),
        ("R-C", "52", start + 9 * day, "call", False, False),
        ("R-P", "47", start + 9 * day, "put", True, False),
    ]
    for name, strike, expiry, kind, coin, inverse in terms:
        option = Instrument.option(
            name, name[0], expiry, strike, kind, "0.00000001", "0.1", premium_in_underlying=coin, inverse=inverse
        )
        model.add_instrument(option)
    options = [name for name, *_ in terms]
    now = soon + 3 * 3600 + 17.5
    minute = int(now // 60)
    live = [name for name in options if name != "Z-SOON"]
    assert model.option_mids(live, now) == [model.mid(name, now) for name in live]
    snaps = [model.option_snapshot(name, now) for name in live]
    assert model.option_forwards_and_ivs(live, now) == [(snap.forward, snap.mark_iv) for snap in snaps]
    opens, lows, highs, volumes = model.option_window_ranges(options, minute - 1440, minute)
    for i, name in enumerate(options):
        candles = model.candles(name, (minute - 1440) * 60.0, minute * 60.0, 60)
        tick = float(model.instrument(name).tick_size)
        got = [float(np.round(x / tick) * tick) for x in (opens[i], highs[i], lows[i])] + [volumes[i]]
        want = [candles.open[0], candles.high.max(), candles.low.min(), candles.volume.sum()]
        assert got == [float(x) for x in want], name
        assert highs[i] > lows[i], name  # the window moved: the comparison is not of constants


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    GOLDEN.write_text(json.dumps(answers(), indent=1) + "\n")
