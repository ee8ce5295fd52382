"""``/docs``: Swagger UI served by the gateway itself, from an installed package's assets.

The JavaScript and CSS of Swagger UI come from the ``fastapi-offline`` distribution's static
folder (a pinned, packaged Swagger UI 5, which reads FastAPI's OpenAPI 3.1); the page starts it
with ``static/docs.js`` instead of an inline script, so that it works offline and under a
Content-Security-Policy that allows same-origin scripts and styles only.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_docs"]

ASSETS_PATH = "/docs/assets"
_OWN_PATH = "/docs/static"
_OWN = Path(__file__).with_name("static")


def _swagger_assets() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _page(title: str, root: str, openapi_url: str) -> str:
    assets = f"{root}{ASSETS_PATH}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head><body>
<div id="swagger-ui" data-openapi-url="{html.escape(f"{root}{openapi_url}")}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{root}{_OWN_PATH}/docs.js"></script>
</body></html>"""


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` (create the app with ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_swagger_assets()), name="docs-assets")
    app.mount(_OWN_PATH, StaticFiles(directory=_OWN), name="docs-static")
    title = f"{app.title} - API documentation"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(_page(title, root, openapi_url))
