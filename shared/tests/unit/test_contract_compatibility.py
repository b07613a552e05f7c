"""v1 schemas change only compatibly: the checker, on synthetic pairs, and the current schemas against the baseline."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from antoan_shared import contract

BASELINE = contract.CONTRACT_DIR / "baseline" / "v1"

BEFORE: dict[str, Any] = {
    "$schema": contract.SCHEMA_DIALECT,
    "type": "object",
    "properties": {
        "type": {"const": "venue_risk.changed", "type": "string"},
        "venue_id": {"type": "string"},
        "level": {"type": "integer", "minimum": 1, "maximum": 4},
        "color": {"enum": ["green", "yellow", "orange", "red"], "type": "string"},
        "capacity": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "reasons": {"type": "array", "items": {"$ref": "#/definitions/Reason"}},
    },
    "required": ["type", "venue_id", "level", "color"],
    "definitions": {
        "Reason": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "detail": {"type": "object"}},
            "required": ["code"],
        }
    },
}


def changed(edit: Any) -> dict[str, Any]:
    after = copy.deepcopy(BEFORE)
    edit(after)
    return after


def props(schema: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema["properties"]
    return properties


BREAKING = {
    "field removed": (lambda s: props(s).pop("venue_id"), "$.venue_id: field removed"),
    "type changed": (lambda s: props(s)["venue_id"].update(type="integer"), "$.venue_id: type changed"),
    "type narrowed (no longer nullable)": (
        lambda s: props(s).update(capacity={"type": "integer"}),
        "$.capacity: type changed: null is no longer accepted",
    ),
    "new required field": (
        lambda s: (props(s).update(area_code={"type": "string"}), s["required"].append("area_code")),
        "$.area_code: new required field",
    ),
    "optional field made required": (lambda s: s["required"].append("capacity"), "$.capacity: new required field"),
    "enum value removed": (
        lambda s: props(s)["color"].update(enum=["green", "yellow", "red"]),
        "$.color: enum value 'orange' removed",
    ),
    "const changed": (
        lambda s: props(s)["type"].update(const="venue_risk.updated"),
        "$.type: const changed from 'venue_risk.changed' to 'venue_risk.updated'",
    ),
    "bound tightened": (lambda s: props(s)["level"].update(maximum=3), "$.level: maximum lowered to 3"),
    "nested field removed": (
        lambda s: s["definitions"]["Reason"]["properties"].pop("code"),
        "$.reasons[].code: field removed",
    ),
    "unknown fields refused": (
        lambda s: s.update(additionalProperties=False),
        "$: unknown fields are no longer allowed",
    ),
}

COMPATIBLE = {
    "unchanged": lambda s: None,
    "optional field added": lambda s: props(s).update(note={"type": "string", "default": ""}),
    "nested optional field added": lambda s: s["definitions"]["Reason"]["properties"].update(since={"type": "string"}),
    "enum value added": lambda s: props(s)["color"]["enum"].append("purple"),
    "required field made optional": lambda s: s["required"].remove("color"),
    "type widened": lambda s: props(s).update(venue_id={"anyOf": [{"type": "string"}, {"type": "null"}]}),
    "integer widened to number": lambda s: props(s)["level"].update(type="number"),
    "bound loosened": lambda s: props(s)["level"].update(maximum=5),
    "description edited": lambda s: props(s)["venue_id"].update(description="The venue"),
}


@pytest.mark.parametrize(("edit", "expected"), BREAKING.values(), ids=BREAKING.keys())
def test_a_breaking_change_is_reported(edit: Any, expected: str) -> None:
    # Given a v1 schema and a later version with one breaking change, When they are compared
    problems = contract.breaking_changes(BEFORE, changed(edit))
    # Then the change is reported, and only it
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


@pytest.mark.parametrize("edit", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_a_compatible_change_passes(edit: Any) -> None:
    assert contract.breaking_changes(BEFORE, changed(edit)) == []


def test_a_removed_event_type_breaks_and_a_new_one_does_not() -> None:
    baseline = {"schemas/venue-risk.v1/venue_risk.changed.json": BEFORE}
    assert contract.incompatibilities(baseline, {}) == [
        "schemas/venue-risk.v1/venue_risk.changed.json: event type removed"
    ]
    current = {**baseline, "schemas/venue-risk.v1/venue_risk.cleared.json": {"type": "object"}}
    assert contract.incompatibilities(baseline, current) == []


def test_the_current_v1_schemas_are_compatible_with_the_frozen_baseline() -> None:
    # Given the schemas as frozen when v1 was published, and the schemas the models generate today
    baseline = contract.load_schemas(BASELINE)
    assert len(baseline) >= 13
    # Then every baselined event type still exists and changed only compatibly
    problems = contract.incompatibilities(baseline, contract.contract_schemas())
    assert not problems, "\n".join([*problems, "a breaking change belongs on a new .v2 topic (see contract/README.md)"])
