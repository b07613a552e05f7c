"""The self-assessment checklist, in Vietnamese or English."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from antoan_safety_map.api.deps import RuntimeDep
from antoan_safety_map.domain import self_assessment

router = APIRouter(prefix="/v1/self-assessment", tags=["self-assessment"])


class CriterionView(BaseModel):
    id: str
    weight: int
    text: str


class Checklist(BaseModel):
    version: int
    language: self_assessment.Language
    total_weight: int
    threshold: int
    criteria: list[CriterionView]


@router.get("/checklist", response_model=Checklist)
async def checklist(runtime: RuntimeDep, lang: Annotated[self_assessment.Language, Query()] = "vi") -> Checklist:
    """The weighted criteria a venue answers (POST them to /v1/venues/{id}/self-assessment)."""
    return Checklist(
        version=self_assessment.CHECKLIST_VERSION,
        language=lang,
        total_weight=self_assessment.TOTAL_WEIGHT,
        threshold=runtime.settings.min_self_assessment_score,
        criteria=[CriterionView(id=c.id, weight=c.weight, text=c.text(lang)) for c in self_assessment.CHECKLIST],
    )
