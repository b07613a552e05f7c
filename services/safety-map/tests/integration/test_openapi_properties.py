"""Property-based tests of the live safety map against its own OpenAPI document (schemathesis).

For every operation the safety map publishes in `/openapi.json`, generated requests (valid and invalid, from the
schema's examples, its boundaries and random fuzzing) never get a 5xx, and every answer keeps to what the document
promises: a documented status code, a documented content type and a body that conforms to the documented schema
(SPEC §4.1). The venue operations are exercised a second time with the venue's key and the area and clearance
operations with the health authority's token, pointed at a real venue and a loaded area, so their happy paths are
covered and not only their 401s and 404s. The live stream never ends, so it is checked by hand.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis

from antoan_localstack import openapi_properties as properties
from antoan_localstack.client import Antoan
from antoan_localstack.testing import RunningServices

pytestmark = pytest.mark.integration

STREAM = r"^/v1/stream$"
VENUE_PATHS = r"^/v1/venues/"
HEALTH_AUTHORITY_PATHS = r"^/v1/areas|/clearance$"
# Ids the generator makes that the map would accept: those are pointed at the real venue and area.
VENUE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
AREA_CODE = re.compile(r"\d{2,5}")
PROVINCE, DISTRICT, WARD = "95", "951", "95101"
AREAS = f"""area_code,area_kind,name,parent_code,population,vaccination_coverage
{PROVINCE},province,Tỉnh Thanh Hóa thử nghiệm,,3640128,
{DISTRICT},district,Thành phố Thanh Hóa thử nghiệm,{PROVINCE},359910,0.72
{WARD},ward,Phường Hàm Rồng thử nghiệm,{DISTRICT},14210,
"""

CALLS = properties.Calls()


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    properties.give_node_id(request)


@pytest.fixture(scope="module")
def map_schema(running_services: RunningServices) -> schemathesis.BaseSchema:
    """The safety map's own OpenAPI document, loaded from the running service."""
    return properties.load_schema(running_services.safety_map)


@pytest.fixture(scope="module")
def known(antoan: Antoan) -> dict[str, Any]:
    """A venue on the map (in a loaded ward) and that ward with its level, and who may act on them."""
    response = antoan.load_areas(AREAS)
    assert response.status_code == 202, response.text
    antoan.wait_area_level(WARD, 1)
    venue = antoan.register_venue(province_code=PROVINCE, district_code=DISTRICT, ward_code=WARD)
    return {
        "venue_id": venue["venue_id"],
        "owner": {"Authorization": f"Bearer {venue['api_key']}"},
        "ha": antoan.ha,
    }


schema = schemathesis.pytest.from_fixture("map_schema")
venue_schema = schema.include(path_regex=VENUE_PATHS)
health_authority_schema = schema.include(path_regex=HEALTH_AUTHORITY_PATHS)


@schema.exclude(path_regex=STREAM).parametrize()
def test_no_operation_answers_a_5xx_or_an_undocumented_response(case: schemathesis.Case[Any]) -> None:
    # Given any request the document allows (or nearly allows), without credentials
    # When it is sent to the running map
    CALLS.call_and_validate("anonymous", case)
    # Then (checked by call_and_validate) no 5xx, and status, content type and body are as documented


@venue_schema.parametrize()
def test_venue_operations_with_the_venues_key_answer_as_documented(
    case: schemathesis.Case[Any], known: dict[str, Any]
) -> None:
    # Given a request about a venue, with its key, a valid id pointing at the real venue
    properties.point_at(case, "venue_id", VENUE_ID, known["venue_id"])
    # When it is sent to the running map
    response = CALLS.call_and_validate("venue", case, known["owner"])
    # Then no 5xx, and status, content type and body are as documented; and the key got past the door
    assert response.status_code not in (401, 403) or case.path.endswith("/clearance"), response.text


@health_authority_schema.parametrize()
def test_area_and_clearance_operations_with_the_health_authoritys_token_answer_as_documented(
    case: schemathesis.Case[Any], known: dict[str, Any]
) -> None:
    # Given a request about areas or a clearance, with the authority's token, valid ids pointing at real ones
    properties.point_at(case, "venue_id", VENUE_ID, known["venue_id"])
    properties.point_at(case, "code", AREA_CODE, WARD)
    # When it is sent to the running map
    response = CALLS.call_and_validate("health-authority", case, known["ha"])
    # Then no 5xx, and status, content type and body are as documented; and the token got past the door
    assert response.status_code not in (401, 403), response.text


def test_every_operation_was_called_by_the_property_tests(
    request: pytest.FixtureRequest, map_schema: schemathesis.BaseSchema
) -> None:
    """The property tests above really sent requests for each operation, and the credentials reached the
    happy paths: a run that tests nothing fails here."""
    CALLS.assert_every_operation_called(
        request,
        map_schema,
        {
            "anonymous": ("test_no_operation_answers_a_5xx_or_an_undocumented_response", ".*"),
            "venue": ("test_venue_operations_with_the_venues_key_answer_as_documented", VENUE_PATHS),
            "health-authority": (
                "test_area_and_clearance_operations_with_the_health_authoritys_token_answer_as_documented",
                HEALTH_AUTHORITY_PATHS,
            ),
        },
        accepting=("venue", "health-authority"),
        excluded=STREAM,
    )


# --- explicit answers, validated against the same document -------------------------------------------


def test_the_live_stream_answers_as_documented(
    running_services: RunningServices, map_schema: schemathesis.BaseSchema
) -> None:
    # Given the stream's documented answer
    documented = map_schema["/v1/stream"]["GET"].definition.raw["responses"]["200"]["content"]
    # When the stream is opened
    with httpx.stream("GET", f"{running_services.safety_map}/v1/stream", timeout=10) as response:
        first = next(response.iter_text())
        # Then it answers 200 with the documented content type, and starts with its greeting
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] in documented
    assert first.startswith("retry: 3000\n"), first


def test_every_venue_and_area_operation_answers_its_documented_success(
    map_schema: schemathesis.BaseSchema, known: dict[str, Any]
) -> None:
    ids = {"venue_id": known["venue_id"]}
    steps: list[properties.Step] = [
        ("GET", "/v1/venues/{venue_id}", {"path_parameters": ids}, 200),
        ("GET", "/v1/venues/{venue_id}/risk", {"path_parameters": ids}, 200),
        ("GET", "/v1/venues/{venue_id}/occupancy", {"path_parameters": ids}, 200),
        (
            "POST",
            "/v1/venues/{venue_id}/self-assessment",
            {"path_parameters": ids, "headers": known["owner"], "body": {"answers": {"masks": True}}},
            202,
        ),
        (
            "POST",
            "/v1/venues/{venue_id}/clearance",
            {"path_parameters": ids, "headers": known["ha"], "body": {"note": "Biên bản khử khuẩn số 12/2021"}},
            202,
        ),
        ("PUT", "/v1/areas", {"headers": known["ha"], "media_type": "text/csv", "body": AREAS}, 202),
        (
            "PUT",
            "/v1/areas",
            {
                "headers": known["ha"],
                "media_type": "application/json",
                "body": {"areas": [{"area_code": PROVINCE, "area_kind": "province", "name": "Tỉnh Thanh Hóa"}]},
            },
            202,
        ),
        ("GET", "/v1/areas", {"query": {"parent": DISTRICT}}, 200),
        ("GET", "/v1/areas/{code}/risk", {"path_parameters": {"code": WARD}}, 200),
        ("GET", "/v1/map/venues.geojson", {"query": {"bbox": "102,8,110,24", "level": "1,2"}}, 200),
        ("GET", "/v1/self-assessment/checklist", {"query": {"lang": "en"}}, 200),
        ("GET", "/v1/venues/{venue_id}", {"path_parameters": {"venue_id": "v_0"}}, 404),
    ]
    # When each is called, Then each answers as expected, in the documented shape
    properties.assert_answers(map_schema, steps)


LONE_SURROGATE = "\ud800"  # what the JSON escape `\ud800` decodes to: no UTF-8 can carry it


def test_what_no_utf_8_can_carry_or_csv_can_read_is_refused_as_documented(
    map_schema: schemathesis.BaseSchema, known: dict[str, Any]
) -> None:
    ids = {"venue_id": known["venue_id"]}
    ha: dict[str, Any] = {"headers": known["ha"], "path_parameters": ids}  # areas have no path parameter
    owner: dict[str, Any] = {"headers": known["owner"], "path_parameters": ids}
    too_long = "area_code,area_kind,name,parent_code,population\n" + f'94,province,"{"x" * 200_000}",,1\n'
    province = {"area_code": "94", "area_kind": "province", "name": "Tỉnh " + LONE_SURROGATE}
    steps: list[properties.Step] = [
        # Given text with a lone surrogate (the JSON escape `\ud800`), which no topic or answer can carry
        ("POST", "/v1/venues/{venue_id}/clearance", {**ha, "body": {"note": LONE_SURROGATE}}, 422),
        ("POST", "/v1/venues/{venue_id}/self-assessment", {**owner, "body": {"answers": {LONE_SURROGATE: True}}}, 422),
        ("POST", "/v1/venues/{venue_id}/self-assessment", {**owner, "body": {"answers": {LONE_SURROGATE: "?"}}}, 422),
        ("PUT", "/v1/areas", {**ha, "media_type": "application/json", "body": {"areas": [province]}}, 400),
        # And area data as CSV with a field longer than any CSV reader takes (128 KiB)
        ("PUT", "/v1/areas", {**ha, "media_type": "text/csv", "body": too_long}, 400),
    ]
    # When each is sent, Then it is refused with a documented 4xx, never a 500
    properties.assert_answers(map_schema, steps)


def test_schema_conformance_flags_an_answer_that_breaks_a_wrong_expectation(
    map_schema: schemathesis.BaseSchema, known: dict[str, Any], running_services: RunningServices
) -> None:
    # Given a venue's occupancy, When it is checked against the real document, Then it passes; and against a
    # document that promises one more field, it is reported as not conforming
    properties.assert_conformance_can_fail(
        map_schema,
        running_services.safety_map,
        "Occupancy",
        "GET",
        "/v1/venues/{venue_id}/occupancy",
        path_parameters={"venue_id": known["venue_id"]},
    )
