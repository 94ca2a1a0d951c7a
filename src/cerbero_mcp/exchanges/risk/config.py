"""The risk desk's settings: none of its own (the gates' settings are the platform's, see `settings.py`)."""

from __future__ import annotations

from cerbero_mcp.venue_settings import ProviderSettings

# MAX_TOTAL_NOTIONAL_USD, MAX_NET_DELTA_USD, PDT_GUARD, TRADING_WINDOWS, REQUIRE_APPROVAL_ABOVE_USD,
# APPROVAL_TTL_S and RISK_VENUE_TIMEOUT_S are write-pipeline settings, declared with the other limits.
PROVIDER_SETTINGS = ProviderSettings(name="risk", title="Risk desk (cross-venue reads)", settings=())
