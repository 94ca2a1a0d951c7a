"""Audit outcomes are honest: a venue failing while the gates read the account is an error, not a refusal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Literal

import httpx
from pydantic import ConfigDict

from cerbero_mcp.common.clock import utcnow
from cerbero_mcp.common.errors import UpstreamError
from cerbero_mcp.contracts import Book, Leg, ToolContext, ToolRequest, ToolResponse
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings
from cerbero_mcp.tooling import ToolSet
from support.lifespan import running
from support.tokens import auth


async def failing_book(ctx: ToolContext, legs: list[Leg]) -> Book:
    """The venue's account read fails (a 5xx) before anything is sent."""
    raise UpstreamError("flaky answered HTTP 503")


class Order(ToolRequest):
    """An order."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"side": "buy"}]})
    side: Literal["buy", "sell"]


class Ack(ToolResponse):
    """Never reached."""


async def legs(ctx: ToolContext, req: Order) -> list[Leg]:
    """One leg."""
    return [Leg("X", req.side, Decimal(1))]


TOOLS = ToolSet("flaky", book=failing_book)


@TOOLS.write("place_order", risk="opens", legs=legs)
async def place_order(ctx: ToolContext, req: Order) -> Ack:
    """Never reached: the gates fail first."""
    return Ack(data_timestamp=utcnow())


async def test_a_venue_error_during_the_gates_is_audited_as_error(settings: Settings) -> None:
    app = build_app(settings, [TOOLS])
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            response = await http.post("/mcp-flaky/tools/place_order", json={"side": "buy"}, headers=auth())
    assert response.status_code == 502
    assert settings.audit_log_file is not None
    records = [json.loads(line) for line in settings.audit_log_file.read_text().splitlines()]
    outcomes = [(r["outcome"], r["error_code"]) for r in records if r.get("action") == "place_order"]
    assert outcomes == [("error", "UPSTREAM_ERROR")]
