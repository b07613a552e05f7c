"""Each HTTP process's own search index and cluster grid of the venues on the map, built from the Redis read
model and kept current from the engine's change channel (a venue's registration or move, and its level).

The index follows the channel before it reads the venues, so a venue registered while it loads is not missed
(a change applied twice is harmless: `put` is idempotent). After a lost subscription it loads afresh, since
pub/sub does not replay what was published meanwhile. Only venues with a location are indexed: a result is
somewhere to fly to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from antoan_safety_map.adapters.read_model import Keys
from antoan_safety_map.domain.venue_clusters import ClusterGrid
from antoan_safety_map.domain.venue_search import SearchIndex

log = logging.getLogger(__name__)
LOAD_CHUNK = 2000


def _mapped(venue: dict[str, Any]) -> bool:
    return venue.get("active", True) is not False and venue.get("lat") is not None and venue.get("lon") is not None


class VenueDirectory:
    def __init__(self, client: aioredis.Redis, keys: Keys, poll_s: float = 1.0) -> None:
        self._client = client
        self._keys = keys
        self._poll_s = poll_s
        self.index = SearchIndex()
        self.grid = ClusterGrid()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ready(self) -> SearchIndex:
        """The index, once loaded (the first caller starts it)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="map-venue-directory")
        await self._ready.wait()
        return self.index

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ready_grid(self) -> ClusterGrid:
        """The cluster grid, once loaded (the first caller starts it)."""
        await self.ready()
        return self.grid

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        """One change from the channel: a venue's registration, update or deactivation, or its new level."""
        if kind == "venue-risk":
            self.grid.set_level(str(data.get("venue_id", "")), data.get("level"))
            return
        if kind != "venue":
            return
        properties = data.get("properties") or {}
        venue_id = str(properties.get("venue_id") or data.get("id") or "")
        coordinates = (data.get("geometry") or {}).get("coordinates") or [None, None]
        venue = {**properties, "lon": coordinates[0], "lat": coordinates[1]}
        if not venue_id:
            return
        if _mapped(venue):
            self.index.put(venue_id, str(venue.get("name", "")), str(venue.get("address", "")))
            self.grid.put(venue_id, float(venue["lon"]), float(venue["lat"]), venue.get("level"))
        else:
            self.index.remove(venue_id)
            self.grid.remove(venue_id)

    async def _load(self) -> None:
        index = SearchIndex()
        grid = ClusterGrid()
        venue_ids = [
            m.decode() if isinstance(m, bytes) else str(m) for m in await self._client.smembers(self._keys.venues)
        ]
        for start in range(0, len(venue_ids), LOAD_CHUNK):
            chunk = venue_ids[start : start + LOAD_CHUNK]
            for venue_id, raw in zip(chunk, await self._client.mget([self._keys.venue(v) for v in chunk]), strict=True):
                if raw is None:
                    continue
                venue = json.loads(raw)
                if venue.get("known") and _mapped(venue):
                    index.put(venue_id, str(venue.get("name", "")), str(venue.get("address", "")))
                    grid.put(venue_id, float(venue["lon"]), float(venue["lat"]), venue.get("level"))
            await asyncio.sleep(0)  # a national load takes seconds: let requests in between chunks
        self.index = index
        self.grid = grid

    async def _follow(self) -> None:
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._keys.changes)
                await self._load()
                self._ready.set()
                while True:
                    message = await pubsub.get_message(timeout=self._poll_s)
                    if message is not None:
                        change = json.loads(message["data"])
                        self.apply(change.get("kind", ""), change.get("data") or {})
            except RedisError as exc:
                log.warning("venue search lost its Redis subscription; reloading", extra={"error": repr(exc)})
                await asyncio.sleep(self._poll_s)
            finally:
                with contextlib.suppress(RedisError):
                    await pubsub.unsubscribe(self._keys.changes)
                await pubsub.aclose()  # type: ignore[no-untyped-call]
