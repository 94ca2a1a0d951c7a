"""ToolSet declarations: names, models, examples and docstrings are checked when declared."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ConfigDict

from cerbero_mcp.common.errors import InvalidInputError
from cerbero_mcp.contracts import Book, Leg
from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.tooling import ToolContext, ToolRequest, ToolResponse, ToolSet
from support import toy


class WithExamples(ToolRequest):
    """Has examples."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"x": 1}]})
    x: int


class WithoutExamples(ToolRequest):
    """Has none."""

    x: int


def test_spec_takes_models_from_annotations_and_summary_from_docstring() -> None:
    spec = toy.TOOLS.get("place_order")
    assert spec is not None
    # An opening write's model gains `approval_id` (issue 20): the declared model, extended.
    assert issubclass(spec.request_model, toy.PlaceOrderRequest)
    assert "approval_id" in spec.request_model.model_fields
    assert spec.request_model.__name__ == "PlaceOrderRequest"
    assert spec.response_model is toy.OrderAck
    assert spec.summary == "Place an order on the toy venue"
    assert spec.kind == "write"
    assert spec.mcp_name == "toy_place_order"
    assert spec.path == "/mcp-toy/tools/place_order"
    assert spec.examples()[0]["symbol"] == "BTC-TOY"


def test_declaring_a_tool_twice_fails() -> None:
    tools = ToolSet("dup")

    async def first(ctx: ToolContext, req: WithExamples) -> ToolResponse:
        """First."""
        raise NotImplementedError

    tools.read("a")(first)
    with pytest.raises(ValueError, match="declared twice"):
        tools.read("a")(first)


def test_request_model_must_have_examples() -> None:
    async def tool(ctx: ToolContext, req: WithoutExamples) -> ToolResponse:
        """Doc."""
        raise NotImplementedError

    with pytest.raises(TypeError, match="needs json_schema_extra examples"):
        ToolSet("v").read("t")(tool)


def test_tool_needs_a_docstring_and_models() -> None:
    async def undocumented(ctx: ToolContext, req: WithExamples) -> ToolResponse:
        raise NotImplementedError

    async def untyped(ctx: ToolContext, req: Any) -> ToolResponse:
        """Doc."""
        raise NotImplementedError

    with pytest.raises(TypeError, match="docstring"):
        ToolSet("v").read("t")(undocumented)
    with pytest.raises(TypeError, match="annotate the request"):
        ToolSet("v").read("t")(untyped)


def test_bad_names_and_targets_are_refused() -> None:
    async def tool(ctx: ToolContext, req: WithExamples) -> ToolResponse:
        """Doc."""
        raise NotImplementedError

    with pytest.raises(ValueError, match="tool name"):
        ToolSet("v").read("Bad-Name")(tool)
    with pytest.raises(ValueError, match="venue name"):
        ToolSet("Bad Venue")
    with pytest.raises(TypeError, match="target 'nope'"):
        ToolSet("v").write("t", risk="neutral", target="nope")(tool)


async def _legs(ctx: ToolContext, req: Any) -> list[Leg]:
    return []


async def _book(ctx: ToolContext, legs: list[Leg]) -> Book:
    return Book(positions={}, equity=Decimal(1), value=lambda name, size, price: size)


def test_a_write_without_a_risk_declaration_fails_at_import() -> None:
    with pytest.raises(TypeError, match="declare risk="):
        ToolSet("v").write("place_order")


def test_an_opening_write_without_legs_or_a_book_fails_at_import() -> None:
    with pytest.raises(TypeError, match="declare legs="):
        ToolSet("v", book=_book).write("place_order", risk="opens")
    with pytest.raises(TypeError, match="needs book="):
        ToolSet("v").write("place_order", risk="opens", legs=_legs)
    with pytest.raises(TypeError, match="legs apply to 'opens' writes only"):
        ToolSet("v").write("set_leverage", risk="neutral", legs=_legs)


@pytest.mark.parametrize("name", ["cancel_order", "cancel_all_orders", "close_position", "close_all_positions"])
def test_vocabulary_cancels_and_closes_reduce_risk_by_definition(name: str) -> None:
    async def tool(ctx: ToolContext, req: WithExamples) -> ToolResponse:
        """Doc."""
        raise NotImplementedError

    tools = ToolSet("v")
    tools.write(name)(tool)
    spec = tools.get(name)
    assert spec is not None
    assert spec.risk == "reduces"
    with pytest.raises(TypeError, match="reduces by definition"):
        ToolSet("v", book=_book).write(name, risk="opens", legs=_legs)


def test_a_provider_declares_no_writes() -> None:
    with pytest.raises(TypeError, match="read-only"):
        ToolSet("macro", kind="provider").write("anything", risk="neutral")


def test_every_installed_write_declares_its_risk_and_opening_writes_their_legs() -> None:
    for toolset in installed_toolsets():
        for spec in toolset.specs:
            if spec.kind == "read":
                assert spec.risk is None
                continue
            assert spec.risk in ("opens", "reduces", "neutral"), spec.mcp_name
            if spec.risk == "opens":
                assert spec.legs is not None, spec.mcp_name
                assert spec.book is not None, spec.mcp_name
            if spec.name.startswith(("cancel_", "close_")):
                assert spec.risk == "reduces", spec.mcp_name


def test_parse_turns_validation_errors_into_invalid_input_with_locations() -> None:
    spec = toy.TOOLS.get("place_order")
    assert spec is not None
    with pytest.raises(InvalidInputError) as caught:
        spec.parse({"symbol": "X", "side": "hold", "qty": "-1"})
    assert caught.value.details is not None
    assert [e["loc"] for e in caught.value.details["errors"]] == ["side", "qty"]
    assert caught.value.message.startswith("invalid input: side:")
    parsed = spec.parse({"symbol": "X", "side": "buy", "qty": 2})
    assert str(parsed.qty) == "2"  # type: ignore[attr-defined]
