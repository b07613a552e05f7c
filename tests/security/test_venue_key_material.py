"""The public venue topic carries no key material; the services check venue keys against an internal registry.

Issue 12's finding: `venues.v1`, which any subscribing agency reads, carried the owner's `owner_key` (their
person_key, which joins with every restricted topic) and `api_key_hash` (what the services check a venue key
against). Now ingest writes a venue's state to the internal `venue-registry.v1`, which only the services read,
and copies each record onto `venues.v1` with `owner_key` null and `api_key_hash` empty (the v1 schema is
unchanged, so agencies' readers keep working; docs/decisions/0002).
"""

from __future__ import annotations

import httpx
import pytest

from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import events, topics

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]


def _records_of(
    running_services: RunningServices, spec: topics.TopicSpec, venue_id: str, count: int
) -> list[events.VenueState]:
    reader = TopicReader(running_services.settings(), spec)
    try:
        batch = reader.wait_until(
            lambda b: sum(isinstance(e, events.VenueState) and e.venue_id == venue_id for e in b) >= count,
            what=f"{count} records of {venue_id} on {spec.name}",
        )
    finally:
        reader.close()
    return [e for e in batch if isinstance(e, events.VenueState) and e.venue_id == venue_id]


def test_agencies_see_venues_without_keys_and_every_service_still_checks_the_key(
    running_services: RunningServices,
) -> None:
    ingest, tracer, safety_map = running_services.ingest, running_services.tracer, running_services.safety_map
    # Given a venue registered with its owner's phone number, then renamed with its key
    body = {"name": "Quán cà phê Gác", "category": "cafe", "capacity": 30, "owner_phone": "0916111222"}
    created = httpx.post(f"{ingest}/v1/venues", json=body)
    assert created.status_code == 201, created.text
    venue_id, key = created.json()["venue_id"], created.json()["api_key"]
    owner = {"authorization": f"Bearer {key}"}
    renamed = httpx.patch(f"{ingest}/v1/venues/{venue_id}", json={"name": "Quán Gác"}, headers=owner)
    assert renamed.status_code == 200, renamed.text
    # Then venues.v1 has both records, with no owner key and no key hash
    public = _records_of(running_services, topics.VENUES, venue_id, 2)
    assert [type(e) for e in public] == [events.VenueRegistered, events.VenueUpdated]
    assert [e.name for e in public] == ["Quán cà phê Gác", "Quán Gác"]
    assert all(e.owner_key is None and e.api_key_hash == "" for e in public)
    # And the internal registry has the same events with them
    internal = _records_of(running_services, topics.VENUE_REGISTRY, venue_id, 2)
    assert [e.event_id for e in internal] == [e.event_id for e in public]
    assert all(e.owner_key and len(e.api_key_hash) == 64 for e in internal)
    # And the key opens the venue's reads and writes on every service, while a wrong one does not
    visits = f"{tracer}/v1/venues/{venue_id}/visits"
    wait_for(lambda: httpx.get(visits, headers=owner).status_code == 200, what="the tracer knows the venue")
    assert httpx.get(visits, headers={"authorization": "Bearer vk_wrong"}).status_code == 403
    assessment = f"{safety_map}/v1/venues/{venue_id}/self-assessment"
    answers = {"answers": {"masks": True}}
    wait_for(lambda: httpx.post(assessment, json=answers, headers=owner).is_success, what="the map knows the venue")
    assert httpx.post(assessment, json=answers, headers={"authorization": "Bearer vk_wrong"}).status_code == 403
    # And an empty hash, as venues.v1 now carries, matches no key
    assert httpx.patch(f"{ingest}/v1/venues/{venue_id}", json={"capacity": 31}, headers=owner).status_code == 200
