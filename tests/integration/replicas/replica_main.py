"""A replica process: `cerbero_mcp`'s own entry point, on the fleet's clock (the tests' date at wall-clock speed).

The simulators run in the test process and check what only a shared clock makes agree (IBKR's OAuth
timestamps, market hours). Every process of a fleet, simulators included, runs on wall time shifted by
FLEET_CLOCK_OFFSET_S, so they agree to the millisecond whatever the machine's date. Nothing else differs
from `python -m cerbero_mcp` (the bench alone sets FLEET_LIFT_PACING, as scripts/bench/latency.py does).
"""

from __future__ import annotations

import importlib
import os
import sys
import time

from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.common.pacing import Limit


class OffsetClock:
    """Wall time shifted by a fixed offset: every process of a fleet agrees on it."""

    def __init__(self, offset_s: float) -> None:
        """Shift wall time by `offset_s` seconds."""
        self.offset_s = offset_s

    def now(self) -> float:
        """Return the shifted wall time in epoch seconds."""
        return time.time() + self.offset_s


def lift_pacing(venue: str) -> None:
    """Replace a venue's pacing table with limits no bench reaches (scripts/bench/replicas.py only)."""
    module = importlib.import_module(f"cerbero_mcp.exchanges.{venue}.client")
    for key in module.PACING:
        module.PACING[key] = Limit(10_000_000, 1.0, "lifted for the bench")


def main() -> int:
    """Run the gateway on the fleet's clock."""
    use_clock(OffsetClock(float(os.environ.get("FLEET_CLOCK_OFFSET_S", "0"))))
    if os.environ.get("FLEET_LIFT_PACING"):  # the bench measures the write path, not the venue's pacing
        lift_pacing(os.environ["FLEET_LIFT_PACING"])
    from cerbero_mcp.__main__ import main as serve

    return serve([])


if __name__ == "__main__":
    sys.exit(main())
