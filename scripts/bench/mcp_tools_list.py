"""Size of MCP `tools/list` per toolset and for all: what an agent pays in context for the tools it is given.

    uv run python scripts/bench/mcp_tools_list.py [--markdown]

Serves the installed toolsets in-process (no venue is reached: listing is local) and POSTs one JSON-RPC
`tools/list` to `/mcp/x/<toolset>` and `/mcp`, each also read-only, printing the response body's bytes, the
tool count and a rough token estimate at ~4 bytes per token (real tokenizers vary with the schema text).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from cerbero_mcp.exchanges.registry import installed_toolsets
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import Settings

BYTES_PER_TOKEN = 4
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@dataclass(frozen=True)
class Row:
    """One measured tools/list."""

    selection: str
    tools: int
    size: int
    read_only_tools: int
    read_only_size: int


async def measure(data_dir: Path) -> list[Row]:
    """Return one row per installed toolset, then one for all of them."""
    token = secrets.token_urlsafe(32)
    settings = Settings.from_mapping(
        {
            "TESTNET_TOKEN": token,
            "MAINNET_TOKEN": secrets.token_urlsafe(32),
            "AUDIT_LOG_FILE": str(data_dir / "audit.jsonl"),
            "AUDIT_FSYNC": "false",
            "STATE_DB": str(data_dir / "state.db"),
        }
    )
    app = build_app(settings)
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Bot-Tag": "bench",
        "Accept": "application/json, text/event-stream",
    }
    paths = {toolset.venue: f"/mcp/x/{toolset.venue}" for toolset in installed_toolsets()}
    paths["all"] = "/mcp"
    rows = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as http:
            for name, path in paths.items():
                full = await http.post(path, json=LIST_TOOLS, headers=headers)
                reads = await http.post(path, json=LIST_TOOLS, headers={**headers, "X-MCP-Readonly": "true"})
                for response in (full, reads):
                    response.raise_for_status()
                rows.append(
                    Row(
                        name,
                        len(full.json()["result"]["tools"]),
                        len(full.content),
                        len(reads.json()["result"]["tools"]),
                        len(reads.content),
                    )
                )
    return rows


def table(rows: list[Row], markdown: bool) -> str:
    """Render the rows as an aligned text table or a Markdown table."""
    head = ["toolset", "tools", "bytes", "~tokens", "read-only tools", "read-only bytes", "read-only ~tokens"]
    body = [
        [
            row.selection,
            str(row.tools),
            f"{row.size:,}",
            f"{row.size // BYTES_PER_TOKEN:,}",
            str(row.read_only_tools),
            f"{row.read_only_size:,}",
            f"{row.read_only_size // BYTES_PER_TOKEN:,}",
        ]
        for row in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in [head, *body])


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        rows = asyncio.run(measure(Path(data_dir)))
    print(table(rows, args.markdown))


if __name__ == "__main__":
    main()
