"""Retention as one period everywhere (SPEC §3.7), and the Kafka login every client is built with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from antoan_shared import topics
from antoan_shared.settings import ServiceSettings


def test_retention_is_days_unless_seconds_are_set() -> None:
    assert ServiceSettings(retention_days=21).retention == timedelta(days=21)
    assert ServiceSettings(retention_days=21, retention_seconds=30).retention == timedelta(seconds=30)


def test_a_short_retention_shortens_the_segments_so_that_old_records_can_be_deleted() -> None:
    config = topics.CHECKINS.broker_config(retention=timedelta(seconds=30))
    assert config == {"cleanup.policy": "delete", "retention.ms": "30000", "segment.ms": "30000"}
    # compacted registries and topics with their own period are not affected
    assert topics.VENUES.broker_config(retention=timedelta(seconds=30))["retention.ms"] == "-1"
    assert topics.AUDIT.broker_config(retention=timedelta(seconds=30))["retention.ms"] == str(400 * topics.DAY_MS)


def test_plaintext_is_the_default_and_sasl_passes_the_login_to_kafka_python() -> None:
    assert ServiceSettings(kafka_bootstrap="a:1,b:2").kafka_client_config() == {
        "bootstrap_servers": ["a:1", "b:2"],
        "security_protocol": "PLAINTEXT",
    }
    sasl = ServiceSettings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="ingest", kafka_sasl_password="pw"
    )
    config = sasl.kafka_client_config()
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("ingest", "pw")
    assert "pw" not in repr(sasl)


def test_sasl_without_a_login_is_refused() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME"):
        ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT")
