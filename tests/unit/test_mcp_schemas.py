"""The schemas MCP lists: pydantic's generated titles left out, nothing else."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cerbero_mcp.contracts import model_schema, without_titles


class Headline(BaseModel):
    """A model with a field called `title` and examples holding one."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "BTC up", "rank": 1}]})
    title: str = Field(description="The headline.")
    rank: int = Field(1, title="Explicit rank title")


class Page(BaseModel):
    """A model referring to another (a `$defs` entry)."""

    items: list[Headline]


def keywords(schema: Any, name: str) -> int:
    """Count `name` used as a keyword with a string value anywhere in `schema`."""
    if isinstance(schema, list):
        return sum(keywords(item, name) for item in schema)
    if not isinstance(schema, dict):
        return 0
    return sum(1 for k, v in schema.items() if k == name and isinstance(v, str)) + sum(
        keywords(v, name) for v in schema.values()
    )


def test_titles_go_and_a_property_or_example_called_title_stays() -> None:
    schema = model_schema(Page)
    assert keywords(schema, "title") > 0
    compact = without_titles(schema)
    headline = compact["$defs"]["Headline"]
    assert set(headline["properties"]) == {"title", "rank"}
    assert headline["properties"]["title"] == {"description": "The headline.", "type": "string"}
    assert headline["examples"] == [{"title": "BTC up", "rank": 1}]
    assert "title" not in headline["properties"]["rank"]
    assert "title" not in compact
    assert "title" not in headline
    assert headline["required"] == ["title"]


def test_nothing_but_titles_changes() -> None:
    schema = model_schema(Page)
    compact = without_titles(schema)
    assert len(str(compact)) < len(str(schema))

    def restore(original: Any, stripped: Any) -> None:
        # Every key of the stripped schema is in the original with the same structure, titles aside.
        if isinstance(original, dict):
            assert set(original) - set(stripped) <= {"title"}
            for key, value in stripped.items():
                restore(original[key], value)
        elif isinstance(original, list):
            assert len(original) == len(stripped)
            for a, b in zip(original, stripped, strict=True):
                restore(a, b)
        else:
            assert original == stripped

    restore(schema, compact)
