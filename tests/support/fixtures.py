"""The venues' documented response bodies (tests/fixtures/<venue>/): load them, serve them, compare shapes.

`load_fixture` decodes a body the way the production transport does (`UpstreamResponse.json(exact=True)`:
numbers with a fraction become Decimal, integers stay int), so a test sees what a tool would see.
`serve_fixtures` answers chosen paths with fixture bodies on a loopback port, for tests that run a real
venue client end to end. `shape_differences` says where a simulator's answer differs in shape (keys and
JSON types) from a documented body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from support.live_server import live_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_path(venue: str, name: str) -> Path:
    """Return the path of one JSON fixture (`name` with or without `.json`)."""
    return fixture_path_of(venue, name if name.endswith(".json") else f"{name}.json")


def fixture_path_of(venue: str, filename: str) -> Path:
    """Return the path of one fixture file, whatever its extension."""
    path = FIXTURES / venue / filename
    if not path.is_file():
        raise FileNotFoundError(f"no documented fixture {path.relative_to(FIXTURES)}")
    return path


def fixture_text(venue: str, name: str) -> str:
    """Return a fixture's body exactly as stored."""
    return fixture_path(venue, name).read_text(encoding="utf-8")


def load_fixture(venue: str, name: str) -> Any:
    """Return a fixture decoded like the production transport decodes a venue's answer."""
    return json.loads(fixture_text(venue, name), parse_float=Decimal)


def load_template(venue: str, name: str) -> Any:
    """Return a documented message template (placeholder values, `"row":n`) decoded for its shape only.

    The bare placeholders `n` and `n+1` stand for row numbers, so they are read as the numbers 0 and
    1; every other value stays the documentation's placeholder text.
    """
    text = fixture_path_of(venue, name).read_text(encoding="utf-8")
    return json.loads(re.sub(r":\s*n\+1\b", ":1", re.sub(r":\s*n\b(?!\+)", ":0", text)))


@contextmanager
def serve_fixtures(routes: Mapping[str, tuple[int, str]]) -> Iterator[str]:
    """Serve `{path: (status, body)}` on loopback; yield the base URL. Unknown paths get 404.

    A key is a path (any method) or `"METHOD /path"` where one path answers differently per method.
    """

    async def answer(request: Request) -> Response:
        found = routes.get(f"{request.method} {request.url.path}") or routes.get(request.url.path)
        if found is None:
            return Response(
                json.dumps({"error": f"no fixture for {request.url.path}"}), 404, media_type="application/json"
            )
        status, body = found
        return Response(body, status, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PUT", "DELETE"])])
    with live_server(app) as url:
        yield url


def json_kind(value: Any) -> str:
    """Return the JSON type of a decoded value: null, boolean, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


@dataclass
class Shape:
    """What a documented value says about an answer: its JSON types, members and array items."""

    kinds: set[str] = field(default_factory=set)
    members: dict[str, Shape] = field(default_factory=dict)
    carried: dict[str, int] = field(default_factory=dict)  # how many documented objects carry each member
    objects: int = 0
    items: Shape | None = None
    is_map: bool = False  # an object keyed by data (account ids, asset classes): its values share one shape


def documented_shape(value: Any, maps: frozenset[str] = frozenset(), name: str | None = None) -> Shape:
    """Return the shape a documented value shows (array items and map values merged into one shape)."""
    shape = Shape(kinds={json_kind(value)})
    if isinstance(value, dict):
        if name in maps:
            shape.is_map = True
            for item in value.values():
                shape.items = merge(shape.items, documented_shape(item, maps))
        else:
            shape.objects = 1
            for key, member in value.items():
                shape.members[key] = documented_shape(member, maps, key)
                shape.carried[key] = 1
    elif isinstance(value, list):
        for item in value:
            shape.items = merge(shape.items, documented_shape(item, maps))
    return shape


def merge(a: Shape | None, b: Shape) -> Shape:
    """Return one shape admitting both (a member missing from either becomes optional)."""
    if a is None:
        return b
    out = Shape(kinds=a.kinds | b.kinds, objects=a.objects + b.objects, is_map=a.is_map or b.is_map)
    for key in a.members.keys() | b.members.keys():
        both = [member for member in (a.members.get(key), b.members.get(key)) if member is not None]
        out.members[key] = merge(both[0], both[1]) if len(both) == 2 else both[0]
        out.carried[key] = a.carried.get(key, 0) + b.carried.get(key, 0)
    out.items = merge(a.items, b.items) if b.items is not None else a.items
    return out


def shape_differences(
    documented: Any,
    actual: Any,
    *,
    conditional: frozenset[str] = frozenset(),
    maps: frozenset[str] = frozenset(),
) -> list[str]:
    """List where `actual` lacks a documented key or holds another JSON type than the documented body.

    The documented body is read as a shape: a documented null only says the key exists (with a value
    when the venue has one); the elements of a documented array are merged, so a key some of them lack
    is optional and a key null in some is nullable; keys named in `conditional` are ones the venue
    documents as present only in some cases; objects named in `maps` are keyed by data (account ids,
    asset classes) and only their values are compared. Keys the documentation does not show are not
    differences: the venues' examples are often abridged.
    """
    return _differences(documented_shape(documented, maps), actual, "$", conditional)


def _differences(shape: Shape, actual: Any, where: str, conditional: frozenset[str]) -> list[str]:
    kind = json_kind(actual)
    allowed = shape.kinds - {"null"}
    if not allowed:
        return []  # documented only as null: any value will do
    if kind not in shape.kinds:
        return [f"{where}: documented {'/'.join(sorted(shape.kinds))}, simulator {kind} ({_short(actual)})"]
    found: list[str] = []
    if kind == "object" and shape.is_map and shape.items is not None:
        for key, value in actual.items():
            found.extend(_differences(shape.items, value, f"{where}.{key}", conditional))
    elif kind == "object":
        for key, member in shape.members.items():
            if key in actual:
                found.extend(_differences(member, actual[key], f"{where}.{key}", conditional))
            elif shape.carried.get(key, 0) == shape.objects and key not in conditional:
                found.append(f"{where}.{key}: documented, missing from the simulator")
    elif kind == "array" and shape.items is not None:
        for index, item in enumerate(actual):
            found.extend(_differences(shape.items, item, f"{where}[{index}]", conditional))
    return found


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
