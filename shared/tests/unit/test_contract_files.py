"""The checked-in contract (`contract/`) is what the registry and the models generate, and real events fit it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from antoan_shared import codec, contract, events, topics

T0 = datetime(2021, 9, 1, 8, 30, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
VENUE = {"venue_id": "v_1", "name": "Chợ Điện Biên", "category": "market", "capacity": 80, "api_key_hash": "ab"}
REASON = events.Reason(code="case_present", detail={"within_hours": 72})

# One real event of every type on a contract topic, as the services build them.
SAMPLES: list[events.Event] = [
    events.VenueRegistered(producer="ingest", **VENUE, lat=19.8, lon=105.78, province_code="38"),
    events.VenueUpdated(producer="ingest", **VENUE, owner_key="pk_owner"),
    events.VenueDeactivated(producer="ingest", **VENUE),
    events.CheckInRecorded(
        producer="ingest",
        venue_id="v_1",
        person_key="pk_1",
        direction=events.Direction.IN,
        scanned_at=T0,
        app=events.CheckInApp.BLUEZONE,
        declaration=events.HealthDeclaration(symptoms=(events.Symptom.COUGH,)),
    ),
    events.DeclarationSubmitted(
        producer="ingest",
        person_key="pk_1",
        kind=events.DeclarationKind.ENTRY,
        declared_at=T0,
        temperature_c=36.8,
        details={"flight": "VN123", "seat": "12A"},
    ),
    events.CaseConfirmed(producer="ingest", case_id="BN1", person_key="pk_1", tested_at=T0, confirmed_at=LATER),
    events.VisitClosed(
        producer="tracer",
        venue_id="v_1",
        person_key="pk_1",
        visit_id="vis_1",
        visit_start=T0,
        visit_end=LATER,
        closed_by="checkout",
    ),
    events.OccupancyChanged(producer="tracer", venue_id="v_1", current=3, as_of=T0),
    events.ExposureDetected(
        producer="tracer",
        case_id="BN1",
        person_key="pk_2",
        degree=1,
        venue_id="v_1",
        window_start=T0,
        window_end=LATER,
        exposed_at=T0,
        source_person_key="pk_1",
    ),
    events.ExposureChanged(
        producer="tracer",
        case_id="BN1",
        person_key="pk_2",
        degree=2,
        venue_id="v_1",
        window_start=T0,
        window_end=LATER,
        exposed_at=T0,
        source_person_key="pk_3",
    ),
    events.ExposureChanged(producer="tracer", case_id="BN1", person_key="pk_2", withdrawn=True),
    events.VenueExposureRecorded(
        producer="tracer", case_id="BN1", venue_id="v_1", spreader_degree=0, window_start=T0, window_end=LATER
    ),
    events.QuarantineAlertRaised(producer="tracer", person_key="pk_1", reason="fever", detail={"temperature_c": 38.2}),
    events.VenueRiskChanged(producer="safety-map", venue_id="v_1", level=4, color="red", reasons=(REASON,), as_of=T0),
    events.AreaRiskChanged(
        producer="safety-map",
        area_code="38",
        area_kind="province",
        name="Thanh Hóa",
        level=2,
        color="yellow",
        cases_7d=900,
        population=3_640_000,
        cases_per_100k=24.7,
        as_of=T0,
    ),
]


def _validator(path: str) -> jsonschema.Draft7Validator:
    schema = json.loads((contract.CONTRACT_DIR / path).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def _date_times_are_rfc3339_with_a_zone(schema: dict[str, Any], value: dict[str, Any]) -> None:
    # jsonschema checks `date-time` only with an extra package; the rule it stands for is checked here.
    for name, field in schema["properties"].items():
        formats = {f.get("format") for f in field.get("anyOf", [field])}
        if "date-time" in formats and value.get(name) is not None:
            assert datetime.fromisoformat(value[name]).tzinfo is not None, (name, value[name])


def _path_of(event: events.Event) -> str:
    [spec] = [s for s in topics.CONTRACT_TOPICS if isinstance(event, s.value_types)]
    return contract.schema_path(spec, type(event))


def test_the_checked_in_contract_is_what_the_code_generates() -> None:
    # Given the registry and the models as they are, When the contract is generated in memory,
    # Then it matches contract/ byte for byte
    problems = contract.stale_files()
    assert not problems, "\n\n".join([*problems, f"contract/ is out of date: run `{contract.REGENERATE}`"])


def test_a_changed_model_makes_the_check_fail_with_the_command_to_run(tmp_path: Path) -> None:
    # Given a contract directory written by the generator, and one schema edited afterwards
    contract.write(tmp_path)
    assert contract.stale_files(tmp_path) == []
    edited = tmp_path / "schemas" / "venue-risk.v1" / "venue_risk.changed.json"
    edited.write_text(edited.read_text().replace('"maximum": 4', '"maximum": 5'))
    (tmp_path / "schemas" / "venue-risk.v1" / "old.json").write_text("{}")
    # When it is checked, Then both the difference and the leftover file are reported
    problems = contract.stale_files(tmp_path)
    assert len(problems) == 2
    assert '"maximum": 5' in problems[0]
    assert "no longer generated" in problems[1]
    assert contract.main(["--check", "--dir", str(tmp_path)]) == 1
    contract.write(tmp_path)
    assert contract.main(["--check", "--dir", str(tmp_path)]) == 0


def test_every_event_type_of_every_contract_topic_has_a_schema_and_a_sample() -> None:
    expected = {contract.schema_path(s, m) for s in topics.CONTRACT_TOPICS for m in s.value_types}
    assert set(contract.contract_schemas()) == expected
    missing = expected - {_path_of(e) for e in SAMPLES}
    assert not missing, f"add a sample event to SAMPLES for {sorted(missing)}"


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_real_events_as_encoded_on_the_wire_fit_their_schema(event: events.Event) -> None:
    # Given an event as the codec puts it on a topic
    value = json.loads(codec.encode_event(event))
    # Then it is valid against its checked-in schema, with every date-time in RFC 3339 with a zone
    _validator(_path_of(event)).validate(value)
    schema = contract.event_schema(type(event))
    _date_times_are_rfc3339_with_a_zone(schema, value)
    # And so is the least a producer may send: the fields without a default
    _validator(_path_of(event)).validate({k: value[k] for k in schema["required"]})


def test_values_that_break_the_model_break_the_schema_too() -> None:
    risk = json.loads(codec.encode_event(SAMPLES[-2]))
    validator = _validator("schemas/venue-risk.v1/venue_risk.changed.json")
    for bad in ({"level": 5}, {"color": "purple"}, {"type": "venue.updated"}, {"as_of": 3}):
        assert not validator.is_valid({**risk, **bad}), bad
    assert not validator.is_valid({k: v for k, v in risk.items() if k != "venue_id"})
    assert validator.is_valid({**risk, "added_later": "ignored"})  # consumers ignore unknown fields


def test_an_exposures_v2_value_says_version_2_and_a_withdrawal_carries_no_exposure() -> None:
    validator = _validator("schemas/exposures.v2/exposure.changed.json")
    event = events.ExposureChanged(producer="tracer", case_id="BN1", person_key="pk", withdrawn=True)
    withdrawn = json.loads(codec.encode_event(event))
    assert withdrawn["schema_version"] == 2
    assert validator.is_valid(withdrawn)
    assert all(withdrawn[name] is None for name in ("degree", "venue_id", "exposed_at", "source_person_key"))
    for bad in ({"degree": 0}, {"withdrawn": "yes"}, {"exposed_at": 3}, {"type": "exposure.detected"}):
        assert not validator.is_valid({**withdrawn, **bad}), bad
    assert not validator.is_valid({k: v for k, v in withdrawn.items() if k != "case_id"})


def test_schemas_are_generated_in_serialization_mode_as_draft_07() -> None:
    schema = contract.event_schema(events.VenueRiskChanged)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in schema
    assert schema["properties"]["reasons"]["items"] == {"$ref": "#/definitions/Reason"}
    assert schema["required"] == ["producer", "venue_id", "level", "color", "as_of"]
