"""Published schemas change only compatibly: the checker, on synthetic pairs, and the current schemas against the
frozen baseline of every version (`contract/baseline/v<N>/`)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from antoan_shared import contract, topics

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


@pytest.mark.parametrize("version", sorted(contract.baseline_versions()))
def test_the_current_schemas_are_compatible_with_the_frozen_baseline_of_every_version(version: str) -> None:
    # Given the schemas frozen when each version's topics were published (v1, and v2 for exposures.v2)
    baseline = contract.baseline_versions()[version]
    assert baseline
    # Then every baselined event type still exists and changed only compatibly
    problems = contract.incompatibilities(baseline, contract.contract_schemas())
    hint = "a breaking change belongs on a new topic version (see contract/README.md)"
    assert not problems, "\n".join([*problems, hint])


def test_every_contract_topic_is_frozen_in_the_baseline_of_its_version() -> None:
    # Given the contract topics and the frozen baselines, Then each topic's schemas are in the baseline of its
    # version, and nothing is frozen under another version's
    assert contract.baseline_problems() == []
    assert len(contract.baseline_versions()["v1"]) >= 13
    assert contract.load_schemas(contract.baseline_dir(topics.EXPOSURES_V2.name)) != {}
    frozen = {path for schemas in contract.baseline_versions().values() for path in schemas}
    assert {path.split("/")[1] for path in frozen} == {spec.name for spec in topics.CONTRACT_TOPICS}


def test_visit_closed_gained_open_as_an_additive_optional_field() -> None:
    path = "schemas/visits.v1/visit.closed.json"
    frozen, current = contract.baseline_versions()["v1"][path], contract.contract_schemas()[path]
    assert "open" not in frozen["properties"]
    assert current["properties"]["open"]["default"] is False
    assert "open" not in current["required"]
    assert contract.breaking_changes(frozen, current) == []


def test_the_v2_baseline_is_the_exposures_v2_schema_as_first_published() -> None:
    frozen = contract.baseline_versions()["v2"]
    assert set(frozen) == {"schemas/exposures.v2/exposure.changed.json"}
    schema = frozen["schemas/exposures.v2/exposure.changed.json"]
    assert schema["properties"]["type"]["const"] == "exposure.changed"
    assert schema["properties"]["schema_version"]["default"] == 2
    assert {"case_id", "person_key", "withdrawn", "degree", "exposed_at"} <= schema["properties"].keys()
    assert set(schema["required"]) == {"producer", "case_id", "person_key"}


def test_an_unfrozen_topic_and_a_misplaced_baseline_are_reported(tmp_path: Path) -> None:
    # Given a copy of the baselines with exposures.v2 missing from v2 and filed under v1 instead
    shutil.copytree(contract.BASELINE_DIR, tmp_path, dirs_exist_ok=True)
    shutil.move(tmp_path / "v2" / "exposures.v2", tmp_path / "v1" / "exposures.v2")
    # When it is checked, Then both are reported
    problems = contract.baseline_problems(tmp_path)
    assert len(problems) == 2, problems
    assert problems[0].startswith("exposures.v2: not frozen; copy schemas/exposures.v2/ to baseline/v2/exposures.v2/")
    assert problems[1] == "baseline/v1/exposures.v2/exposure.changed.json: exposures.v2 is not a v1 topic"


def test_a_breaking_change_to_exposures_v2_is_caught_by_its_baseline() -> None:
    # Given exposures.v2's current schemas with `withdrawn` dropped
    current = contract.contract_schemas()
    path = "schemas/exposures.v2/exposure.changed.json"
    broken = json.loads(json.dumps(current[path]))
    del broken["properties"]["withdrawn"]
    # Then the v2 baseline reports it
    problems = contract.incompatibilities(contract.baseline_versions()["v2"], {**current, path: broken})
    assert problems == [f"{path}: $.withdrawn: field removed"]


@pytest.mark.parametrize(("name", "version"), [("exposures.v1", 1), ("exposures.v2", 2), ("venue-risk.v12", 12)])
def test_a_topic_version_is_read_from_its_name(name: str, version: int) -> None:
    assert contract.topic_version(name) == version


@pytest.mark.parametrize("name", ["exposures", "exposures.v0", "exposures.v2.tmp"])
def test_a_name_without_a_version_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="does not end in"):
        contract.topic_version(name)
