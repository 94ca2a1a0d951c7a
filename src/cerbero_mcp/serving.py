"""Serve a built gateway with uvicorn in this process (the CLI and the demo both end here)."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from cerbero_mcp.common.logging import configure_logging
from cerbero_mcp.http_limits import header_deadline_protocol
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
    uvicorn.Server(uvicorn_config(app, settings)).run()
    return 0


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """Return the uvicorn configuration of `app`, with the HTTP limits of `settings`."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For/-Proto only from the configured proxies: from anyone else, the logged
        # client_ip is the socket's peer.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        lifespan="on",
        # h11, not httptools: only h11 bounds the request head (HTTP_MAX_HEADER_BYTES), and the
        # subclass adds the header deadline uvicorn lacks (see HeaderDeadlineH11Protocol).
        http=header_deadline_protocol(settings.http_header_timeout_s),
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        timeout_keep_alive=settings.http_keep_alive_s,
        # uvicorn answers 503 once open connections (the asking one included) reach this number.
        limit_concurrency=settings.max_connections + 1,
    )
