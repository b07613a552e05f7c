"""The live stream's source: one Redis subscription per process, fanned out in memory to every open stream.

A subscription per stream held a connection from the Redis pool each, so about a hundred open maps emptied
the pool and every other read answered 500. Here the process holds one subscription, started with the first
stream and closed with the last, and each stream reads its own bounded queue. A stream too slow to keep up is
ended rather than left to grow (the browser's EventSource reconnects by itself), and beyond `max_streams`
a new stream is refused so the process keeps serving reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A frame, or None: the stream is over (it fell too far behind).
Frame = str | None


Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


def sse_frame(change: dict[str, Any]) -> str:
    """A change published by the engine as a server-sent event."""
    return f"event: {change['kind']}\ndata: {json.dumps(change['data'], ensure_ascii=False)}\n\n"


def in_view(change: dict[str, Any], box: Box | None) -> bool:
    """Whether a stream of this view passes the change on: every change without a view; with one, area changes
    and a venue's changes inside the view (one published without its place, by an engine before `at`, too)."""
    at = change.get("at")
    if box is None or change.get("kind") == "area-risk" or not isinstance(at, list) or len(at) != 2:
        return True
    lon, lat = float(at[0]), float(at[1])
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


class ChangeHub:
    def __init__(
        self, client: aioredis.Redis, channel: str, max_streams: int, backlog: int = 1000, poll_s: float = 1.0
    ) -> None:
        self._client = client
        self._channel = channel
        self._max_streams = max_streams
        self._backlog = backlog
        self._poll_s = poll_s
        self._streams: dict[asyncio.Queue[Frame], Box | None] = {}  # each stream's queue and view
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def open(self, box: Box | None = None) -> asyncio.Queue[Frame] | None:
        """A new stream's queue (of the changes in `box`, if given), or None when the process already serves
        `max_streams`."""
        if len(self._streams) >= self._max_streams:
            return None
        queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=self._backlog)
        self._streams[queue] = box
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="map-change-hub")
        return queue

    async def subscribed(self) -> None:
        """Until the hub is subscribed: from then on, a stream misses no change (callers bound the wait)."""
        await self._subscribed.wait()

    def close(self, queue: asyncio.Queue[Frame]) -> None:
        self._streams.pop(queue, None)

    def _fan_out(self, message: bytes | str) -> None:
        change = json.loads(message)
        frame = sse_frame(change)
        for queue, box in list(self._streams.items()):
            if not in_view(change, box):
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
