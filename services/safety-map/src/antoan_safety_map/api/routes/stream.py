"""A live stream of changes (server-sent events): venue levels, occupancy, area levels, new venues."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from antoan_safety_map.api.deps import RuntimeDep

router = APIRouter(prefix="/v1", tags=["map"])
HEARTBEAT_S = 15.0


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def change_stream(request: Request, runtime: RuntimeDep) -> StreamingResponse:
    """Events `venue-risk`, `occupancy`, `area-risk` and `venue` (a GeoJSON Feature), each with JSON data,
    as they happen; a `: ping` comment every 15 s keeps proxies from closing the connection."""
    client = runtime.read_model.client
    channel = runtime.read_model.keys.changes

    async def events() -> AsyncIterator[str]:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)
        try:
            yield "retry: 3000\n: connected\n\n"
            idle = 0.0
            while not await request.is_disconnected():
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    idle += 1.0
                    if idle >= HEARTBEAT_S:
                        idle = 0.0
                        yield ": ping\n\n"
                    continue
                change = json.loads(message["data"])
                yield f"event: {change['kind']}\ndata: {json.dumps(change['data'], ensure_ascii=False)}\n\n"
        finally:
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
