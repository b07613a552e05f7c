"""A live stream of changes (server-sent events): venue levels, occupancy, area levels, new venues."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from antoan_safety_map.adapters.changes import in_view
from antoan_safety_map.api.deps import Runtime, RuntimeDep
from antoan_safety_map.api.routes.map import parse_bbox
from antoan_shared.live import STREAM_HEADERS, LiveHub, sse_events, too_many_streams
from antoan_shared.web import ErrorResponse

router = APIRouter(prefix="/v1", tags=["map"])
RECONNECT_MS = 3000  # how long the map's EventSource waits before reconnecting


def change_hub(request: Request, runtime: Runtime) -> LiveHub:
    """The process's one hub, made with its first stream."""
    hub: LiveHub | None = getattr(request.app.state, "change_hub", None)
    if hub is None:
        keys = runtime.read_model.keys
        hub = LiveHub(runtime.read_model.client, keys.changes, runtime.settings.max_streams)
        request.app.state.change_hub = hub
    return hub


STREAM_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    400: {"model": ErrorResponse, "description": "The bbox is not a box"},
    503: {"model": ErrorResponse, "description": "This process serves as many streams as it may; retry later"},
}


@router.get("/stream", response_class=StreamingResponse, responses=STREAM_ANSWERS)
async def change_stream(
    request: Request,
    runtime: RuntimeDep,
    bbox: Annotated[
        str | None, Query(max_length=100, description="minLon,minLat,maxLon,maxLat: only venues' changes in it")
    ] = None,
) -> Response:
    """Events `venue-risk`, `occupancy`, `area-risk` and `venue` (a GeoJSON Feature), each with JSON data,
    as they happen; a `: ping` comment every 15 s keeps proxies from closing the connection. With a bbox,
    only the changes of venues inside it (and every area's). Beyond `SAFETY_MAP_MAX_STREAMS` open streams
    a process answers 503 with `Retry-After`."""
    box = parse_bbox(bbox) if bbox is not None else None
    hub = change_hub(request, runtime)
    queue = hub.open(lambda change: in_view(change, box))
    if queue is None:
        return too_many_streams()

    async def nothing_first() -> list[str]:
        return []  # the page reads the current state itself, then follows the changes

    events = sse_events(hub, queue, nothing_first, retry_ms=RECONNECT_MS)
    return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)
