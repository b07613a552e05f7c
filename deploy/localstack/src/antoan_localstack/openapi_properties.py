"""What the services' property tests against their own OpenAPI documents (schemathesis) have in common.

Each service's `tests/integration/test_openapi_properties.py` loads its running service's `/openapi.json` with
`load_schema`, sends the generated requests through `Calls.call_and_validate` (no 5xx; status code, content type,
headers and body as documented; `point_at` aims valid ids at real ones) and ends with
`Calls.assert_every_operation_called`, so a run that tests nothing fails. Requests built by hand are checked the
same way (`checked`, `assert_answers`), and `assert_conformance_can_fail` shows the checks can fail. Test-only: it
needs the suite's dev dependencies (schemathesis, pytest).
"""

from __future__ import annotations

import copy
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import schemathesis
from schemathesis.core.result import Err
from schemathesis.errors import FailureGroup

# Fixed, so a failure found once is found again on the next run (and by whoever reads the report).
SEED = 20210901
# Fuzzed examples per operation and per variant (on top of the schema's examples and its boundary cases):
# bounded so the three modules stay around a minute on two workers (60: 59 s; 30: 46 s). Raise it for a
# deeper run.
MAX_EXAMPLES = int(os.environ.get("ANTOAN_PROPERTY_MAX_EXAMPLES", "60"))

# What the properties check: no 5xx, and the answer is the one the document describes.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


def config(**extra: Any) -> schemathesis.Config:
    """The runs' settings: seeded, bounded, no example database, no shrinking, the CHECKS only."""
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


def load_schema(base_url: str) -> schemathesis.BaseSchema:
    """A running service's own OpenAPI document."""
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config(), timeout=10)


def wrongly_documented(
    schema: schemathesis.BaseSchema, base_url: str, component: str, field: str = "never_returned"
) -> schemathesis.BaseSchema:
    """The document, changed to promise a `field` the `component` schema's answers never have: checking a real
    answer against it must fail, which shows the conformance check can fail at all."""
    document = copy.deepcopy(schema.raw_schema)
    promised = document["components"]["schemas"][component]
    promised["properties"][field] = {"type": "string"}
    promised["required"] = [*promised.get("required", []), field]
    return schemathesis.openapi.from_dict(document, config=config(**{"base-url": base_url}))


def checked(
    schema: schemathesis.BaseSchema, method: str, path: str, headers: Mapping[str, str] | None = None, **parts: Any
) -> tuple[schemathesis.Response, list[str]]:
    """One request built by hand, sent; its answer, with what the CHECKS find wrong with it (nothing, when it is
    as documented)."""
    case = schema[path][method].Case(**parts)
    response = case.call(headers=dict(headers or {}))
    try:
        case.validate_response(response, headers=dict(headers or {}))
    except FailureGroup as failures:
        return response, [str(failure) for failure in failures.exceptions]
    return response, []


# One request built by hand and the status it must get: (method, path, parts of the Case, status).
Step = tuple[str, str, dict[str, Any], int]


def assert_answers(schema: schemathesis.BaseSchema, steps: Iterable[Step]) -> None:
    """Each step's request gets its expected status, in the documented shape; every deviation is reported."""
    problems = []
    for method, path, parts, expected in steps:
        response, failures = checked(schema, method, path, **parts)
        if failures or response.status_code != expected:
            problems.append(f"{method} {path} {parts}: {response.status_code} {response.text[:300]} {failures}")
    assert not problems, "\n".join(problems)


def assert_conformance_can_fail(
    schema: schemathesis.BaseSchema, base_url: str, component: str, method: str, path: str, **parts: Any
) -> None:
    """The request's answer conforms to the document, and not to one promising a field more in `component`
    (`wrongly_documented`): the schema check really looks at the body."""
    assert checked(schema, method, path, **parts)[1] == []
    _, failures = checked(wrongly_documented(schema, base_url, component), method, path, **parts)
    assert any("never_returned" in failure for failure in failures), failures


def point_at(case: schemathesis.Case[Any], name: str, valid: re.Pattern[str], value: str) -> None:
    """Points the case's path parameter `name` at a real `value` (a registered venue, a confirmed case) when the
    generated one is `valid`, so valid requests reach the happy path; invalid ones stay, for their 4xx."""
    generated = (case.path_parameters or {}).get(name)
    if isinstance(generated, str) and valid.fullmatch(generated):
        case.path_parameters = {**(case.path_parameters or {}), name: value}


def give_node_id(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32 reads and rewrites `item._nodeid`, which pytest 9.2 no longer has (it keeps `_id`).

    Call it from an autouse fixture of the test module: giving the item that attribute lets
    `from_fixture(...).parametrize()` run; pytest itself never reads it. Remove once schemathesis supports
    pytest 9.2.
    """
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


class Calls:
    """The calls a module's property tests made, by variant (who called) and operation, with their statuses:
    so a test can show every operation was really exercised, and the credentials reached the happy paths."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[tuple[str, str, int]] = Counter()

    def call_and_validate(
        self, variant: str, case: schemathesis.Case[Any], headers: Mapping[str, str] | None = None
    ) -> schemathesis.Response:
        """Sends the case and runs the CHECKS on the answer (raising on any failure), counting the call."""
        self.calls[(variant, case.operation.label)] += 1  # before: a call whose answer fails counts too
        response = case.call_and_validate(headers=dict(headers or {}))
        self.statuses[(variant, case.operation.label, response.status_code)] += 1
        return response

    def assert_every_operation_called(
        self,
        request: pytest.FixtureRequest,
        schema: schemathesis.BaseSchema,
        variants: Mapping[str, tuple[str, str]],
        accepting: Iterable[str] = (),
        excluded: str | None = None,
    ) -> None:
        """Every operation matching a variant's path pattern was called by that variant's test, for the
        variants whose test ran (`variants`: name → (test function, path regex)); each variant of `accepting`
        had at least one call answered 2xx. `excluded` is a path regex of operations tested by hand."""
        checked = [variant for variant, (test, _) in variants.items() if _selected(request, test)]
        if not checked:
            pytest.skip("the property tests were not selected in this run")
        for variant in checked:
            path_regex = variants[variant][1]
            labels = [
                operation.label
                for operation in documented_operations(schema)
                if re.search(path_regex, operation.path) and not (excluded and re.search(excluded, operation.path))
            ]
            assert labels, f"the document lists no operation for {variant}"
            uncalled = [label for label in labels if self.calls[(variant, label)] == 0]
            assert not uncalled, f"{variant}: no request was made for {uncalled}; calls: {dict(self.calls)}"
        for variant in set(accepting) & set(checked):
            accepted = sum(n for (v, _, status), n in self.statuses.items() if v == variant and 200 <= status < 300)
            assert accepted > 0, f"no {variant} call was accepted: {sorted(self.statuses.items())}"


def documented_operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation[Any, Any, Any, Any]]:
    """The operations of the document (one it cannot read fails the test)."""
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"the document has an operation schemathesis cannot read: {result.err()}")
        operations.append(result.ok())
    return operations


def _selected(request: pytest.FixtureRequest, name: str) -> bool:
    return any(item.name == name for item in request.session.items)
