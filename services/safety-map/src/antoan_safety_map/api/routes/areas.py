"""Areas: the health authority loads area data; everyone reads an area's risk level."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel

from antoan_safety_map.api.deps import HealthAuthority, RuntimeDep
from antoan_safety_map.domain import area_data
from antoan_shared import events, topics
from antoan_shared.events import AreaKind, Reason
from antoan_shared.web import ApiError, ErrorResponse

router = APIRouter(prefix="/v1/areas", tags=["areas"])


class AreaRisk(BaseModel):
    area_code: str
    area_kind: AreaKind
    name: str
    parent_code: str | None
    level: int | None
    color: str | None
    reasons: list[Reason]
    cases_7d: int
    population: int | None
    cases_per_100k: float | None
    as_of: datetime | None


class AreasAccepted(BaseModel):
    accepted: int


# Thanh Hóa province, its capital city and one of the city's wards, as the national code list numbers them.
_AREA_EXAMPLE_ROWS: list[dict[str, Any]] = [
    {"area_code": "38", "area_kind": "province", "name": "Tỉnh Thanh Hóa", "population": 3640128},
    {
        "area_code": "380",
        "area_kind": "district",
        "name": "Thành phố Thanh Hóa",
        "parent_code": "38",
        "population": 359910,
        "vaccination_coverage": 0.72,
    },
    {"area_code": "14755", "area_kind": "ward", "name": "Phường Hàm Rồng", "parent_code": "380", "population": 14210},
]
_AREA_EXAMPLE_CSV = "".join(
    ",".join(str(row.get(column, "")) for column in area_data.COLUMNS) + "\n"
    for row in [{column: column for column in area_data.COLUMNS}, *_AREA_EXAMPLE_ROWS]  # the header, then rows
)

_AREA_BODY: dict[str, Any] = {
    "content": {
        "text/csv": {"schema": {"type": "string"}, "example": _AREA_EXAMPLE_CSV},
        "application/json": {
            "schema": {"type": "object", "properties": {"areas": {"type": "array", "items": {"type": "object"}}}},
            "example": {"areas": _AREA_EXAMPLE_ROWS},
        },
    },
    "required": True,
}


@router.put(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AreasAccepted,
    openapi_extra={"requestBody": _AREA_BODY},
    responses={s: {"model": ErrorResponse} for s in (400, 401, 403, 413, 415, 503)},
)
async def load_areas(request: Request, runtime: RuntimeDep, _actor: HealthAuthority) -> AreasAccepted:
    """Load or update area data (health authority): CSV (`text/csv`, see the format in the README) or JSON
    `{"areas": [...]}` with the same fields. Areas not named are left as they are."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        if media_type == "text/csv":
            rows = area_data.parse_csv(text)
        elif media_type == "application/json":
            body = json.loads(text)
            if not isinstance(body, dict) or not isinstance(body.get("areas"), list):
                raise ApiError(400, "invalid_area_data", 'send {"areas": [...]}')
            if not all(isinstance(row, dict) for row in body["areas"]):
                raise ApiError(400, "invalid_area_data", "every area is an object")
            rows = area_data.validate_rows(body["areas"])
        else:
            raise ApiError(415, "unsupported_media_type", "send text/csv or application/json")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_area_data", f"the body cannot be read: {exc}") from exc
    except area_data.AreaDataError as exc:
        raise ApiError(400, "invalid_area_data", str(exc), exc.problems) from exc
    batch = [events.AreaDefined(producer="safety-map", **row.model_dump()) for row in rows]
    await runtime.publisher.publish_many(topics.AREAS, batch)
    return AreasAccepted(accepted=len(batch))


@router.get("", response_model=list[AreaRisk])
async def list_areas(
    runtime: RuntimeDep,
    kind: Annotated[AreaKind | None, Query()] = None,
    parent: Annotated[str | None, Query(max_length=5)] = None,
) -> list[AreaRisk]:
    """Every loaded area with its risk, optionally of one kind or under one parent."""
    records = await runtime.read_model.areas(await runtime.read_model.all_area_codes())
    return [
        AreaRisk.model_validate(record.risk())
        for record in records
        if record.defined
        and (kind is None or record.area_kind == kind)
        and (parent is None or record.parent_code == parent)
    ]


@router.get(
    "/{code}/risk", response_model=AreaRisk, responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}
)
async def area_risk(code: Annotated[str, Path(pattern=r"^\d{2,5}$")], runtime: RuntimeDep) -> AreaRisk:
    """A ward's, district's or province's level: new cases per 100,000 people in the last 7 days."""
    record = await runtime.read_model.area(code)
    if record is None or not record.defined or record.level is None:
        raise ApiError(404, "area_not_found", "no area data with this code is loaded")
    return AreaRisk.model_validate(record.risk())
