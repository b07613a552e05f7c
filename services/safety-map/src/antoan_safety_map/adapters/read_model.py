"""The Redis read model: what the map serves, rebuilt at any time from the compacted topics."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from antoan_shared.events import Event, OccupancyChanged, VenueState


@dataclass(frozen=True)
class Keys:
    prefix: str

    def venue(self, venue_id: str) -> str:
        return f"{self.prefix}venue:{venue_id}"

    def occupancy(self, venue_id: str) -> str:
        return f"{self.prefix}occupancy:{venue_id}"


@dataclass(frozen=True)
class OccupancyView:
    venue_id: str
    current: int
    capacity: int | None
    as_of: str | None


class ReadModelWriter:
    """Applies events to Redis in one round trip per batch (the projector's side)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def apply(self, batch: list[Event]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for event in batch:
            if isinstance(event, VenueState):
                pipe.hset(
                    self._keys.venue(event.venue_id),
                    mapping={"name": event.name, "category": event.category.value, "capacity": event.capacity},
                )
            elif isinstance(event, OccupancyChanged):
                pipe.hset(
                    self._keys.occupancy(event.venue_id),
                    mapping={"current": event.current, "as_of": event.as_of.isoformat()},
                )
        pipe.execute()


class ReadModel:
    """Reads for the HTTP routes."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except redis.RedisError:
            return False

    async def occupancy(self, venue_id: str) -> OccupancyView | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(self._keys.venue(venue_id))
        pipe.hgetall(self._keys.occupancy(venue_id))
        venue, occupancy = await pipe.execute()
        if not venue and not occupancy:
            return None
        return OccupancyView(
            venue_id=venue_id,
            current=int(occupancy.get(b"current", 0)),
            capacity=int(venue[b"capacity"]) if b"capacity" in venue else None,
            as_of=occupancy[b"as_of"].decode() if b"as_of" in occupancy else None,
        )
