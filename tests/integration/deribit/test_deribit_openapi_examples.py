"""Swagger's Deribit examples follow the clock: /openapi.json is rebuilt when the UTC date changes."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from cerbero_mcp.common.clock import use_clock
from cerbero_mcp.exchanges.deribit.tools import TOOLS
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.simulators.engine import ManualClock
from support.lifespan import running

COMBO = "/mcp-deribit/tools/place_combo_order"


async def combo_legs(http: httpx.AsyncClient) -> tuple[list[str], list[str]]:
    """Return the legs of the served combo example: the request body's and the model schema's."""
    schema = (await http.get("/openapi.json")).json()
    body = schema["paths"][COMBO]["post"]["requestBody"]["content"]["application/json"]
    served = [leg["instrument"] for leg in body["examples"]["default"]["value"]["legs"]]
    model = [leg["instrument"] for leg in schema["components"]["schemas"]["ComboOrderRequest"]["examples"][0]["legs"]]
    return served, model


async def test_the_served_examples_move_to_the_next_quarterly_at_midnight_utc(settings: Settings) -> None:
    december = ["BTC-25DEC26-100000-C", "BTC-25DEC26-120000-C"]
    march = ["BTC-26MAR27-100000-C", "BTC-26MAR27-120000-C"]
    clock = ManualClock(datetime(2026, 12, 11, 23, 59, tzinfo=UTC).timestamp())  # 25 DEC is two weeks away
    previous = use_clock(clock)
    try:
        app = build_app(settings, [TOOLS])
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
                assert await combo_legs(http) == (december, december)
                cached = app.openapi_schema
                clock.advance(30)
                assert await combo_legs(http) == (december, december)
                assert app.openapi_schema is cached  # built once a day, not per request
                clock.advance(60)  # 00:00:30 on the 12th: 25 DEC is now under two weeks away
                assert await combo_legs(http) == (march, march)
    finally:
        use_clock(previous)
