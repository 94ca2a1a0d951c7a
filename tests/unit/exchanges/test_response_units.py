"""Every number a venue's own tool answers with says its unit (a `Field(description=...)`).

Walks the response model of every Deribit and IBKR tool, and the models nested in it, skipping the
common vocabulary and the contracts (documented on their own). An int, float or Decimal field, also
inside Optional, a list or a dict's values, must carry a description.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field

from cerbero_mcp.exchanges.registry import installed_toolsets

VENUES = ("deribit", "ibkr")
SHARED_MODULES = ("cerbero_mcp.exchanges.vocabulary", "cerbero_mcp.contracts")
NUMERIC = (int, float, Decimal)


def _args(annotation: Any) -> tuple[Any, ...]:
    """Return the types inside an annotation (union members, list items, dict values, Annotated base)."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return ()
    if origin is typing.Literal:
        return ()
    if origin is typing.Annotated:
        return (typing.get_args(annotation)[0],)
    args = typing.get_args(annotation)
    if origin in (dict, typing.Mapping) or (isinstance(origin, type) and issubclass(origin, dict)):
        return args[1:]  # the keys are names, the values are what is measured
    return args


def _leaves(annotation: Any) -> list[Any]:
    """Return the non-generic types an annotation is made of."""
    if typing.get_origin(annotation) is None:
        return [annotation]
    return [leaf for arg in _args(annotation) for leaf in _leaves(arg)]


def is_numeric(annotation: Any) -> bool:
    """Whether an annotation holds an int, float or Decimal (bool excluded)."""
    return any(
        isinstance(leaf, type) and issubclass(leaf, NUMERIC) and not issubclass(leaf, bool)
        for leaf in _leaves(annotation)
    )


def _shared(model: type[BaseModel]) -> bool:
    return model.__module__ in SHARED_MODULES


def _owner(model: type[BaseModel], name: str) -> type:
    """Return the class of the MRO that declares field `name`."""
    for klass in model.__mro__:
        if name in vars(klass).get("__annotations__", {}):
            return klass
    return model


def undocumented(root: type[BaseModel]) -> tuple[list[str], int]:
    """Return the numeric fields without a description under `root`, and how many numeric fields were seen."""
    missing: list[str] = []
    seen: set[type[BaseModel]] = set()
    numeric = 0
    queue = [root]
    while queue:
        model = queue.pop()
        if model in seen or _shared(model):
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            owner = _owner(model, name)
            if owner.__module__ in SHARED_MODULES:
                continue
            queue.extend(
                leaf for leaf in _leaves(field.annotation) if isinstance(leaf, type) and issubclass(leaf, BaseModel)
            )
            if is_numeric(field.annotation):
                numeric += 1
                if not (field.description or "").strip():
                    missing.append(f"{model.__module__}.{model.__qualname__}.{name}")
    return missing, numeric


def _response_models() -> list[tuple[str, type[BaseModel]]]:
    return [
        (f"{toolset.venue}.{spec.name}", spec.response_model)
        for toolset in installed_toolsets()
        if toolset.venue in VENUES
        for spec in toolset.specs
    ]


RESPONSES = _response_models()


def test_both_venues_are_walked() -> None:
    assert {name.split(".")[0] for name, _ in RESPONSES} == set(VENUES)


@pytest.mark.parametrize(("tool", "model"), RESPONSES, ids=[name for name, _ in RESPONSES])
def test_numeric_response_fields_state_their_unit(tool: str, model: type[BaseModel]) -> None:
    missing, _ = undocumented(model)
    assert not missing, f"{tool}: numeric fields without a unit description: {missing}"


def test_the_walk_reaches_the_venue_numbers() -> None:
    # Guards against a walk that silently finds nothing: the venue schemas declare 88 numeric response fields.
    total = sum(undocumented(model)[1] for model in {model for _, model in RESPONSES})
    assert total >= 80


class _Inner(BaseModel):
    size: Decimal | None = None
    label: str = ""


class _Outer(BaseModel):
    count: int = Field(description="Count of things.")
    prices: list[float]
    by_name: dict[str, float | str]
    meta: dict[str, Any]
    flag: bool = False
    inner: list[_Inner]


def test_the_walk_flags_undocumented_numbers() -> None:
    missing, numeric = undocumented(_Outer)
    short = sorted(name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1] for name in missing)
    assert short == ["_Inner.size", "_Outer.by_name", "_Outer.prices"]
    assert numeric == 4
