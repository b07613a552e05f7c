"""Property-based tests of the live ingest service against its own OpenAPI document (schemathesis).

For every operation the service publishes in `/openapi.json`, generated requests (valid and invalid, from the
schema's examples, its boundaries and random fuzzing) never get a 5xx, and every answer keeps to what the document
promises: a documented status code, a documented content type and a body that conforms to the documented schema
(SPEC §4.1: bad input gets a clear 4xx, never a 5xx). The health-authority operations are exercised a second time
with the valid token, so their happy paths are covered and not only their 401s.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis

from antoan_localstack import openapi_properties as properties
from antoan_localstack.testing import RunningServices
from antoan_shared import events

pytestmark = pytest.mark.integration

# The operations that take the health authority's bearer token.
HEALTH_AUTHORITY_PATHS = r"^/v1/(cases|persons|declarations/\{event_id\}/details)"
CHECKIN_PATHS = r"^/v1/checkins"

CALLS = properties.Calls()


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    properties.give_node_id(request)


@pytest.fixture(scope="module")
def ingest_schema(running_services: RunningServices) -> schemathesis.BaseSchema:
    """The ingest service's own OpenAPI document, loaded from the running process."""
    return properties.load_schema(running_services.ingest)


def _register(running_services: RunningServices, name: str) -> dict[str, str]:
    response = httpx.post(
        f"{running_services.ingest}/v1/venues",
        json={"name": name, "category": "cafe", "province_code": "38", "capacity": 40},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def _ha_headers(running_services: RunningServices) -> dict[str, str]:
    return {"Authorization": f"Bearer {running_services.ha_token}"}


schema = schemathesis.pytest.from_fixture("ingest_schema")
health_authority_schema = schema.include(path_regex=HEALTH_AUTHORITY_PATHS)
checkin_schema = schema.include(path_regex=CHECKIN_PATHS)


@schema.parametrize()
def test_no_operation_answers_a_5xx_or_an_undocumented_response(case: schemathesis.Case[Any]) -> None:
    # Given any request the document allows (or nearly allows), without credentials
    # When it is sent to the running service
    CALLS.call_and_validate("anonymous", case)
    # Then (checked by call_and_validate) no 5xx, and status, content type and body are as documented


@health_authority_schema.parametrize()
def test_health_authority_operations_with_the_valid_token_answer_as_documented(
    case: schemathesis.Case[Any], running_services: RunningServices
) -> None:
    # Given a request to a health-authority operation carrying the authority's valid bearer token
    # When it is sent to the running service
    response = CALLS.call_and_validate("health-authority", case, _ha_headers(running_services))
    # Then no 5xx, and status, content type and body are as documented; and the token got past the door
    assert response.status_code not in (401, 403), response.text


@pytest.fixture(scope="module")
def scanning_venue(running_services: RunningServices) -> dict[str, str]:
    """A registered venue of the check-in properties' own (other tests deactivate theirs)."""
    return _register(running_services, "Quán phở Sầm Sơn")


def _at_venue(body: object, venue_qr: str) -> None:
    """Points a generated check-in (or each item of a batch) that scans a venue code at the real venue's."""
    if isinstance(body, dict):
        if isinstance(body.get("venue_qr"), str):
            body["venue_qr"] = venue_qr
        for item in body.get("items", []) if isinstance(body.get("items"), list) else []:
            _at_venue(item, venue_qr)


@checkin_schema.parametrize()
def test_check_ins_at_a_registered_venue_answer_as_documented(
    case: schemathesis.Case[Any], scanning_venue: dict[str, str]
) -> None:
    # Given a generated check-in that scans the real code of a registered venue, sent with that venue's
    # scanner key (so the staff-scanning path is reached too, and the check-in rules past the QR signature)
    _at_venue(case.body, scanning_venue["qr"])
    # When it is sent to the running service
    CALLS.call_and_validate("venue", case, {"Authorization": f"Bearer {scanning_venue['api_key']}"})
    # Then no 5xx, and status, content type and body are as documented


def test_every_operation_was_called_by_the_property_tests(
    request: pytest.FixtureRequest, ingest_schema: schemathesis.BaseSchema
) -> None:
    """The property tests above really sent requests for each operation, and the credentials reached the
    happy paths: a run that tests nothing fails here."""
    CALLS.assert_every_operation_called(
        request,
        ingest_schema,
        {
            "anonymous": ("test_no_operation_answers_a_5xx_or_an_undocumented_response", ".*"),
            "health-authority": (
                "test_health_authority_operations_with_the_valid_token_answer_as_documented",
                HEALTH_AUTHORITY_PATHS,
            ),
            "venue": ("test_check_ins_at_a_registered_venue_answer_as_documented", CHECKIN_PATHS),
        },
        accepting=("health-authority", "venue"),
    )


# --- explicit happy paths, validated against the same document --------------------------------------


@pytest.fixture(scope="module")
def venue(running_services: RunningServices) -> dict[str, str]:
    return _register(running_services, "Cà phê Hạc Thành")


def test_a_registered_venue_answers_every_venue_operation_as_documented(
    ingest_schema: schemathesis.BaseSchema, venue: dict[str, str]
) -> None:
    # Given a registered venue and its API key
    ids = {"path_parameters": {"venue_id": venue["venue_id"]}}
    owner = {**ids, "headers": {"Authorization": f"Bearer {venue['api_key']}"}}
    # When each venue operation is called on it, Then each answers its documented success, as documented
    steps: list[properties.Step] = [
        ("GET", "/v1/venues/{venue_id}", ids, 200),
        ("GET", "/v1/venues/{venue_id}/qr.png", ids, 401),  # a poster's code only for its owner
        ("GET", "/v1/venues/{venue_id}/qr.svg", owner, 200),
        ("GET", "/v1/venues/{venue_id}/qr.png", owner, 200),
        ("GET", "/v1/venues/{venue_id}/poster.pdf", owner, 200),
        ("GET", "/v1/venues/{venue_id}/qr/rotating", owner, 200),
        ("PATCH", "/v1/venues/{venue_id}", {**owner, "body": {"capacity": 60}}, 200),
        ("DELETE", "/v1/venues/{venue_id}", owner, 200),
        # And once deactivated, its codes are refused and its details frozen, with a documented answer
        ("GET", "/v1/venues/{venue_id}/qr.svg", owner, 409),
        ("GET", "/v1/venues/{venue_id}/qr/rotating", owner, 409),
        ("PATCH", "/v1/venues/{venue_id}", {**owner, "body": {"capacity": 6}}, 409),
    ]
    properties.assert_answers(ingest_schema, steps)


def _as_documented(
    schema: schemathesis.BaseSchema, method: str, path: str, headers: dict[str, str], **parts: Any
) -> schemathesis.Response:
    """One request built by hand, whose answer must be as the document describes; the answer."""
    response, failures = properties.checked(schema, method, path, headers, **parts)
    assert not failures, f"{method} {path}: {response.status_code} {failures}"
    return response


def test_the_health_authority_finds_a_confirmed_case_by_key_and_by_phone_as_documented(
    running_services: RunningServices, ingest_schema: schemathesis.BaseSchema
) -> None:
    # Given a case the health authority confirmed
    headers = _ha_headers(running_services)
    confirmed = _as_documented(
        ingest_schema,
        "POST",
        "/v1/cases",
        headers,
        body={"person_id": "0912000111", "tested_at": events.utc_now().isoformat()},
    )
    assert confirmed.status_code == 202, confirmed.text
    person_key = confirmed.json()["person_key"]
    # When the authority reads the contact behind its person_key, or searches the number it was given
    by_key = _as_documented(
        ingest_schema, "GET", "/v1/persons/{person_key}", headers, path_parameters={"person_key": person_key}
    )
    by_phone = _as_documented(
        ingest_schema, "POST", "/v1/persons/search", headers, body={"kind": "phone", "value": "+84 912 000 111"}
    )
    # Then both find the person, in the documented shape
    assert by_key.status_code == by_phone.status_code == 200, (by_key.text, by_phone.text)
    assert by_key.json() == by_phone.json()
    assert by_phone.json()["contact"]["identifier"]


# --- the checks can fail -----------------------------------------------------------------------------


def test_schema_conformance_flags_an_answer_that_breaks_a_wrong_expectation(
    running_services: RunningServices, ingest_schema: schemathesis.BaseSchema
) -> None:
    # Given a valid registration, whose answer conforms to the real document
    # When the same request is checked against a document that promises one more field in VenueCreated
    # Then schemathesis reports the body as not conforming
    body = {"name": "Tiệm bánh mì", "category": "cafe", "capacity": 10}
    properties.assert_conformance_can_fail(
        ingest_schema, running_services.ingest, "VenueCreated", "POST", "/v1/venues", body=body
    )
