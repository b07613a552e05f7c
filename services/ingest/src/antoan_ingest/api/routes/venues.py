"""Venues: registration, updates, and their QR codes and posters."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response, status

from antoan_ingest.adapters import qr_render
from antoan_ingest.api import schemas
from antoan_ingest.api.deps import KnownVenue, OwnedVenue, RuntimeDep
from antoan_ingest.domain import identity
from antoan_ingest.domain.qr import qr_url, rotating_qr, static_qr
from antoan_ingest.domain.venues import CATEGORY_LABELS_VI
from antoan_shared import events, topics
from antoan_shared.venues import api_key_hash
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/venues", tags=["venues"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid_owner_phone"},
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse, "description": "venue_inactive"},
    422: {"model": ErrorResponse},
    429: {"model": ErrorResponse, "description": "rate_limited"},
    503: {"model": ErrorResponse},
}


def _view(venue: events.VenueState) -> schemas.VenueView:
    return schemas.VenueView.model_validate(venue.model_dump())


@router.post("", status_code=status.HTTP_201_CREATED, response_model=schemas.VenueCreated, responses=_ERRORS)
async def register_venue(
    body: schemas.VenueRegistration, runtime: RuntimeDep, request: Request
) -> schemas.VenueCreated:
    """Register a venue: its id, the poster's signed QR payload and an API key for its scanners. No account is
    needed, so registrations are counted by address (`INGEST_VENUE_REGISTRATION_BURST`, then
    `INGEST_VENUE_REGISTRATIONS_PER_HOUR`)."""
    settings = runtime.settings
    address = request.client.host if request.client else "?"
    if not runtime.registrations.allow(address, time.monotonic()):
        message = "too many venue registrations from this address; try again later"
        raise ApiError(429, "rate_limited", message, headers={"retry-after": runtime.registrations.retry_after})
    venue_id = "v_" + secrets.token_hex(8)
    api_key = "vk_" + secrets.token_urlsafe(24)
    owner_key = None
    fields = body.model_dump(exclude={"owner_phone"})
    if body.owner_phone is not None:
        try:
            owner = identity.normalise_person_id(body.owner_phone)
        except identity.InvalidPersonIdError as exc:
            raise ApiError(400, "invalid_owner_phone", str(exc)) from exc
        owner_key = identity.person_key(settings.pepper.get_secret_value().encode(), owner)
        owner_contact = {"identifier": owner.canonical, "phone": "+" + owner.value}
        await runtime.vault.remember([(owner_key, owner_contact)], "venue_owner")
    venue = events.VenueRegistered(
        producer="ingest",
        venue_id=venue_id,
        owner_key=owner_key,
        api_key_hash=api_key_hash(api_key),
        qr_key_id=settings.qr_key_id,
        **fields,
    )
    await runtime.publisher.publish(topics.VENUE_REGISTRY, venue)
    await runtime.lookup.remember(venue)
    token = static_qr(settings.qr_keys, settings.qr_key_id, venue_id)
    return schemas.VenueCreated(venue_id=venue_id, qr=token, qr_url=qr_url(settings.public_url, token), api_key=api_key)


@router.get("/{venue_id}", response_model=schemas.VenueView, responses=_ERRORS)
async def get_venue(venue: KnownVenue) -> schemas.VenueView:
    return _view(venue)


@router.patch("/{venue_id}", response_model=schemas.VenueView, responses=_ERRORS)
async def update_venue(body: schemas.VenueUpdate, venue: OwnedVenue, runtime: RuntimeDep) -> schemas.VenueView:
    """Change a venue's details (with its API key)."""
    _require_active(venue)
    changes = body.model_dump(exclude_unset=True)
    fixed = ("name", "category", "address", "capacity", "rotating_qr_only")
    if any(changes.get(name, True) is None for name in fixed):
        raise ApiError(422, "invalid_request", f"{', '.join(fixed)} cannot be emptied")
    state = venue.model_dump(exclude={"event_id", "type", "occurred_at"}) | changes
    updated = events.VenueUpdated.model_validate(state)
    await runtime.publisher.publish(topics.VENUE_REGISTRY, updated)
    await runtime.lookup.remember(updated)
    return _view(updated)


@router.delete("/{venue_id}", response_model=schemas.VenueView, responses=_ERRORS)
async def deactivate_venue(venue: OwnedVenue, runtime: RuntimeDep) -> schemas.VenueView:
    """Deactivate a venue (with its API key): its QR codes stop working."""
    state = venue.model_dump(exclude={"event_id", "type", "occurred_at", "active"})
    deactivated = events.VenueDeactivated.model_validate(state)
    await runtime.publisher.publish(topics.VENUE_REGISTRY, deactivated)
    await runtime.lookup.remember(deactivated)
    return _view(deactivated)


def _require_active(venue: events.VenueState) -> None:
    if not venue.active:
        raise ApiError(409, "venue_inactive", "the venue was deactivated")


def _poster_payload(runtime: RuntimeDep, venue: events.VenueState) -> str:
    """What the poster's QR code encodes: the check-in page's address for the venue's signed token."""
    _require_active(venue)
    settings = runtime.settings
    return qr_url(settings.public_url, static_qr(settings.qr_keys, settings.qr_key_id, venue.venue_id))


_IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}}},
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
}


@router.get("/{venue_id}/qr.svg", response_class=Response, responses=_IMAGE)
async def venue_qr_svg(venue: OwnedVenue, runtime: RuntimeDep) -> Response:
    """The poster's QR code as SVG (with the venue's API key: whoever holds a poster's code can check in)."""
    return Response(qr_render.qr_svg(_poster_payload(runtime, venue)), media_type="image/svg+xml")


@router.get("/{venue_id}/qr.png", response_class=Response, responses={**_IMAGE, 200: {"content": {"image/png": {}}}})
async def venue_qr_png(venue: OwnedVenue, runtime: RuntimeDep) -> Response:
    """The poster's QR code as PNG (with the venue's API key)."""
    return Response(qr_render.qr_png(_poster_payload(runtime, venue)), media_type="image/png")


@router.get(
    "/{venue_id}/poster.pdf",
    response_class=Response,
    responses={**_IMAGE, 200: {"content": {"application/pdf": {}}}},
)
async def venue_poster(venue: OwnedVenue, runtime: RuntimeDep) -> Response:
    """A printable A4 poster: the venue's name, its QR code and Vietnamese instructions (with the venue's
    API key)."""
    poster = qr_render.PosterVenue(
        venue_id=venue.venue_id,
        name=venue.name,
        address=venue.address,
        category_label=CATEGORY_LABELS_VI[venue.category],
    )
    # Rendering takes a few hundred milliseconds of CPU: off the event loop.
    pdf = await asyncio.to_thread(qr_render.poster_pdf, poster, _poster_payload(runtime, venue))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="antoan-{venue.venue_id}.pdf"'},
    )


@router.get("/{venue_id}/qr/rotating", response_model=schemas.RotatingQr, responses=_ERRORS)
async def venue_rotating_qr(venue: OwnedVenue, runtime: RuntimeDep) -> schemas.RotatingQr:
    """A QR code for a screen at the entrance, expiring after a few minutes (with the venue's API key)."""
    _require_active(venue)
    settings = runtime.settings
    expires_at = events.utc_now() + timedelta(seconds=settings.rotating_qr_ttl_s)
    payload = rotating_qr(settings.qr_keys, settings.qr_key_id, venue.venue_id, expires_at)
    return schemas.RotatingQr(qr=payload, url=qr_url(settings.public_url, payload), expires_at=expires_at)


@router.get(
    "/{venue_id}/qr/rotating.png",
    response_class=Response,
    responses={**_IMAGE, 200: {"content": {"image/png": {}}}},
)
async def venue_rotating_qr_png(venue: OwnedVenue, runtime: RuntimeDep) -> Response:
    """The screen's expiring QR code as an image (with the venue's API key); `X-Expires-At` says until when
    it is accepted, so a kiosk fetches the next one in time."""
    code = await venue_rotating_qr(venue, runtime)
    return Response(
        qr_render.qr_png(code.url),
        media_type="image/png",
        headers={"cache-control": "no-store", "x-expires-at": code.expires_at.isoformat()},
    )
