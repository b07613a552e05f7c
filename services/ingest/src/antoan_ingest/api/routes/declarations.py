"""Health declarations: domestic, entry into the country, domestic move, quarantine daily update."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status
from pydantic import BaseModel, Field

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import HealthAuthority, RuntimeDep
from antoan_ingest.domain import checkins, identity, plausible
from antoan_shared import events, topics
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/declarations", tags=["declarations"])

# Identifying fields stay in the vault; so does free text (below); the rest travels on the topic.
_NOT_ON_TOPIC = {"person_id", "declared_by", "declared_at", "contact", "client_event_id", "kind", "symptoms"}
_SHARED_FIELDS = {"temperature_c", "contact_with_case", "contact_with_suspected_case"}
# What a person types (flights, seats, addresses, routes, places, plates): kept in the vault by the
# declaration's event id, never on `declarations.v1`, where a scan found phone numbers, names and a plate.
FREE_TEXT = frozenset(
    {
        "nationality",
        "flight_or_vehicle",
        "seat",
        "origin",
        "border_gate",
        "travel_history_14d",
        "quarantine_address",
        "places_visited",
        "vehicle",
        "route_from",
        "route_to",
        "departure_gate",
        "arrival_gate",
    }
)


# Swagger UI offers these in a list (one per kind); ReDoc shows them beside the body.
_EXAMPLES: dict[str, Any] = {
    kind: {"summary": summary, "value": schemas.DECLARATION_EXAMPLES[kind]}
    for kind, summary in (
        ("domestic", "Khai báo y tế nội địa (domestic declaration)"),
        ("entry", "Khai báo nhập cảnh (entry into the country)"),
        ("domestic_move", "Khai báo di chuyển nội địa (domestic move)"),
        ("quarantine_daily", "Cập nhật hằng ngày khi cách ly (quarantine daily update), on someone's behalf"),
    )
}


def _person(raw: str, code: str) -> identity.PersonId:
    try:
        return identity.normalise_person_id(raw)
    except identity.InvalidPersonIdError as exc:
        raise ApiError(400, code, str(exc)) from exc


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.DeclarationAccepted,
    responses={400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
async def declare(
    body: Annotated[schemas.DeclarationRequest, Body(openapi_examples=_EXAMPLES)], runtime: RuntimeDep
) -> schemas.DeclarationAccepted:
    """Record a declaration, possibly on behalf of someone else; 202 once Kafka acknowledged it."""
    settings = runtime.settings
    pepper = settings.pepper.get_secret_value().encode()
    now = events.utc_now()
    declared_at = body.declared_at or now
    try:
        plausible.check_moment("declared_at", declared_at, now, settings.max_clock_skew)
        for name in ("arrival_date", "travel_date"):
            plausible.check_day(name, getattr(body, name, None), now.date())
        plausible.check_birth_date(body.contact.birth_date if body.contact else None, now.date())
    except plausible.ImplausibleTimeError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    person = _person(body.person_id, "invalid_person_id")
    person_key = identity.person_key(pepper, person)
    declarant_key = None
    contacts: list[tuple[str, dict[str, str]]] = [(person_key, {"identifier": person.canonical})]
    if body.declared_by is not None:
        declarant = _person(body.declared_by, "invalid_declared_by")
        declarant_key = identity.person_key(pepper, declarant)
        contacts.append((declarant_key, {"identifier": declarant.canonical}))
    if body.contact is not None:
        contacts[0][1].update({k: str(v) for k, v in body.contact.model_dump(exclude_none=True).items()})
    fields = body.model_dump(mode="json", exclude=_NOT_ON_TOPIC)
    free_text = {name: value for name in FREE_TEXT & fields.keys() if (value := fields.pop(name))}
    event = events.DeclarationSubmitted(
        event_id=checkins.derived_event_id(f"declaration/{person_key}", body.client_event_id),
        producer="ingest",
        person_key=person_key,
        kind=events.DeclarationKind(body.kind),
        declared_at=declared_at,
        submitted_by_key=declarant_key,
        symptoms=tuple(body.symptoms),
        **{name: fields.pop(name) for name in _SHARED_FIELDS if name in fields},
        details=fields,
    )
    await runtime.vault.remember(contacts, "self_declared")
    lifetime_s = int(settings.retention.total_seconds())
    await runtime.vault.keep_declaration_details(event.event_id, person_key, free_text, lifetime_s)
    await runtime.publisher.publish(topics.DECLARATIONS, event)
    return schemas.DeclarationAccepted(event_id=event.event_id, person_key=person_key)


class DeclarationDetails(BaseModel):
    event_id: str
    person_key: str
    details: dict[str, Any] = Field(
        description="The declaration's free text (flight, seat, addresses, route, places visited), as declared"
    )


@router.get(
    "/{event_id}/details",
    response_model=DeclarationDetails,
    responses={
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse, "description": "declaration_details_not_found"},
    },
)
async def declaration_details(
    event_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f-]{36}$")],
    runtime: RuntimeDep,
    actor: HealthAuthority,
) -> DeclarationDetails:
    """The free text of a declaration seen on `declarations.v1` (health-authority token; the read is audited).
    It is kept in the vault, not on the topic, for the retention period."""
    found = await runtime.vault.declaration_details(event_id)
    if found is None:
        raise ApiError(404, "declaration_details_not_found", "the vault holds no free text for this declaration")
    person_key, details = found
    resource = f"/v1/declarations/{event_id}/details"
    audit = events.PersonalDataRead(producer="ingest", actor=actor, resource=resource, person_keys=(person_key,))
    await runtime.publisher.publish(topics.AUDIT, audit)
    return DeclarationDetails(event_id=event_id, person_key=person_key, details=details)
