"""One tool's schemas in OpenAPI and in MCP's tools/list must say the same thing."""

from __future__ import annotations

from typing import Any

from mcp_types import Tool

from cerbero_mcp.contracts import without_titles


def resolve(schema: Any, defs: dict[str, Any]) -> Any:
    """Inline every $ref so OpenAPI's components and JSON Schema $defs compare equal."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return resolve(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: resolve(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [resolve(item, defs) for item in schema]
    return schema


def assert_same_schemas(openapi: dict[str, Any], path: str, tool: Tool) -> None:
    """Assert the REST operation at `path` and the MCP tool take and return the same JSON.

    MCP leaves out pydantic's generated titles (what an agent pays for in context); nothing else differs.
    """
    components = openapi["components"]["schemas"]
    operation = openapi["paths"][path]["post"]
    request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert without_titles(resolve(request_schema, components)) == resolve(
        tool.input_schema, tool.input_schema.get("$defs", {})
    )
    assert tool.output_schema is not None
    assert without_titles(resolve(response_schema, components)) == resolve(
        tool.output_schema, tool.output_schema.get("$defs", {})
    )
