"""Numbers and booleans are taken as JSON has them: `true` is not 1, 1 is not `true`.

Issue 12's finding: `capacity: true` registered a venue for one person (pydantic's lax mode reads a boolean
as a number, and 0/1 or "yes" as a boolean). Every request body's numbers and booleans are now strict.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from antoan_ingest.api import schemas
from antoan_safety_map.api.routes.venues import SelfAssessmentAnswers
from antoan_safety_map.domain.area_data import AreaDataError, validate_rows

VENUE = {"name": "Chợ Vườn Hoa", "category": "market", "province_code": "38", "capacity": 300}
QUARANTINE = {"kind": "quarantine_daily", "person_id": "0913000001", "temperature_c": 37.5}
DOMESTIC = {"kind": "domestic", "person_id": "0913000001"}


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (schemas.VenueRegistration, {**VENUE, "capacity": True}),
        (schemas.VenueRegistration, {**VENUE, "capacity": "300"}),
        (schemas.VenueRegistration, {**VENUE, "lat": True}),
        (schemas.VenueUpdate, {"capacity": False}),
        (schemas.VenueUpdate, {"lon": "105.78"}),
        (schemas.QuarantineDailyDeclaration, {**QUARANTINE, "temperature_c": True}),
        (schemas.DomesticDeclaration, {**DOMESTIC, "contact_with_case": 1}),
        (schemas.DomesticDeclaration, {**DOMESTIC, "contact_with_case": "yes"}),
        (SelfAssessmentAnswers, {"answers": {"masks": 1}}),
    ],
)
def test_a_value_of_another_json_type_is_refused(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (schemas.VenueRegistration, {**VENUE, "lat": 19, "lon": 105.78}),  # a whole number is a number
        (schemas.QuarantineDailyDeclaration, {**QUARANTINE, "temperature_c": 38}),
        (schemas.DomesticDeclaration, {**DOMESTIC, "contact_with_case": True}),
        (SelfAssessmentAnswers, {"answers": {"masks": True}}),
    ],
)
def test_the_same_fields_take_their_own_type(model: type[BaseModel], body: dict[str, Any]) -> None:
    model.model_validate(body)


def test_area_data_takes_numbers_from_csv_text_but_no_boolean_from_json() -> None:
    row = {"area_code": "38", "area_kind": "province", "name": "Tỉnh Thanh Hóa"}
    assert validate_rows([{**row, "population": "3640128"}])[0].population == 3640128  # a CSV cell
    assert validate_rows([{**row, "population": 3640128}])[0].population == 3640128  # JSON
    with pytest.raises(AreaDataError):
        validate_rows([{**row, "population": True}])
    with pytest.raises(AreaDataError):
        validate_rows([{**row, "vaccination_coverage": False}])
