"""One wire format on every venue: decimals in plain positional notation, timestamps ISO 8601 UTC with ms and Z.

Every tool's documented example is called against the simulators (as `--demo` serves them, in the
order the demo check uses) and every string of every answer is read with a regex.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cerbero_mcp.exchanges import VENUES
from support.tokens import auth

FIRST = ("place_order", "amend_order", "cancel_order")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LOOKS_LIKE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
EXPONENT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
NOT_PLAIN = re.compile(r"^(?:-0|[+-]?\d+\.\d*0|[+-]?\d+\.|[+-]?0\d+(?:\.\d*)?)$")


def strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Yield (location, string) for every string value in a JSON document."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}[{index}]")


def format_problems(document: Any, where: str) -> list[str]:
    """Return every exponent-form or non-canonical decimal and every timestamp not in the one form."""
    problems = []
    for location, text in strings(document, where):
        if EXPONENT.match(text):
            problems.append(f"{location}: decimal in exponent form {text!r}")
        elif NOT_PLAIN.match(text):
            problems.append(f"{location}: decimal not canonical {text!r}")
        elif LOOKS_LIKE_TIMESTAMP.match(text) and not TIMESTAMP.match(text):
            problems.append(f"{location}: timestamp not ISO 8601 UTC with ms and Z {text!r}")
    return problems


def test_the_checks_catch_what_they_should() -> None:
    bad = {"a": "-4.17E-10", "b": ["100.0", "-0"], "c": "2026-11-23T09:30:00-05:00", "d": "2026-03-04T15:00:00Z"}
    good = {"a": "-0.000000000417", "b": ["100", "0", "0.5"], "c": "2026-11-23T14:30:00.000Z", "d": "BTC-27MAR26"}
    assert len(format_problems(bad, "$")) == 5
    assert format_problems(good, "$") == []


@pytest.mark.parametrize("venue", VENUES)
async def test_every_example_answers_in_the_one_format(http: httpx.AsyncClient, venue: str) -> None:
    openapi = (await http.get("/openapi.json")).json()
    operations: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in openapi["paths"].items():
        if path.startswith(f"/mcp-{venue}/tools/"):
            examples = item["post"]["requestBody"]["content"]["application/json"]["examples"]
            operations.extend((path.rsplit("/", 1)[-1], path, ex["value"]) for ex in examples.values())
    operations.sort(key=lambda op: (op[0] not in FIRST, FIRST.index(op[0]) if op[0] in FIRST else 0, op[0]))
    problems: list[str] = []
    answered = 0
    for name, path, example in operations:
        response = await http.post(path, json=example, headers=auth(bot="formats"))
        if response.status_code == 200:
            answered += 1
            problems += format_problems(response.json(), name)
            stamp = response.headers.get("X-Data-Timestamp")
            assert stamp is None or TIMESTAMP.match(stamp), (name, stamp)
    assert problems == []
    assert answered >= 20


async def test_a_json_object_is_read_whatever_the_content_type(http: httpx.AsyncClient) -> None:
    body = b'{"instrument": "BTC-PERPETUAL"}'
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = auth(bot="curl") | ({"Content-Type": content_type} if content_type else {})
        response = await http.post("/mcp-deribit/tools/get_ticker", content=body, headers=headers)
        assert response.status_code == 200, (content_type, response.text)
        assert response.json()["instrument"] == "BTC-PERPETUAL"


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"12", b"null"])
async def test_a_body_that_is_not_a_json_object_is_a_400_saying_so(http: httpx.AsyncClient, body: bytes) -> None:
    headers = auth(bot="curl") | {"Content-Type": "application/x-www-form-urlencoded"}
    response = await http.post("/mcp-deribit/tools/get_ticker", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert "the body must be a JSON object" in response.json()["error"]["message"]


async def test_openapi_documents_the_error_envelope_on_every_tool_status(http: httpx.AsyncClient) -> None:
    openapi = (await http.get("/openapi.json")).json()
    text = str(openapi)
    assert "HTTPValidationError" not in text
    assert "'ValidationError'" not in text
    assert "schemas/ValidationError" not in text
    envelope = openapi["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"error", "request_id", "data_timestamp"}
    statuses = {"400", "401", "403", "404", "409", "413", "422", "423", "429", "500", "502", "503", "504"}
    tools = [(path, item["post"]) for path, item in openapi["paths"].items() if "/tools/" in path]
    assert len(tools) >= 50
    for path, operation in tools:
        assert statuses <= set(operation["responses"]), path
        for status in statuses:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, status)
