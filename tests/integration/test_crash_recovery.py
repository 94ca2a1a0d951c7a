"""`kill -9` of a real server process mid-load, then a restart on the same files (scripts/bench/crash_recovery.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "bench"))
import crash_recovery


async def test_a_killed_server_leaves_no_order_unaudited_doubled_or_pending() -> None:
    outcome = await crash_recovery.run(clients=100, kill_after_s=2.0)
    summary = outcome.summary()
    assert outcome.venue_orders > 0, summary
    assert outcome.lost_in_crash > 0, summary  # the kill landed under load
    assert outcome.duplicates == [], summary
    assert outcome.without_intent == [], summary
    assert outcome.pending_after_restart == 0, summary
    assert outcome.verify.get("ok") is True, summary
    assert set(outcome.answered.values()) <= {200, 504}, summary  # placed, or replayed as "may have been placed"
