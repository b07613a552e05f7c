"""Venues just written, visible at once to every ingest process.

Each ingest process keeps its own venue directory, filled from `venue-registry.v1` by its follower a few
hundred milliseconds after a write. A venue registered through one process and used at once through another
(the key holder renames it, a person scans the fresh poster) would be unknown there until then. So whoever
writes a venue also leaves its state in Redis for a while, and a directory miss looks there before it
answers 404 or 401. Misses are rare (new venues, wrong input), so the check-in path costs nothing; a venue's
own routes (details, codes, changes) always look, so its key holder reads what they just wrote.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from antoan_shared import codec
from antoan_shared.events import VenueState
from antoan_shared.venues import VenueDirectory

# Long enough for every process's follower to have read the write, even behind a slow broker.
KEEP_S = 600


class VenueLookup:
    def __init__(self, directory: VenueDirectory, client: aioredis.Redis, prefix: str) -> None:
        self.directory = directory
        self._client = client
        self._prefix = prefix

    def _venue_key(self, venue_id: str) -> str:
        return f"{self._prefix}recent-venue:{venue_id}"

    def _hash_key(self, api_key_hash: str) -> str:
        return f"{self._prefix}recent-venue-key:{api_key_hash}"

    async def remember(self, venue: VenueState) -> None:
        """After the venue's state was acknowledged on the registry: every process sees it from now on."""
        self.directory.put(venue)
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self._venue_key(venue.venue_id), codec.encode_event(venue), ex=KEEP_S)
        pipe.set(self._hash_key(venue.api_key_hash), venue.venue_id, ex=KEEP_S)
        await pipe.execute()

    async def get(self, venue_id: str) -> VenueState | None:
        """The venue as last written through any process (a venue's own routes: its key holder reads what they
        just wrote, a deactivation included), else as the directory has it. One round trip."""
        raw = await self._client.get(self._venue_key(venue_id))
        if raw is not None:
            venue = codec.decode_event(raw)
            if isinstance(venue, VenueState):
                self.directory.put(venue)  # kept only if newer than what the directory holds
        return self.directory.get(venue_id)

    async def by_api_key_hash(self, api_key_hash: str) -> VenueState | None:
        venue = self.directory.by_api_key_hash(api_key_hash)
        if venue is None:
            venue_id = await self._client.get(self._hash_key(api_key_hash))
            if venue_id is not None:
                await self.fill([venue_id.decode() if isinstance(venue_id, bytes) else venue_id])
                venue = self.directory.by_api_key_hash(api_key_hash)
        return venue

    async def fill(self, venue_ids: Iterable[str]) -> None:
        """Put into the directory the venues written lately that it does not hold yet (one round trip)."""
        missing = sorted({venue_id for venue_id in venue_ids if self.directory.get(venue_id) is None})
        if not missing:
            return
        for raw in await self._client.mget([self._venue_key(venue_id) for venue_id in missing]):
            if raw is not None:
                venue = codec.decode_event(raw)
                if isinstance(venue, VenueState):
                    self.directory.put(venue)
