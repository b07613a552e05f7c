"""A live stream of changes (server-sent events): venue levels, occupancy, area levels, new venues."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from antoan_safety_map.adapters.changes import ChangeHub
from antoan_safety_map.api.deps import Runtime, RuntimeDep
from antoan_safety_map.api.routes.map import parse_bbox
from antoan_shared.web import ErrorResponse, error_response

router = APIRouter(prefix="/v1", tags=["map"])
HEARTBEAT_S = 15.0
RETRY_AFTER_S = 30
SUBSCRIBE_WAIT_S = 5.0


def change_hub(request: Request, runtime: Runtime) -> ChangeHub:
    """The process's one hub, made with its first stream."""
    hub: ChangeHub | None = getattr(request.app.state, "change_hub", None)
    if hub is None:
        keys = runtime.read_model.keys
        hub = ChangeHub(runtime.read_model.client, keys.changes, runtime.settings.max_streams)
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
    queue = hub.open(box)
    if queue is None:
        return error_response(
            503,
            "too_many_streams",
            "this server holds as many live streams as it may; retry later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def events() -> AsyncIterator[str]:
        try:
            # So that a client told "connected" misses nothing after it (a Redis outage delays it 5 s at most).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.subscribed(), SUBSCRIBE_WAIT_S)
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                if frame is None:
                    return  # fell behind: the client reconnects and starts afresh
                yield frame
        finally:
            hub.close(queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
