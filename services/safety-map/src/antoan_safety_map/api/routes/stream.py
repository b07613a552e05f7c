"""A live stream of changes (server-sent events): venue levels, occupancy, area levels, new venues."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from antoan_safety_map.adapters.changes import ChangeHub
from antoan_safety_map.api.deps import Runtime, RuntimeDep
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
    503: {"model": ErrorResponse, "description": "This process serves as many streams as it may; retry later"},
}


@router.get("/stream", response_class=StreamingResponse, responses=STREAM_ANSWERS)
async def change_stream(request: Request, runtime: RuntimeDep) -> Response:
    """Events `venue-risk`, `occupancy`, `area-risk` and `venue` (a GeoJSON Feature), each with JSON data,
    as they happen; a `: ping` comment every 15 s keeps proxies from closing the connection. Beyond
    `SAFETY_MAP_MAX_STREAMS` open streams a process answers 503 with `Retry-After`."""
    hub = change_hub(request, runtime)
    queue = hub.open()
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
