"""Area data as the health authority loads it: the national code list's wards, districts and provinces
with their population. The file format is CSV with a header line:

    area_code,area_kind,name,parent_code,population,vaccination_coverage
    38,province,Thanh Hóa,,3640128,
    380,district,Thành phố Thanh Hóa,38,359910,0.72
    14755,ward,Phường Hàm Rồng,380,14210,

(or the same rows as JSON objects). Provinces have 2-digit codes, districts 3 and wards 5; a ward's
parent is a district and a district's parent a province.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from antoan_shared.events import AreaKind

CODE_DIGITS: dict[str, int] = {"province": 2, "district": 3, "ward": 5}
PARENT_KIND: dict[str, str | None] = {"province": None, "district": "province", "ward": "district"}
COLUMNS = ("area_code", "area_kind", "name", "parent_code", "population", "vaccination_coverage")
MAX_ROWS = 20_000  # Vietnam has about 10,600 wards


class AreaRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    area_code: str = Field(pattern=r"^\d{2,5}$")
    area_kind: AreaKind
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None = Field(default=None, pattern=r"^\d{2,5}$")
    population: int | None = Field(default=None, ge=0)
    vaccination_coverage: float | None = Field(default=None, ge=0, le=1)

    @field_validator("population", "vaccination_coverage", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any) -> Any:
        if isinstance(value, bool):  # JSON's true is not 1
            raise ValueError("a number, not true or false")
        return value

    @model_validator(mode="after")
    def _codes_fit_kinds(self) -> AreaRow:
        if len(self.area_code) != CODE_DIGITS[self.area_kind]:
            raise ValueError(f"a {self.area_kind} code has {CODE_DIGITS[self.area_kind]} digits")
        parent_kind = PARENT_KIND[self.area_kind]
        if parent_kind is None and self.parent_code:
            raise ValueError("a province has no parent")
        if parent_kind is not None and self.parent_code and len(self.parent_code) != CODE_DIGITS[parent_kind]:
            raise ValueError(f"a {self.area_kind}'s parent is a {parent_kind} ({CODE_DIGITS[parent_kind]} digits)")
        return self


class AreaDataError(ValueError):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(problems)} row(s) are not valid area data")
        self.problems = problems


def validate_rows(rows: Sequence[dict[str, Any]]) -> list[AreaRow]:
    """Every row valid, or an error listing every bad row (1-based, as a person counts them)."""
    if len(rows) > MAX_ROWS:
        raise AreaDataError([{"row": None, "error": f"at most {MAX_ROWS} rows per upload"}])
    valid: list[AreaRow] = []
    problems: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        cleaned = {key: (None if value == "" else value) for key, value in row.items()}
        try:
            valid.append(AreaRow.model_validate(cleaned))
        except ValidationError as exc:
            problems.append({"row": number, "error": "; ".join(e["msg"] for e in exc.errors())})
    if problems:
        raise AreaDataError(problems[:50])
    if not valid:
        raise AreaDataError([{"row": None, "error": "no rows"}])
    return valid


def parse_csv(text: str) -> list[AreaRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = tuple(reader.fieldnames or ())
        missing = [column for column in COLUMNS[:3] if column not in header]
        unknown = [column for column in header if column not in COLUMNS]
        if missing or unknown:
            raise AreaDataError(
                [{"row": 0, "error": f"the header needs {', '.join(COLUMNS)}; missing {missing}, unknown {unknown}"}]
            )
        rows = list(reader)
    except csv.Error as exc:  # a field over the reader's limit (128 KiB): no area has such a name
        # `line_num` counts the lines read before the one that failed: with the header as row 0 (as for every
        # other problem), that is the failing row's number.
        raise AreaDataError([{"row": reader.line_num, "error": f"not CSV: {exc}"}]) from exc
    return validate_rows(rows)
