"""The publisher, consumers and topic creation against a real broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from confluent_kafka import Message, Producer, TopicPartition
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from antoan_localstack.testing import wait_for
from antoan_shared import codec, events, topics
from antoan_shared.kafka import (
    EventPublisher,
    WrongWriterError,
    ensure_topics,
    make_consumer,
    make_reader,
    partitions_of,
    publish_dead_letter,
    read_to_end,
    records_of,
    watermarks,
)
from antoan_shared.settings import ServiceSettings
from antoan_shared.venues import VenueDirectory, VenueDirectoryFollower

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
        records = records_of(consumer.consume(num_messages=100, timeout=0.5))
        received.extend((r.partition(), r.key(), codec.decode_event(r.value())) for r in records)
        return len(received) >= len(sent)

    wait_for(read, what="the published check-ins")
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


def test_a_reader_reads_every_partition_to_its_end_empty_ones_included(settings: ServiceSettings) -> None:
    # Given check-ins of two venues, so some of the topic's partitions hold records and others none
    ensure_topics(settings, [topics.CHECKINS])
    publisher = EventPublisher(settings, "ingest")
    sent = [_checkin(venue, n) for n in range(10) for venue in ("v_one", "v_two")]
    for event in sent:
        publisher.publish_sync(topics.CHECKINS, event)
    publisher.close()
    # When a reader reads the topic to its end
    reader = make_reader(settings, settings.group_id("test", "reader"))
    read: list[events.Event] = []

    def decode(records: list[Message]) -> None:
        read.extend(codec.decode_event(record.value()) for record in records)

    try:
        partitions = partitions_of(reader, [settings.topic(topics.CHECKINS)])
        count = read_to_end(reader, partitions, decode)
    finally:
        reader.close()
    # Then it has every record, each venue's in the order they were written, and stopped there
    assert len(partitions) == topics.CHECKINS.partitions
    assert count == len(sent)
    for venue in ("v_one", "v_two"):
        assert [e for e in read if e.venue_id == venue] == [e for e in sent if e.venue_id == venue]  # type: ignore[attr-defined]


def test_watermarks_end_at_what_is_committed_and_are_asked_while_the_reader_is_fetching(
    settings: ServiceSettings,
) -> None:
    # Given a partition with a committed transaction of 5 records and an open one after it, another empty
    ensure_topics(settings, [topics.CHECKINS])
    name = settings.topic(topics.CHECKINS)
    producer = Producer({**settings.librdkafka_config(), "transactional.id": settings.group_id("test", "tx")})
    producer.init_transactions()
    producer.begin_transaction()
    for n in range(5):
        producer.produce(name, codec.encode_event(_checkin("v_tx", n)), partition=0)
    producer.commit_transaction()
    producer.begin_transaction()
    producer.produce(name, codec.encode_event(_checkin("v_tx", 9)), partition=0)
    producer.flush()
    # and a read_committed reader already fetching from both (its long-poll fetches in front of every request)
    reader = make_reader(settings, settings.group_id("test", "watermarks"))
    try:
        both = [TopicPartition(name, 0), TopicPartition(name, 1)]
        assert read_to_end(reader, both, lambda records: None) == 5
        # When it asks where they end
        ends = watermarks(reader, both)
        # Then the first ends after the commit marker, before the open transaction's record; the second at 0
        assert ends == {(name, 0): (0, 6), (name, 1): (0, 0)}
        # and a reader that reads to the end again stops there, not waiting for the open transaction
        assert read_to_end(reader, both, lambda records: None) == 5
    finally:
        reader.close()
        producer.abort_transaction()


def test_a_venue_directory_started_before_its_topic_exists_follows_it_once_created(settings: ServiceSettings) -> None:
    # Given a directory follower started while the venue registry does not exist yet
    directory = VenueDirectory()
    follower = VenueDirectoryFollower(settings, directory, "tracer")
    follower.start()
    try:
        # When the topic is created a moment later and a venue registered on it
        wait_for(lambda: follower.is_alive(), timeout=5, what="the follower")
        ensure_topics(settings, [topics.VENUE_REGISTRY])
        venue = events.VenueRegistered(
            producer="ingest",
            venue_id="v_late",
            name="Chợ",
            category=events.VenueCategory.OFFICE,
            capacity=10,
            api_key_hash="0" * 64,
        )
        publisher = EventPublisher(settings, "ingest")
        publisher.publish_sync(topics.VENUE_REGISTRY, venue)
        publisher.close()
        # Then the directory holds it (it did not declare itself loaded while following no partition)
        wait_for(lambda: directory.get("v_late") is not None, timeout=60, what="the venue in the directory")
        assert directory.loaded.is_set()
    finally:
        follower.stop()
        follower.join(timeout=10)


def test_an_undecodable_record_is_kept_on_the_dead_letter_topic_with_the_error(settings: ServiceSettings) -> None:
    # Given a check-in topic holding garbage
    ensure_topics(settings, [topics.CHECKINS, topics.DEAD_LETTERS["tracer"]])
    raw = EventPublisher(settings, "ingest")
    raw._producer.produce(settings.topic(topics.CHECKINS), key=b"v_bad", value=b"{not json")
    raw.flush(10)
    raw.close()
    reader = make_reader(settings, settings.group_id("test", "reader"))
    garbage: list[Message] = []
    try:
        read_to_end(reader, partitions_of(reader, [settings.topic(topics.CHECKINS)]), garbage.extend)
    finally:
        reader.close()
    # When the tracer cannot decode it and sends it to its dead letters
    publisher = EventPublisher(settings, "tracer")
    with pytest.raises(codec.DecodeError) as failure:
        codec.decode_for_topic(topics.CHECKINS, garbage[0].value())
    publish_dead_letter(publisher, "tracer", garbage[0], str(failure.value))
    publisher.close()
    # Then the dead-letter topic has the record as it was, where it came from, and the error
    dlq = make_consumer(settings, [topics.DEAD_LETTERS["tracer"]], group_id=settings.group_id("dlq-reader"))
    dead: list[events.Event] = []

    def read() -> bool:
        dead.extend(codec.decode_event(r.value()) for r in records_of(dlq.consume(num_messages=10, timeout=0.5)))
        return bool(dead)

    wait_for(read, what="the dead letter")
    dlq.close()
    assert isinstance(dead[0], events.DeadLettered)
    assert (dead[0].key, dead[0].value) == ("v_bad", "{not json")
    assert (dead[0].source_topic, dead[0].source_offset) == (settings.topic(topics.CHECKINS), garbage[0].offset())
    assert dead[0].error
