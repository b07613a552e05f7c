"""Dependencies of the routes, resolved from the application's state (built once in the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from antoan_ingest.adapters.idempotency import IdempotencyStore
from antoan_ingest.adapters.recent_venues import VenueLookup
from antoan_ingest.adapters.vault import IdentityVault
from antoan_ingest.checkins import CheckInRecorder, ScanCoalescer
from antoan_ingest.settings import IngestSettings
from antoan_shared.events import VenueState
from antoan_shared.kafka import EventPublisher
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower, check_venue_key
from antoan_shared.web import ApiError, TokenBuckets, bearer_token, check_health_authority


@dataclass
class Runtime:
    settings: IngestSettings
    publisher: EventPublisher
    venues: VenueDirectory
    follower: VenueDirectoryFollower
    lookup: VenueLookup  # the directory, and the venues other processes wrote lately
    vault: IdentityVault
    checkins: CheckInRecorder
    idempotency: IdempotencyStore
    # Venue registrations by client address (anonymous, so the address is all there is to count on).
    registrations: TokenBuckets
    scans: ScanCoalescer  # single scans without a venue key, recorded together under load


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BearerToken = Annotated[str | None, Depends(bearer_token)]


async def require_health_authority(runtime: RuntimeDep, token: BearerToken) -> str:
    """The caller presented the health authority's token; returns the actor name for the audit log."""
    return check_health_authority(token, runtime.settings.ha_token.get_secret_value())


HealthAuthority = Annotated[str, Depends(require_health_authority)]


async def known_venue(runtime: RuntimeDep, venue_id: Annotated[str, Path(max_length=64)]) -> VenueState:
    venue = await runtime.lookup.get(venue_id)
    if venue is None:
        runtime.venues.require_loaded()
        raise ApiError(404, "venue_not_found", "no venue has this id")
    return venue


KnownVenue = Annotated[VenueState, Depends(known_venue)]


async def owned_venue(venue: KnownVenue, token: BearerToken) -> VenueState:
    """The venue of the path, when the caller holds its API key."""
    check_venue_key(token, venue.api_key_hash)
    return venue


OwnedVenue = Annotated[VenueState, Depends(owned_venue)]
