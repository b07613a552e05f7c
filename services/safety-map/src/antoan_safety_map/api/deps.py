"""Dependencies of the routes, resolved from the application's state (built once in the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from antoan_safety_map.adapters.read_model import ReadModel, VenueRecord
from antoan_safety_map.engine import RiskEngine
from antoan_safety_map.settings import SafetyMapSettings
from antoan_shared.kafka import EventPublisher
from antoan_shared.venues import check_venue_key
from antoan_shared.web import ApiError, bearer_token, check_health_authority


@dataclass
class Runtime:
    settings: SafetyMapSettings
    read_model: ReadModel
    publisher: EventPublisher
    engine: RiskEngine | None


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BearerToken = Annotated[str | None, Depends(bearer_token)]
VenueId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


async def require_health_authority(runtime: RuntimeDep, token: BearerToken) -> str:
    return check_health_authority(token, runtime.settings.ha_token.get_secret_value())


HealthAuthority = Annotated[str, Depends(require_health_authority)]


async def known_venue(runtime: RuntimeDep, venue_id: VenueId) -> VenueRecord:
    venue = await runtime.read_model.venue(venue_id)
    if venue is None or not venue.known:
        raise ApiError(404, "venue_not_found", "no venue with this id is known to the map")
    return venue


KnownVenue = Annotated[VenueRecord, Depends(known_venue)]


async def owned_venue(venue: KnownVenue, token: BearerToken) -> VenueRecord:
    """The venue of the path, when the caller holds its API key."""
    check_venue_key(token, venue.api_key_hash)
    return venue


OwnedVenue = Annotated[VenueRecord, Depends(owned_venue)]
