"""A service's own view of the venue registry, read from the internal `venue-registry.v1` (ingest checks venue
ids at scan time, the tracer finds a venue's dwell time and API key, without a database round trip). The public
`venues.v1` carries the same records without their key material."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading

from confluent_kafka import Message  # type: ignore[import-untyped,unused-ignore]

from antoan_shared import codec, topics
from antoan_shared.errors import ApiError, credential_verified
from antoan_shared.events import VenueState
from antoan_shared.kafka import make_reader, partitions_of, read_to_end, records_of
from antoan_shared.settings import ServiceSettings
from antoan_shared.threads import RestartingThread

log = logging.getLogger(__name__)


def api_key_hash(api_key: str) -> str:
    """What the venue registry keeps of a venue's API key: its SHA-256 (the key itself is never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def api_key_matches(api_key: str | None, venue: VenueState) -> bool:
    return (
        api_key is not None
        and bool(venue.api_key_hash)
        and hmac.compare_digest(api_key_hash(api_key), venue.api_key_hash)
    )


def check_venue_key(api_key: str | None, expected_hash: str) -> None:
    """Refuses (401/403) a caller that does not hold the venue's API key, given the hash the registry keeps."""
    if api_key is None:
        raise ApiError(401, "venue_key_required", "this endpoint needs the venue's API key as bearer token")
    if not expected_hash or not hmac.compare_digest(api_key_hash(api_key), expected_hash):
        raise ApiError(403, "invalid_venue_key", "the API key does not belong to this venue")
    credential_verified()


class VenueDirectory:
    """Venues by id. Filled from the compacted topic on start (every instance reads all partitions)."""

    def __init__(self) -> None:
        self._venues: dict[str, VenueState] = {}
        self._by_api_key_hash: dict[str, str] = {}
        self._lock = threading.Lock()
        # Set once the directory holds all of the registry as it stood at start: before that, a venue not
        # found may just not be read yet.
        self.loaded = threading.Event()

    def require_loaded(self) -> None:
        """A venue not found before the directory is loaded is not known to be missing: 503, retry."""
        if not self.loaded.is_set():
            raise ApiError(503, "venues_loading", "the venue directory is still loading; retry shortly")

    def get(self, venue_id: str) -> VenueState | None:
        return self._venues.get(venue_id)

    def by_api_key_hash(self, api_key_hash: str) -> VenueState | None:
        venue_id = self._by_api_key_hash.get(api_key_hash)
        return None if venue_id is None else self._venues.get(venue_id)

    def put(self, venue: VenueState) -> None:
        with self._lock:
            known = self._venues.get(venue.venue_id)
            if known is None or known.occurred_at <= venue.occurred_at:
                if known is not None:
                    self._by_api_key_hash.pop(known.api_key_hash, None)
                self._venues[venue.venue_id] = venue
                self._by_api_key_hash[venue.api_key_hash] = venue.venue_id

    def __len__(self) -> int:
        return len(self._venues)


class VenueDirectoryFollower(RestartingThread):
    """Tails `venue-registry.v1` from the beginning into a VenueDirectory; `caught_up` is set at the end offsets.

    Its reader is given every partition and waits for news in librdkafka's threads and the broker, not in
    Python: an idle follower costs its process next to nothing (docs/decisions/0003)."""

    def __init__(self, settings: ServiceSettings, directory: VenueDirectory, service: str) -> None:
        super().__init__(name="venue-directory")
        self._settings = settings
        self._directory = directory
        self._group_id = settings.group_id(service, "venue-directory")  # never joined: see make_reader
        self.retry_after_s = 2.0

    @property
    def caught_up(self) -> threading.Event:
        """The directory's own `loaded`: one flag for one fact."""
        return self._directory.loaded

    def _run_once(self) -> None:
        reader = make_reader(self._settings, self._group_id)
        try:
            topic = self._settings.topic(topics.VENUE_REGISTRY)
            # A reader given no partition would follow nothing while the directory said it was loaded: a topic
            # not in the metadata yet is waited for, then this is tried again (RestartingThread).
            partitions = partitions_of(reader, [topic], wait_s=30)
            if not partitions:
                raise RuntimeError(f"{topic} has no partitions in the metadata yet")
            read_to_end(reader, partitions, self._apply_all, self._stop_requested)
            if self._stop_requested.is_set():
                return
            if not self.caught_up.is_set():
                self.caught_up.set()
                log.info(
                    "venue directory caught up", extra={"venues": len(self._directory), "partitions": len(partitions)}
                )
            while not self._stop_requested.is_set():
                self._apply_all(records_of(reader.consume(num_messages=500, timeout=0.2)))
        finally:
            reader.close()

    def _apply_all(self, records: list[Message]) -> None:
        for record in records:
            self._apply(record.value())

    def _apply(self, raw: bytes) -> None:
        try:
            venue = codec.decode_for_topic(topics.VENUE_REGISTRY, raw)
        except codec.DecodeError:
            log.exception("skipping undecodable venue record")
            return
        assert isinstance(venue, VenueState)
        self._directory.put(venue)
