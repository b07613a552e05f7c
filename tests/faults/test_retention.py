"""SPEC §3.7 with a short retention (ANTOAN_RETENTION_SECONDS): records older than the period leave the topics,
and ingest's idempotency records in Redis do not outlive it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, TopicPartition

from antoan_localstack import stack
from antoan_localstack.testing import new_namespace, private_stack, wait_for
from antoan_shared import topics
from antoan_shared.events import CheckInRecorded, Direction, utc_now
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.faults]
RETENTION_S = 3


@pytest.fixture(scope="module")
def short_retention_broker() -> Iterator[stack.StackConfig]:
    # The broker looks for segments past their retention every second instead of every minute.
    with private_stack(retention_check_interval_ms=1000) as cfg:
        yield cfg


def _records_left(settings: ServiceSettings, spec: topics.TopicSpec) -> int:
    consumer = KafkaConsumer(**settings.kafka_client_config())
    try:
        partitions = [TopicPartition(settings.topic(spec), p) for p in range(spec.partitions)]
        first, end = consumer.beginning_offsets(partitions), consumer.end_offsets(partitions)
        return sum(end[tp] - first[tp] for tp in partitions)
    finally:
        consumer.close()


def test_check_ins_older_than_the_retention_period_are_gone_from_the_topic(
    short_retention_broker: stack.StackConfig,
) -> None:
    # Given topics created with a retention of a few seconds
    settings = ServiceSettings(
        kafka_bootstrap=short_retention_broker.kafka_bootstrap,
        topic_namespace=new_namespace(),
        retention_seconds=RETENTION_S,
    )
    ensure_topics(settings, [topics.CHECKINS, topics.VENUES])
    # When check-ins are published
    publisher = EventPublisher(settings, "ingest")
    try:
        for n in range(20):
            publisher.publish_sync(
                topics.CHECKINS,
                CheckInRecorded(
                    producer="ingest",
                    venue_id=f"v{n % 4}",
                    person_key=f"p{n}",
                    direction=Direction.IN,
                    scanned_at=utc_now(),
                    app="pc-covid",
                ),
            )
    finally:
        publisher.close()
    assert _records_left(settings, topics.CHECKINS) == 20
    # Then, once the period has passed, the broker has deleted them
    wait_for(lambda: _records_left(settings, topics.CHECKINS) == 0, timeout=90, interval=1, what="retention")
