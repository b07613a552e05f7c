"""What the map knows about a venue: its risk, its occupancy; its self-assessment; clearing it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from antoan_safety_map.api.deps import HealthAuthority, KnownVenue, OwnedVenue, RuntimeDep
from antoan_safety_map.domain import self_assessment
from antoan_shared import events, topics
from antoan_shared.events import Reason
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/venues", tags=["venues"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


class VenueRisk(BaseModel):
    venue_id: str
    level: int = Field(ge=1, le=4)
    color: str
    reasons: list[Reason]
    as_of: datetime


class Occupancy(BaseModel):
    venue_id: str
    current: int
    capacity: int | None
    as_of: datetime | None


class VenueView(BaseModel):
    venue_id: str
    name: str
    category: str
    address: str
    lat: float | None
    lon: float | None
    province_code: str
    district_code: str
    ward_code: str
    level: int | None
    color: str | None
    reasons: list[Reason]
    current: int
    capacity: int
    active: bool
    as_of: datetime | None


@router.get("/{venue_id}", response_model=VenueView, responses=NOT_FOUND)
async def venue_view(venue: KnownVenue) -> VenueView:
    """The venue as the public map shows it: where it is, its level with reasons, its occupancy."""
    return VenueView.model_validate(
        {
            **venue.properties(),
            "lat": venue.lat,
            "lon": venue.lon,
            "province_code": venue.province_code,
            "district_code": venue.district_code,
            "ward_code": venue.ward_code,
        }
    )


@router.get("/{venue_id}/risk", response_model=VenueRisk, responses=NOT_FOUND)
async def venue_risk(venue: KnownVenue) -> VenueRisk:
    """The venue's risk level (1 green … 4 red) with machine-readable reasons."""
    if venue.level is None:
        raise ApiError(404, "risk_not_evaluated", "the venue's level has not been evaluated yet")
    return VenueRisk.model_validate(venue.risk())


@router.get("/{venue_id}/occupancy", response_model=Occupancy, responses=NOT_FOUND)
async def venue_occupancy(venue: KnownVenue) -> Occupancy:
    """How many people are at the venue now, against its capacity."""
    return Occupancy.model_validate(venue.occupancy())


# Bounded and checked as text: an unknown id is echoed in the refusal, and a lone surrogate (JSON's `\ud800`)
# in a plain `str` key would reach it, where no UTF-8 answer can carry it (it was a 500).
CriterionId = Annotated[str, StringConstraints(max_length=64)]


class SelfAssessmentAnswers(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answers": {
                        "masks": True,
                        "distancing": True,
                        "hand_hygiene": True,
                        "qr_checkin": True,
                        "ventilation": False,
                        "staff_declarations": True,
                        "cleaning": True,
                        "capacity_limit": False,
                        "isolation_plan": False,
                    }
                }
            ]
        }
    )

    answers: dict[CriterionId, StrictBool] = Field(
        max_length=len(self_assessment.CHECKLIST),
        description="criterion id -> met; unanswered criteria count as not met",
        examples=[{"masks": True, "distancing": True, "qr_checkin": True}],
    )


class SelfAssessmentResult(BaseModel):
    venue_id: str
    score: int
    threshold: int
    below_threshold: bool
    checklist_version: int
    assessed_at: datetime


@router.post(
    "/{venue_id}/self-assessment",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SelfAssessmentResult,
    responses=AUTH_ERRORS,
)
async def submit_self_assessment(
    body: SelfAssessmentAnswers, venue: OwnedVenue, runtime: RuntimeDep
) -> SelfAssessmentResult:
    """A venue (with its API key) files its safety self-assessment and gets its 0–100 score."""
    try:
        score = self_assessment.score(body.answers)
    except self_assessment.UnknownCriterionError as exc:
        raise ApiError(400, "unknown_criterion", str(exc), {"unknown": exc.unknown}) from exc
    event = events.VenueSelfAssessed(
        producer="safety-map",
        venue_id=venue.venue_id,
        score=score,
        answers=body.answers,
        checklist_version=self_assessment.CHECKLIST_VERSION,
        assessed_at=events.utc_now(),
    )
    await runtime.publisher.publish(topics.VENUE_ASSESSMENTS, event)
    threshold = runtime.settings.min_self_assessment_score
    return SelfAssessmentResult(
        venue_id=venue.venue_id,
        score=score,
        threshold=threshold,
        below_threshold=score < threshold,
        checklist_version=self_assessment.CHECKLIST_VERSION,
        assessed_at=event.assessed_at,
    )


class Clearance(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "Biên bản khử khuẩn ngày 03/09/2021 của Trung tâm Y tế TP Thanh Hóa"}]}
    )

    note: str = Field(default="", max_length=500, description="e.g. the disinfection report's reference")


class ClearanceAccepted(BaseModel):
    venue_id: str
    cleared_at: datetime


@router.post(
    "/{venue_id}/clearance",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ClearanceAccepted,
    responses=AUTH_ERRORS,
)
async def clear_venue(
    actor: HealthAuthority, body: Clearance, venue: KnownVenue, runtime: RuntimeDep
) -> ClearanceAccepted:
    """The health authority clears a venue after disinfection: earlier case presence stops counting. (The
    credential is checked first: without it, whether a venue exists is not told.)"""
    event = events.VenueCleared(
        producer="safety-map", venue_id=venue.venue_id, cleared_at=events.utc_now(), actor=actor, note=body.note
    )
    await runtime.publisher.publish(topics.VENUE_CLEARANCES, event)
    return ClearanceAccepted(venue_id=venue.venue_id, cleared_at=event.cleared_at)
