"""The publisher, consumers and topic creation against a real broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from antoan_localstack.testing import wait_for
from antoan_shared import codec, events, topics
from antoan_shared.kafka import Consumed, ConsumerLoop, EventPublisher, WrongWriterError, ensure_topics, make_consumer
from antoan_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


def _checkin(venue_id: str, n: int) -> events.CheckInRecorded:
    return events.CheckInRecorded(
        producer="ingest",
        venue_id=venue_id,
        person_key=f"pk{n}",
        direction=events.Direction.IN,
        scanned_at=datetime(2021, 9, 1, 8, n, tzinfo=UTC),
        app=events.CheckInApp.BLUEZONE,
    )


def test_published_events_come_back_keyed_by_venue_in_order(settings: ServiceSettings) -> None:
    # Given the check-in topic of this test's namespace
    ensure_topics(settings, [topics.CHECKINS])
    publisher = EventPublisher(settings, "ingest")
    sent = [_checkin("v_same", n) for n in range(20)]
    # When every event is published and acknowledged
    for event in sent:
        metadata = publisher.publish_sync(topics.CHECKINS, event)
        assert metadata.offset >= 0
    publisher.close()
    # Then a consumer reads them back decoded, all on one partition, in order
    consumer = make_consumer(settings, [topics.CHECKINS], group_id=settings.group_id("test"))
    received: list[tuple[int, bytes, events.Event]] = []

    def read() -> bool:
        for records in consumer.poll(timeout_ms=500).values():
            received.extend((r.partition, r.key, codec.decode_event(r.value)) for r in records)
        return len(received) >= len(sent)

    wait_for(read, timeout=30, what="the published check-ins")
    consumer.close()
    assert [event for _, _, event in received] == sent
    assert {partition for partition, _, _ in received} == {received[0][0]}
    assert {key for _, key, _ in received} == {b"v_same"}


async def test_publish_returns_after_the_broker_acknowledged(settings: ServiceSettings) -> None:
    ensure_topics(settings, [topics.CHECKINS])
    publisher = EventPublisher(settings, "ingest")
    metadata = await publisher.publish(topics.CHECKINS, _checkin("v_async", 1))
    batch = await publisher.publish_many(topics.CHECKINS, [_checkin("v_async", n) for n in range(2, 12)])
    publisher.close()
    assert metadata.topic == settings.topic(topics.CHECKINS)
    assert [m.offset for m in batch] == list(range(metadata.offset + 1, metadata.offset + 11))


def test_a_service_cannot_write_another_services_topic(settings: ServiceSettings) -> None:
    publisher = EventPublisher(settings, "safety-map")
    with pytest.raises(WrongWriterError):
        publisher.send(topics.CHECKINS, _checkin("v", 1))
    publisher.close()


def test_topic_creation_is_idempotent_and_follows_the_registry(settings: ServiceSettings) -> None:
    # When the topics are ensured twice (two services starting at once do this)
    ensure_topics(settings, topics.ALL_TOPICS)
    ensure_topics(settings, topics.ALL_TOPICS)
    # Then each exists with the registry's partitions and policies
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        expected = {settings.topic(spec): spec.partitions for spec in topics.ALL_TOPICS}

        def partitions() -> dict[str, int]:
            return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(expected))}

        # (a new topic's partitions appear in the metadata a moment after its creation)
        wait_for(lambda: partitions() == expected, timeout=20, what="the topics' partitions")
        configs = admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, settings.topic(topics.VENUES)),
                ConfigResource(ConfigResourceType.TOPIC, settings.topic(topics.CHECKINS)),
            ]
        )
    finally:
        admin.close()
    venues = configs["topic"][settings.topic(topics.VENUES)]
    checkins = configs["topic"][settings.topic(topics.CHECKINS)]
    assert venues["cleanup.policy"]["value"] == "compact"
    assert checkins["cleanup.policy"]["value"] == "delete"
    assert checkins["retention.ms"]["value"] == str(21 * 24 * 3600 * 1000)


def test_an_undecodable_record_goes_to_dead_letters_and_the_stream_goes_on(settings: ServiceSettings) -> None:
    # Given a check-in topic holding garbage followed by a good event
    ensure_topics(settings, [topics.CHECKINS, topics.DEAD_LETTERS["tracer"]])
    raw = EventPublisher(settings, "ingest")
    raw._producer.produce(settings.topic(topics.CHECKINS), key=b"v_bad", value=b"{not json")
    raw.flush(10)
    raw.publish_sync(topics.CHECKINS, _checkin("v_bad", 1))
    raw.close()
    handled: list[Consumed] = []
    publisher = EventPublisher(settings, "tracer")
    loop = ConsumerLoop(settings, "tracer", [topics.CHECKINS], handled.extend, publisher, purpose="dlq-test")
    # When the loop consumes it
    loop.start()
    try:
        wait_for(lambda: handled, timeout=30, what="the good event")
    finally:
        loop.stop()
        loop.join(10)
    publisher.close()
    # Then the good event was handled and the garbage is kept in the dead-letter topic with the error
    assert [c.event.venue_id for c in handled] == ["v_bad"]  # type: ignore[attr-defined]
    dlq = make_consumer(settings, [topics.DEAD_LETTERS["tracer"]], group_id=settings.group_id("dlq-reader"))
    dead: list[events.Event] = []

    def read() -> bool:
        for records in dlq.poll(timeout_ms=500).values():
            dead.extend(codec.decode_event(r.value) for r in records)
        return bool(dead)

    wait_for(read, timeout=30, what="the dead letter")
    dlq.close()
    assert isinstance(dead[0], events.DeadLettered)
    assert dead[0].value == "{not json"
    assert dead[0].source_topic == settings.topic(topics.CHECKINS)
