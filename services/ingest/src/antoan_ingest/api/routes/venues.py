"""Venue registration."""

from __future__ import annotations

import hashlib
import secrets

from fastapi import APIRouter, status

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import RuntimeDep
from antoan_ingest.domain.qr import static_qr
from antoan_shared import events, topics
from antoan_shared.web import ErrorResponse

router = APIRouter(prefix="/v1/venues", tags=["venues"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.VenueRegistered,
    responses={422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
async def register_venue(body: schemas.VenueRegistration, runtime: RuntimeDep) -> schemas.VenueRegistered:
    """Register a venue: its id, the poster's signed QR payload and an API key for its scanners."""
    venue_id = "v_" + secrets.token_hex(8)
    api_key = "vk_" + secrets.token_urlsafe(24)
    venue = events.VenueRegistered(
        producer="ingest",
        venue_id=venue_id,
        api_key_hash=hashlib.sha256(api_key.encode()).hexdigest(),
        qr_key_id=runtime.settings.qr_key_id,
        **body.model_dump(),
    )
    await runtime.publisher.publish(topics.VENUES, venue)
    runtime.venues.put(venue)
    qr = static_qr(runtime.settings.qr_keys, runtime.settings.qr_key_id, venue_id)
    return schemas.VenueRegistered(venue_id=venue_id, qr=qr, api_key=api_key)
