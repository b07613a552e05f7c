"""The identity vault's one door: contact details of a pseudonymous person, for the health authority."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import HealthAuthority, RuntimeDep
from antoan_shared import events, topics
from antoan_shared.web import ApiError, ErrorResponse

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
    contact = await runtime.vault.contact(person_key)
    if contact is None:
        raise ApiError(404, "person_not_found", "the vault holds nothing for this person_key")
    return schemas.PersonContact(person_key=person_key, contact=contact)
