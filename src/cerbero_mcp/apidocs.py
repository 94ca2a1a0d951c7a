"""The Swagger UI page at /apidocs, with its JS, CSS and favicon served by the gateway (no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_URL = "/apidocs"
STATIC_URL = f"{DOCS_URL}/static"
# fastapi-offline ships Swagger UI 5 (the first to render OpenAPI 3.1, which FastAPI emits).
STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"


def add_apidocs(app: FastAPI, swagger_ui_parameters: dict[str, Any]) -> None:
    """Serve Swagger UI at DOCS_URL from the installed assets under STATIC_URL, offline."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="apidocs-static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def apidocs(request: Request) -> HTMLResponse:
        """Return the Swagger UI page, every asset on this gateway."""
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=swagger_ui_parameters,
        )
