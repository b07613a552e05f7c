"""`GET /`: the public page (the live map arrives with the risk levels; until then, a signpost)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["public"])

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Antoan — bản đồ an toàn COVID</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>Antoan — bản đồ an toàn COVID</h1>
<p>Mức độ an toàn của địa điểm và khu vực sẽ hiển thị tại đây.
(<i>The live safety map of venues and areas will be shown here.</i>)</p>
<p>API: <a href="/docs">/docs</a> · <code>GET /v1/venues/{venue_id}/occupancy</code></p>
</body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def public_page() -> str:
    return _PAGE


def install(app: FastAPI) -> None:
    """The public page and its static assets."""
    app.include_router(router)
