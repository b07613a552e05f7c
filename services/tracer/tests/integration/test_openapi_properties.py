"""Property-based tests of the live tracer against its own OpenAPI document (schemathesis).

For every operation the tracer publishes in `/openapi.json`, generated requests (valid and invalid, from the
schema's examples, its boundaries and random fuzzing) never get a 5xx, and every answer keeps to what the document
promises: a documented status code, a documented content type and a body that conforms to the documented schema
(SPEC §4.1). The case reads are exercised a second time with the health authority's token and the venue reads
with the venue's key, pointed at a real case with a contact and a real venue with visits, so their happy paths
are covered and not only their 401s.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis

from antoan_localstack import openapi_properties as properties
from antoan_localstack.client import Antoan, new_person
from antoan_localstack.testing import RunningServices, wait_for
from antoan_shared.events import utc_now

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

# The case reads that answer and end (the live streams never end: test_console.py reads them).
CASE_PATHS = r"^/v1/cases/\{case_id\}/contacts(\.csv)?$"
CONSOLE_PATHS = r"^/v1/(alerts|alerts/\{alert_id\}/acknowledge|audit)$"
VENUE_PATHS = r"^/v1/venues/"
# Ids the generator makes that the tracer would accept (`CaseId`, `VenueId` of the API): those are pointed at
# the real case and venue; the others stay as generated, for their 422s.
CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
VENUE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

CALLS = properties.Calls()


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    properties.give_node_id(request)


@pytest.fixture(scope="module")
def tracer_schema(running_services: RunningServices) -> schemathesis.BaseSchema:
    """The tracer's own OpenAPI document, loaded from the running worker."""
    return properties.load_schema(running_services.tracer)


@pytest.fixture(scope="module")
def traced(antoan: Antoan, running_services: RunningServices) -> dict[str, Any]:
    """A venue where a case and another person were together half an hour ago, the case confirmed: once the
    tracer holds the venue's visits and the case's contact."""
    venue = antoan.register_venue()
    case_person, contact = new_person(), new_person()
    for person in (case_person, contact):
        antoan.check_in(venue, person, at=utc_now() - timedelta(minutes=30))
    case_id = antoan.confirm_case(case_person, tested_at=utc_now(), case_id=f"BN{venue['venue_id'][-6:]}")["case_id"]
    ha = {"Authorization": f"Bearer {running_services.ha_token}"}
    owner = {"Authorization": f"Bearer {venue['api_key']}"}
    tracer = running_services.tracer

    def both_known() -> bool:
        contacts = httpx.get(f"{tracer}/v1/cases/{case_id}/contacts", headers=ha, timeout=10)
        visits = httpx.get(f"{tracer}/v1/venues/{venue['venue_id']}/visits", headers=owner, timeout=10)
        return (
            contacts.status_code == visits.status_code == 200
            and len(contacts.json()["contacts"]) == 1
            and len(visits.json()["visits"]) == 2
        )

    wait_for(both_known, timeout=60, interval=0.3, what="the case's contact and the venue's visits on the tracer")
    return {"case_id": case_id, "venue_id": venue["venue_id"], "ha": ha, "owner": owner}


schema = schemathesis.pytest.from_fixture("tracer_schema")
case_schema = schema.include(path_regex=CASE_PATHS)
console_schema = schema.include(path_regex=CONSOLE_PATHS)
venue_schema = schema.include(path_regex=VENUE_PATHS)


@schema.parametrize()
def test_no_operation_answers_a_5xx_or_an_undocumented_response(case: schemathesis.Case[Any]) -> None:
    # Given any request the document allows (or nearly allows), without credentials
    # When it is sent to the running tracer
    CALLS.call_and_validate("anonymous", case)
    # Then (checked by call_and_validate) no 5xx, and status, content type and body are as documented


@case_schema.parametrize()
def test_case_reads_with_the_health_authoritys_token_answer_as_documented(
    case: schemathesis.Case[Any], traced: dict[str, Any]
) -> None:
    # Given a request for a case's contacts, with the authority's token, a valid id pointing at the real case
    properties.point_at(case, "case_id", CASE_ID, traced["case_id"])
    # When it is sent to the running tracer
    response = CALLS.call_and_validate("health-authority", case, traced["ha"])
    # Then no 5xx, and status, content type and body are as documented; and the token got past the door
    assert response.status_code not in (401, 403), response.text


@console_schema.parametrize()
def test_the_console_s_reads_with_the_health_authoritys_token_answer_as_documented(
    case: schemathesis.Case[Any], traced: dict[str, Any]
) -> None:
    # Given a request for alerts, an acknowledgement or the audit, with the authority's token
    # When it is sent to the running tracer
    response = CALLS.call_and_validate("console", case, traced["ha"])
    # Then no 5xx, and status, content type and body are as documented; and the token got past the door
    assert response.status_code not in (401, 403), response.text


@venue_schema.parametrize()
def test_a_venues_history_with_its_key_answers_as_documented(
    case: schemathesis.Case[Any], traced: dict[str, Any]
) -> None:
    # Given a request for a venue's history, with its key, a valid id pointing at the real venue; any period
    properties.point_at(case, "venue_id", VENUE_ID, traced["venue_id"])
    # When it is sent to the running tracer
    response = CALLS.call_and_validate("venue", case, traced["owner"])
    # Then no 5xx, and status, content type and body are as documented; and the key got past the door
    assert response.status_code not in (401, 403), response.text


def test_every_operation_was_called_by_the_property_tests(
    request: pytest.FixtureRequest, tracer_schema: schemathesis.BaseSchema
) -> None:
    """The property tests above really sent requests for each operation, and the credentials reached the
    happy paths: a run that tests nothing fails here."""
    CALLS.assert_every_operation_called(
        request,
        tracer_schema,
        {
            "anonymous": ("test_no_operation_answers_a_5xx_or_an_undocumented_response", ".*"),
            "health-authority": ("test_case_reads_with_the_health_authoritys_token_answer_as_documented", CASE_PATHS),
            "console": (
                "test_the_console_s_reads_with_the_health_authoritys_token_answer_as_documented",
                CONSOLE_PATHS,
            ),
            "venue": ("test_a_venues_history_with_its_key_answers_as_documented", VENUE_PATHS),
        },
        accepting=("health-authority", "console", "venue"),
    )


# --- explicit answers, validated against the same document -------------------------------------------


def test_the_reads_answer_their_documented_successes_and_refusals(
    tracer_schema: schemathesis.BaseSchema, traced: dict[str, Any]
) -> None:
    case_ids = {"case_id": traced["case_id"]}
    venue_ids = {"venue_id": traced["venue_id"]}
    vietnam_day = {"from": "2026-12-02T00:00:00+07:00", "to": "2026-12-02T23:59:59+07:00"}
    steps: list[properties.Step] = [
        # A known case's contacts and a venue's history (by default the last 24 hours, or a day in Vietnam time)
        ("GET", "/v1/cases/{case_id}/contacts", {"path_parameters": case_ids, "headers": traced["ha"]}, 200),
        ("GET", "/v1/cases/{case_id}/contacts.csv", {"path_parameters": case_ids, "headers": traced["ha"]}, 200),
        ("GET", "/v1/venues/{venue_id}/visits", {"path_parameters": venue_ids, "headers": traced["owner"]}, 200),
        ("GET", "/v1/venues/{venue_id}/visits.csv", {"path_parameters": venue_ids, "headers": traced["owner"]}, 200),
        (
            "GET",
            "/v1/venues/{venue_id}/visits",
            {"path_parameters": venue_ids, "headers": traced["owner"], "query": vietnam_day},
            200,
        ),
        # A case never heard of, a venue that does not exist, a period that is none
        ("GET", "/v1/cases/{case_id}/contacts", {"path_parameters": {"case_id": "BN0"}, "headers": traced["ha"]}, 404),
        (
            "GET",
            "/v1/cases/{case_id}/contacts.csv",
            {"path_parameters": {"case_id": "BN0"}, "headers": traced["ha"]},
            404,
        ),
        (
            "GET",
            "/v1/venues/{venue_id}/visits",
            {"path_parameters": {"venue_id": "v_0"}, "headers": traced["owner"]},
            404,
        ),
        (
            "GET",
            "/v1/venues/{venue_id}/visits.csv",
            {"path_parameters": venue_ids, "headers": traced["owner"], "query": {"from": "hôm qua"}},
            400,
        ),
    ]
    # When each is asked for, Then each answers as expected, in the documented shape
    properties.assert_answers(tracer_schema, steps)


def test_schema_conformance_flags_an_answer_that_breaks_a_wrong_expectation(
    tracer_schema: schemathesis.BaseSchema, traced: dict[str, Any], running_services: RunningServices
) -> None:
    # Given a venue's history, When it is checked against the real document, Then it passes; and against a
    # document that promises one more field, it is reported as not conforming
    properties.assert_conformance_can_fail(
        tracer_schema,
        running_services.tracer,
        "VenueVisitsView",
        "GET",
        "/v1/venues/{venue_id}/visits",
        path_parameters={"venue_id": traced["venue_id"]},
        headers=traced["owner"],
    )
