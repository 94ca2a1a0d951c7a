"""MCP toolsets, read-only mode, tool annotations, the agent's instructions and the derived bot tag.

A toolset is one router (`deribit`, `macro`, …): the installed ToolSets, never a hard-coded list.
`MCP_TOOLSETS` says which are served (default `all`); a client narrows them the way GitHub's remote
MCP server does (docs/remote-server.md of github/github-mcp-server):

    /mcp                         every enabled toolset
    /mcp/readonly                … read tools only
    /mcp/x/<toolset>[,<ts>…]     these toolsets (`all` = every enabled one; the comma list is ours)
    /mcp/x/<toolset>/readonly    … read tools only
    X-MCP-Toolsets: a,b          comma-separated, whitespace ignored, empty = the default
    X-MCP-Readonly: true         empty/false/f/no/n/0/off (any case) = false, anything else = true

A URL and the header both narrow (the intersection); either can turn read-only on. Unlike GitHub,
an unknown toolset is refused (400 naming the valid ones), not ignored: an agent that silently got
other tools than it asked for would trade with the wrong picture.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from cerbero_mcp.common.errors import BadRequestError, ForbiddenError, NotFoundError
from cerbero_mcp.settings import ConfigError
from cerbero_mcp.tooling import ToolSet, ToolSpec

ALL = "all"
TOOLSETS_HEADER = "x-mcp-toolsets"
READONLY_HEADER = "x-mcp-readonly"
# Every path the streamable HTTP transport is served on (server.py mounts them all).
MCP_PATHS = ("/mcp", "/mcp/readonly", "/mcp/x/{toolsets}", "/mcp/x/{toolsets}/readonly")
# GitHub's rule for X-MCP-Readonly: these (trimmed, any case) are false, every other value is true.
READONLY_FALSE = frozenset({"", "false", "f", "no", "n", "0", "off"})
# What MCP clients accept as a tool name (several cap it at 64 and reject anything else).
MCP_TOOL_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
BOT_TAG_PREFIX = "mcp:"
BOT_TAG_MAX = 64
CLIENT_INFO_META_KEY = types.CLIENT_INFO_META_KEY
# An order write carrying this field is replayed, not re-sent, when repeated (the write pipeline's idempotency).
IDEMPOTENCY_FIELD = "client_order_id"


def tool_annotations(spec: ToolSpec) -> types.ToolAnnotations:
    """Return the MCP annotations of one tool.

    readOnlyHint: reads. destructiveHint: writes that open exposure (they commit money and cannot be
    undone) or reduce it (cancels and closes remove orders and realise P&L); a `neutral` write (a
    setting such as leverage) neither opens nor closes anything and the next call sets it back.
    idempotentHint: reads, and writes with a client_order_id (repeating one replays the stored
    answer). openWorldHint: every tool reaches a venue or data provider outside this server.
    """
    read = spec.kind == "read"
    return types.ToolAnnotations(
        title=spec.summary,
        read_only_hint=read,
        destructive_hint=not read and spec.risk in ("opens", "reduces"),
        idempotent_hint=read or IDEMPOTENCY_FIELD in spec.request_model.model_fields,
        open_world_hint=True,
    )


def check_tool_name(name: str) -> str:
    """Return `name`, or raise ValueError when an MCP client could refuse it ([a-z0-9_], at most 64)."""
    if not MCP_TOOL_NAME.match(name):
        raise ValueError(f"MCP tool name {name!r} must be 1-64 characters of [a-z0-9_]")
    return name


def parse_names(value: str) -> list[str]:
    """Split a comma-separated toolset list, ignoring whitespace and empty items."""
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def readonly_header(value: str | None) -> bool:
    """Interpret X-MCP-Readonly as GitHub's remote server does (absent or a false word: False)."""
    return value is not None and value.strip().lower() not in READONLY_FALSE


@dataclass(frozen=True)
class Selection:
    """What one MCP request sees: the toolsets on, in catalog order, and whether writes are off."""

    toolsets: tuple[str, ...]
    read_only: bool


class ToolsetCatalog:
    """The installed toolsets, the enabled ones (MCP_TOOLSETS) and their MCP tool lists."""

    def __init__(self, toolsets: Sequence[ToolSet], enabled: str, tools: Mapping[str, types.Tool]) -> None:
        self.installed: dict[str, ToolSet] = {toolset.venue: toolset for toolset in toolsets}
        self.enabled: tuple[str, ...] = self._enabled(enabled)
        self._tools = dict(tools)
        self._specs: dict[str, ToolSpec] = {
            spec.mcp_name: spec for toolset in self.installed.values() for spec in toolset.specs
        }
        self._lists: dict[Selection, list[types.Tool]] = {}

    def _enabled(self, setting: str) -> tuple[str, ...]:
        names = parse_names(setting)
        if not names or ALL in names:
            return tuple(self.installed)
        unknown = [name for name in names if name not in self.installed]
        if unknown:
            raise ConfigError(
                f"MCP_TOOLSETS names unknown toolset(s) {', '.join(unknown)}; installed: {', '.join(self.installed)}"
                f" (or {ALL})"
            )
        return tuple(name for name in self.installed if name in names)

    @property
    def default(self) -> Selection:
        """Return the selection of a plain `/mcp` request without headers."""
        return Selection(self.enabled, read_only=False)

    def select(self, path_toolsets: str | None, path_readonly: bool, headers: Mapping[str, str]) -> Selection:
        """Return the selection of one request from its path and X-MCP-* headers; 400 on an unknown toolset."""
        chosen = set(self.enabled)
        if path_toolsets is not None:
            chosen &= self._names(path_toolsets, f"the URL /mcp/x/{_shown(path_toolsets)}")
        header_value = headers.get(TOOLSETS_HEADER)
        if header_value is not None and parse_names(header_value):
            chosen &= self._names(header_value, "the X-MCP-Toolsets header")
        if not chosen:
            raise BadRequestError(
                f"the URL /mcp/x/{_shown(path_toolsets)} and X-MCP-Toolsets {_shown(header_value)!r} select no"
                " toolset in common",
                suggested_fix="name the toolsets in one place only: the URL or the X-MCP-Toolsets header",
                details={"enabled": list(self.enabled)},
            )
        read_only = path_readonly or readonly_header(headers.get(READONLY_HEADER))
        return Selection(tuple(name for name in self.enabled if name in chosen), read_only)

    def _names(self, value: str, where: str) -> set[str]:
        names = parse_names(value)
        if ALL in names:
            return set(self.enabled)
        # Echoed back: each bounded and only the first few, as the value comes from the client.
        unknown = [_shown(name) for name in names if name not in self.enabled][:10]
        if unknown or not names:
            disabled = [name for name in unknown if name in self.installed]
            note = f" ({', '.join(disabled)} turned off by MCP_TOOLSETS)" if disabled else ""
            raise BadRequestError(
                f"unknown toolset(s) {', '.join(unknown) or repr(_shown(value))} in {where}{note};"
                f" valid: {', '.join(self.enabled)} (or {ALL})",
                suggested_fix=f"use /mcp/x/<toolset>[,<toolset>…] or X-MCP-Toolsets with {', '.join(self.enabled)}",
                details={"unknown": unknown, "valid": [*self.enabled, ALL]},
            )
        return set(names)

    def tools(self, selection: Selection) -> list[types.Tool]:
        """Return the MCP tools of `selection` (cached: the selections are a small, finite set)."""
        listed = self._lists.get(selection)
        if listed is None:
            listed = [
                self._tools[spec.mcp_name]
                for name in selection.toolsets
                for spec in self.installed[name].specs
                if not (selection.read_only and spec.kind == "write")
            ]
            self._lists[selection] = listed
        return listed

    def spec_for(self, name: str, selection: Selection) -> ToolSpec:
        """Return the spec of tool `name` if `selection` allows calling it, else raise the MCP refusal."""
        spec = self._specs.get(name)
        if spec is None or spec.venue not in selection.toolsets:
            on = ", ".join(selection.toolsets)
            raise NotFoundError(
                f"unknown tool {name!r} (toolsets on this connection: {on})",
                suggested_fix="call tools/list for the available tools; another toolset is reached with"
                " /mcp/x/<toolset> or the X-MCP-Toolsets header",
                details={"tool": name, "toolsets": list(selection.toolsets)},
            )
        if selection.read_only and spec.kind == "write":
            raise ForbiddenError(
                f"{name} is a write tool and this connection is read-only (/readonly or X-MCP-Readonly):"
                " it lists and allows read tools only",
                suggested_fix="connect without /readonly and without X-MCP-Readonly to place, amend or cancel",
                details={"tool": name, "read_only": True},
            )
        return spec


def _shown(value: str | None) -> str:
    """Return a client-sent value cut to a length fit to echo in an error message."""
    text = value or ""
    return text if len(text) <= 64 else text[:61] + "..."


def instructions(environment: str | None, selection: Selection, catalog: ToolsetCatalog) -> str:
    """Return what the agent is told at initialize: environment, toolsets, mode, errors, replays, order ids."""
    if environment == "mainnet":
        where = (
            "MAINNET: live accounts. Every order placed here spends REAL MONEY and cannot be undone;"
            " act only on an explicit instruction to trade."
        )
    elif environment == "testnet":
        where = "TESTNET: the venues' test networks and paper accounts. No real money moves."
    else:
        where = "unknown until a trading token is presented."
    counts = ", ".join(
        f"{name} ({sum(1 for s in catalog.installed[name].specs if not (selection.read_only and s.kind == 'write'))})"
        for name in selection.toolsets
    )
    off = [name for name in catalog.enabled if name not in selection.toolsets]
    mode = (
        "READ-ONLY: only read tools are listed, and a write tool is refused with FORBIDDEN."
        if selection.read_only
        else "read-write: tools with readOnlyHint=false change state at the venue (destructiveHint=true: they open,"
        " cancel or close)."
    )
    lines = [
        "Cerbero MCP: one gateway to trading venues and market-data providers. Tool names are <toolset>_<tool>.",
        f"Environment (picked by your bearer token, for every call): {where}",
        f"Toolsets on: {counts}."
        + (
            f" Also available on this server: {', '.join(off)} (connect to /mcp/x/<toolset>[,<toolset>]"
            " or send X-MCP-Toolsets)."
            if off
            else ""
        ),
        f"Mode: {mode}",
        "Errors: a failed call returns isError=true; its text is '<CODE>: <message>' and structuredContent is the"
        " envelope {error: {type, code, message, retryable, suggested_fix, details}, request_id}. Retry only when"
        " retryable is true. After UPSTREAM_TIMEOUT or UPSTREAM_ERROR on a write the order may have been placed:"
        " look it up by client_order_id (get_open_orders) before sending anything again.",
        "Client order ids: give every order write a client_order_id of your own. Repeating a call with the same"
        " client_order_id and the same arguments does not send it again: it returns the stored answer with"
        " _meta.idempotent_replay=true and a second text item starting 'idempotent replay'. The same id with"
        " other arguments is IDEMPOTENCY_CONFLICT.",
        "Numbers: prices and sizes are decimal strings (or JSON numbers) in the venue's native units and symbols;"
        " call <venue>_environment_info first to learn a venue's capabilities.",
    ]
    return "\n".join(lines)


def printable(value: str) -> str:
    """Return `value` with every character outside printable ASCII replaced by `_`, trimmed."""
    return "".join(char if " " <= char <= "~" else "_" for char in value).strip()


def derived_bot_tag(client_name: str | None) -> str:
    """Return the bot tag of an MCP client that sent no X-Bot-Tag: `mcp:<name>`, printable, at most 64."""
    name = printable(client_name or "") or "unknown"
    return f"{BOT_TAG_PREFIX}{name}"[:BOT_TAG_MAX]


def client_name_from(method: str, params: Mapping[str, Any] | None, session_info: Any = None) -> str | None:
    """Return the client's `clientInfo.name` from an initialize, a request's `_meta`, or the session."""
    candidates: list[Any] = []
    if params is not None:
        if method == "initialize":
            candidates.append(params.get("clientInfo"))
        meta = params.get("_meta")
        if isinstance(meta, Mapping):
            candidates.append(meta.get(CLIENT_INFO_META_KEY))
    if session_info is not None:
        candidates.append({"name": getattr(session_info, "name", None)})
    for info in candidates:
        name = info.get("name") if isinstance(info, Mapping) else None
        if isinstance(name, str) and printable(name):
            return name
    return None
