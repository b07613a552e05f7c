"""Check-ins: a person scanning a venue's QR code."""

from __future__ import annotations

from fastapi import APIRouter, status

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import RuntimeDep
from antoan_ingest.domain import checkins, identity, qr
from antoan_shared import events, topics
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/checkins", tags=["check-ins"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.CheckInAccepted,
    responses={
        400: {"model": ErrorResponse, "description": "invalid_qr_*, qr_expired, scanned_at_out_of_range"},
        404: {"model": ErrorResponse, "description": "venue_not_found"},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse, "description": "broker_unavailable"},
    },
)
async def check_in(body: schemas.CheckInRequest, runtime: RuntimeDep) -> schemas.CheckInAccepted:
    """Record a scan; answers 202 only after Kafka acknowledged the event (acks=all)."""
    settings = runtime.settings
    now = events.utc_now()
    try:
        venue_qr = qr.verify_qr(settings.qr_keys, body.venue_qr, now)
    except qr.QrError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    venue = runtime.venues.get(venue_qr.venue_id)
    if venue is None or not venue.active:
        raise ApiError(404, "venue_not_found", "no active venue has this QR code")
    try:
        person = identity.normalise_person_id(body.person_id)
    except identity.InvalidPersonIdError as exc:
        raise ApiError(400, "invalid_person_id", str(exc)) from exc
    scanned_at = body.scanned_at or now
    try:
        checkins.check_scanned_at(scanned_at, now, settings.max_clock_skew, settings.retention)
    except checkins.ScannedAtOutOfRangeError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc

    person_key = identity.person_key(settings.pepper.get_secret_value().encode(), person)
    event = events.CheckInRecorded(
        event_id=checkins.checkin_event_id(person_key, body.client_event_id),
        producer="ingest",
        venue_id=venue.venue_id,
        person_key=person_key,
        direction=body.direction,
        scanned_at=scanned_at,
        app=body.app,
        method=events.CheckInMethod.VENUE_QR,
        client_event_id=body.client_event_id,
        declaration=body.declaration,
    )
    await runtime.publisher.publish(topics.CHECKINS, event)
    return schemas.CheckInAccepted(event_id=event.event_id, person_key=person_key, venue_id=venue.venue_id)
