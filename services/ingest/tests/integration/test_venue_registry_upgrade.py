"""A deployment from before the venue registry split upgrades by itself, and the relay strips every record.

Before 2026-12-02 the services read venues with their keys from `venues.v1`. After the split they read the
internal `venue-registry.v1`, so on the first start of the new ingest the registry is empty: ingest adopts
venues.v1's keyed records, and the relay republishes each onto venues.v1 without its keys.
"""

from __future__ import annotations

import pytest

from antoan_ingest.venue_relay import PublicVenueRelay, adopt_public_records
from antoan_localstack.testing import TopicReader
from antoan_shared import events, topics
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.settings import ServiceSettings
from antoan_shared.venues import api_key_hash

pytestmark = pytest.mark.integration


def _venue(venue_id: str, name: str, kind: type[events.VenueState] = events.VenueRegistered) -> events.VenueState:
    return kind(
        producer="ingest",
        venue_id=venue_id,
        name=name,
        category=events.VenueCategory.MARKET,
        capacity=50,
        owner_key="pk_owner_" + venue_id,
        api_key_hash=api_key_hash("vk_" + venue_id),
    )


def test_keyed_public_records_move_to_the_registry_and_leave_venues_v1_keyless(settings: ServiceSettings) -> None:
    # Given venues.v1 as an older ingest wrote it: three records of two venues, with their keys
    ensure_topics(settings, topics.topics_written_by("ingest"))
    publisher = EventPublisher(settings, "ingest")
    old = [_venue("v_a", "Chợ A"), _venue("v_b", "Chợ B"), _venue("v_a", "Chợ A mới", events.VenueUpdated)]
    try:
        for venue in old:
            publisher.publish_sync(topics.VENUES, venue)
        # When the new ingest starts: it adopts them, once
        assert adopt_public_records(settings, publisher) == 3
        assert adopt_public_records(settings, publisher) == 0  # the registry is no longer empty
    finally:
        publisher.close()
    registry = TopicReader(settings, topics.VENUE_REGISTRY)
    try:
        adopted = registry.wait_until(lambda b: len(b) >= 3, what="the adopted records")
    finally:
        registry.close()
    assert sorted(adopted, key=lambda e: e.event_id) == sorted(old, key=lambda e: e.event_id)  # keys and all
    # And the relay republishes them onto venues.v1 without their keys
    relay = PublicVenueRelay(settings, poll_s=0.2)
    relay.start()
    public = TopicReader(settings, topics.VENUES)
    try:
        stripped = public.wait_until(lambda b: len(b) >= 6, what="the stripped copies on venues.v1")
    finally:
        relay.stop()
        relay.join(10)
        public.close()
    # Each venue's records, old and copied, on one partition, as the key's hash gives (else compaction would
    # keep an old keyed record beside the copy)
    partitions = {
        (e.venue_id, p) for e, p in zip(stripped, public.partitions, strict=True) if isinstance(e, events.VenueState)
    }
    assert sorted(v for v, _ in partitions) == ["v_a", "v_b"]
    latest = {e.venue_id: e for e in stripped if isinstance(e, events.VenueState)}  # what compaction keeps
    assert {v: e.name for v, e in latest.items()} == {"v_a": "Chợ A mới", "v_b": "Chợ B"}
    assert all(e.owner_key is None and e.api_key_hash == "" for e in latest.values())
    copies = [e for e in stripped if isinstance(e, events.VenueState) and not e.api_key_hash]
    assert sorted(e.event_id for e in copies) == sorted(e.event_id for e in old)  # the same events, keyless
    assert relay.relayed == 3
