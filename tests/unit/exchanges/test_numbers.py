"""The one decimal type of every price and quantity a client sends: plain ASCII numbers, bounded."""

from __future__ import annotations

import re
import types
import typing
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from cerbero_mcp.exchanges import vocabulary as v
from cerbero_mcp.exchanges.deribit import schemas as deribit
from cerbero_mcp.exchanges.registry import installed_toolsets
from support import toy

NUMBER = TypeAdapter(v.VenueDecimal)
POSITIVE = TypeAdapter(v.PositiveQuantity)


def short(value: object) -> str:
    """Return a test id that stays readable for 5,000-character inputs."""
    if isinstance(value, int) and abs(value) > 10**30:
        return f"int-of-{value.bit_length()}-bits"
    text = ascii(value)
    return text if len(text) <= 24 else f"{text[:20]}...({len(text)})"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (1, Decimal(1)),
        ("0.5", Decimal("0.5")),
        ("1e-8", Decimal("1e-8")),
        ("1E+8", Decimal("1e8")),
        (1.1, Decimal("1.1")),  # the float's shortest repr, not 1.100000000000000088817841970012523...
        (0.1 + 0.2, Decimal("0.30000000000000004")),
        (1e-8, Decimal("1e-8")),
        ("-3", Decimal(-3)),
        ("+2.50", Decimal("2.50")),
        (".5", Decimal("0.5")),
        ("7.", Decimal(7)),
        ("0", Decimal(0)),
        ("-0.000", Decimal(0)),
        ("0e999", Decimal(0)),
        (Decimal("42.1"), Decimal("42.1")),
        ("1e18", Decimal("1e18")),
        ("-1e18", Decimal("-1e18")),
        ("1e-18", Decimal("1e-18")),
        (10**18, Decimal(10**18)),
        ("1" * 18 + "." + "1" * 12, Decimal("1" * 18 + "." + "1" * 12)),  # 30 significant digits
        ("0.00000000000000000123456789012345678901234567890", Decimal("1.23456789012345678901234567890e-18")),
    ],
    ids=short,
)
def test_plain_numbers_within_bounds_are_accepted(given: Any, expected: Decimal) -> None:
    value = NUMBER.validate_python(given)
    assert isinstance(value, Decimal)
    assert value == expected
    assert str(value) == str(expected) or value.is_zero()


def test_a_float_keeps_its_shortest_repr_digits() -> None:
    assert str(NUMBER.validate_python(1.1)) == "1.1"
    assert NUMBER.validate_json("1.1") == Decimal("1.1")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("1e400", "magnitude"),
        ("-1e400", "magnitude"),
        ("1e-400", "magnitude"),
        ("1e19", "magnitude"),
        ("1.0000001e18", "magnitude"),
        ("1e-19", "magnitude"),
        ("9.9e-19", "magnitude"),
        (10**19, "magnitude"),
        (10**5000, "magnitude"),
        (1e300, "magnitude"),
        (5e-324, "magnitude"),
        (Decimal("1e400"), "magnitude"),
        ("9" * 5000, "characters"),
        ("0" * 5000 + "1", "characters"),
        ("1e" + "9" * 5000, "characters"),
        ("1" * 31, "significant digits"),
        ("1." + "0" * 30, "significant digits"),
        (Decimal("1." + "0" * 30), "significant digits"),
        ("1_000", "plain decimal"),
        ("١٠٠", "plain decimal"),  # Arabic-Indic digits
        ("１００", "plain decimal"),  # fullwidth digits
        ("1\u00a0000", "plain decimal"),
        (" 1", "plain decimal"),
        ("1 ", "plain decimal"),
        ("1\n", "plain decimal"),
        ("\t1", "plain decimal"),
        ("", "plain decimal"),
        ("-", "plain decimal"),
        (".", "plain decimal"),
        ("e5", "plain decimal"),
        ("1e", "plain decimal"),
        ("1.2.3", "plain decimal"),
        ("--1", "plain decimal"),
        ("0x10", "plain decimal"),
        ("1,5", "plain decimal"),
        ("abc", "plain decimal"),
        ("NaN", "NaN and Infinity"),
        ("nan", "NaN and Infinity"),
        ("sNaN", "NaN and Infinity"),
        ("-NaN", "NaN and Infinity"),
        ("Infinity", "NaN and Infinity"),
        ("-inf", "NaN and Infinity"),
        (float("nan"), "NaN and Infinity"),
        (float("inf"), "NaN and Infinity"),
        (float("-inf"), "NaN and Infinity"),
        (Decimal("NaN"), "NaN and Infinity"),
        (Decimal("-Infinity"), "NaN and Infinity"),
        (True, "boolean"),
        (False, "boolean"),
        ([], "list"),
        ({}, "dict"),
        (None, "NoneType"),
        (b"1", "bytes"),
    ],
    ids=short,
)
def test_anything_else_is_refused_naming_the_problem(given: Any, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NUMBER.validate_python(given)
    (error,) = refused.value.errors()
    assert error["type"] == "value_error"
    assert problem in error["msg"].split(";")[0]
    assert "at most 30 significant digits" in error["msg"]
    assert "between 1e-18 and 1e18" in error["msg"]


@pytest.mark.parametrize("text", ["1e400", "1" + "0" * 400, "NaN", "Infinity", "-Infinity", "true", "[]"])
def test_json_input_is_held_to_the_same_rules(text: str) -> None:
    with pytest.raises(ValidationError):
        NUMBER.validate_json(text)


def test_constraints_still_apply_on_top() -> None:
    assert POSITIVE.validate_python("0.1") == Decimal("0.1")
    for bad in ("0", "-1", -0.5):
        with pytest.raises(ValidationError, match="greater than 0"):
            POSITIVE.validate_python(bad)
    with pytest.raises(ValidationError, match="significant digits"):
        POSITIVE.validate_python("1" * 31)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": "1_000"}, "quantity"),
        ({"quantity": "١٠٠"}, "quantity"),
        ({"quantity": "1e400"}, "quantity"),
        ({"quantity": "9" * 5000}, "quantity"),
        ({"quantity": "1", "type": "limit", "price": "NaN"}, "price"),
        ({"quantity": "1", "type": "limit", "price": True}, "price"),
        ({"quantity": "1", "type": "stop_market", "stop_price": "Infinity"}, "stop_price"),
        ({"quantity": "1", "type": "limit", "price": " 1"}, "price"),
    ],
)
def test_the_refusal_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        v.PlaceOrderRequest.model_validate({"instrument": "BTC-PERPETUAL", "side": "buy", "type": "market", **body})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_optional_and_nested_fields_are_checked_too() -> None:
    with pytest.raises(ValidationError) as refused:
        v.AmendOrderRequest.model_validate({"order_id": "1", "price": "1e400"})
    assert [error["loc"] for error in refused.value.errors()] == [("price",)]
    leg = {"instrument": "BTC-PERPETUAL", "side": "buy", "quantity": "1_0"}
    with pytest.raises(ValidationError) as refused:
        deribit.ComboOrderRequest.model_validate(
            {"legs": [leg, {**leg, "instrument": "X"}], "side": "buy", "quantity": 1}
        )
    assert {error["loc"] for error in refused.value.errors()} == {("legs", 0, "quantity"), ("legs", 1, "quantity")}
    combo = deribit.ComboOrderRequest.model_validate(
        {"legs": [{**leg, "quantity": 1}, {**leg, "instrument": "X", "quantity": 1}], "side": "buy", "quantity": 1}
        | {"type": "limit", "price": "-0.5"}
    )
    assert combo.price == Decimal("-0.5")  # a combo may be priced at a credit


def test_output_is_still_a_string() -> None:
    order = v.PlaceOrderRequest.model_validate(
        {"instrument": "X", "side": "buy", "type": "limit", "quantity": 1.1, "price": "1e-8"}
    )
    assert order.model_dump(mode="json")["quantity"] == "1.1"
    assert order.model_dump(mode="json")["price"] == "1E-8"


def test_the_schema_says_number_or_patterned_string() -> None:
    properties = v.PlaceOrderRequest.model_json_schema(mode="validation")["properties"]
    quantity, price = properties["quantity"], properties["price"]
    assert quantity["anyOf"][0] == {"type": "number", "exclusiveMinimum": 0.0, "maximum": float(v.DECIMAL_MAX)}
    assert quantity["anyOf"][1] == {"type": "string", "pattern": v.DECIMAL_PATTERN, "maxLength": v.DECIMAL_MAX_CHARS}
    assert price["anyOf"][:2] == quantity["anyOf"]
    assert price["anyOf"][2] == {"type": "null"}
    assert not {"gt", "ge", "lt", "le"} & _keys(properties)  # pydantic's non-standard spelling of a bound
    assert v.PlaceOrderRequest.model_json_schema(mode="serialization")["properties"]["quantity"]["type"] == "string"


def _keys(schema: Any) -> set[str]:
    """Return every key of a JSON schema, at any depth."""
    if isinstance(schema, dict):
        return set(schema) | {key for value in schema.values() for key in _keys(value)}
    if isinstance(schema, list):
        return {key for value in schema for key in _keys(value)}
    return set()


def test_the_pattern_agrees_with_the_validator() -> None:
    pattern = re.compile(v.DECIMAL_PATTERN)
    for good in ("1", "-3", "+2.50", ".5", "7.", "1e-8", "1E+8"):
        assert pattern.fullmatch(good)
    for bad in ("1_000", "١٠٠", " 1", "1\n", "NaN", "Infinity", "1e", "."):
        assert not pattern.fullmatch(bad)


# --- every price and quantity of every request uses the type --------------------------------------


def _decimal_slots(annotation: Any, metadata: list[Any], where: str) -> list[tuple[str, bool]]:
    """Return (where, bounded) for every Decimal an annotation can hold, recursing into nested models."""
    if annotation is Decimal:
        return [(where, v.VENUE_DECIMAL in metadata)]
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _decimal_slots(inner, [*metadata, *extra], where)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_slots(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple, dict):
        return [slot for arg in typing.get_args(annotation) for slot in _decimal_slots(arg, [], where)]
    return []


def _model_slots(model: type[BaseModel]) -> list[tuple[str, bool]]:
    slots = []
    for name, info in model.model_fields.items():
        slots += _decimal_slots(info.annotation, list(info.metadata), f"{model.__name__}.{name}")
    return slots


def test_every_decimal_of_every_request_is_the_bounded_type() -> None:
    specs = [spec for toolset in [*installed_toolsets(), toy.TOOLS] for spec in toolset.specs]
    slots = {slot for spec in specs for slot in _model_slots(spec.request_model)}
    assert ("PlaceOrderRequest.quantity", True) in slots
    assert ("PayoffLeg.price", True) in slots
    assert sorted(where for where, bounded in slots if not bounded) == []
    for spec in specs:
        assert not {"gt", "ge", "lt", "le"} & _keys(spec.request_model.model_json_schema()), spec.mcp_name


def test_the_walk_finds_a_bare_decimal_anywhere() -> None:
    class Leg(BaseModel):
        size: Decimal

    class Request(BaseModel):
        price: v.PositivePrice | None = None
        legs: list[Leg] = []
        limit: Decimal | None = None

    assert sorted(_model_slots(Request)) == [("Leg.size", False), ("Request.limit", False), ("Request.price", True)]
