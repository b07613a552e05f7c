"""What the map knows about a venue."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from antoan_safety_map.api.deps import RuntimeDep
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/venues", tags=["venues"])


class Occupancy(BaseModel):
    venue_id: str
    current: int
    capacity: int | None
    as_of: datetime | None


@router.get("/{venue_id}/occupancy", response_model=Occupancy, responses={404: {"model": ErrorResponse}})
async def venue_occupancy(venue_id: str, runtime: RuntimeDep) -> Occupancy:
    """How many people are at the venue now, against its capacity."""
    view = await runtime.read_model.occupancy(venue_id)
    if view is None:
        raise ApiError(404, "venue_not_found", "no venue with this id is known to the map")
    return Occupancy(
        venue_id=view.venue_id,
        current=view.current,
        capacity=view.capacity,
        as_of=datetime.fromisoformat(view.as_of) if view.as_of else None,
    )
