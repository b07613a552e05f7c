"""`GET /`: the public live map, and its static assets (Leaflet vendored from npm, no CDN).

The page carries its configuration (the optional tile layer) in a JSON script element, and a
Content-Security-Policy that lets it reach only this service, plus the tile server when one is configured:
the map must work, and never try to work, with no network beyond the service itself.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from antoan_safety_map.api.deps import RuntimeDep
from antoan_safety_map.settings import SafetyMapSettings

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
CONFIG_PLACEHOLDER = "<!--antoan-config-->"

router = APIRouter(tags=["public"])


def page_config(settings: SafetyMapSettings) -> dict[str, Any]:
    """What the page's script needs to know about this deployment."""
    return {"tile_url": settings.tile_url, "tile_attribution": settings.tile_attribution}


def tile_source(tile_url: str) -> str | None:
    """The CSP source that admits a Leaflet tile template's host, or None for no (or an unusable) template.

    `https://{s}.tile.example.org/{z}/{x}/{y}.png` becomes `https://*.tile.example.org`: CSP allows a
    wildcard only as the leftmost label, so any other placeholder in the host falls back to the scheme.
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = re.sub(r"^\{[a-z]+\}\.", "*.", parts.netloc)
    if "{" in host or "}" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: SafetyMapSettings) -> str:
    images = ["'self'", "data:"]
    source = tile_source(settings.tile_url)
    if source:
        images.append(source)
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            # Leaflet positions its panes and icons with inline styles.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {' '.join(images)}",
            "connect-src 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'none'",
        )
    )


def render_page(template: str, config: dict[str, Any]) -> str:
    """The page with its configuration embedded as JSON that no value can break out of."""
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    data = data.replace("&", "\\u0026")
    element = f'<script id="antoan-config" type="application/json">{data}</script>'
    return template.replace(CONFIG_PLACEHOLDER, element, 1)


@lru_cache(maxsize=1)
def _template() -> str:
    return (STATIC_DIR / "index.html").read_text("utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def public_map(runtime: RuntimeDep) -> HTMLResponse:
    """The live safety map: venues coloured by risk level, in Vietnamese or English."""
    settings = runtime.settings
    return HTMLResponse(
        render_page(_template(), page_config(settings)),
        headers={"content-security-policy": content_security_policy(settings), "cache-control": "no-cache"},
    )


def install(app: FastAPI) -> None:
    """The public page and its static assets."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
