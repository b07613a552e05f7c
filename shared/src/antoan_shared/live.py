"""Live streams (server-sent events) fed from one Redis pub/sub channel per process.

A subscription per stream would hold a Redis connection each (about a hundred open streams once emptied the
safety map's pool). Here a process holds one subscription, started with its first stream and closed with its
last, and fans each published change out to the streams whose filter takes it, each through a bounded queue.
A stream too slow to keep up is ended rather than left to grow (its client reconnects and starts afresh), and
beyond `max_streams` a new stream is refused, so the process keeps serving its other reads.

A change is published as JSON `{"kind": ..., "data": ..., ...}`: `kind` is the event's name, `data` its
payload; any other fields are for the streams' filters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from antoan_shared.web import error_response

log = logging.getLogger(__name__)

# A frame, or None: the stream is over (it fell too far behind).
Frame = str | None
Change = dict[str, Any]
ChangeFilter = Callable[[Change], bool]
HEARTBEAT_S = 15.0
HEARTBEAT = ": ping\n\n"
SUBSCRIBE_WAIT_S = 5.0
RETRY_AFTER_S = 30
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_frame(kind: str, data: Any) -> str:
    """One server-sent event with JSON data."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def change_message(kind: str, data: Any, **routing: Any) -> str:
    """What a writer publishes on the channel for the hubs."""
    return json.dumps({"kind": kind, "data": data, **routing}, ensure_ascii=False)


def too_many_streams() -> JSONResponse:
    """The answer to a stream beyond a process's `max_streams`: 503, and when to retry."""
    return error_response(
        503,
        "too_many_streams",
        "this server holds as many live streams as it may; retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class LiveHub:
    def __init__(
        self, client: aioredis.Redis, channel: str, max_streams: int, backlog: int = 1000, poll_s: float = 1.0
    ) -> None:
        self._client = client
        self._channel = channel
        self._max_streams = max_streams
        self._backlog = backlog
        self._poll_s = poll_s
        self._streams: dict[asyncio.Queue[Frame], ChangeFilter] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def open(self, wanted: ChangeFilter) -> asyncio.Queue[Frame] | None:
        """A new stream's queue of the changes `wanted` takes, or None when the process already serves
        `max_streams`."""
        if len(self._streams) >= self._max_streams:
            return None
        queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=self._backlog)
        self._streams[queue] = wanted
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="live-hub")
        return queue

    async def subscribed(self) -> None:
        """Until the hub is subscribed: from then on, a stream misses no change (callers bound the wait)."""
        await self._subscribed.wait()

    def close(self, queue: asyncio.Queue[Frame]) -> None:
        self._streams.pop(queue, None)

    def _fan_out(self, message: bytes | str) -> None:
        change = json.loads(message)
        frame = sse_frame(change["kind"], change["data"])
        for queue, wanted in list(self._streams.items()):
            if not wanted(change):
                continue
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                # Too slow: end this stream (its client reconnects) rather than hold an ever longer backlog.
                self._streams.pop(queue, None)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    async def _follow(self) -> None:
        """Relay the channel to the open streams while there are any; resubscribe after a Redis failure."""
        while self._streams:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                while self._streams:
                    message = await pubsub.get_message(timeout=self._poll_s)
                    if message is not None:
                        self._fan_out(message["data"])
            except RedisError as exc:
                log.warning("live stream lost its Redis subscription; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(self._poll_s)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(RedisError):
                    await pubsub.unsubscribe(self._channel)
                await pubsub.aclose()  # type: ignore[no-untyped-call]


async def sse_events(
    hub: LiveHub,
    queue: asyncio.Queue[Frame],
    opening: Callable[[], Awaitable[list[str]]],
    retry_ms: int | None = None,
) -> AsyncIterator[str]:
    """A stream's text: once the hub is subscribed, a `: connected` comment and the frames `opening` gives
    (so nothing published after them is missed; a change published meanwhile may come twice), then the queue's
    frames as they come, and a `: ping` comment after every 15 s without one. Ends when the stream fell behind;
    closes the queue however it ends."""
    try:
        with contextlib.suppress(TimeoutError):  # a Redis outage delays the start 5 s at most
            await asyncio.wait_for(hub.subscribed(), SUBSCRIBE_WAIT_S)
        # (`retry`: how long a browser's EventSource waits before it reconnects, for streams browsers open)
        yield (f"retry: {retry_ms}\n" if retry_ms is not None else "") + ": connected\n\n"
        for frame in await opening():
            yield frame
        while True:
            try:
                live = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if live is None:
                return  # fell behind: the client reconnects and starts afresh
            yield live
    finally:
        hub.close(queue)
