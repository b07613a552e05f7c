"""The identity vault's one door: contact details of a pseudonymous person, for the health authority.

Every read is written to the audit topic (`PersonalDataRead`, person_keys only) before it is answered.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from antoan_ingest.adapters.vault import ContactClaim, best_values
from antoan_ingest.api import schemas
from antoan_ingest.api.deps import HealthAuthority, RuntimeDep
from antoan_ingest.domain import identity
from antoan_shared import events, topics
from antoan_shared.web import PERSON_LOOKUP_MAX_KEYS, ApiError, ErrorResponse

router = APIRouter(prefix="/v1/persons", tags=["persons"])


@router.get(
    "/{person_key}",
    response_model=schemas.PersonContact,
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
async def person_contact(
    person_key: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")], runtime: RuntimeDep, actor: HealthAuthority
) -> schemas.PersonContact:
    """Contact details behind a person_key. Every call is written to the audit log before it is answered."""
    await runtime.publisher.publish(
        topics.AUDIT,
        events.PersonalDataRead(
            producer="ingest", actor=actor, resource=f"/v1/persons/{person_key}", person_keys=(person_key,)
        ),
    )
    claims = await runtime.vault.claims(person_key)
    if claims is None:
        raise ApiError(404, "person_not_found", "the vault holds nothing for this person_key")
    return _person_contact(person_key, claims)


class PersonLookup(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person_keys": ["5f0c3a7e9d1b2c4a6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d"],
                    "purpose": "Truy vết F1 của ca bệnh BN12345",
                }
            ]
        }
    )

    person_keys: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        min_length=1, max_length=PERSON_LOOKUP_MAX_KEYS
    )
    purpose: str = Field(default="", max_length=200, description="Why: kept in the audit log")


class PersonContacts(BaseModel):
    contacts: dict[str, dict[str, str]] = Field(description="person_key -> contact details, for those the vault holds")


@router.post(
    "/lookup",
    response_model=PersonContacts,
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def people_contacts(body: PersonLookup, runtime: RuntimeDep, actor: HealthAuthority) -> PersonContacts:
    """Contact details of many people at once (a case's contact list); one audit record for the read."""
    keys = tuple(dict.fromkeys(body.person_keys))
    await runtime.publisher.publish(
        topics.AUDIT,
        events.PersonalDataRead(
            producer="ingest", actor=actor, resource="/v1/persons/lookup", person_keys=keys, purpose=body.purpose
        ),
    )
    return PersonContacts(contacts=await runtime.vault.contacts(keys))


@router.post(
    "/search",
    response_model=schemas.PersonContact,
    responses={
        400: {"model": ErrorResponse, "description": "invalid_person_id: the value is not an identifier of that kind"},
        401: {"model": ErrorResponse, "description": "token_required"},
        403: {"model": ErrorResponse, "description": "invalid_token"},
        404: {"model": ErrorResponse, "description": "person_not_found"},
        422: {"model": ErrorResponse},
    },
)
async def search_person(
    body: schemas.PersonSearch, runtime: RuntimeDep, actor: HealthAuthority
) -> schemas.PersonContact:
    """Find a person by phone number, CCCD, CMND or passport number (when someone calls in): their person_key
    and contact details. The identifier is normalised and keyed exactly as at check-in; only the key reaches
    the audit log."""
    try:
        person = identity.normalise_person_id_of_kind(body.kind, body.value)
    except identity.InvalidPersonIdError as exc:
        raise ApiError(400, "invalid_person_id", str(exc)) from exc
    person_key = identity.person_key(runtime.settings.pepper.get_secret_value().encode(), person)
    await runtime.publisher.publish(
        topics.AUDIT,
        events.PersonalDataRead(
            producer="ingest",
            actor=actor,
            resource="/v1/persons/search",
            person_keys=(person_key,),
            purpose=body.purpose,
        ),
    )
    claims = await runtime.vault.claims(person_key)
    if claims is None:
        raise ApiError(404, "person_not_found", f"the vault holds no one with this {person.kind.value}")
    return _person_contact(person_key, claims)


def _person_contact(person_key: str, claims: list[ContactClaim]) -> schemas.PersonContact:
    return schemas.PersonContact(
        person_key=person_key,
        contact=best_values(claims),
        claims=[schemas.ContactClaimView.model_validate(claim, from_attributes=True) for claim in claims],
    )
