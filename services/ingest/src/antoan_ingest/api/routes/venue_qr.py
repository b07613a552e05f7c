"""What a venue QR code names, for the check-in page it opens (before the person checks in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import RuntimeDep
from antoan_shared.web import ErrorResponse

router = APIRouter(prefix="/v1/venue-qr", tags=["check-ins"])


@router.get(
    "/{token}",
    response_model=schemas.VenueOfQr,
    responses={
        400: {
            "model": ErrorResponse,
            "description": "invalid_qr_format, unknown_qr_key, invalid_qr_signature, qr_expired",
        },
        403: {"model": ErrorResponse, "description": "rotating_qr_required"},
        404: {"model": ErrorResponse, "description": "venue_not_found"},
        429: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
async def venue_of_qr(
    token: Annotated[str, Path(min_length=1, max_length=512)], runtime: RuntimeDep
) -> schemas.VenueOfQr:
    """The venue a QR code (its token, or the page address it encodes) would check a person in at now, with
    what the public may know of it; a code a check-in would refuse is refused here with the same error code."""
    venue, venue_qr = await runtime.checkins.venue_of_qr(token)
    expires_at = None if venue_qr.expires_at is None else datetime.fromtimestamp(venue_qr.expires_at, UTC)
    return schemas.VenueOfQr(
        venue_id=venue.venue_id,
        name=venue.name,
        category=venue.category,
        address=venue.address,
        capacity=venue.capacity,
        kind="static" if expires_at is None else "rotating",
        expires_at=expires_at,
    )
