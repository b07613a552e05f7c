"""The public venue registry: every record of the internal `venue-registry.v1` copied onto `venues.v1`
without its key material.

A venue's state is written once, on the internal registry, which the services read (they check venue keys
against the hash it keeps; the owner's person_key leads to the owner's contact in the vault). Agencies read
`venues.v1`, which until 2026-12-02 carried both and now carries neither (`owner_key` null, `api_key_hash`
empty; see docs/decisions/0002). This relay makes the public copy: one consumer group across ingest's
processes, copies published (acks=all, idempotent) before their offsets are committed. Delivery is at least
once: a relay that stops between the two copies a batch again, which changes nothing, as a copy is the same
event (same id, same time, same fields) on a compacted topic keyed by venue. Once the registry is quiet,
`venues.v1` holds every venue's latest state, whatever failed in between, and no request waits for it.

`adopt_public_records` is the upgrade from before the split: a deployment whose registry is still empty
takes the records `venues.v1` has with their keys, and the relay then republishes them without.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer  # type: ignore[import-untyped,unused-ignore]

from antoan_shared import codec, topics
from antoan_shared.events import VenueState
from antoan_shared.kafka import EventPublisher, make_reader, partitions_of, read_to_end, watermarks
from antoan_shared.settings import ServiceSettings
from antoan_shared.threads import RestartingThread

log = logging.getLogger(__name__)


class PublicVenueRelay(RestartingThread):
    restart_on = (KafkaException,)

    def __init__(self, settings: ServiceSettings, batch: int = 500, poll_s: float = 0.5) -> None:
        super().__init__(name="public-venue-relay")
        self._settings = settings
        self._batch = batch
        self._poll_s = poll_s
        self._source = settings.topic(topics.VENUE_REGISTRY)
        self._target = settings.topic(topics.VENUES)
        self.relayed = 0

    def _run_once(self) -> None:
        config = self._settings.librdkafka_config()
        consumer = Consumer(
            {
                **config,
                "group.id": self._settings.group_id("ingest", "public-venues"),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10_000,
            }
        )
        # murmur2, as kafka-python and Java clients hash keys: a venue's copy goes to the partition its records
        # have always been on (librdkafka's own default would scatter a key's records across partitions).
        producer = Producer(
            {**config, "enable.idempotence": True, "acks": "all", "linger.ms": 5, "partitioner": "murmur2_random"}
        )
        consumer.subscribe([self._source])
        try:
            while not self._stop_requested.is_set():
                messages = consumer.consume(num_messages=self._batch, timeout=self._poll_s)
                if not messages:
                    continue
                self._copy(producer, messages)
                if producer.flush(30) > 0:
                    raise KafkaException("public venue records not acknowledged by the broker")
                consumer.commit(asynchronous=False)
        finally:
            producer.flush(10)
            consumer.close()

    def _copy(self, producer: Any, messages: list[Any]) -> None:
        for message in messages:
            if message.error() is not None:
                log.warning("public venue relay read error", extra={"error": str(message.error())})
                continue
            try:
                venue = codec.decode_for_topic(topics.VENUE_REGISTRY, message.value())
            except codec.DecodeError:
                log.exception("public venue relay skipped an undecodable registry record")
                continue
            assert isinstance(venue, VenueState)
            producer.produce(self._target, key=message.key(), value=codec.encode_event(venue.public_copy()))
            self.relayed += 1


def adopt_public_records(settings: ServiceSettings, publisher: EventPublisher) -> int:
    """Upgrade from before the split: if the registry is empty, copy into it every record of `venues.v1` that
    still carries a key hash (the relay then republishes it without). Returns how many were copied. Several
    ingest processes starting at once may each copy: the copies are the same events, so nothing changes."""
    keyed: list[VenueState] = []

    def keep_keyed(records: list[Message]) -> None:
        for record in records:
            try:
                venue = codec.decode_for_topic(topics.VENUES, record.value())
            except codec.DecodeError:
                continue
            if isinstance(venue, VenueState) and venue.api_key_hash:
                keyed.append(venue)

    reader = make_reader(settings, settings.group_id("ingest", "venue-adoption"))
    try:
        registry = partitions_of(reader, [settings.topic(topics.VENUE_REGISTRY)], wait_s=30)
        if any(end > 0 for _, end in watermarks(reader, registry).values()):
            return 0
        read_to_end(reader, partitions_of(reader, [settings.topic(topics.VENUES)], wait_s=30), keep_keyed)
    finally:
        reader.close()
    for future in [publisher.send(topics.VENUE_REGISTRY, venue) for venue in keyed]:
        future.result(timeout=30)  # a failure stops the start: the next start adopts them again
    if keyed:
        log.info("venue registry adopted venues.v1's keyed records", extra={"records": len(keyed)})
    return len(keyed)
