"""Confirmed cases (F0), from the health authority."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status

from antoan_ingest.api import schemas
from antoan_ingest.api.deps import HealthAuthority, RuntimeDep
from antoan_ingest.domain import checkins, identity, plausible
from antoan_shared import events, topics
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.CaseAccepted,
    responses={
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        409: {"model": ErrorResponse, "description": "case_id_conflict"},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
async def confirm_case(
    body: schemas.CaseConfirmation, runtime: RuntimeDep, _actor: HealthAuthority
) -> schemas.CaseAccepted:
    """Confirm a case (health-authority token); tracing of its contacts starts from `cases.v1`."""
    settings = runtime.settings
    now = events.utc_now()
    try:
        for name in ("tested_at", "onset_at", "isolated_at"):
            plausible.check_moment(name, getattr(body, name), now, settings.max_clock_skew)
    except plausible.ImplausibleTimeError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    if body.isolated_at is not None and body.isolated_at < (body.onset_at or body.tested_at) - settings.retention:
        raise ApiError(400, "isolated_at_out_of_range", "isolated_at is long before the infectious period")
    try:
        person = identity.normalise_person_id(body.person_id)
    except identity.InvalidPersonIdError as exc:
        raise ApiError(400, "invalid_person_id", str(exc)) from exc
    person_key = identity.person_key(settings.pepper.get_secret_value().encode(), person)
    if body.case_id is not None and await runtime.idempotency.bind(f"case:{body.case_id}", person_key) is not None:
        # Its events would share one id (derived from the case id) and be taken for one case.
        raise ApiError(409, "case_id_conflict", "this case_id is already another person's case")
    case_id = body.case_id or "c_" + secrets.token_hex(8)
    event = events.CaseConfirmed(
        # The authority's case id makes a retry the same event.
        event_id=checkins.derived_event_id("case", body.case_id),
        producer="ingest",
        case_id=case_id,
        person_key=person_key,
        tested_at=body.tested_at,
        onset_at=body.onset_at,
        isolated_at=body.isolated_at,
        confirmed_at=now,
        province_code=body.province_code,
        district_code=body.district_code,
        ward_code=body.ward_code,
    )
    await runtime.vault.remember([(person_key, {"identifier": person.canonical})], "health_authority")
    await runtime.publisher.publish(topics.CASES, event)
    return schemas.CaseAccepted(case_id=case_id, person_key=person_key)
