"""The event contract: envelope, registry, codec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from antoan_shared import codec, contract, events, topics
from antoan_shared.settings import Environment, HealthAuthorityTokenSettings, ServiceSettings

T0 = datetime(2021, 9, 1, 8, 30, tzinfo=UTC)


def _checkin() -> events.CheckInRecorded:
    return events.CheckInRecorded(
        producer="ingest",
        venue_id="v_1",
        person_key="pk",
        direction=events.Direction.IN,
        scanned_at=T0,
        app=events.CheckInApp.PC_COVID,
    )


def test_every_value_carries_the_envelope_at_the_top_level() -> None:
    raw = codec.loads(codec.encode_event(_checkin()))
    assert {"event_id", "type", "schema_version", "occurred_at", "producer"} <= raw.keys()
    assert raw["type"] == "checkin.recorded"
    assert raw["schema_version"] == 1
    assert raw["venue_id"] == "v_1"  # event fields beside the envelope, not nested


def test_an_event_decodes_to_the_model_its_type_names() -> None:
    event = _checkin()
    assert codec.decode_event(codec.encode_event(event)) == event


def test_events_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        _checkin().venue_id = "other"  # type: ignore[misc]


def test_a_value_of_another_topic_is_refused() -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode_for_topic(topics.CASES, codec.encode_event(_checkin()))


def test_garbage_is_a_decode_error_not_a_crash() -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode_event(b"\xff not json")


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        events.CheckInRecorded.model_validate({**_checkin().model_dump(), "scanned_at": "2021-09-01T08:30:00"})


def test_the_registry_holds_every_topic_of_the_spec_with_its_key_and_writer() -> None:
    expected = {
        "venues.v1": ("venue_id", "ingest", True),
        "checkins.v1": ("venue_id", "ingest", False),
        "declarations.v1": ("person_key", "ingest", False),
        "cases.v1": ("person_key", "ingest", False),
        "visits.v1": ("venue_id", "tracer", False),
        "occupancy.v1": ("venue_id", "tracer", True),
        "exposures.v1": ("person_key", "tracer", False),
        "exposures.v2": ("person_key", "tracer", False),
        "venue-exposures.v1": ("venue_id", "tracer", False),
        "alerts.v1": ("person_key", "tracer", False),
        "venue-risk.v1": ("venue_id", "safety-map", True),
        "area-risk.v1": ("area_code", "safety-map", True),
    }
    actual = {s.name: (s.key, s.writer, s.compacted) for s in topics.CONTRACT_TOPICS}
    assert actual == expected


def test_every_topic_key_is_a_field_of_its_values() -> None:
    for spec in topics.ALL_TOPICS:
        for model in spec.value_types:
            assert spec.key in model.model_fields, (spec.name, model.__name__)


def test_exposures_carry_the_fields_agencies_rely_on() -> None:
    required = {"case_id", "person_key", "degree", "venue_id", "window_start", "window_end", "source_person_key"}
    assert required <= events.ExposureDetected.model_fields.keys()
    assert required | {"withdrawn", "exposed_at"} <= events.ExposureChanged.model_fields.keys()


def test_every_contract_value_carries_the_version_of_its_topic() -> None:
    # exposures.v2's values say schema_version 2; every v1 topic's say 1 (optional fields do not change it)
    for spec in topics.CONTRACT_TOPICS:
        for model in spec.value_types:
            assert contract.schema_version(model) == contract.topic_version(spec.name), (spec.name, model.__name__)


def test_retained_topics_expire_after_the_retention_period_and_registries_never() -> None:
    assert topics.CHECKINS.broker_config(21) == {"cleanup.policy": "delete", "retention.ms": str(21 * 86_400_000)}
    assert topics.VENUES.broker_config(21) == {"cleanup.policy": "compact", "retention.ms": "-1"}


def test_a_namespace_prefixes_topic_names_and_groups() -> None:
    settings = ServiceSettings(topic_namespace="t42")
    assert settings.topic(topics.CHECKINS) == "t42.checkins.v1"
    assert settings.group_id("tracer") == "t42.antoan.tracer.main"
    assert ServiceSettings().topic(topics.CHECKINS) == "checkins.v1"


def test_placeholder_secrets_are_refused_in_production_only() -> None:
    assert HealthAuthorityTokenSettings(ha_token="dev").ha_token.get_secret_value() == "dev"
    with pytest.raises(ValueError, match="ANTOAN_HA_TOKEN"):
        HealthAuthorityTokenSettings(ha_token="change-me", environment=Environment.PRODUCTION)
    strong = "x" * 40
    assert HealthAuthorityTokenSettings(ha_token=strong, environment=Environment.PRODUCTION)


def test_a_required_secret_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTOAN_HA_TOKEN", raising=False)
    with pytest.raises(ValueError, match="ANTOAN_HA_TOKEN"):
        HealthAuthorityTokenSettings()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "10.0.0.1:9092,10.0.0.2:9092")
    monkeypatch.setenv("ANTOAN_RETENTION_DAYS", "14")
    settings = ServiceSettings()
    assert settings.kafka_bootstrap == "10.0.0.1:9092,10.0.0.2:9092"
    assert settings.retention_days == 14
