"""Property-based tests of the live ingest service against its own OpenAPI document (schemathesis).

For every operation the service publishes in `/openapi.json`, generated requests (valid and invalid, from the
schema's examples, its boundaries and random fuzzing) never get a 5xx, and every answer keeps to what the document
promises: a documented status code, a documented content type and a body that conforms to the documented schema
(SPEC §4.1: bad input gets a clear 4xx, never a 5xx). The health-authority operations are exercised a second time
with the valid token, so their happy paths are covered and not only their 401s.
"""

from __future__ import annotations

import copy
import os
import re
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.errors import FailureGroup
from schemathesis.openapi.checks import JsonSchemaError

from antoan_localstack.testing import RunningServices

pytestmark = pytest.mark.integration

# Fixed, so a failure found once is found again on the next run (and by whoever reads the report).
SEED = 20210901
# Fuzzed examples per operation and per variant (on top of the schema's examples and its boundary cases):
# bounded so the whole module stays around a minute on two cores. Raise it for a deeper run.
MAX_EXAMPLES = int(os.environ.get("ANTOAN_PROPERTY_MAX_EXAMPLES", "30"))

# What the properties check: no 5xx, and the answer is the one the document describes.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)

# The operations that take the health authority's bearer token.
HEALTH_AUTHORITY_PATHS = r"^/v1/(cases|persons)"
CHECKIN_PATHS = r"^/v1/checkins"

# Calls made per (variant, operation), so a test can show every operation was really exercised.
CALLS: Counter[tuple[str, str]] = Counter()
STATUSES: Counter[tuple[str, str, int]] = Counter()


def _config(**extra: Any) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            **extra,
            "seed": SEED,
            # No example database (a run does not depend on the last one) and no shrinking (bounded time; the
            # failure report still carries the exact request as a curl command).
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "no-shrink": True},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "request-timeout": 15,
        }
    )


@pytest.fixture(scope="module")
def ingest_schema(running_services: RunningServices) -> schemathesis.BaseSchema:
    """The ingest service's own OpenAPI document, loaded from the running process."""
    return schemathesis.openapi.from_url(f"{running_services.ingest}/openapi.json", config=_config(), timeout=10)


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


def _call_and_validate(
    variant: str, case: schemathesis.Case, headers: dict[str, str] | None = None
) -> schemathesis.Response:
    """Sends the case and runs the CHECKS on the answer (raising on any failure), counting the call."""
    CALLS[(variant, case.operation.label)] += 1  # before: a call whose answer fails the checks counts too
    response = case.call_and_validate(headers=headers)
    STATUSES[(variant, case.operation.label, response.status_code)] += 1
    return response


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32 reads and rewrites `item._nodeid`, which pytest 9.2 no longer has (it keeps `_id`).

    Giving the item that attribute lets `from_fixture(...).parametrize()` run; pytest itself never reads it.
    Remove once schemathesis supports pytest 9.2.
    """
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("ingest_schema")
health_authority_schema = schema.include(path_regex=HEALTH_AUTHORITY_PATHS)
checkin_schema = schema.include(path_regex=CHECKIN_PATHS)


@schema.parametrize()
def test_no_operation_answers_a_5xx_or_an_undocumented_response(case: schemathesis.Case) -> None:
    # Given any request the document allows (or nearly allows), without credentials
    # When it is sent to the running service
    _call_and_validate("anonymous", case)
    # Then (checked by call_and_validate) no 5xx, and status, content type and body are as documented


@health_authority_schema.parametrize()
def test_health_authority_operations_with_the_valid_token_answer_as_documented(
    case: schemathesis.Case, running_services: RunningServices
) -> None:
    # Given a request to a health-authority operation carrying the authority's valid bearer token
    # When it is sent to the running service
    response = _call_and_validate("health-authority", case, _ha_headers(running_services))
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
    case: schemathesis.Case, scanning_venue: dict[str, str]
) -> None:
    # Given a generated check-in that scans the real code of a registered venue, sent with that venue's
    # scanner key (so the staff-scanning path is reached too, and the check-in rules past the QR signature)
    _at_venue(case.body, scanning_venue["qr"])
    # When it is sent to the running service
    _call_and_validate("venue", case, {"Authorization": f"Bearer {scanning_venue['api_key']}"})
    # Then no 5xx, and status, content type and body are as documented


def _selected(request: pytest.FixtureRequest, name: str) -> bool:
    return any(item.name == name for item in request.session.items)


def test_every_operation_was_called_by_the_property_tests(
    request: pytest.FixtureRequest, ingest_schema: schemathesis.BaseSchema
) -> None:
    """The property tests above really sent requests for each operation: a run that tests nothing fails here."""
    variants = {
        "anonymous": ("test_no_operation_answers_a_5xx_or_an_undocumented_response", ".*"),
        "health-authority": (
            "test_health_authority_operations_with_the_valid_token_answer_as_documented",
            HEALTH_AUTHORITY_PATHS,
        ),
        "venue": ("test_check_ins_at_a_registered_venue_answer_as_documented", CHECKIN_PATHS),
    }
    checked = 0
    for variant, (test_name, path_regex) in variants.items():
        if not _selected(request, test_name):
            continue
        labels = [
            result.ok().label
            for result in ingest_schema.get_all_operations()
            if re.search(path_regex, result.ok().path)
        ]
        assert labels, f"the document lists no operation for {variant}"
        uncalled = [label for label in labels if CALLS[(variant, label)] == 0]
        assert not uncalled, f"{variant}: no request was made for {uncalled}; calls: {dict(CALLS)}"
        checked += 1
    if not checked:
        pytest.skip("the property tests were not selected in this run")
    # The valid credentials reach the happy paths, not only the refusals.
    for variant in ("health-authority", "venue"):
        if _selected(request, variants[variant][0]):
            accepted = sum(n for (v, _, status), n in STATUSES.items() if v == variant and 200 <= status < 300)
            assert accepted > 0, f"no {variant} call was accepted: {sorted(STATUSES.items())}"


# --- explicit happy paths, validated against the same document --------------------------------------


@pytest.fixture(scope="module")
def venue(running_services: RunningServices) -> dict[str, str]:
    return _register(running_services, "Cà phê Hạc Thành")


def _validated(ingest_schema: schemathesis.BaseSchema, method: str, path: str, **kwargs: Any) -> schemathesis.Response:
    case = ingest_schema[path][method].Case(**{k: v for k, v in kwargs.items() if k != "headers"})
    return case.call_and_validate(headers=kwargs.get("headers"))


def test_a_registered_venue_answers_every_venue_operation_as_documented(
    ingest_schema: schemathesis.BaseSchema, venue: dict[str, str]
) -> None:
    # Given a registered venue and its API key
    ids = {"venue_id": venue["venue_id"]}
    owner = {"Authorization": f"Bearer {venue['api_key']}"}
    # When each venue operation is called on it, Then each answers its documented success, as documented
    steps: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/v1/venues/{venue_id}", {}, 200),
        ("GET", "/v1/venues/{venue_id}/qr.svg", {}, 200),
        ("GET", "/v1/venues/{venue_id}/qr.png", {}, 200),
        ("GET", "/v1/venues/{venue_id}/poster.pdf", {}, 200),
        ("GET", "/v1/venues/{venue_id}/qr/rotating", {"headers": owner}, 200),
        ("PATCH", "/v1/venues/{venue_id}", {"headers": owner, "body": {"capacity": 60}}, 200),
        ("DELETE", "/v1/venues/{venue_id}", {"headers": owner}, 200),
        # And once deactivated, its QR codes are refused with a documented answer
        ("GET", "/v1/venues/{venue_id}/qr.svg", {}, 409),
    ]
    for method, path, extra, expected in steps:
        response = _validated(ingest_schema, method, path, path_parameters=ids, **extra)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text[:300]}"


def test_a_deactivated_venue_answers_its_owner_as_documented(
    running_services: RunningServices, ingest_schema: schemathesis.BaseSchema
) -> None:
    # Given a venue its owner deactivated
    created = _register(running_services, "Quán đã đóng cửa")
    ids = {"venue_id": created["venue_id"]}
    owner = {"Authorization": f"Bearer {created['api_key']}"}
    _validated(ingest_schema, "DELETE", "/v1/venues/{venue_id}", path_parameters=ids, headers=owner)
    # When its owner still asks for a rotating code or changes its details
    # Then each is refused with a 4xx the document lists for the operation
    problems = []
    for method, path, extra in (
        ("GET", "/v1/venues/{venue_id}/qr/rotating", {}),
        ("PATCH", "/v1/venues/{venue_id}", {"body": {"capacity": 6}}),
    ):
        try:
            response = _validated(ingest_schema, method, path, path_parameters=ids, headers=owner, **extra)
        except FailureGroup as failures:
            problems.append(f"{method} {path}: {failures}")
            continue
        if not 400 <= response.status_code < 500:
            problems.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
    assert not problems, "\n".join(problems)


def test_a_confirmed_case_reads_back_its_contact_for_the_health_authority_as_documented(
    running_services: RunningServices, ingest_schema: schemathesis.BaseSchema
) -> None:
    # Given a case the health authority confirmed
    headers = _ha_headers(running_services)
    confirmed = _validated(
        ingest_schema,
        "POST",
        "/v1/cases",
        body={"person_id": "0912000111", "tested_at": "2021-09-03T10:00:00+07:00"},
        headers=headers,
    )
    assert confirmed.status_code == 202, confirmed.text
    person_key = confirmed.json()["person_key"]
    # When the authority reads the contact behind its person_key
    response = _validated(
        ingest_schema, "GET", "/v1/persons/{person_key}", path_parameters={"person_key": person_key}, headers=headers
    )
    # Then it gets the identifier back, in the documented shape
    assert response.status_code == 200, response.text
    assert response.json()["contact"]["identifier"]


# --- the checks can fail -----------------------------------------------------------------------------


@pytest.fixture
def wrongly_documented_schema(
    ingest_schema: schemathesis.BaseSchema, running_services: RunningServices
) -> schemathesis.BaseSchema:
    """The live document, changed to promise a field `POST /v1/venues` never returns."""
    document = copy.deepcopy(ingest_schema.raw_schema)
    created = document["components"]["schemas"]["VenueCreated"]
    created["properties"]["never_returned"] = {"type": "string"}
    created["required"] = [*created.get("required", []), "never_returned"]
    return schemathesis.openapi.from_dict(document, config=_config(**{"base-url": running_services.ingest}))


def test_schema_conformance_flags_an_answer_that_breaks_a_wrong_expectation(
    wrongly_documented_schema: schemathesis.BaseSchema, ingest_schema: schemathesis.BaseSchema
) -> None:
    body = {"name": "Tiệm bánh mì", "category": "cafe", "capacity": 10}
    # Given a valid registration, When its answer is checked against the real document, Then it passes
    _validated(ingest_schema, "POST", "/v1/venues", body=body)
    # When the same request is checked against a document that promises one more field
    case = wrongly_documented_schema["/v1/venues"]["POST"].Case(body=body)
    with pytest.raises(FailureGroup) as raised:
        case.call_and_validate()
    # Then schemathesis reports the body as not conforming
    assert any(isinstance(failure, JsonSchemaError) for failure in raised.value.exceptions), raised.value
