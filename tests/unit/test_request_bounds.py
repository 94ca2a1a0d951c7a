"""Every field a client sends is bounded, in the schema and in validation: no number, list or string without limits."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from cerbero_mcp.exchanges.deribit.schemas import RealizedVolRequest
from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.exchanges.vocabulary import AmendOrderRequest

# A string parsed as a date-time is bounded by its grammar, not a length.
BOUNDED_FORMATS = {"date-time", "date"}


def unbounded(node: dict[str, Any], defs: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Return the locations under `node` of numbers, lists, strings and maps without bounds."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else unbounded(defs[name], defs, where, {*seen, name})
    found: list[str] = []
    for branch in node.get("anyOf", []) + node.get("allOf", []) + node.get("oneOf", []):
        found += unbounded(branch, defs, where, seen)
    kind = node.get("type")
    if kind in ("integer", "number"):
        ranged = {"minimum", "exclusiveMinimum"} & set(node) and {"maximum", "exclusiveMaximum"} & set(node)
        if not ({"enum", "const"} & set(node) or ranged):
            found.append(f"{where}: {kind} without minimum and maximum")
    elif kind == "array":
        if "maxItems" not in node:
            found.append(f"{where}: array without maxItems")
        found += unbounded(node.get("items", {}), defs, f"{where}[]", seen)
    elif kind == "string":
        bounded = {"maxLength", "enum", "const"} & set(node) or node.get("format") in BOUNDED_FORMATS
        if not bounded:
            found.append(f"{where}: string without maxLength")
    elif kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) or extra is True:
            if "maxProperties" not in node:
                found.append(f"{where}: map without maxProperties")
            if isinstance(extra, dict):
                found += unbounded(extra, defs, f"{where}{{}}", seen)
        for name, field in node.get("properties", {}).items():
            found += unbounded(field, defs, f"{where}.{name}", seen)
    return found


def request_models() -> list[tuple[str, type[BaseModel]]]:
    """Return (venue.tool, request model) of every installed tool."""
    return [(f"{t.venue}.{s.name}", s.request_model) for t in installed_toolsets() for s in t.specs]


@pytest.mark.parametrize(("tool", "model"), request_models(), ids=[name for name, _ in request_models()])
def test_every_request_field_is_bounded(tool: str, model: type[BaseModel]) -> None:
    schema = model.model_json_schema(mode="validation")
    assert unbounded(schema, schema.get("$defs", {}), tool, set()) == []


def test_realized_vol_windows_are_bounded_in_validation() -> None:
    with pytest.raises(ValueError, match="greater than or equal"):
        RealizedVolRequest.model_validate({"windows": [-5]})
    with pytest.raises(ValueError, match="less than or equal"):
        RealizedVolRequest.model_validate({"windows": [10**9]})


def test_a_price_beyond_the_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="magnitude out of range"):
        AmendOrderRequest.model_validate({"order_id": "1", "price": 1.3e308})


def test_a_decimal_whose_exponent_overflows_the_context_is_refused() -> None:
    with pytest.raises(ValueError, match="magnitude out of range"):
        AmendOrderRequest.model_validate({"order_id": "1", "price": "1e999999999"})


def test_a_decimal_exponent_beyond_what_decimal_holds_is_refused() -> None:
    with pytest.raises(ValueError, match="magnitude out of range"):
        AmendOrderRequest.model_validate({"order_id": "1", "price": "-3585.838e+95219999999999999999"})
