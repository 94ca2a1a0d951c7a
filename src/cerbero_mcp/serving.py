"""Serve a built gateway with uvicorn in this process (the CLI and the demo both end here)."""

from __future__ import annotations

import logging

import uvicorn

from cerbero_mcp.common.logging import configure_logging
from cerbero_mcp.server import build_app
from cerbero_mcp.settings import ConfigError, Settings

EXIT_CONFIG = 2


def serve(settings: Settings) -> int:
    """Serve `settings` with uvicorn until interrupted; return the process exit code."""
    configure_logging(settings.log_level)
    try:
        app = build_app(settings)
    except ConfigError as exc:
        # An unwritable audit log or state DB: refuse to serve rather than trade unaudited.
        logging.getLogger("mcp.startup").error("refusing to start: %s", exc, extra={"fields": {"error": "config"}})
        return EXIT_CONFIG
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="*",
        server_header=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()
    return 0
