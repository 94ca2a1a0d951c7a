"""Issue 21: the pure rules of mcp_toolsets (header words, name lists, the derived bot tag, annotations)."""

from __future__ import annotations

from cerbero_mcp.mcp_toolsets import derived_bot_tag, parse_names, readonly_header, tool_annotations
from support import toy


def test_derived_tag_rules() -> None:
    assert derived_bot_tag("x" * 100) == "mcp:" + "x" * 60
    assert len(derived_bot_tag("x" * 100)) == 64
    assert derived_bot_tag(None) == "mcp:unknown"
    assert derived_bot_tag(" \x00\x1f ") == "mcp:__"
    assert derived_bot_tag("") == "mcp:unknown"
    assert all(" " <= c <= "~" for c in derived_bot_tag("\u2603 snow\u00a0man\x7f"))


def test_readonly_header_and_name_parsing_follow_github() -> None:
    for value in (None, "", " ", "false", "FALSE", "f", "no", "N", "0", "off", " Off "):
        assert readonly_header(value) is False, value
    for value in ("true", "1", "yes", "on", "anything"):
        assert readonly_header(value) is True, value
    assert parse_names(" Deribit , ,macro,") == ["deribit", "macro"]


def test_annotations_by_kind_and_risk() -> None:
    specs = {spec.name: spec for spec in toy.TOOLS.specs}
    echo, place, cancel = (tool_annotations(specs[name]) for name in ("echo", "place_order", "cancel_order"))
    assert (echo.read_only_hint, echo.destructive_hint, echo.idempotent_hint, echo.open_world_hint) == (
        True,
        False,
        True,
        True,
    )
    assert (place.read_only_hint, place.destructive_hint, place.idempotent_hint) == (False, True, True)
    assert (cancel.read_only_hint, cancel.destructive_hint) == (False, True)
