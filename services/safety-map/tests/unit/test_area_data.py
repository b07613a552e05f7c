"""Area data as the health authority loads it (SPEC §3.6: "Area population comes from area data that the
health authority loads"; §3.2: province 2 digits, district 3, ward 5, as in the national code list)."""

from __future__ import annotations

from typing import Any

import pytest

from antoan_safety_map.domain.area_data import COLUMNS, MAX_ROWS, AreaDataError, AreaRow, parse_csv, validate_rows

HEADER = ",".join(COLUMNS)
EXAMPLE = (
    f"{HEADER}\n"
    "38,province,Thanh Hóa,,3640128,\n"
    "380,district,Thành phố Thanh Hóa,38,359910,0.72\n"
    "14755,ward,Phường Hàm Rồng,380,14210,\n"
)
PROVINCE: dict[str, Any] = {"area_code": "38", "area_kind": "province", "name": "Thanh Hóa"}


def row(area_code: str, area_kind: str, parent_code: str | None = None, **more: Any) -> dict[str, Any]:
    return {"area_code": area_code, "area_kind": area_kind, "name": "Somewhere", "parent_code": parent_code, **more}


def problems_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with pytest.raises(AreaDataError) as raised:
        validate_rows(rows)
    return raised.value.problems


def csv_problems(text: str) -> list[dict[str, Any]]:
    with pytest.raises(AreaDataError) as raised:
        parse_csv(text)
    return raised.value.problems


# --- valid data -----------------------------------------------------------------------------------------------


def test_the_documented_csv_loads_with_typed_values_and_empty_cells_as_missing() -> None:
    # Given the CSV example of the area data format
    # When it is parsed
    rows = parse_csv(EXAMPLE)
    # Then every row is there, typed, and an empty cell means "not given"
    assert rows == [
        AreaRow(area_code="38", area_kind="province", name="Thanh Hóa", population=3_640_128),
        AreaRow(
            area_code="380",
            area_kind="district",
            name="Thành phố Thanh Hóa",
            parent_code="38",
            population=359_910,
            vaccination_coverage=0.72,
        ),
        AreaRow(area_code="14755", area_kind="ward", name="Phường Hàm Rồng", parent_code="380", population=14_210),
    ]
    assert rows[0].parent_code is None
    assert rows[0].vaccination_coverage is None


def test_a_byte_order_mark_before_the_header_is_tolerated() -> None:
    # Given the example as a spreadsheet program saves it, with a BOM
    # When it is parsed
    # Then it reads as if there were none
    assert parse_csv("\ufeff" + EXAMPLE) == parse_csv(EXAMPLE)


def test_the_optional_columns_may_be_left_out_of_the_header() -> None:
    rows = parse_csv("area_code,area_kind,name\n38,province,Thanh Hóa\n")
    assert rows == [AreaRow(area_code="38", area_kind="province", name="Thanh Hóa")]


def test_the_same_rows_as_json_objects_load() -> None:
    # Given rows as JSON objects, numbers as numbers
    rows = validate_rows(
        [
            {**PROVINCE, "population": 3_640_128},
            {**row("380", "district", "38"), "population": 359_910, "vaccination_coverage": 0.72},
        ]
    )
    # Then they load like the CSV rows
    assert [r.area_code for r in rows] == ["38", "380"]
    assert rows[1].vaccination_coverage == 0.72


def test_surrounding_whitespace_in_cells_is_ignored() -> None:
    (loaded,) = validate_rows([{"area_code": " 38 ", "area_kind": "province", "name": "  Thanh Hóa "}])
    assert loaded.area_code == "38"
    assert loaded.name == "Thanh Hóa"


# --- codes and their kinds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area_code", "area_kind", "parent_code"),
    [("38", "province", None), ("380", "district", "38"), ("14755", "ward", "380"), ("01", "province", None)],
)
def test_a_code_with_the_digits_of_its_kind_is_accepted(
    area_code: str, area_kind: str, parent_code: str | None
) -> None:
    (loaded,) = validate_rows([row(area_code, area_kind, parent_code)])
    assert loaded.area_code == area_code


@pytest.mark.parametrize(
    ("area_code", "area_kind"),
    [
        ("038", "province"),
        ("3", "province"),
        ("38", "district"),
        ("3800", "district"),
        ("1475", "ward"),
        ("147550", "ward"),
        ("380", "ward"),
        ("3a", "province"),
        ("38 0", "district"),
    ],
)
def test_a_code_without_the_digits_of_its_kind_is_refused(area_code: str, area_kind: str) -> None:
    # Given a row whose code does not have its kind's number of digits (2 / 3 / 5)
    # When it is validated
    problems = problems_of([row(area_code, area_kind)])
    # Then that row is reported
    assert [p["row"] for p in problems] == [1]


def test_an_unknown_area_kind_is_refused() -> None:
    assert [p["row"] for p in problems_of([row("38", "city")])] == [1]


@pytest.mark.parametrize(
    ("area_code", "area_kind", "parent_code"),
    [
        ("38", "province", "01"),  # a province has no parent
        ("380", "district", "381"),  # a district's parent is a province (2 digits)
        ("380", "district", "14755"),
        ("14755", "ward", "38"),  # a ward's parent is a district (3 digits)
        ("14755", "ward", "14756"),
    ],
)
def test_a_parent_of_the_wrong_kind_is_refused(area_code: str, area_kind: str, parent_code: str) -> None:
    problems = problems_of([row(area_code, area_kind, parent_code)])
    assert [p["row"] for p in problems] == [1]
    assert "parent" in problems[0]["error"]


@pytest.mark.parametrize(
    "more",
    [
        {"population": -1},
        {"population": "many"},
        {"vaccination_coverage": 1.01},
        {"vaccination_coverage": -0.1},
        {"name": ""},
        {"colour": "red"},
    ],
)
def test_bad_values_are_refused(more: dict[str, Any]) -> None:
    assert [p["row"] for p in problems_of([row("380", "district", "38", **more)])] == [1]


# --- whole uploads --------------------------------------------------------------------------------------------


def test_every_bad_row_is_reported_by_its_number_counting_the_first_data_row_as_1() -> None:
    # Given a CSV whose 2nd and 4th data rows are wrong
    text = (
        f"{HEADER}\n"
        "38,province,Thanh Hóa,,3640128,\n"
        "3800,district,Too many digits,38,1,\n"
        "380,district,Thành phố Thanh Hóa,38,359910,0.72\n"
        "14755,ward,Parent is a province,38,14210,\n"
    )
    # When it is parsed
    problems = csv_problems(text)
    # Then both are named by number, each with a message, and nothing is loaded
    assert [p["row"] for p in problems] == [2, 4]
    assert all(p["error"] for p in problems)


def test_at_most_50_problems_are_reported() -> None:
    problems = problems_of([row("3", "province")] * 60)
    assert [p["row"] for p in problems] == list(range(1, 51))


def test_a_row_with_more_cells_than_the_header_is_refused() -> None:
    problems = csv_problems(f"{HEADER}\n38,province,Thanh Hóa,,3640128,,extra\n")
    assert [p["row"] for p in problems] == [1]


def test_a_cell_longer_than_any_csv_reader_takes_is_a_problem_of_its_row_not_a_crash() -> None:
    # Given a second data row whose name is 200,000 characters long (Python's CSV reader stops at 131,072)
    text = f'{HEADER}\n38,province,Thanh Hóa,,3640128,\n39,province,"{"x" * 200_000}",,1,\n'
    # When it is parsed, Then that row is reported as not readable
    problems = csv_problems(text)
    assert [p["row"] for p in problems] == [2]
    assert "field larger than field limit" in problems[0]["error"]


@pytest.mark.parametrize(
    "header",
    [
        "area_code,area_kind,population",  # name missing
        "code,kind,name",
        "area_code,area_kind,name,colour",  # a column the format does not have
        "area_code;area_kind;name",  # not comma-separated
    ],
)
def test_a_header_without_the_required_columns_or_with_unknown_ones_is_refused_as_row_0(header: str) -> None:
    # Given a CSV whose header does not fit the format
    # When it is parsed
    problems = csv_problems(f"{header}\n38,province,Thanh Hóa\n")
    # Then the header (row 0) is reported, naming the expected columns
    assert len(problems) == 1
    assert problems[0]["row"] == 0
    assert "area_code" in problems[0]["error"]


@pytest.mark.parametrize("text", ["", "\ufeff", "\n"], ids=["empty", "bom only", "blank line"])
def test_an_empty_upload_is_refused(text: str) -> None:
    assert csv_problems(text)[0]["row"] == 0


@pytest.mark.parametrize("text", [f"{HEADER}\n", f"\ufeff{HEADER}\n\n"], ids=["header only", "bom and blank"])
def test_a_header_with_no_rows_is_refused(text: str) -> None:
    assert csv_problems(text) == [{"row": None, "error": "no rows"}]


def test_no_json_rows_are_refused() -> None:
    assert problems_of([]) == [{"row": None, "error": "no rows"}]


def test_an_upload_of_more_than_the_row_limit_is_refused_before_any_row_is_read() -> None:
    # Given one row more than the limit (the rows need not even be valid)
    rows: list[dict[str, Any]] = [{}] * (MAX_ROWS + 1)
    # When they are validated
    problems = problems_of(rows)
    # Then the upload as a whole is refused
    assert problems == [{"row": None, "error": f"at most {MAX_ROWS} rows per upload"}]


def test_an_upload_of_exactly_the_row_limit_is_accepted() -> None:
    assert len(validate_rows([PROVINCE] * MAX_ROWS)) == MAX_ROWS


def test_the_row_limit_fits_every_ward_of_vietnam() -> None:
    assert MAX_ROWS >= 10_600 + 700 + 63


def test_the_demo_provinces_area_data_is_valid_area_data() -> None:
    from antoan_localstack.simulate import DISTRICTS, area_data_csv

    loaded = parse_csv(area_data_csv())
    assert len(loaded) == 1 + len(DISTRICTS) + sum(len(d.wards) for d in DISTRICTS)
    assert {row.area_kind for row in loaded} == {"province", "district", "ward"}
